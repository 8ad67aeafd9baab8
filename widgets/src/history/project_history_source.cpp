// The project adapter: sections
//   1. conversions between project records and studio generations
//   2. the worker thread that owns the Project
//   3. the HistorySource operations
#include "tessera/widgets/project_history_source.h"

#include "tessera/projects/project.h"
#include "tessera/widgets/dicode_generator.h"
#include "video/video_store.h"

#include <QBuffer>
#include <QCoreApplication>
#include <QFileInfo>
#include <QJsonDocument>
#include <QMetaObject>
#include <QPointer>
#include <QThreadPool>
#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

namespace tessera::widgets {

namespace pj = tessera::projects;

namespace {

// ---- 1. conversions -----------------------------------------------------------------------------------

GenerationSettings settingsFrom(const pj::GenerationRecord& r, const std::map<int64_t, std::string>& models) {
    GenerationSettings s;
    if (r.params.is_object()) {
        const QJsonDocument doc = QJsonDocument::fromJson(QByteArray::fromStdString(r.params.dump()));
        s = GenerationSettings::fromJson(doc.object());
        // Recipes written by the CLI name these fields their own way.
        const auto num = [&](const char* key, double fallback) {
            return r.params.contains(key) && r.params[key].is_number() ? r.params[key].get<double>()
                                                                       : fallback;
        };
        s.cfg = num("cfg_weight", num("cfg", s.cfg));
        s.temperature = num("temperature", s.temperature);
        s.top_k = static_cast<int>(num("top_k", s.top_k));
        s.top_p = num("top_p", s.top_p);
        // A DiCoDe video's options are its recipe's (the CLI stores nothing else).
        const QJsonObject dicode = dicodeOptionsFromRecipe(doc.object());
        if (!dicode.isEmpty()) s.dicode = dicode;
    }
    s.prompt = QString::fromStdString(r.prompt);
    s.seed = r.seed;
    s.seed_locked = true;
    if (r.model_id) {
        auto it = models.find(*r.model_id);
        if (it != models.end()) s.model = QString::fromStdString(it->second);
    }
    return s;
}

QString stateName(pj::GenerationState s) {
    switch (s) {
    case pj::GenerationState::kPending:
        return "pending";
    case pj::GenerationState::kComplete:
        return "finished";
    case pj::GenerationState::kFailed:
        return "failed";
    }
    return {};
}

QImage assetImage(pj::Project& p, const std::optional<int64_t>& asset_id) {
    if (!asset_id) return {};
    auto a = p.asset(*asset_id);
    if (!a || a->state != pj::AssetState::kOk || a->kind.rfind("image/", 0) != 0) return {};
    return QImage(QString::fromStdString(p.assetPath(*a).string()));
}

void gridFor(const pj::GenerationRecord& r, int& rows, int& cols) {
    if (r.params.contains("grid") && r.params["grid"].is_array() && r.params["grid"].size() == 2 &&
        r.params["grid"][0].is_number_integer() && r.params["grid"][1].is_number_integer()) {
        rows = r.params["grid"][0].get<int>();
        cols = r.params["grid"][1].get<int>();
        if (rows > 0 && cols > 0 && static_cast<size_t>(rows * cols) >= r.tokens.size()) return;
    }
    // Square grids are the rule for the image models Tessera runs.
    cols = static_cast<int>(std::ceil(std::sqrt(static_cast<double>(r.tokens.size()))));
    rows =
        cols > 0
            ? static_cast<int>((r.tokens.size() + static_cast<size_t>(cols) - 1) / static_cast<size_t>(cols))
            : 0;
}

Generation generationFrom(pj::Project& p, const pj::GenerationRecord& r,
                          const std::map<int64_t, std::string>& models) {
    Generation g;
    g.stored_id = r.id;
    g.id = r.id;
    g.parent_stored_id = r.parent_id.value_or(0);
    g.branch_token = static_cast<int>(r.branch_token);
    g.settings = settingsFrom(r, models);
    gridFor(r, g.rows, g.cols);
    g.cells.assign(static_cast<size_t>(g.rows * g.cols), {});
    for (size_t i = 0; i < r.tokens.size() && i < g.cells.size(); ++i) {
        TokenRecord& c = g.cells[i];
        c.token = r.tokens[i];
        if (i < r.stats.size()) {
            c.probability = r.stats[i].probability;
            c.entropy = r.stats[i].entropy;
            c.guidance_kl = r.stats[i].guidance_kl;
        }
        // Stored candidates, as the CLI and the studio write them: {"ids": [...], "probs": [...], "rank": r}.
        if (r.top_k.is_array() && i < r.top_k.size() && r.top_k[i].is_object()) {
            const auto& t = r.top_k[i];
            if (t.contains("ids") && t["ids"].is_array())
                for (const auto& v : t["ids"])
                    if (v.is_number_integer()) c.top_ids.push_back(v.get<int32_t>());
            if (t.contains("probs") && t["probs"].is_array())
                for (const auto& v : t["probs"])
                    if (v.is_number()) c.top_probs.push_back(v.get<float>());
            if (t.contains("rank") && t["rank"].is_number_integer()) c.rank = t["rank"].get<int>();
        }
        g.decode_order.push_back(static_cast<int>(i)); // raster order: how Janus decodes
    }
    g.image = assetImage(p, r.asset_id);
    if (r.kind == "video") {
        // The mosaic shows latent frame 0; the whole clip travels in g.video.
        g.kind = "video";
        g.video = storedClip(p, r);
        if (g.video && g.video->lat_h > 0 && g.video->lat_w > 0) {
            g.rows = g.video->lat_h;
            g.cols = g.video->lat_w;
            g.cells.assign(static_cast<size_t>(g.rows * g.cols), {});
            g.decode_order.clear();
            for (size_t i = 0; i < g.cells.size() && i < r.tokens.size(); ++i) {
                g.cells[i].token = r.tokens[i];
                g.decode_order.push_back(static_cast<int>(i));
            }
        }
        if (g.video && !g.video->frames.empty()) g.image = g.video->frames.front();
    }
    if (r.kind == "scene") {
        // A reconstruction: the picture is its render; the program and the input go to the Scene dock.
        g.kind = "scene";
        g.scene_program = QString::fromStdString(r.params.value("program", std::string()));
        if (const auto in = r.params.find("image_asset_id"); in != r.params.end() && in->is_number_integer())
            g.scene_input = assetImage(p, in->get<int64_t>());
    }
    g.state = r.state == pj::GenerationState::kFailed ? JobState::Failed : JobState::Finished;
    g.created = QDateTime::fromMSecsSinceEpoch(r.created_at_ms);
    return g;
}

// ---- 2. the worker -------------------------------------------------------------------------------------

class ProjectWorker {
public:
    explicit ProjectWorker(pj::Project project) : project_(std::move(project)), thread_([this] { loop(); }) {}
    ~ProjectWorker() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stop_ = true;
        }
        wake_.notify_all();
        thread_.join(); // finishes the task in hand; pending writes are done first (see loop)
    }
    using Task = std::function<void(pj::Project&, std::map<int64_t, int64_t>& stored_ids)>;
    void run(Task task) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            tasks_.push_back(std::move(task));
        }
        wake_.notify_one();
    }

private:
    void loop() {
        for (;;) {
            Task task;
            {
                std::unique_lock<std::mutex> lock(mutex_);
                wake_.wait(lock, [this] { return stop_ || !tasks_.empty(); });
                if (tasks_.empty()) return; // stop only once everything queued is written
                task = std::move(tasks_.front());
                tasks_.pop_front();
            }
            task(project_, stored_);
        }
    }
    pj::Project project_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<Task> tasks_;
    bool stop_ = false;
    std::map<int64_t, int64_t> stored_; // studio id → project generation id
    std::thread thread_;
};

// ---- 3. the source ---------------------------------------------------------------------------------------

class ProjectHistorySource : public HistorySource {
public:
    ProjectHistorySource(pj::Project project, QString folder)
        : folder_(std::move(folder)), worker_(std::make_shared<ProjectWorker>(std::move(project))),
          self_(this) {}
    // Closing never waits for the database: the worker (and the writes still queued to it) is handed
    // to the global thread pool, which finishes them and closes the project; QCoreApplication waits
    // for that pool before the process exits. Results of tasks still running are dropped (see post).
    ~ProjectHistorySource() override {
        std::shared_ptr<ProjectWorker> worker = std::move(worker_);
        QThreadPool::globalInstance()->start([worker]() mutable { worker.reset(); });
    }

    QString title() const override { return QFileInfo(folder_).fileName(); }

    void query(const HistoryQuery& q, EntriesFn done) override {
        worker_->run([self = self_, q, done](pj::Project& p, std::map<int64_t, int64_t>&) {
            std::vector<HistoryEntry> out;
            const auto models = modelPaths(p);
            std::vector<pj::GenerationRecord> records;
            if (!q.text.isEmpty()) {
                auto hits = p.search(q.text.toStdString(), q.limit);
                if (!hits) return fail(self, hits.error());
                for (const auto& h : *hits)
                    if (auto g = p.generation(h.generation_id)) records.push_back(std::move(*g));
            } else {
                pj::HistoryFilter f;
                f.limit = q.limit;
                if (!q.batch.isEmpty()) f.batch = q.batch.toStdString();
                if (!q.batch.isEmpty() && q.shard >= 0) f.shard = q.shard;
                auto h = p.history(f);
                if (!h) return fail(self, h.error());
                records = std::move(*h);
            }
            for (const auto& r : records) {
                if (std::find(r.tags.begin(), r.tags.end(), kTrashTag) != r.tags.end()) continue;
                HistoryEntry e;
                if (const auto b = r.params.find("batch"); b != r.params.end() && b->is_object()) {
                    e.batch = QString::fromStdString(b->value("id", std::string()));
                    e.shard = b->value("shard", -1);
                }
                // Search results are not filtered by the query: batch and shard are checked here.
                if (!q.batch.isEmpty() && (e.batch != q.batch || (q.shard >= 0 && e.shard != q.shard)))
                    continue;
                e.id = r.id;
                e.parent_id = r.parent_id.value_or(0);
                e.branch_token = static_cast<int>(r.branch_token);
                e.settings = settingsFrom(r, models);
                if (!q.model.isEmpty() && e.settings.model != q.model) continue;
                e.state = stateName(r.state);
                if (!q.state.isEmpty() && e.state != q.state) continue;
                if (r.kind == "video") {
                    e.kind = "video";
                    e.thumbnail = assetImage(p, r.strip_asset_id); // the strip, stored small
                    e.video_frames = r.params.value("video_frames", 0);
                    // History rows come without tokens: the codes are latent frames × grid.
                    const auto& grid = r.params.value("latent_grid", nlohmann::json::array());
                    if (grid.is_array() && grid.size() == 2 && grid[0].is_number_integer() && grid[1].is_number_integer())
                        e.token_count = r.params.value("latent_frames", 0) * grid[0].get<int>() * grid[1].get<int>();
                } else if (const QImage img = assetImage(p, r.asset_id); !img.isNull()) {
                    if (r.kind == "scene") e.kind = "scene";
                    e.thumbnail = img.scaled(96, 96, Qt::KeepAspectRatio, Qt::FastTransformation);
                }
                e.created = QDateTime::fromMSecsSinceEpoch(r.created_at_ms);
                if (e.kind != "video") e.token_count = static_cast<int>(r.tokens.size());
                if (e.token_count == 0 && r.kind != "video" && r.params.contains("grid")) { // history rows come without tokens
                    int rows = 0, cols = 0;
                    gridFor(r, rows, cols);
                    e.token_count = rows * cols;
                }
                for (const auto& t : r.tags) e.tags << QString::fromStdString(t);
                e.rating = r.rating;
                e.notes = QString::fromStdString(r.notes);
                out.push_back(std::move(e));
            }
            post(self, [done, out = std::move(out)]() mutable { done(std::move(out)); });
        });
    }

    void load(int64_t id, GenerationFn done) override {
        worker_->run([self = self_, id, done](pj::Project& p, std::map<int64_t, int64_t>&) {
            auto r = p.generation(id);
            std::optional<Generation> g;
            if (r) g = generationFrom(p, *r, modelPaths(p));
            post(self, [done, g] { done(g); });
        });
    }

    void record(const Generation& g, RecordedFn done) override {
        // Encoding the PNG happens on the worker too.
        worker_->run([self = self_, g, done](pj::Project& p, std::map<int64_t, int64_t>& stored_ids) {
            pj::GenerationRecord r;
            r.seed = g.settings.seed;
            r.prompt = g.settings.prompt.toStdString();
            r.params = nlohmann::json::parse(QJsonDocument(g.settings.toJson()).toJson().toStdString(),
                                             nullptr, false);
            if (r.params.is_discarded()) r.params = nlohmann::json::object();
            r.params["grid"] = {g.rows, g.cols};
            r.tokens = g.tokens();
            nlohmann::json top = nlohmann::json::array();
            for (const TokenRecord& c : g.cells) {
                r.stats.push_back({c.probability, c.entropy, c.guidance_kl});
                top.push_back({{"ids", c.top_ids}, {"probs", c.top_probs}, {"rank", c.rank}});
            }
            r.top_k = std::move(top);
            r.state =
                g.state == JobState::Finished ? pj::GenerationState::kComplete : pj::GenerationState::kFailed;
            if (!g.settings.model.isEmpty()) {
                pj::ModelRecord m;
                m.path = g.settings.model.toStdString();
                const bool dicode =
                    g.video && !dicodeOptionsFromRecipe(QJsonDocument::fromJson(g.video->recipe).object()).isEmpty();
                m.family = g.kind == "video" ? (dicode ? "dicode" : "lumos") : "janus";
                if (auto mid = p.addModel(m)) r.model_id = *mid;
            }
            if (g.kind == "video" && g.video) {
                // A video: its recipe as the parameters, its codes as the tokens, the MP4 and the strip.
                const VideoClip& clip = *g.video;
                nlohmann::json recipe = nlohmann::json::parse(clip.recipe.toStdString(), nullptr, false);
                if (recipe.is_object()) {
                    recipe.erase("codes");
                    for (auto it = recipe.begin(); it != recipe.end(); ++it) r.params[it.key()] = it.value();
                }
                r.params.erase("grid");
                r.params["decoded"] = clip.decoded;
                r.params["video_frames"] = clip.frames.size();
                r.tokens = clip.codes;
                r.stats.clear();
                r.top_k = nullptr;
                pj::MediaPayload video, strip;
                Status st = videoPayloads(clip, video, strip);
                if (!st.ok()) return fail(self, st.message());
                auto id = p.addVideoGeneration(r, video, strip);
                if (!id) return fail(self, id.error());
                stored_ids[g.id] = *id;
                const int64_t stored = *id;
                return post(self, [self, done, stored] {
                    done(stored);
                    Q_EMIT self->changed();
                });
            }
            pj::MediaPayload media;
            const pj::MediaPayload* media_ptr = nullptr;
            if (!g.image.isNull()) {
                QByteArray png;
                QBuffer buf(&png);
                buf.open(QIODevice::WriteOnly);
                g.image.save(&buf, "PNG");
                media.kind = "image/png";
                media.extension = "png";
                media.bytes.assign(png.begin(), png.end());
                media_ptr = &media;
            }
            int64_t parent = g.parent_stored_id;
            if (!parent && g.parent_id) {
                auto it = stored_ids.find(g.parent_id);
                if (it != stored_ids.end()) parent = it->second;
            }
            int64_t stored = 0;
            if (parent) {
                pj::BranchSpec spec;
                spec.seed = r.seed;
                spec.params = r.params;
                spec.prompt = r.prompt;
                auto child = p.branch(parent, g.branch_token, spec);
                if (!child) return fail(self, child.error());
                stored = *child;
                auto st = p.finishGeneration(stored, r.tokens, r.stats, media_ptr, r.top_k);
                if (!st) return fail(self, st.message());
            } else {
                auto id = p.addGeneration(r, media_ptr);
                if (!id) return fail(self, id.error());
                stored = *id;
            }
            stored_ids[g.id] = stored;
            post(self, [self, done, stored] {
                done(stored);
                Q_EMIT self->changed();
            });
        });
    }

    void setHidden(int64_t id, bool hidden, DoneFn done) override {
        worker_->run([self = self_, id, hidden, done](pj::Project& p, std::map<int64_t, int64_t>&) {
            auto st = hidden ? p.addTag(id, kTrashTag) : p.removeTag(id, kTrashTag);
            const bool ok = st.ok();
            const QString msg = QString::fromStdString(st.message());
            post(self, [self, done, ok, msg] {
                done(ok, msg);
                Q_EMIT self->changed();
            });
        });
    }

    void annotate(int64_t id, const HistoryNotes& notes, DoneFn done) override {
        worker_->run([self = self_, id, n = normalized(notes), done](pj::Project& p, std::map<int64_t, int64_t>&) {
            const std::string error = writeNotes(p, id, n);
            const bool ok = error.empty();
            const QString msg = QString::fromStdString(error);
            post(self, [self, done, ok, msg] {
                done(ok, msg);
                Q_EMIT self->changed();
            });
        });
    }

private:
    // Worker thread. Tags are set by difference; the trash tag is the dock's own and stays as it is.
    // Returns the first failure's message (empty = written).
    static std::string writeNotes(pj::Project& p, int64_t id, const HistoryNotes& n) {
        auto r = p.generation(id);
        if (!r) return r.error();
        if (auto st = p.setRating(id, n.rating); !st.ok()) return st.message();
        if (auto st = p.setNotes(id, n.notes.toStdString()); !st.ok()) return st.message();
        std::vector<std::string> want;
        for (const QString& t : n.tags)
            if (t != QLatin1String(kTrashTag)) want.push_back(t.toStdString());
        for (const std::string& t : r->tags)
            if (t != kTrashTag && std::find(want.begin(), want.end(), t) == want.end())
                if (auto st = p.removeTag(id, t); !st.ok()) return st.message();
        for (const std::string& t : want)
            if (std::find(r->tags.begin(), r->tags.end(), t) == r->tags.end())
                if (auto st = p.addTag(id, t); !st.ok()) return st.message();
        return {};
    }

    // Worker → GUI thread. Tasks hold a guarded pointer, never `this`: the source may be gone (closed
    // while its worker finishes), and then the result is dropped on the GUI thread. The application
    // object outlives every source and is the queued call's context.
    static void post(const QPointer<ProjectHistorySource>& self, std::function<void()> fn) {
        QMetaObject::invokeMethod(
            QCoreApplication::instance(),
            [self, fn = std::move(fn)] {
                if (self) fn();
            },
            Qt::QueuedConnection);
    }
    static void fail(const QPointer<ProjectHistorySource>& self, const std::string& message) {
        const QString m = QString::fromStdString(message);
        post(self, [self, m] { Q_EMIT self->failed(m); });
    }
    static std::map<int64_t, std::string> modelPaths(pj::Project& p) {
        std::map<int64_t, std::string> out;
        if (auto ms = p.listModels())
            for (const auto& m : *ms) out[m.id] = m.path;
        return out;
    }

    QString folder_;
    std::shared_ptr<ProjectWorker> worker_;
    QPointer<ProjectHistorySource> self_;
};

} // namespace

Expected<std::unique_ptr<HistorySource>> openProjectHistory(const QString& folder, bool create) {
    const std::filesystem::path dir(folder.toStdString());
    auto project = create ? pj::Project::create(dir) : pj::Project::open(dir);
    if (!project) return Status::error(project.error());
    std::unique_ptr<HistorySource> source =
        std::make_unique<ProjectHistorySource>(std::move(*project), folder);
    return source;
}

void openProjectHistoryAsync(const QString& folder, bool create, QObject* receiver, OpenedFn done) {
    QPointer<QObject> guard(receiver);
    QThreadPool::globalInstance()->start([folder, create, guard, done = std::move(done)] {
        const std::filesystem::path dir(folder.toStdString());
        pj::OpenOptions options;
        options.check_integrity = true; // off the GUI thread: a damaged project is refused, not written to
        auto project = std::make_shared<pj::Result<pj::Project>>(create ? pj::Project::create(dir, options)
                                                                       : pj::Project::open(dir, options));
        QMetaObject::invokeMethod(
            QCoreApplication::instance(),
            [folder, guard, done, project] {
                if (!guard) return; // the receiver is gone: the project closes with this functor
                if (!*project) return done(Status::error(project->error()));
                std::unique_ptr<HistorySource> source =
                    std::make_unique<ProjectHistorySource>(std::move(project->value()), folder);
                done(std::move(source));
            },
            Qt::QueuedConnection);
    });
}

} // namespace tessera::widgets

// Merging shard projects into one (contract in tessera/projects/merge.h).
// Sections: reading a shard, content hashes, media staging, the transaction, mergeProjects.
#include "tessera/projects/merge.h"

#include "db.h"
#include "media.h"
#include "project_impl.h"
#include "schema.h"
#include "tessera/projects/project.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <unistd.h>

namespace tessera::projects {

namespace fs = std::filesystem;
using detail::Db;
using detail::Stmt;
using detail::UsageError;

namespace {

// ---------------------------------------------------------------- reading a shard

struct ModelRow {
    std::string path, family, content_hash;
    int64_t size_bytes = 0, added_at = 0;
};

struct JobRow {
    std::string kind, params, state, error;
    std::optional<std::string> result;
    int priority = 0;
    int64_t created_at = 0;
    std::optional<int64_t> started_at, finished_at;
};

struct AssetRow {
    std::string rel_path, sha256, kind, meta, state;
    int64_t size_bytes = 0, created_at = 0;
};

struct GenRow {
    int64_t id = 0;
    std::optional<int64_t> job_id, model_id, parent_id, asset_id, strip_asset_id;
    std::string kind = "image";
    int64_t branch_token = 0, seed = 0, created_at = 0;
    int rating = 0;
    std::string prompt, params, state, notes;
    std::vector<uint8_t> tokens, stats;
    std::optional<std::string> top_k;
    std::vector<std::string> tags;
};

struct Shard {
    fs::path dir;
    std::map<int64_t, ModelRow> models;
    std::map<int64_t, JobRow> jobs;
    std::map<int64_t, AssetRow> assets;
    std::vector<GenRow> generations; // id order: a parent comes before its children
};

std::optional<std::string> optText(Stmt& s, int col) {
    return s.isNull(col) ? std::nullopt : std::optional<std::string>(s.text(col));
}

// Generation columns in the order readGen() expects.
constexpr const char* kGenCols =
    "SELECT id, job_id, model_id, parent_id, branch_token, seed, prompt, params, tokens, token_stats, top_k, "
    "state, rating, notes, asset_id, created_at, kind, strip_asset_id FROM generations";

GenRow readGen(Stmt& s) {
    GenRow g;
    g.id = s.i64(0);
    g.job_id = s.optI64(1);
    g.model_id = s.optI64(2);
    g.parent_id = s.optI64(3);
    g.branch_token = s.i64(4);
    g.seed = s.i64(5);
    g.prompt = s.text(6);
    g.params = s.text(7);
    g.tokens = s.blob(8);
    g.stats = s.blob(9);
    g.top_k = optText(s, 10);
    g.state = s.text(11);
    g.rating = static_cast<int>(s.i64(12));
    g.notes = s.text(13);
    g.asset_id = s.optI64(14);
    g.created_at = s.i64(15);
    g.kind = s.text(16);
    g.strip_asset_id = s.optI64(17);
    return g;
}

void loadTags(Db& db, std::vector<GenRow>& gens) {
    std::map<int64_t, GenRow*> by_id;
    for (auto& g : gens) by_id[g.id] = &g;
    Stmt t = db.prepare("SELECT generation_id, tag FROM tags ORDER BY generation_id, tag");
    while (t.step())
        if (auto it = by_id.find(t.i64(0)); it != by_id.end()) it->second->tags.push_back(t.text(1));
}

// Refuses a database at another schema version than this build's.
void requireVersion(Db& db, const fs::path& dir) {
    int v = detail::userVersion(db);
    int latest = detail::latestSchemaVersion();
    if (v == latest) return;
    throw UsageError("cannot merge " + dir.string() + ": it uses schema version " + std::to_string(v) +
                     ", this Tessera merges version " + std::to_string(latest) + " only" +
                     (v < latest ? " (open it once with this Tessera, e.g. `tessera-cli project list DIR`, "
                                   "to migrate it)"
                                 : " (it was written by a newer Tessera; merge with that one)"));
}

Shard readShard(const fs::path& dir) {
    if (!fs::exists(dir / detail::kDbFile))
        throw UsageError("cannot merge " + dir.string() + ": no project there (no " + detail::kDbFile + ")");
    Db db(dir / detail::kDbFile, false, 15000);
    requireVersion(db, dir);
    Shard sh;
    sh.dir = dir;
    db.exec("BEGIN"); // one consistent snapshot even while a writer is still at work
    try {
        Stmt m = db.prepare("SELECT id, path, family, content_hash, size_bytes, added_at FROM models");
        while (m.step()) sh.models[m.i64(0)] = {m.text(1), m.text(2), m.text(3), m.i64(4), m.i64(5)};
        Stmt j =
            db.prepare("SELECT id, kind, params, state, error, result, priority, created_at, started_at, "
                       "finished_at FROM jobs");
        while (j.step())
            sh.jobs[j.i64(0)] = {j.text(1),     j.text(2), j.text(3),   j.text(4),  optText(j, 5),
                                 int(j.i64(6)), j.i64(7),  j.optI64(8), j.optI64(9)};
        Stmt a =
            db.prepare("SELECT id, rel_path, sha256, kind, meta, state, size_bytes, created_at FROM assets");
        while (a.step())
            sh.assets[a.i64(0)] = {a.text(1), a.text(2), a.text(3), a.text(4), a.text(5), a.i64(6), a.i64(7)};
        Stmt g = db.prepare((std::string(kGenCols) + " ORDER BY id").c_str());
        while (g.step()) sh.generations.push_back(readGen(g));
        loadTags(db, sh.generations);
        db.exec("COMMIT");
    } catch (...) {
        db.exec("ROLLBACK");
        throw;
    }
    return sh;
}

// ---------------------------------------------------------------- content hashes

// Length-prefixed fields, so that no two different records hash the same bytes.
class HashBuilder {
public:
    HashBuilder& add(const void* data, size_t n) {
        uint64_t len = n;
        h_.update(&len, sizeof len);
        h_.update(data, n);
        return *this;
    }
    HashBuilder& add(const std::string& s) { return add(s.data(), s.size()); }
    HashBuilder& add(int64_t v) { return add(&v, sizeof v); }
    std::string done() { return h_.hexDigest(); }

private:
    detail::Sha256 h_;
};

std::string canonicalJson(const std::string& text) {
    // nlohmann's objects are key-sorted, so a parse and dump is canonical.
    return detail::parseJson(text, nlohmann::json(text)).dump();
}

std::string contentHash(const GenRow& g, const std::string& model_hash, const std::string& parent_hash) {
    HashBuilder h;
    h.add(model_hash).add(parent_hash).add(g.branch_token).add(g.seed).add(g.prompt);
    h.add(canonicalJson(g.params)).add(g.tokens.data(), g.tokens.size()).add(g.state);
    return h.done();
}

// ---------------------------------------------------------------- media staging

// Files copied into the output's media/: under temporary names first, renamed together, removed again
// when the merge fails.
class MediaStage {
public:
    explicit MediaStage(fs::path out_dir) : dir_(std::move(out_dir)) {}
    ~MediaStage() {
        std::error_code ec;
        for (const auto& t : temps_) fs::remove(t.first, ec);
        if (!committed_)
            for (const auto& f : placed_) fs::remove(f, ec);
    }

    // Stages `src` for `rel_path` unless the output has it already; returns whether it will be new.
    bool stage(const fs::path& src, const std::string& rel_path, const std::string& sha256) {
        fs::path final_path = dir_ / rel_path;
        if (fs::exists(final_path) || staged_.count(rel_path)) return false;
        static thread_local std::mt19937_64 rng(std::random_device{}());
        char tag[32];
        std::snprintf(tag, sizeof tag, "%016llx", static_cast<unsigned long long>(rng()));
        fs::path temp =
            dir_ / detail::kMediaDir / (std::string(detail::kTempPrefix) + "merge-" + tag + ".part");
        std::error_code ec;
        fs::copy_file(src, temp, ec);
        if (ec) throw UsageError("copying " + src.string() + " into " + temp.string() + ": " + ec.message());
        temps_.emplace_back(temp, final_path);
        if (detail::sha256File(temp) != sha256)
            throw UsageError(src.string() +
                             " does not match its recorded SHA-256 (the shard's media is damaged; "
                             "run `tessera-cli project recover` on it)");
        int fd = ::open(temp.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0 || ::fsync(fd) != 0) {
            std::string why = std::strerror(errno);
            if (fd >= 0) ::close(fd);
            throw UsageError("flushing " + temp.string() + ": " + why);
        }
        ::close(fd);
        staged_.insert(rel_path);
        return true;
    }

    // Renames every staged file into place (before the rows that name them are committed).
    void place() {
        for (const auto& [temp, final_path] : temps_) {
            if (::rename(temp.c_str(), final_path.c_str()) != 0)
                throw UsageError("moving media into place at " + final_path.string() + ": " +
                                 std::strerror(errno));
            placed_.push_back(final_path);
        }
        temps_.clear();
        detail::syncDirectory(dir_ / detail::kMediaDir);
    }
    void commit() { committed_ = true; }

private:
    fs::path dir_;
    std::vector<std::pair<fs::path, fs::path>> temps_;
    std::vector<fs::path> placed_;
    std::set<std::string> staged_;
    bool committed_ = false;
};

// ---------------------------------------------------------------- the transaction

int64_t idOf(Stmt& s, const char* what) {
    if (!s.step()) throw detail::DbError(std::string("looking up the merged ") + what + " returned nothing");
    int64_t id = s.i64(0);
    s.run();
    return id;
}

class Merger {
public:
    Merger(Db& db, const fs::path& out_dir, MergeReport& report)
        : db_(db), out_dir_(out_dir), report_(report) {
        // Hashes of what the output already holds, parents first.
        std::map<int64_t, std::string> model_hash;
        Stmt m = db_.prepare("SELECT id, content_hash FROM models");
        while (m.step()) model_hash[m.i64(0)] = m.text(1);
        Stmt g = db_.prepare((std::string(kGenCols) + " ORDER BY id").c_str());
        while (g.step()) {
            GenRow r = readGen(g);
            std::string mh = r.model_id ? model_hash[*r.model_id] : "";
            std::string ph = r.parent_id ? out_hash_[*r.parent_id] : "";
            std::string h = contentHash(r, mh, ph);
            out_hash_[r.id] = h;
            by_hash_.emplace(h, r.id);
        }
    }

    void mergeShard(const Shard& sh) {
        std::map<int64_t, int64_t> model_map, job_map, asset_map, gen_map;
        std::map<int64_t, std::string> shard_hash;
        for (const auto& [id, m] : sh.models) model_map[id] = model(m);
        for (const auto& [id, j] : sh.jobs) job_map[id] = job(j);
        for (const auto& [id, a] : sh.assets) asset_map[id] = asset(a);
        for (const auto& g : sh.generations) {
            std::string mh =
                g.model_id && sh.models.count(*g.model_id) ? sh.models.at(*g.model_id).content_hash : "";
            std::string ph = g.parent_id && shard_hash.count(*g.parent_id) ? shard_hash[*g.parent_id] : "";
            std::string h = contentHash(g, mh, ph);
            shard_hash[g.id] = h;
            auto remap = [](const std::map<int64_t, int64_t>& map, const std::optional<int64_t>& id) {
                std::optional<int64_t> out;
                if (id)
                    if (auto it = map.find(*id); it != map.end()) out = it->second;
                return out;
            };
            std::optional<int64_t> asset_id = remap(asset_map, g.asset_id);
            if (auto it = by_hash_.find(h); it != by_hash_.end()) {
                mergeInto(it->second, g, asset_id);
                gen_map[g.id] = it->second;
                ++report_.generations_duplicate;
                continue;
            }
            Stmt s = db_.prepare(
                "INSERT INTO generations(job_id, model_id, parent_id, branch_token, seed, prompt, "
                "params, tokens, token_stats, top_k, state, rating, notes, asset_id, created_at, kind, "
                "strip_asset_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
            s.bind(1, remap(job_map, g.job_id)).bind(2, remap(model_map, g.model_id));
            s.bind(3, remap(gen_map, g.parent_id)).bind(4, g.branch_token).bind(5, g.seed).bind(6, g.prompt);
            s.bind(7, g.params).bindBlob(8, g.tokens.data(), g.tokens.size());
            s.bindBlob(9, g.stats.data(), g.stats.size());
            if (g.top_k)
                s.bind(10, *g.top_k);
            else
                s.bindNull(10);
            s.bind(11, g.state)
                .bind(12, g.rating)
                .bind(13, g.notes)
                .bind(14, asset_id)
                .bind(15, g.created_at)
                .bind(16, g.kind)
                .bind(17, remap(asset_map, g.strip_asset_id));
            s.run();
            int64_t id = db_.lastInsertId();
            for (const auto& t : g.tags) addTag(id, t);
            gen_map[g.id] = id;
            by_hash_.emplace(h, id);
            ++report_.generations_added;
        }
    }

private:
    int64_t model(const ModelRow& m) {
        Stmt s = db_.prepare("INSERT INTO models(path, family, content_hash, size_bytes, added_at) "
                             "VALUES (?, ?, ?, ?, ?) ON CONFLICT(path, content_hash) DO NOTHING");
        s.bind(1, m.path).bind(2, m.family).bind(3, m.content_hash).bind(4, m.size_bytes).bind(5, m.added_at);
        s.run();
        if (db_.changes() > 0) ++report_.models_added;
        Stmt q = db_.prepare("SELECT id FROM models WHERE path = ? AND content_hash = ?");
        q.bind(1, m.path).bind(2, m.content_hash);
        return idOf(q, "model");
    }

    int64_t job(const JobRow& j) {
        const std::string params = canonicalJson(j.params);
        Stmt q = db_.prepare("SELECT id, params FROM jobs WHERE kind = ? AND created_at = ?");
        q.bind(1, j.kind).bind(2, j.created_at);
        while (q.step())
            if (canonicalJson(q.text(1)) == params) return q.i64(0);
        // A job that was running in a shard belongs to a process that is gone (or still running
        // elsewhere): in the merged project it is interrupted, never claimed by this machine's runner.
        const bool was_running = j.state == "running";
        Stmt s = db_.prepare(
            "INSERT INTO jobs(kind, params, priority, state, created_at, started_at, finished_at, "
            "error, result, queue_pos) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, "
            "(SELECT coalesce(max(queue_pos), 0) + 1 FROM jobs))");
        s.bind(1, j.kind)
            .bind(2, j.params)
            .bind(3, j.priority)
            .bind(4, was_running ? "interrupted" : j.state);
        s.bind(5, j.created_at).bind(6, j.started_at).bind(7, j.finished_at);
        s.bind(8, was_running ? std::string("was running in its shard when the shard was merged") : j.error);
        if (j.result)
            s.bind(9, *j.result);
        else
            s.bindNull(9);
        s.run();
        ++report_.jobs_added;
        return db_.lastInsertId();
    }

    int64_t asset(const AssetRow& a) {
        const bool present = fs::exists(out_dir_ / a.rel_path);
        Stmt s =
            db_.prepare("INSERT INTO assets(rel_path, sha256, kind, size_bytes, meta, state, created_at) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(rel_path) DO UPDATE SET state = "
                        "excluded.state WHERE excluded.state = 'ok' AND state <> 'ok'");
        s.bind(1, a.rel_path).bind(2, a.sha256).bind(3, a.kind).bind(4, a.size_bytes).bind(5, a.meta);
        s.bind(6, present ? "ok" : "missing").bind(7, a.created_at);
        s.run();
        Stmt q = db_.prepare("SELECT id FROM assets WHERE rel_path = ?");
        q.bind(1, a.rel_path);
        return idOf(q, "asset");
    }

    void addTag(int64_t id, const std::string& tag) {
        Stmt s = db_.prepare("INSERT OR IGNORE INTO tags(generation_id, tag) VALUES (?, ?)");
        s.bind(1, id).bind(2, tag);
        s.run();
    }

    // A duplicate: what people added to either copy (tags, rating, notes, the media link) is kept,
    // choosing the greater value where both have one, so that the merge order does not matter.
    void mergeInto(int64_t id, const GenRow& g, const std::optional<int64_t>& asset_id) {
        for (const auto& t : g.tags) addTag(id, t);
        Stmt s = db_.prepare("UPDATE generations SET rating = max(rating, ?), "
                             "notes = CASE WHEN ? > notes THEN ? ELSE notes END, "
                             "asset_id = coalesce(asset_id, ?) WHERE id = ?");
        s.bind(1, g.rating).bind(2, g.notes).bind(3, g.notes).bind(4, asset_id).bind(5, id);
        s.run();
    }

    Db& db_;
    fs::path out_dir_;
    MergeReport& report_;
    std::map<int64_t, std::string> out_hash_;
    std::map<std::string, int64_t> by_hash_;
};

bool samePath(const fs::path& a, const fs::path& b) {
    std::error_code ec;
    return fs::equivalent(a, b, ec);
}

} // namespace

// ---------------------------------------------------------------- mergeProjects

Result<MergeReport> mergeProjects(const fs::path& out, const std::vector<fs::path>& shards) {
    return detail::guardResult<MergeReport>("merging projects", [&] {
        if (shards.empty()) throw UsageError("nothing to merge: name at least one shard project");
        for (const auto& s : shards)
            if (fs::exists(out) && samePath(s, out))
                throw UsageError("cannot merge " + s.string() + " into itself");
        MergeReport report;
        report.shards = static_cast<int>(shards.size());
        // Everything is read before the output is touched: a bad shard changes nothing.
        std::vector<Shard> data;
        for (const auto& s : shards) data.push_back(readShard(s));

        // A new output is built next to its final place and renamed at the end.
        report.created = !fs::exists(out / detail::kDbFile);
        fs::path work = out;
        if (report.created) {
            if (fs::exists(out) && !fs::is_empty(out))
                throw UsageError(out.string() + " exists and is not a project; name an empty or new folder");
            work = out.parent_path() / (out.filename().string() + ".merging-" + std::to_string(::getpid()));
            std::error_code ec;
            fs::remove_all(work, ec);
            auto created = Project::create(work);
            if (!created) throw UsageError(created.error());
        }
        struct RemoveOnFailure {
            fs::path dir;
            bool keep = false;
            ~RemoveOnFailure() {
                std::error_code ec;
                if (!keep && !dir.empty()) fs::remove_all(dir, ec);
            }
        } cleanup{report.created ? work : fs::path()};

        {
            Db db(work / detail::kDbFile, false, 15000);
            requireVersion(db, out);
            detail::MediaLock lock(work, false); // a recovery scan must not take staged files for orphans
            MediaStage stage(work);
            for (const auto& sh : data)
                for (const auto& [id, a] : sh.assets) {
                    (void)id;
                    fs::path src = sh.dir / a.rel_path;
                    if (a.state == "ok" && fs::exists(src) && stage.stage(src, a.rel_path, a.sha256))
                        ++report.media_copied;
                }
            stage.place();
            db.write([&] {
                Merger merger(db, work, report);
                for (const auto& sh : data) merger.mergeShard(sh);
            });
            stage.commit();
        }
        if (report.created) {
            std::error_code ec;
            if (fs::exists(out)) fs::remove(out, ec); // an empty folder named as the output
            fs::rename(work, out, ec);
            if (ec)
                throw UsageError("moving the merged project into place at " + out.string() + ": " +
                                 ec.message());
            cleanup.keep = true;
        }
        return report;
    });
}

} // namespace tessera::projects

// Sections: lifecycle (create/open, runner identity), models, scenes, erasures, integrity check.
#include "tessera/projects/project.h"

#include "project_impl.h"
#include "schema.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <random>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace tessera::projects {

namespace fs = std::filesystem;
using detail::Stmt;
using detail::UsageError;

namespace detail {

std::string jsonText(const nlohmann::json& j) {
    return j.dump();
}

nlohmann::json parseJson(const std::string& text, const nlohmann::json& fallback) {
    if (text.empty()) return fallback;
    auto j = nlohmann::json::parse(text, nullptr, false);
    return j.is_discarded() ? fallback : j;
}

} // namespace detail

// ---------------------------------------------------------------- lifecycle

Project::Impl::~Impl() {
    db.reset();
    if (runner_fd_ >= 0) {
        ::unlink((dir / detail::kRunnersDir / (runner_token_ + ".lock")).c_str());
        ::close(runner_fd_);
    }
}

const std::string& Project::Impl::runnerToken() {
    if (runner_fd_ >= 0) return runner_token_;
    fs::path runners = dir / detail::kRunnersDir;
    std::error_code ec;
    fs::create_directories(runners, ec);
    std::mt19937_64 rng(std::random_device{}());
    // recover() removes lock files nobody holds: one it removed between our open and our flock is
    // no longer the file under that name, so a new token is drawn.
    for (int attempt = 0; attempt < 8; ++attempt) {
        char buf[40];
        std::snprintf(buf, sizeof(buf), "%d-%016llx", static_cast<int>(::getpid()),
                      static_cast<unsigned long long>(rng()));
        fs::path file = runners / (std::string(buf) + ".lock");
        int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) throw detail::DbError("cannot create " + file.string() + ": " + std::strerror(errno));
        struct stat held {}, named {};
        if (::flock(fd, LOCK_EX | LOCK_NB) != 0 || ::fstat(fd, &held) != 0 || ::stat(file.c_str(), &named) != 0 ||
            held.st_ino != named.st_ino || held.st_dev != named.st_dev) {
            ::close(fd);
            continue;
        }
        runner_fd_ = fd;
        runner_token_ = buf;
        return runner_token_;
    }
    throw detail::DbError("cannot take a runner lock in " + runners.string());
}

void Project::Impl::requireRow(const char* table, int64_t id, const char* what) {
    std::string sql = std::string("SELECT 1 FROM ") + table + " WHERE id = ?";
    Stmt s = db->prepare(sql.c_str());
    s.bind(1, id);
    if (!s.step())
        throw UsageError(std::string("no ") + what + " with id " + std::to_string(id) + " in " +
                         dir.string());
}

Project::Project(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Project::Project(Project&&) noexcept = default;
Project& Project::operator=(Project&&) noexcept = default;
Project::~Project() = default;

const fs::path& Project::dir() const {
    return impl_->dir;
}
int Project::latestSchemaVersion() {
    return detail::latestSchemaVersion();
}

Result<int> Project::schemaVersion() {
    return detail::guardResult<int>("reading the schema version",
                                    [&] { return detail::userVersion(*impl_->db); });
}

Result<Project> Project::openOrCreate(const fs::path& dir, const OpenOptions& options, bool create) {
    try {
        std::error_code ec;
        fs::path db_file = dir / detail::kDbFile;
        if (create) {
            if (fs::exists(db_file, ec))
                return Status::error(dir.string() + " already holds a project (project.db exists); use open");
            // What an interrupted create leaves (see below) is ours to clear: the half-made database
            // under its temporary name, and the empty media folder.
            const std::string tmp_prefix = std::string(detail::kDbFile) + ".creating-";
            if (fs::is_directory(dir, ec)) {
                for (const auto& e : fs::directory_iterator(dir, ec))
                    if (e.path().filename().string().rfind(tmp_prefix, 0) == 0) fs::remove(e.path(), ec);
                if (fs::is_directory(dir / detail::kMediaDir, ec) && fs::is_empty(dir / detail::kMediaDir, ec))
                    fs::remove(dir / detail::kMediaDir, ec);
            }
            // A project is made in a new or empty folder, never over files it did not write (recover
            // would later take them for its own leftovers).
            if (fs::exists(dir, ec) && !(fs::is_directory(dir, ec) && fs::is_empty(dir, ec)))
                return Status::error(dir.string() + " exists and is not an empty folder; a project is created in a "
                                                    "new or empty folder");
            fs::create_directories(dir / detail::kMediaDir, ec);
            if (ec)
                return Status::error("cannot create " + (dir / detail::kMediaDir).string() + ": " +
                                     ec.message());
            // The database is built under a temporary name and renamed into place once its schema and
            // mark are written, so a process killed while creating never leaves a project.db that is
            // not a project (which open would then refuse).
            const fs::path tmp = dir / (tmp_prefix + std::to_string(::getpid()));
            {
                detail::Db fresh(tmp, true, options.busy_timeout_ms);
                detail::migrate(fresh, detail::latestSchemaVersion());
                detail::stampApplicationId(fresh);
                fresh.exec("PRAGMA journal_mode = DELETE"); // fold the WAL into the file before the rename
            }
            fs::rename(tmp, db_file, ec);
            if (ec) return Status::error("cannot create " + db_file.string() + ": " + ec.message());
            detail::syncDirectory(dir);
            create = false;
        } else {
            if (!fs::exists(db_file, ec))
                return Status::error(dir.string() +
                                     " is not a Tessera project (no project.db); create one with "
                                     "`tessera-cli project create " +
                                     dir.string() + "`");
            // An empty project.db is no project (SQLite would happily start a new database in it).
            if (fs::is_regular_file(db_file, ec) && fs::file_size(db_file, ec) == 0)
                return Status::error(db_file.string() + " is empty: not a Tessera project database");
        }
        auto impl = std::make_unique<Impl>();
        impl->dir = dir;
        impl->options = options;
        impl->db = std::make_unique<detail::Db>(db_file, create, options.busy_timeout_ms);
        if (!create) {
            detail::requireTesseraDatabase(*impl->db, db_file);
            if (options.check_integrity) detail::quickCheck(*impl->db, db_file);
            fs::create_directories(dir / detail::kMediaDir, ec);
        }
        detail::migrate(*impl->db, detail::latestSchemaVersion());
        detail::stampApplicationId(*impl->db);
        if (create) detail::syncDirectory(dir);
        impl->interruptDeadJobs(options.interrupted_jobs);
        return Project(std::move(impl));
    } catch (const UsageError& e) {
        return Status::error(e.what());
    } catch (const std::exception& e) {
        return Status::error(std::string(create ? "creating" : "opening") + " project " + dir.string() +
                             ": " + e.what());
    }
}

Result<Project> Project::create(const fs::path& dir, const OpenOptions& options) {
    return openOrCreate(dir, options, true);
}

Result<Project> Project::open(const fs::path& dir, const OpenOptions& options) {
    return openOrCreate(dir, options, false);
}

// ---------------------------------------------------------------- models

namespace {

ModelRecord readModel(Stmt& s) {
    ModelRecord m;
    m.id = s.i64(0);
    m.path = s.text(1);
    m.family = s.text(2);
    m.content_hash = s.text(3);
    m.size_bytes = s.i64(4);
    m.added_at_ms = s.i64(5);
    return m;
}

constexpr const char* kModelCols = "SELECT id, path, family, content_hash, size_bytes, added_at FROM models";

} // namespace

Result<int64_t> Project::addModel(const ModelRecord& model) {
    return detail::guardResult<int64_t>("adding a model", [&] {
        if (model.path.empty()) throw UsageError("a model needs a path");
        return impl_->db->write([&] {
            Stmt find = impl_->db->prepare("SELECT id FROM models WHERE path = ? AND content_hash = ?");
            find.bind(1, model.path).bind(2, model.content_hash);
            if (find.step()) return find.i64(0);
            Stmt s = impl_->db->prepare("INSERT INTO models(path, family, content_hash, size_bytes, "
                                        "added_at) VALUES (?, ?, ?, ?, ?)");
            s.bind(1, model.path).bind(2, model.family).bind(3, model.content_hash).bind(4, model.size_bytes);
            s.bind(5, model.added_at_ms ? model.added_at_ms : detail::nowMs());
            s.run();
            return impl_->db->lastInsertId();
        });
    });
}

Result<ModelRecord> Project::model(int64_t id) {
    return detail::guardResult<ModelRecord>("reading a model", [&] {
        return impl_->db->read([&] {
            Stmt s = impl_->db->prepare((std::string(kModelCols) + " WHERE id = ?").c_str());
            s.bind(1, id);
            if (!s.step()) throw UsageError("no model with id " + std::to_string(id));
            return readModel(s);
        });
    });
}

Result<std::vector<ModelRecord>> Project::listModels() {
    return detail::guardResult<std::vector<ModelRecord>>("listing models", [&] {
        return impl_->db->read([&] {
            std::vector<ModelRecord> out;
            Stmt s = impl_->db->prepare((std::string(kModelCols) + " ORDER BY id").c_str());
            while (s.step()) out.push_back(readModel(s));
            return out;
        });
    });
}

// ---------------------------------------------------------------- scenes

namespace {

SceneRecord readScene(Stmt& s) {
    SceneRecord r;
    r.id = s.i64(0);
    r.name = s.text(1);
    r.program = s.text(2);
    r.parsed = s.isNull(3) ? nlohmann::json() : detail::parseJson(s.text(3), nlohmann::json());
    r.created_at_ms = s.i64(4);
    return r;
}

constexpr const char* kSceneCols = "SELECT id, name, program, parsed, created_at FROM scenes";

std::vector<uint8_t> floatsToBlob(const std::vector<float>& v) {
    std::vector<uint8_t> out(v.size() * 4);
    for (size_t i = 0; i < v.size(); ++i) {
        uint32_t bits;
        std::memcpy(&bits, &v[i], 4);
        for (int b = 0; b < 4; ++b) out[4 * i + b] = uint8_t(bits >> (8 * b));
    }
    return out;
}

std::vector<float> blobToFloats(const std::vector<uint8_t>& blob) {
    std::vector<float> out(blob.size() / 4);
    for (size_t i = 0; i < out.size(); ++i) {
        uint32_t bits = 0;
        for (int b = 0; b < 4; ++b) bits |= uint32_t(blob[4 * i + b]) << (8 * b);
        std::memcpy(&out[i], &bits, 4);
    }
    return out;
}

} // namespace

Result<int64_t> Project::addScene(const SceneRecord& scene) {
    return detail::guardResult<int64_t>("adding a scene", [&] {
        return impl_->db->write([&] {
            Stmt s = impl_->db->prepare(
                "INSERT INTO scenes(name, program, parsed, created_at) VALUES (?, ?, ?, ?)");
            s.bind(1, scene.name).bind(2, scene.program);
            if (scene.parsed.is_null())
                s.bindNull(3);
            else
                s.bind(3, detail::jsonText(scene.parsed));
            s.bind(4, scene.created_at_ms ? scene.created_at_ms : detail::nowMs());
            s.run();
            return impl_->db->lastInsertId();
        });
    });
}

Result<SceneRecord> Project::scene(int64_t id) {
    return detail::guardResult<SceneRecord>("reading a scene", [&] {
        return impl_->db->read([&] {
            Stmt s = impl_->db->prepare((std::string(kSceneCols) + " WHERE id = ?").c_str());
            s.bind(1, id);
            if (!s.step()) throw UsageError("no scene with id " + std::to_string(id));
            return readScene(s);
        });
    });
}

Result<std::vector<SceneRecord>> Project::listScenes() {
    return detail::guardResult<std::vector<SceneRecord>>("listing scenes", [&] {
        return impl_->db->read([&] {
            std::vector<SceneRecord> out;
            Stmt s = impl_->db->prepare((std::string(kSceneCols) + " ORDER BY id").c_str());
            while (s.step()) out.push_back(readScene(s));
            return out;
        });
    });
}

// ---------------------------------------------------------------- erasures

namespace {

ErasureRecord readErasure(Stmt& s) {
    ErasureRecord r;
    r.id = s.i64(0);
    r.concept_name = s.text(1);
    r.model_id = s.optI64(2);
    r.prompt_pairs = detail::parseJson(s.text(3), nlohmann::json::array());
    r.loss_curve = blobToFloats(s.blob(4));
    r.delta_asset_id = s.optI64(5);
    r.created_at_ms = s.i64(6);
    return r;
}

constexpr const char* kErasureCols =
    "SELECT id, concept, model_id, prompt_pairs, loss_curve, delta_asset_id, created_at FROM erasures";

} // namespace

Result<int64_t> Project::addErasure(const ErasureRecord& erasure, const MediaPayload* delta) {
    return detail::guardResult<int64_t>("adding an erasure", [&] {
        if (erasure.concept_name.empty()) throw UsageError("an erasure needs the concept it erases");
        std::optional<detail::MediaLock> lock;
        std::optional<detail::WrittenMedia> written;
        if (delta) {
            lock.emplace(impl_->dir, false);
            written = detail::writeMediaDurably(impl_->dir, *delta);
        }
        return impl_->db->write([&] {
            std::optional<int64_t> asset_id = erasure.delta_asset_id;
            if (written) asset_id = impl_->insertAsset(*written, *delta);
            if (erasure.model_id) impl_->requireRow("models", *erasure.model_id, "model");
            Stmt s = impl_->db->prepare("INSERT INTO erasures(concept, model_id, prompt_pairs, loss_curve, "
                                        "delta_asset_id, created_at) VALUES (?, ?, ?, ?, ?, ?)");
            auto blob = floatsToBlob(erasure.loss_curve);
            s.bind(1, erasure.concept_name)
                .bind(2, erasure.model_id)
                .bind(3, detail::jsonText(erasure.prompt_pairs));
            s.bindBlob(4, blob.data(), blob.size()).bind(5, asset_id);
            s.bind(6, erasure.created_at_ms ? erasure.created_at_ms : detail::nowMs());
            s.run();
            return impl_->db->lastInsertId();
        });
    });
}

Result<ErasureRecord> Project::erasure(int64_t id) {
    return detail::guardResult<ErasureRecord>("reading an erasure", [&] {
        return impl_->db->read([&] {
            Stmt s = impl_->db->prepare((std::string(kErasureCols) + " WHERE id = ?").c_str());
            s.bind(1, id);
            if (!s.step()) throw UsageError("no erasure with id " + std::to_string(id));
            return readErasure(s);
        });
    });
}

Result<std::vector<ErasureRecord>> Project::listErasures() {
    return detail::guardResult<std::vector<ErasureRecord>>("listing erasures", [&] {
        return impl_->db->read([&] {
            std::vector<ErasureRecord> out;
            Stmt s = impl_->db->prepare((std::string(kErasureCols) + " ORDER BY id").c_str());
            while (s.step()) out.push_back(readErasure(s));
            return out;
        });
    });
}

// ---------------------------------------------------------------- transactions

namespace {
struct BodyFailed : std::runtime_error {
    using std::runtime_error::runtime_error;
};
} // namespace

Status Project::atomically(const std::function<Status()>& body) {
    try {
        detail::MediaLock lock(impl_->dir, false);
        impl_->db->write([&] {
            Status s = body();
            if (!s.ok()) throw BodyFailed(s.message());
        });
        return {};
    } catch (const BodyFailed& e) {
        return Status::error(e.what());
    } catch (const UsageError& e) {
        return Status::error(e.what());
    } catch (const std::exception& e) {
        return Status::error(std::string("storing in project ") + impl_->dir.string() + ": " + e.what());
    }
}

// ---------------------------------------------------------------- integrity

Status Project::integrityCheck() {
    return detail::guardStatus("checking integrity", [&] {
        impl_->db->read([&] {
            std::string problems;
            int n = 0;
            Stmt s = impl_->db->prepare("PRAGMA integrity_check");
            while (s.step()) {
                std::string line = s.text(0);
                if (line == "ok") continue;
                if (n++ < 5) problems += "\n  " + line;
            }
            Stmt fk = impl_->db->prepare("PRAGMA foreign_key_check");
            while (fk.step()) {
                if (n++ < 5)
                    problems += "\n  table " + fk.text(0) + " row " + std::to_string(fk.i64(1)) +
                                " refers to a missing row of " + fk.text(2);
            }
            if (n > 0)
                throw UsageError("project " + impl_->dir.string() + " failed its integrity check (" +
                                 std::to_string(n) + " problems):" + problems);
        });
    });
}

} // namespace tessera::projects

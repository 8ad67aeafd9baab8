// Recovery: what a crash can leave behind, and how it is cleaned up.
//
// A media write goes temp file -> fsync -> rename -> fsync folder -> commit row. A crash before the
// rename leaves a temporary file; between the rename and the commit, a file no row names. Neither is
// visible to readers, and recover() removes both. Jobs a dead process left 'running' are
// interrupted (or requeued) by policy; a runner is alive while it holds the flock on its file in
// .runners/.
#include "project_impl.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <fcntl.h>
#include <map>
#include <set>
#include <sys/file.h>
#include <unistd.h>

namespace tessera::projects {

namespace fs = std::filesystem;
using detail::Stmt;

bool detail::runnerAlive(const fs::path& project_dir, const std::string& token,
                         const std::string& own_token) {
    if (token.empty()) return false;
    if (token == own_token) return true;
    fs::path file = project_dir / kRunnersDir / (token + ".lock");
    int fd = ::open(file.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) return false;
    bool alive = ::flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    if (!alive) ::unlink(file.c_str());
    ::close(fd);
    return alive;
}

// A process killed before its job row named its runner leaves a lock file no row refers to; one
// that nobody holds is dead and removed (runnerAlive's test, applied to every file).
static int removeDeadRunnerLocks(const fs::path& project_dir, const std::string& own_token) {
    int removed = 0;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(project_dir / detail::kRunnersDir, ec)) {
        const std::string name = e.path().filename().string();
        if (name.size() < 6 || name.compare(name.size() - 5, 5, ".lock") != 0) continue;
        const std::string token = name.substr(0, name.size() - 5);
        if (token == own_token) continue;
        if (!detail::runnerAlive(project_dir, token, own_token)) ++removed; // it unlinks a dead one
    }
    return removed;
}

int Project::Impl::interruptDeadJobs(InterruptedJobPolicy policy) {
    auto runningJobs = [&] {
        std::vector<std::pair<int64_t, std::string>> out;
        Stmt s = db->prepare("SELECT id, coalesce(runner, '') FROM jobs WHERE state = 'running'");
        while (s.step()) out.emplace_back(s.i64(0), s.text(1));
        return out;
    };
    // Most opens find nothing running: check with a read before taking the write lock.
    if (db->read(runningJobs).empty()) return 0;
    return db->write([&] {
        int n = 0;
        for (const auto& [id, runner] : runningJobs()) {
            if (detail::runnerAlive(dir, runner, runner_token_)) continue;
            Stmt u = db->prepare(
                policy == InterruptedJobPolicy::kRequeue
                    ? "UPDATE jobs SET state = 'queued', runner = NULL, started_at = NULL, "
                      "error = 'requeued: the process running it stopped before it finished' WHERE id = ?"
                    : "UPDATE jobs SET state = 'interrupted', runner = NULL, "
                      "error = 'interrupted: the process running it stopped before it finished' WHERE id = "
                      "?");
            u.bind(1, id);
            u.run();
            ++n;
        }
        return n;
    });
}

namespace {

// "<64 lowercase hex>.<ext>" whose content's sha256 is the name.
bool provablyOwnMedia(const fs::path& file) {
    const std::string name = file.filename().string();
    const size_t dot = name.find('.');
    if (dot != 64) return false;
    for (size_t i = 0; i < 64; ++i)
        if (!std::isxdigit(static_cast<unsigned char>(name[i])) || std::isupper(static_cast<unsigned char>(name[i]))) return false;
    try {
        return detail::sha256File(file) == name.substr(0, 64);
    } catch (const std::exception&) {
        return false;
    }
}

} // namespace

Result<RecoveryReport> Project::recover(bool dry_run) {
    return detail::guardResult<RecoveryReport>("recovering the project", [&] {
        RecoveryReport report;
        // Exclusive: waits until no other process is between writing a media file and committing its row.
        detail::MediaLock lock(impl_->dir, true);
        fs::path media_dir = impl_->dir / detail::kMediaDir;
        std::error_code ec;
        fs::create_directories(media_dir, ec);

        std::set<std::string> files; // rel paths of regular media files
        for (const auto& entry : fs::directory_iterator(media_dir, ec)) {
            if (!entry.is_regular_file(ec)) continue;
            std::string name = entry.path().filename().string();
            if (detail::isTempName(name)) {
                ++report.temp_files_removed;
                report.notes.push_back("removed unfinished write " + name);
                if (!dry_run) fs::remove(entry.path(), ec);
                continue;
            }
            files.insert(std::string(detail::kMediaDir) + "/" + name);
        }
        if (ec) throw detail::UsageError("cannot list " + media_dir.string() + ": " + ec.message());

        impl_->db->write([&] {
            struct Row {
                int64_t id;
                std::string rel_path, sha256, state;
            };
            std::vector<Row> rows;
            Stmt s = impl_->db->prepare("SELECT id, rel_path, sha256, state FROM assets ORDER BY id");
            while (s.step()) rows.push_back({s.i64(0), s.text(1), s.text(2), s.text(3)});
            std::set<std::string> referenced;
            for (const auto& r : rows) referenced.insert(r.rel_path);

            std::vector<std::string> orphans;
            for (const auto& f : files)
                if (!referenced.count(f)) orphans.push_back(f);
            std::map<std::string, std::string> orphan_by_sha; // computed only when a row lacks its file
            bool hashed = false;

            Stmt mark = impl_->db->prepare("UPDATE assets SET state = ? WHERE id = ?");
            for (const auto& r : rows) {
                bool present = files.count(r.rel_path) != 0;
                if (present) {
                    if (r.state != "ok" && !dry_run) mark.bind(1, "ok").bind(2, r.id).run(), mark.reset();
                    continue;
                }
                if (!hashed) {
                    for (const auto& o : orphans) {
                        try {
                            orphan_by_sha.emplace(detail::sha256File(impl_->dir / o), o);
                        } catch (const std::exception&) {
                        }
                    }
                    hashed = true;
                }
                auto found = orphan_by_sha.find(r.sha256);
                if (found != orphan_by_sha.end()) {
                    ++report.assets_relinked;
                    report.notes.push_back("found " + r.rel_path + " again as " + found->second);
                    if (!dry_run) {
                        fs::rename(impl_->dir / found->second, impl_->dir / r.rel_path, ec);
                        if (ec)
                            throw detail::UsageError("cannot move " + found->second + " back to " +
                                                     r.rel_path + ": " + ec.message());
                        mark.bind(1, "ok").bind(2, r.id).run(), mark.reset();
                    }
                    files.insert(r.rel_path);
                    orphans.erase(std::find(orphans.begin(), orphans.end(), found->second));
                    orphan_by_sha.erase(found);
                    continue;
                }
                if (r.state != "missing") {
                    ++report.assets_marked_missing;
                    report.notes.push_back("asset " + std::to_string(r.id) + ": " + r.rel_path +
                                           " is missing");
                    if (!dry_run) mark.bind(1, "missing").bind(2, r.id).run(), mark.reset();
                }
            }
            // Only what is provably Tessera's own leftover is deleted: a file named after its content
            // ("<sha256>.<ext>", as media writes name them) whose bytes hash to that name. Anything
            // else in media/ is left where it is and reported.
            for (const auto& o : orphans) {
                if (!provablyOwnMedia(impl_->dir / o)) {
                    ++report.foreign_files_kept;
                    report.notes.push_back("left " + o + " in place: no record refers to it and it was not written by "
                                           "Tessera");
                    continue;
                }
                ++report.orphan_files_removed;
                report.notes.push_back("removed " + o + " (no record refers to it)");
                if (!dry_run) fs::remove(impl_->dir / o, ec);
            }
            if (!dry_run) detail::syncDirectory(media_dir);
        });
        if (!dry_run) report.jobs_interrupted = impl_->interruptDeadJobs(impl_->options.interrupted_jobs);
        if (!dry_run) report.runner_locks_removed = removeDeadRunnerLocks(impl_->dir, impl_->ownRunnerToken());
        return report;
    });
}

} // namespace tessera::projects

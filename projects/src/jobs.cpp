// The persistent half of the job queue: job records and their states. The engine's scheduler runs
// the jobs (workers, cancel flags, events); this file only remembers them.
//
// States and the transitions allowed between them:
//   queued      -> running, paused, cancelled
//   paused      -> queued, cancelled
//   running     -> done, failed, cancelled, interrupted, paused, queued
//   interrupted -> queued, cancelled, failed
//   failed      -> queued                      (requeue)
//   done, cancelled: final
// Queue order: priority descending, then queue_pos ascending.
#include "project_impl.h"

#include <algorithm>

namespace tessera::projects {

using detail::Stmt;
using detail::UsageError;

const char* jobStateName(JobState s) {
    switch (s) {
    case JobState::kQueued:
        return "queued";
    case JobState::kRunning:
        return "running";
    case JobState::kPaused:
        return "paused";
    case JobState::kDone:
        return "done";
    case JobState::kFailed:
        return "failed";
    case JobState::kCancelled:
        return "cancelled";
    case JobState::kInterrupted:
        return "interrupted";
    }
    return "queued";
}

std::optional<JobState> parseJobState(const std::string& name) {
    for (JobState s : {JobState::kQueued, JobState::kRunning, JobState::kPaused, JobState::kDone,
                       JobState::kFailed, JobState::kCancelled, JobState::kInterrupted})
        if (name == jobStateName(s)) return s;
    return std::nullopt;
}

bool isTerminal(JobState s) {
    return s == JobState::kDone || s == JobState::kFailed || s == JobState::kCancelled;
}

namespace {

bool allowed(JobState from, JobState to) {
    using S = JobState;
    if (from == to) return true;
    switch (from) {
    case S::kQueued:
        return to == S::kRunning || to == S::kPaused || to == S::kCancelled;
    case S::kPaused:
        return to == S::kQueued || to == S::kCancelled;
    case S::kRunning:
        return to == S::kDone || to == S::kFailed || to == S::kCancelled || to == S::kInterrupted ||
               to == S::kPaused || to == S::kQueued;
    case S::kInterrupted:
        return to == S::kQueued || to == S::kCancelled || to == S::kFailed;
    case S::kFailed:
        return to == S::kQueued;
    case S::kDone:
    case S::kCancelled:
        return false;
    }
    return false;
}

constexpr const char* kJobCols =
    "SELECT id, kind, params, priority, queue_pos, state, created_at, started_at, "
    "finished_at, error, result FROM jobs";

JobRecord readJob(Stmt& s) {
    JobRecord j;
    j.id = s.i64(0);
    j.kind = s.text(1);
    j.params = detail::parseJson(s.text(2), nlohmann::json::object());
    j.priority = static_cast<int>(s.i64(3));
    j.queue_pos = s.i64(4);
    j.state = parseJobState(s.text(5)).value_or(JobState::kInterrupted);
    j.created_at_ms = s.i64(6);
    j.started_at_ms = s.isNull(7) ? 0 : s.i64(7);
    j.finished_at_ms = s.isNull(8) ? 0 : s.i64(8);
    j.error = s.text(9);
    j.result = s.isNull(10) ? nlohmann::json() : detail::parseJson(s.text(10), nlohmann::json());
    return j;
}

JobRecord loadJob(detail::Db& db, int64_t id) {
    Stmt s = db.prepare((std::string(kJobCols) + " WHERE id = ?").c_str());
    s.bind(1, id);
    if (!s.step()) throw UsageError("no job with id " + std::to_string(id));
    return readJob(s);
}

// Sets the state with its bookkeeping (timestamps, runner); the caller checked the transition.
void setState(Project::Impl& impl, int64_t id, JobState to, const std::string& error) {
    int64_t now = detail::nowMs();
    const char* sql = nullptr;
    if (to == JobState::kRunning)
        sql = "UPDATE jobs SET state = ?, error = CASE WHEN ? = '' THEN error ELSE ? END, started_at = ?, "
              "finished_at = NULL, runner = ? WHERE id = ?";
    else if (isTerminal(to))
        sql = "UPDATE jobs SET state = ?, error = CASE WHEN ? = '' THEN error ELSE ? END, finished_at = ?, "
              "runner = NULL WHERE id = ?";
    else
        sql = "UPDATE jobs SET state = ?, error = CASE WHEN ? = '' THEN error ELSE ? END, runner = NULL "
              "WHERE id = ?";
    Stmt s = impl.db->prepare(sql);
    s.bind(1, jobStateName(to)).bind(2, error).bind(3, error);
    if (to == JobState::kRunning)
        s.bind(4, now).bind(5, impl.runnerToken()).bind(6, id);
    else if (isTerminal(to))
        s.bind(4, now).bind(5, id);
    else
        s.bind(4, id);
    s.run();
}

void transition(Project::Impl& impl, int64_t id, JobState to, const std::string& error) {
    JobRecord j = loadJob(*impl.db, id);
    if (!allowed(j.state, to))
        throw UsageError("job " + std::to_string(id) + " is " + jobStateName(j.state) +
                         " and cannot become " + jobStateName(to));
    if (j.state == to && error.empty()) return;
    setState(impl, id, to, error);
}

int64_t nextQueuePos(detail::Db& db) {
    Stmt s = db.prepare("SELECT coalesce(max(queue_pos), 0) + 1 FROM jobs");
    s.step();
    return s.i64(0);
}

} // namespace

Result<int64_t> Project::submitJob(const std::string& kind, const nlohmann::json& params, int priority) {
    return detail::guardResult<int64_t>("submitting a job", [&] {
        if (kind.empty()) throw UsageError("a job needs a kind (e.g. \"generate\")");
        return impl_->db->write([&] {
            Stmt s = impl_->db->prepare("INSERT INTO jobs(kind, params, priority, queue_pos, state, "
                                        "created_at) VALUES (?, ?, ?, ?, 'queued', ?)");
            s.bind(1, kind)
                .bind(2, detail::jsonText(params))
                .bind(3, priority)
                .bind(4, nextQueuePos(*impl_->db));
            s.bind(5, detail::nowMs());
            s.run();
            return impl_->db->lastInsertId();
        });
    });
}

Result<JobRecord> Project::job(int64_t id) {
    return detail::guardResult<JobRecord>(
        "reading a job", [&] { return impl_->db->read([&] { return loadJob(*impl_->db, id); }); });
}

Result<std::vector<JobRecord>> Project::listJobs(const JobFilter& filter) {
    return detail::guardResult<std::vector<JobRecord>>("listing jobs", [&] {
        return impl_->db->read([&] {
            std::string sql = std::string(kJobCols);
            if (!filter.states.empty()) {
                sql += " WHERE state IN (";
                for (size_t i = 0; i < filter.states.size(); ++i) sql += i ? ", ?" : "?";
                sql += ")";
            }
            sql += " ORDER BY CASE state WHEN 'running' THEN 0 WHEN 'queued' THEN 1 WHEN 'paused' THEN 1 "
                   "WHEN 'interrupted' THEN 2 ELSE 3 END, "
                   "CASE WHEN state IN ('queued', 'paused') THEN -priority ELSE 0 END, "
                   "CASE WHEN state IN ('queued', 'paused') THEN queue_pos ELSE -id END LIMIT ?";
            Stmt s = impl_->db->prepare(sql.c_str());
            int i = 1;
            for (JobState st : filter.states) s.bind(i++, jobStateName(st));
            s.bind(i, filter.limit);
            std::vector<JobRecord> out;
            while (s.step()) out.push_back(readJob(s));
            return out;
        });
    });
}

Status Project::updateJobState(int64_t id, JobState state, const std::string& error) {
    return detail::guardStatus("updating a job",
                               [&] { impl_->db->write([&] { transition(*impl_, id, state, error); }); });
}

Status Project::setJobResult(int64_t id, const nlohmann::json& result) {
    return detail::guardStatus("recording a job result", [&] {
        impl_->db->write([&] {
            impl_->requireRow("jobs", id, "job");
            Stmt s = impl_->db->prepare("UPDATE jobs SET result = ? WHERE id = ?");
            s.bind(1, detail::jsonText(result)).bind(2, id);
            s.run();
        });
    });
}

Status Project::setJobPriority(int64_t id, int priority) {
    return detail::guardStatus("changing a job's priority", [&] {
        impl_->db->write([&] {
            impl_->requireRow("jobs", id, "job");
            Stmt s = impl_->db->prepare("UPDATE jobs SET priority = ? WHERE id = ?");
            s.bind(1, priority).bind(2, id);
            s.run();
        });
    });
}

Status Project::reorderJob(int64_t id, int position) {
    return detail::guardStatus("reordering the queue", [&] {
        impl_->db->write([&] {
            JobRecord moving = loadJob(*impl_->db, id);
            if (moving.state != JobState::kQueued && moving.state != JobState::kPaused)
                throw UsageError("job " + std::to_string(id) + " is " + jobStateName(moving.state) +
                                 "; only queued or paused jobs can be reordered");
            std::vector<std::pair<int64_t, int>> order; // id, priority
            Stmt s = impl_->db->prepare("SELECT id, priority FROM jobs WHERE state IN ('queued', 'paused') "
                                        "ORDER BY priority DESC, queue_pos, id");
            while (s.step())
                if (s.i64(0) != id) order.emplace_back(s.i64(0), static_cast<int>(s.i64(1)));
            size_t at = static_cast<size_t>(std::clamp(position, 0, static_cast<int>(order.size())));
            int priority = moving.priority;
            if (at > 0)
                priority = order[at - 1].second;
            else if (!order.empty())
                priority = order[0].second;
            order.insert(order.begin() + static_cast<std::ptrdiff_t>(at), {id, priority});
            // Renumber after the current maximum so positions stay unique across all jobs.
            int64_t base = nextQueuePos(*impl_->db);
            Stmt u = impl_->db->prepare("UPDATE jobs SET queue_pos = ?, priority = ? WHERE id = ?");
            for (size_t i = 0; i < order.size(); ++i) {
                u.bind(1, base + static_cast<int64_t>(i)).bind(2, order[i].second).bind(3, order[i].first);
                u.run();
                u.reset();
            }
        });
    });
}

Status Project::pauseJob(int64_t id) {
    return updateJobState(id, JobState::kPaused);
}
Status Project::resumeJob(int64_t id) {
    return detail::guardStatus("resuming a job", [&] {
        impl_->db->write([&] {
            JobRecord j = loadJob(*impl_->db, id);
            if (j.state != JobState::kPaused)
                throw UsageError("job " + std::to_string(id) + " is " + jobStateName(j.state) +
                                 ", not paused");
            transition(*impl_, id, JobState::kQueued, {});
        });
    });
}

Status Project::requeueJob(int64_t id) {
    return detail::guardStatus("requeueing a job", [&] {
        impl_->db->write([&] {
            JobRecord j = loadJob(*impl_->db, id);
            if (j.state != JobState::kInterrupted && j.state != JobState::kFailed)
                throw UsageError("job " + std::to_string(id) + " is " + jobStateName(j.state) +
                                 "; only interrupted or failed jobs can be requeued");
            transition(*impl_, id, JobState::kQueued, {});
            Stmt s = impl_->db->prepare("UPDATE jobs SET queue_pos = ?, started_at = NULL, finished_at = "
                                        "NULL, error = '' WHERE id = ?");
            s.bind(1, nextQueuePos(*impl_->db)).bind(2, id);
            s.run();
        });
    });
}

Result<bool> Project::cancelJob(int64_t id) {
    return detail::guardResult<bool>("cancelling a job", [&] {
        return impl_->db->write([&] {
            JobRecord j = loadJob(*impl_->db, id);
            if (isTerminal(j.state))
                throw UsageError("job " + std::to_string(id) + " is already " + jobStateName(j.state));
            setState(*impl_, id, JobState::kCancelled, {});
            return j.state == JobState::kRunning;
        });
    });
}

Result<std::vector<int64_t>> Project::cancelAllJobs() {
    return detail::guardResult<std::vector<int64_t>>("cancelling all jobs", [&] {
        return impl_->db->write([&] {
            std::vector<int64_t> running;
            Stmt s = impl_->db->prepare("SELECT id FROM jobs WHERE state = 'running' ORDER BY id");
            while (s.step()) running.push_back(s.i64(0));
            Stmt u = impl_->db->prepare("UPDATE jobs SET state = 'cancelled', finished_at = ?, runner = NULL "
                                        "WHERE state IN ('queued', 'paused', 'running', 'interrupted')");
            u.bind(1, detail::nowMs());
            u.run();
            return running;
        });
    });
}

Result<std::optional<JobRecord>> Project::claimNextJob() {
    return detail::guardResult<std::optional<JobRecord>>("taking the next job", [&] {
        return impl_->db->write([&]() -> std::optional<JobRecord> {
            Stmt p = impl_->db->prepare("SELECT value FROM settings WHERE key = 'queue_paused'");
            if (p.step() && p.text(0) == "1") return std::nullopt;
            Stmt s = impl_->db->prepare(
                "SELECT id FROM jobs WHERE state = 'queued' ORDER BY priority DESC, queue_pos, id LIMIT 1");
            if (!s.step()) return std::nullopt;
            int64_t id = s.i64(0);
            setState(*impl_, id, JobState::kRunning, {});
            return loadJob(*impl_->db, id);
        });
    });
}

Status Project::setQueuePaused(bool paused) {
    return detail::guardStatus("pausing the queue", [&] {
        impl_->db->write([&] {
            Stmt s = impl_->db->prepare("INSERT INTO settings(key, value) VALUES ('queue_paused', ?) "
                                        "ON CONFLICT(key) DO UPDATE SET value = excluded.value");
            s.bind(1, paused ? "1" : "0");
            s.run();
        });
    });
}

Result<bool> Project::queuePaused() {
    return detail::guardResult<bool>("reading the queue state", [&] {
        return impl_->db->read([&] {
            Stmt s = impl_->db->prepare("SELECT value FROM settings WHERE key = 'queue_paused'");
            return s.step() && s.text(0) == "1";
        });
    });
}

} // namespace tessera::projects

// `tessera-cli project …`: create, list, show, search, export and recover project folders.
// Sections: help texts, JSON views of records, subcommands, dispatch.
#include "cli/cli.h"
#include "tessera/projects/project.h"

#include <cstdio>
#include <ctime>
#include <limits>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace tessera::cli {

namespace {

namespace pj = tessera::projects;
using nlohmann::json;

// ---------------------------------------------------------------- help

const char* kUsage =
    "Usage: tessera-cli project COMMAND DIR [ARGS] [--json]\n\n"
    "A project is a folder holding project.db (SQLite) and media/.\n\n"
    "Commands:\n"
    "  create DIR              create a new, empty project\n"
    "  list DIR                generations (newest first) and the job queue\n"
    "  show DIR ID             one generation: recipe, tokens, media, branches (--job: a job)\n"
    "  search DIR QUERY        full-text search over prompts, tags and notes\n"
    "  export DIR ID OUT       copy a generation's media and its recipe into OUT\n"
    "  recover DIR             clean up after a crash (temporary and orphan files, dead jobs)\n"
    "  merge OUT SHARD...      merge projects (batch shards) into OUT (merge --help)\n\n"
    "Every command takes --json (machine-readable output) and --help.\n"
    "Exit status: 0 done, 1 failed (message on stderr), 2 bad usage.\n";

struct SubHelp {
    const char* name;
    const char* text;
};

const SubHelp kSubHelp[] = {
    {"create", "Usage: tessera-cli project create DIR [--json]\n\n"
               "Creates DIR with an empty project.db (latest schema) and media/. Fails if DIR already\n"
               "holds a project.\n"},
    {"list",
     "Usage: tessera-cli project list DIR [--limit N] [--model ID] [--tag T] [--min-rating R]\n"
     "                                [--batch ID] [--shard I] [--json]\n\n"
     "Prints a summary (counts), the newest generations (default 20) matching the filters, and\n"
     "the job queue in the order it will run. --batch and --shard select what `tessera-cli batch`\n"
     "stored under that batch name and shard index (also after `project merge`).\n"},
    {"show", "Usage: tessera-cli project show DIR ID [--job] [--json]\n\n"
             "Prints generation ID: prompt, seed, parameters, model, token count and statistics,\n"
             "media file, tags, notes, and its branch tree. With --job, ID names a job instead.\n"},
    {"search", "Usage: tessera-cli project search DIR QUERY [--limit N] [--json]\n\n"
               "Full-text search (SQLite FTS5) over prompts, tags and notes. QUERY may use FTS5 syntax\n"
               "(fox OR wolf, \"red fox\", neon*); anything else is searched word by word.\n"},
    {"export", "Usage: tessera-cli project export DIR ID OUT [--json]\n\n"
               "Copies generation ID's media file into folder OUT with generation-ID.recipe.json next to\n"
               "it (prompt, seed, parameters, model, lineage), and records the export in the project.\n"},
    {"recover", "Usage: tessera-cli project recover DIR [--dry-run] [--json]\n\n"
                "The recovery scan after a crash: removes unfinished temporary files, puts back media\n"
                "found under another name, marks rows whose file is gone as missing, deletes media no\n"
                "row refers to (only files Tessera provably wrote: named by their own sha256; others\n"
                "are left in place and listed), interrupts jobs whose process died, then runs the\n"
                "integrity check.\n"
                "--dry-run reports without changing anything.\n"},
};

// ---------------------------------------------------------------- arguments

struct ProjectArgs {
    std::string dir, id, query, out;
    bool json = false, dry_run = false, job = false;
    std::optional<int> limit, min_rating;
    std::optional<int64_t> model;
    std::optional<std::string> tag, batch;
    std::optional<int> shard;
};

// ---------------------------------------------------------------- JSON views

std::string timeText(int64_t ms) {
    if (ms <= 0) return "-";
    std::time_t t = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
    return buf;
}

const char* generationStateName(pj::GenerationState s) {
    switch (s) {
    case pj::GenerationState::kPending:
        return "pending";
    case pj::GenerationState::kFailed:
        return "failed";
    case pj::GenerationState::kComplete:
        return "complete";
    }
    return "complete";
}

json generationJson(const pj::GenerationRecord& g, bool full) {
    json j = {{"id", g.id},
              {"prompt", g.prompt},
              {"seed", g.seed},
              {"state", generationStateName(g.state)},
              {"rating", g.rating},
              {"tags", g.tags},
              {"kind", g.kind},
              {"created_at_ms", g.created_at_ms}};
    j["strip_asset_id"] = g.strip_asset_id ? json(*g.strip_asset_id) : json();
    j["parent_id"] = g.parent_id ? json(*g.parent_id) : json();
    j["model_id"] = g.model_id ? json(*g.model_id) : json();
    j["job_id"] = g.job_id ? json(*g.job_id) : json();
    j["asset_id"] = g.asset_id ? json(*g.asset_id) : json();
    if (g.parent_id) j["branch_token"] = g.branch_token;
    if (full) {
        j["params"] = g.params;
        j["notes"] = g.notes;
        j["token_count"] = g.tokens.size();
        if (!g.stats.empty()) {
            double p = 0, h = 0, kl = 0;
            for (const auto& s : g.stats) p += s.probability, h += s.entropy, kl += s.guidance_kl;
            double n = static_cast<double>(g.stats.size());
            j["token_stats_mean"] = {{"probability", p / n}, {"entropy", h / n}, {"guidance_kl", kl / n}};
        }
    }
    return j;
}

json jobJson(const pj::JobRecord& r) {
    json j = {{"id", r.id},
              {"kind", r.kind},
              {"state", pj::jobStateName(r.state)},
              {"priority", r.priority},
              {"params", r.params},
              {"created_at_ms", r.created_at_ms},
              {"started_at_ms", r.started_at_ms},
              {"finished_at_ms", r.finished_at_ms},
              {"error", r.error}};
    j["result"] = r.result;
    return j;
}

void printJson(const json& j) {
    std::printf("%s\n", j.dump(2).c_str());
}

int fail(const std::string& message) {
    std::fprintf(stderr, "tessera-cli project: error: %s\n", message.c_str());
    return 1;
}

std::string oneLine(std::string s, size_t max) {
    for (char& c : s)
        if (c == '\n' || c == '\t') c = ' ';
    if (s.size() > max) s = s.substr(0, max - 3) + "...";
    return s;
}

// Parses an id argument; nullopt (with a message printed) when it is not a positive integer.
std::optional<int64_t> parseId(const std::string& text, const char* what) {
    try {
        size_t used = 0;
        long long v = std::stoll(text, &used);
        if (used == text.size() && v > 0) return v;
    } catch (const std::exception&) {
    }
    std::fprintf(stderr, "tessera-cli project: %s must be a positive number, got '%s'\n", what, text.c_str());
    return std::nullopt;
}

// ---------------------------------------------------------------- subcommands

int cmdCreate(const ProjectArgs& a, const std::string& dir) {
    auto p = pj::Project::create(dir);
    if (!p) return fail(p.error());
    int version = p->schemaVersion().ok() ? *p->schemaVersion() : 0;
    if (a.json)
        printJson({{"created", dir}, {"schema_version", version}});
    else
        std::printf("created project %s (schema version %d)\n", dir.c_str(), version);
    return 0;
}

int cmdList(const ProjectArgs& a, pj::Project& p) {
    pj::HistoryFilter f;
    f.limit = a.limit ? *a.limit : 20;
    if (a.model) f.model_id = *a.model;
    if (a.tag) f.tag = *a.tag;
    if (a.min_rating) f.min_rating = *a.min_rating;
    if (a.batch) f.batch = *a.batch;
    if (a.shard) f.shard = *a.shard;
    auto gens = p.history(f);
    if (!gens) return fail(gens.error());
    auto jobs = p.listJobs();
    if (!jobs) return fail(jobs.error());
    pj::HistoryFilter all;
    all.limit = 1 << 30;
    auto every = p.history(all);
    auto models = p.listModels();
    auto assets = p.listAssets();
    auto paused = p.queuePaused();
    if (!every || !models || !assets || !paused) return fail("cannot read the project summary");
    int missing = 0;
    for (const auto& a : *assets) missing += a.state == pj::AssetState::kMissing;
    int pending = 0;
    for (const auto& j : *jobs)
        pending += j.state == pj::JobState::kQueued || j.state == pj::JobState::kPaused;

    if (a.json) {
        json out = {{"dir", p.dir().string()},
                    {"schema_version", *p.schemaVersion()},
                    {"counts",
                     {{"generations", every->size()},
                      {"models", models->size()},
                      {"assets", assets->size()},
                      {"assets_missing", missing},
                      {"jobs", jobs->size()},
                      {"jobs_pending", pending}}},
                    {"queue_paused", *paused},
                    {"generations", json::array()},
                    {"jobs", json::array()}};
        for (const auto& g : *gens) out["generations"].push_back(generationJson(g, false));
        for (const auto& j : *jobs) out["jobs"].push_back(jobJson(j));
        printJson(out);
        return 0;
    }
    std::printf("project %s: %zu generations, %zu models, %zu media files%s, %zu jobs (%d pending%s)\n",
                p.dir().c_str(), every->size(), models->size(), assets->size(),
                missing ? (" (" + std::to_string(missing) + " missing)").c_str() : "", jobs->size(), pending,
                *paused ? ", queue paused" : "");
    std::printf("\nGenerations (newest first):\n");
    if (gens->empty()) std::printf("  none\n");
    for (const auto& g : *gens) {
        std::string branch =
            g.parent_id ? " <- " + std::to_string(*g.parent_id) + "@" + std::to_string(g.branch_token) : "";
        std::printf("  %6lld  %s  %-8s  seed %-20llu %s%s\n", static_cast<long long>(g.id),
                    timeText(g.created_at_ms).c_str(), generationStateName(g.state),
                    static_cast<unsigned long long>(g.seed), oneLine(g.prompt, 50).c_str(), branch.c_str());
    }
    std::printf("\nJobs (running, then the queue in order, then finished):\n");
    if (jobs->empty()) std::printf("  none\n");
    for (const auto& j : *jobs)
        std::printf("  %6lld  %-11s  prio %-3d %-10s %s\n", static_cast<long long>(j.id),
                    pj::jobStateName(j.state), j.priority, j.kind.c_str(), oneLine(j.error, 60).c_str());
    return 0;
}

int cmdShowJob(const ProjectArgs& a, pj::Project& p, int64_t id) {
    auto j = p.job(id);
    if (!j) return fail(j.error());
    if (a.json) {
        printJson(jobJson(*j));
        return 0;
    }
    std::printf("job %lld: %s, %s, priority %d\n  created  %s\n  started  %s\n  finished %s\n  params   %s\n",
                static_cast<long long>(j->id), j->kind.c_str(), pj::jobStateName(j->state), j->priority,
                timeText(j->created_at_ms).c_str(), timeText(j->started_at_ms).c_str(),
                timeText(j->finished_at_ms).c_str(), j->params.dump().c_str());
    if (!j->error.empty()) std::printf("  error    %s\n", j->error.c_str());
    if (!j->result.is_null()) std::printf("  result   %s\n", j->result.dump().c_str());
    return 0;
}

int cmdShow(const ProjectArgs& a, pj::Project& p, int64_t id) {
    if (a.job) return cmdShowJob(a, p, id);
    auto g = p.generation(id);
    if (!g) return fail(g.error());
    auto tree = p.tree(id);
    if (!tree) return fail(tree.error());
    json j = generationJson(*g, true);
    if (g->model_id)
        if (auto m = p.model(*g->model_id))
            j["model"] = {{"path", m->path}, {"family", m->family}, {"content_hash", m->content_hash}};
    if (g->asset_id)
        if (auto a = p.asset(*g->asset_id))
            j["media"] = {{"path", p.assetPath(*a).string()},
                          {"kind", a->kind},
                          {"sha256", a->sha256},
                          {"size_bytes", a->size_bytes},
                          {"missing", a->state == pj::AssetState::kMissing}};
    j["branches"] = json::array();
    for (size_t i = 1; i < tree->size(); ++i) {
        const auto& n = (*tree)[i];
        j["branches"].push_back({{"id", n.generation.id},
                                 {"depth", n.depth},
                                 {"parent_id", *n.generation.parent_id},
                                 {"branch_token", n.generation.branch_token},
                                 {"seed", n.generation.seed},
                                 {"token_count", n.token_count}});
    }
    if (a.json) {
        printJson(j);
        return 0;
    }
    std::printf("generation %lld (%s)\n  prompt   %s\n  seed     %llu\n  params   %s\n  created  %s\n  "
                "tokens   %zu\n",
                static_cast<long long>(g->id), generationStateName(g->state), g->prompt.c_str(),
                static_cast<unsigned long long>(g->seed), g->params.dump().c_str(),
                timeText(g->created_at_ms).c_str(), g->tokens.size());
    if (j.contains("token_stats_mean"))
        std::printf("  mean p %.4f, entropy %.4f, guidance KL %.4f per token\n",
                    j["token_stats_mean"]["probability"].get<double>(),
                    j["token_stats_mean"]["entropy"].get<double>(),
                    j["token_stats_mean"]["guidance_kl"].get<double>());
    if (j.contains("model"))
        std::printf("  model    %s (%s)\n", j["model"]["path"].get<std::string>().c_str(),
                    j["model"]["family"].get<std::string>().c_str());
    if (g->parent_id)
        std::printf("  branch   of %lld at token %lld\n", static_cast<long long>(*g->parent_id),
                    static_cast<long long>(g->branch_token));
    if (j.contains("media"))
        std::printf("  media    %s%s\n", j["media"]["path"].get<std::string>().c_str(),
                    j["media"]["missing"].get<bool>() ? " (MISSING)" : "");
    if (g->rating) std::printf("  rating   %d/5\n", g->rating);
    if (!g->tags.empty()) {
        std::string tags;
        for (const auto& t : g->tags) tags += (tags.empty() ? "" : ", ") + t;
        std::printf("  tags     %s\n", tags.c_str());
    }
    if (!g->notes.empty()) std::printf("  notes    %s\n", g->notes.c_str());
    if (tree->size() > 1) {
        std::printf("  branches:\n");
        for (size_t i = 1; i < tree->size(); ++i) {
            const auto& n = (*tree)[i];
            std::printf("  %*s%lld  at token %lld, seed %llu, %lld tokens, %s\n", 2 * n.depth, "",
                        static_cast<long long>(n.generation.id),
                        static_cast<long long>(n.generation.branch_token),
                        static_cast<unsigned long long>(n.generation.seed),
                        static_cast<long long>(n.token_count), generationStateName(n.generation.state));
        }
    }
    return 0;
}

int cmdSearch(const ProjectArgs& a, pj::Project& p, const std::string& query) {
    auto hits = p.search(query, a.limit ? *a.limit : 50);
    if (!hits) return fail(hits.error());
    if (a.json) {
        json out = json::array();
        for (const auto& h : *hits)
            out.push_back(
                {{"id", h.generation_id}, {"prompt", h.prompt}, {"snippet", h.snippet}, {"rank", h.rank}});
        printJson(out);
        return 0;
    }
    if (hits->empty()) std::printf("no generation matches '%s'\n", query.c_str());
    for (const auto& h : *hits)
        std::printf("  %6lld  %s\n", static_cast<long long>(h.generation_id),
                    oneLine(h.snippet, 100).c_str());
    return 0;
}

int cmdExport(const ProjectArgs& a, pj::Project& p, int64_t id, const std::string& out_dir) {
    auto recipe = p.exportGeneration(id, out_dir);
    if (!recipe) return fail(recipe.error());
    if (a.json)
        printJson({{"generation", id}, {"recipe", recipe->string()}, {"out", out_dir}});
    else
        std::printf("exported generation %lld: %s\n", static_cast<long long>(id), recipe->c_str());
    return 0;
}

int cmdRecover(const ProjectArgs& a, pj::Project& p) {
    bool dry = a.dry_run;
    auto r = p.recover(dry);
    if (!r) return fail(r.error());
    pj::Status integrity = p.integrityCheck();
    if (a.json) {
        printJson({{"dry_run", dry},
                   {"temp_files_removed", r->temp_files_removed},
                   {"orphan_files_removed", r->orphan_files_removed},
                   {"foreign_files_kept", r->foreign_files_kept},
                   {"assets_relinked", r->assets_relinked},
                   {"assets_marked_missing", r->assets_marked_missing},
                   {"jobs_interrupted", r->jobs_interrupted},
                   {"runner_locks_removed", r->runner_locks_removed},
                   {"notes", r->notes},
                   {"integrity_ok", integrity.ok()},
                   {"integrity", integrity.ok() ? "ok" : integrity.message()}});
    } else {
        std::printf(
            "%s%s: %d temporary files, %d orphan files removed; %d media relinked, %d marked missing; "
            "%d jobs interrupted, %d dead runner locks removed\n",
            dry ? "(dry run) " : "", p.dir().c_str(), r->temp_files_removed, r->orphan_files_removed,
            r->assets_relinked, r->assets_marked_missing, r->jobs_interrupted, r->runner_locks_removed);
        for (const auto& n : r->notes) std::printf("  %s\n", n.c_str());
        std::printf("integrity check: %s\n", integrity.ok() ? "ok" : integrity.message().c_str());
    }
    return integrity.ok() ? 0 : 1;
}

} // namespace

// ---------------------------------------------------------------- dispatch

int cmdProject(int argc, char** argv) {
    const std::string sub = argc > 0 ? argv[0] : "";
    if (sub == "merge") return cmdProjectMerge(argc - 1, argv + 1);
    if (sub.empty() || sub == "--help" || sub == "-h") {
        std::printf("%s", kUsage);
        return sub.empty() ? 2 : 0;
    }
    const char* help = nullptr;
    for (const auto& h : kSubHelp)
        if (sub == h.name) help = h.text;
    if (!help) {
        std::fprintf(stderr, "tessera-cli project: unknown command '%s'\n\n%s", sub.c_str(), kUsage);
        return 2;
    }
    // Each command's arguments: the positionals it names, --json, and its own options.
    CLI::App app;
    ProjectArgs a;
    app.add_option("DIR", a.dir)->required();
    if (sub == "show" || sub == "export") app.add_option("ID", a.id)->required();
    if (sub == "search") app.add_option("QUERY", a.query)->required();
    if (sub == "export") app.add_option("OUT", a.out)->required();
    app.add_flag("--json", a.json);
    int limit = 0, min_rating = 0;
    int64_t model = 0;
    std::string tag, batch;
    int shard = 0;
    if (sub == "list" || sub == "search") addInt(app, "--limit", limit, 1, 1 << 30);
    if (sub == "list") {
        addInt(app, "--model", model, 1, std::numeric_limits<int64_t>::max());
        app.add_option("--tag", tag);
        addInt(app, "--min-rating", min_rating, 0, 5);
        app.add_option("--batch", batch);
        addInt(app, "--shard", shard, 0, 1 << 20);
    }
    if (sub == "show") app.add_flag("--job", a.job);
    if (sub == "recover") app.add_flag("--dry-run", a.dry_run);
    if (auto rc = parseCommandLine(app, "project " + sub, help, argc - 1, argv + 1)) return *rc;
    auto given = [&](const char* name) {
        const CLI::Option* o = app.get_option_no_throw(name);
        return o && o->count() > 0;
    };
    if (given("--limit")) a.limit = limit;
    if (given("--min-rating")) a.min_rating = min_rating;
    if (given("--model")) a.model = model;
    if (given("--tag")) a.tag = tag;
    if (given("--batch")) a.batch = batch;
    if (given("--shard")) a.shard = shard;

    if (sub == "create") return cmdCreate(a, a.dir);
    auto p = pj::Project::open(a.dir);
    if (!p) return fail(p.error());
    if (sub == "list") return cmdList(a, *p);
    if (sub == "recover") return cmdRecover(a, *p);
    if (sub == "search") return cmdSearch(a, *p, a.query);
    auto id = parseId(a.id, "ID");
    if (!id) return 2;
    if (sub == "show") return cmdShow(a, *p, *id);
    return cmdExport(a, *p, *id, a.out);
}

} // namespace tessera::cli

// `tessera-cli batch`: many generations from a JSONL file into a project, one shard of them per
// process (Slurm job arrays run one per task, tools/slurm/); `project merge` joins the shards;
// `bench batch` measures the cost of sharding.
// Sections: options, items, generation and storage, the batch command, merge, the benchmark.
#include "cli/cli.h"
#include "tessera/engine/engine.h"
#include "tessera/engine/recipe.h"
#include "tessera/projects/merge.h"
#include "tessera/projects/project.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace tessera::cli {

namespace fs = std::filesystem;
namespace pj = tessera::projects;
using nlohmann::json;

namespace {

// ---------------------------------------------------------------- options

const char* kBatchUsage =
    "Usage: tessera-cli batch --prompts FILE.jsonl --project DIR [options]\n\n"
    "Generates one item per line of FILE.jsonl into the project DIR (created when absent). A line is\n"
    "a JSON object: \"prompt\" (required), and any of \"seed\", \"cfg\", \"temperature\", \"top_k\",\n"
    "\"top_p\", \"min_p\", \"images\"; fields left out take the values of the options below. Blank\n"
    "lines are skipped (they still count as lines for sharding).\n\n"
    "Resumable: an item whose recipe is already stored in DIR (same batch) is skipped, so running the\n"
    "same command again after a crash or a kill finishes the rest. Failed items are listed at the end\n"
    "and do not stop the batch. Exit status: 0 every item stored, 1 some failed, 2 bad usage.\n\n"
    "Options:\n"
    "  --model DIR          Janus checkpoint folder (default: the built-in janus_tiny)\n"
    "  --prompts FILE       the JSONL file\n"
    "  --project DIR        where generations go; one project per shard (SQLite must not be shared\n"
    "                       over a network filesystem): join them with `project merge`\n"
    "  --shard I/N          take the lines whose number (0-based) modulo N is I (default 0/1)\n"
    "  --jobs K             items generated at once in this process, each on its own model copy\n"
    "                       (default 1)\n"
    "  --threads T          CPU threads in all (split over the jobs; default: all)\n"
    "  --backend B          cpu | cuda | auto (default cpu)\n"
    "  --batch ID           batch name stored with every generation (history filters by it;\n"
    "                       default: FILE's name without extension)\n"
    "  --seed S             seed of an item without one: S + its line number (default 0)\n"
    "  --cfg W --temperature T --top-k K --top-p P --min-p P --images N\n"
    "                       defaults for items that leave them out (as in `generate`)\n"
    "  --json               print a JSON summary on stdout\n";

struct BatchOptions {
    std::string model, prompts, project, backend = "cpu", batch;
    int shard = 0, shards = 1, jobs = 1, threads = 0;
    bool json_out = false;
    json defaults; // item fields taken when a line leaves them out
};

// Returns 0 with `o` filled, or the exit status (help printed: 0 and `done`; bad usage: 2).
int parseBatchOptions(int argc, char** argv, BatchOptions& o, bool& done) {
    CLI::App app;
    std::string shard = "0/1";
    std::optional<std::string> model, batch;
    long long seed = 0, top_k = 0, images = 1;
    double cfg = 5.0, temperature = 1.0, top_p = 1.0, min_p = 0.0;
    app.add_option("--model", model);
    app.add_option("--prompts", o.prompts)->required();
    app.add_option("--project", o.project)->required();
    app.add_option("--shard", shard);
    addInt(app, "--jobs", o.jobs, 1, 1024);
    addInt(app, "--threads", o.threads, 0, 1024);
    app.add_option("--backend", o.backend);
    app.add_option("--batch", batch);
    addInt(app, "--seed", seed, 0, std::numeric_limits<long long>::max());
    addNumber(app, "--cfg", cfg, -1e4, 1e4);
    addNumber(app, "--temperature", temperature, 0, 1e4);
    addInt(app, "--top-k", top_k, 0, 1 << 30);
    addNumber(app, "--top-p", top_p, 0.0, 1.0);
    addNumber(app, "--min-p", min_p, 0.0, 1.0);
    addInt(app, "--images", images, 1, 64);
    app.add_flag("--json", o.json_out);
    for (int i = 0; i < argc; ++i)
        if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) done = true;
    if (auto rc = parseCommandLine(app, "batch", kBatchUsage, argc, argv)) return *rc;
    o.model = model.value_or(defaultModelDir());
    o.batch = batch.value_or(fs::path(o.prompts).stem().string());
    if (std::sscanf(shard.c_str(), "%d/%d", &o.shard, &o.shards) != 2 || o.shards < 1 || o.shard < 0 ||
        o.shard >= o.shards || shard.find_first_not_of("0123456789/") != std::string::npos) {
        std::fprintf(stderr, "tessera-cli batch: --shard expects I/N with 0 <= I < N, got '%s'\n",
                     shard.c_str());
        return 2;
    }
    o.defaults = {{"seed", seed},   {"cfg", cfg},     {"temperature", temperature}, {"top_k", top_k},
                  {"top_p", top_p}, {"min_p", min_p}, {"images", images}};
    return 0;
}

// ---------------------------------------------------------------- items

struct Item {
    int line = 0;    // 0-based line number in the file
    json settings;   // prompt, seed, cfg, temperature, top_k, top_p, min_p, images (all present)
    std::string key; // canonical settings + model identity: what "already stored" compares
    std::string error;
};

Item parseItem(int line, const std::string& text, const json& defaults, const std::string& model_hash) {
    Item it;
    it.line = line;
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
        it.error = "not a JSON object";
        return it;
    }
    static const std::set<std::string> kFields = {"prompt", "seed",  "cfg",   "temperature",
                                                  "top_k",  "top_p", "min_p", "images"};
    for (const auto& [k, v] : j.items())
        if (!kFields.count(k)) {
            it.error = "unknown field '" + k + "'";
            return it;
        }
    if (!j.contains("prompt") || !j["prompt"].is_string() || j["prompt"].get<std::string>().empty()) {
        it.error = "\"prompt\" must be a non-empty string";
        return it;
    }
    it.settings = defaults;
    it.settings["seed"] = defaults["seed"].get<int64_t>() + line;
    for (const auto& [k, v] : j.items()) {
        const bool integer = k == "seed" || k == "top_k" || k == "images";
        if (k != "prompt" && (integer ? !v.is_number_integer() : !v.is_number())) {
            it.error = "\"" + k + "\" must be " + (integer ? "an integer" : "a number");
            return it;
        }
        it.settings[k] = v;
    }
    if (it.settings["images"].get<int>() < 1 || it.settings["images"].get<int>() > 16) {
        it.error = "\"images\" must be 1 to 16";
        return it;
    }
    if (it.settings["seed"].get<int64_t>() < 0) {
        it.error = "\"seed\" must not be negative";
        return it;
    }
    it.key = json{{"model", model_hash}, {"settings", it.settings}}.dump();
    return it;
}

// ---------------------------------------------------------------- generation and storage

// One model copy and the state of one worker.
struct Worker {
    std::unique_ptr<Backend> backend;
    std::unique_ptr<JanusPipeline> pipeline;
};

struct Stored {
    std::vector<int64_t> ids;
};

// Generates one item and stores each image as a generation (media written durably first, then one
// transaction per generation: a kill at any moment leaves either the whole generation or none).
// Images in `already` (indices stored by an earlier, interrupted run) are not stored again.
Status runItem(Worker& w, const Item& it, const BatchOptions& o, const std::string& model_hash,
               int64_t model_id, int64_t job_id, pj::Project& project, std::mutex& project_mutex,
               const std::set<int>& already) {
    JanusRequest req;
    const json& s = it.settings;
    req.prompt = s["prompt"].get<std::string>();
    req.seed = s["seed"].get<uint64_t>();
    req.sampler.cfg = s["cfg"].get<float>();
    req.sampler.temperature = s["temperature"].get<float>();
    req.sampler.top_k = s["top_k"].get<int>();
    req.sampler.top_p = s["top_p"].get<float>();
    req.sampler.min_p = s["min_p"].get<float>();
    req.images = s["images"].get<int>();
    req.previews = false;
    std::vector<std::vector<TokenSampled>> events(static_cast<size_t>(req.images));
    std::atomic<bool> never{false};
    JobContext ctx(
        0,
        [&](const Event& e) {
            if (const auto* t = std::get_if<TokenSampled>(&e))
                events[static_cast<size_t>(t->image)].push_back(*t);
        },
        &never);
    auto r = w.pipeline->generate(req, ctx);
    if (!r) return r.status();
    const BackendInfo bi = w.backend->info();
    for (int i = 0; i < req.images; ++i) {
        if (already.count(i)) continue;
        Recipe rec;
        rec.model_dir = o.model;
        rec.model_name = fs::path(o.model).filename().string();
        rec.model_hash = model_hash;
        rec.model_layout = w.pipeline->info().layout;
        rec.prompt = req.prompt;
        rec.seed = req.seed;
        rec.sampler = req.sampler;
        rec.images = req.images;
        rec.image_index = i;
        rec.grid_h = r->grid_h;
        rec.grid_w = r->grid_w;
        rec.backend = bi.name;
        rec.precision = "f32";
        rec.threads = bi.threads;
        rec.tokens = r->tokens[static_cast<size_t>(i)];
        // The PNG goes through a private file (writePng's format, recipe chunks included) into media.
        const fs::path tmp =
            fs::temp_directory_path() / ("tessera-batch-" + std::to_string(::getpid()) + "-" +
                                         std::to_string(it.line) + "-" + std::to_string(i) + ".png");
        if (Status st = writePng(tmp.string(), r->images[static_cast<size_t>(i)], rec.toPngText()); !st.ok())
            return st;
        pj::MediaPayload media;
        media.kind = "image/png";
        media.extension = "png";
        {
            std::ifstream in(tmp, std::ios::binary);
            media.bytes.assign(std::istreambuf_iterator<char>(in), {});
        }
        std::error_code ec;
        fs::remove(tmp, ec);
        if (media.bytes.empty()) return Status::error("cannot read back " + tmp.string());
        pj::GenerationRecord g;
        g.job_id = job_id;
        g.model_id = model_id;
        g.seed = req.seed;
        g.prompt = req.prompt;
        g.params = s;
        g.params["model"] = fs::absolute(o.model).string();
        g.params["backend"] = bi.name;
        g.params["image_index"] = i;
        g.params["grid"] = {r->grid_h, r->grid_w};
        g.params["batch"] = {
            {"id", o.batch}, {"shard", o.shard}, {"shards", o.shards}, {"line", it.line}, {"key", it.key}};
        g.tokens = rec.tokens;
        json top = json::array();
        for (const auto& t : events[static_cast<size_t>(i)]) {
            g.stats.push_back({t.probability, t.entropy, t.guidance_kl});
            top.push_back({{"ids", t.top_ids}, {"probs", t.top_probs}, {"rank", t.rank}});
        }
        g.top_k = top;
        std::lock_guard<std::mutex> lock(project_mutex);
        auto id = project.addGeneration(g, &media);
        if (!id) return Status::error("storing: " + id.error());
    }
    return {};
}

// Keys of items the project holds already for this batch, each with the image indices stored.
Expected<std::map<std::string, std::set<int>>> storedKeys(pj::Project& p, const std::string& batch) {
    std::map<std::string, std::set<int>> out;
    pj::HistoryFilter f;
    f.batch = batch;
    f.limit = 1000;
    for (f.offset = 0;; f.offset += f.limit) {
        auto h = p.history(f);
        if (!h) return Status::error(h.error());
        for (const auto& g : *h)
            if (g.state == pj::GenerationState::kComplete && g.params.contains("batch"))
                out[g.params["batch"].value("key", std::string())].insert(g.params.value("image_index", 0));
        if (static_cast<int>(h->size()) < f.limit) break;
    }
    return out;
}

int runBatch(const BatchOptions& o) {
    auto hash = modelIdentityHash(o.model);
    if (!hash) {
        std::fprintf(stderr, "tessera-cli batch: %s\n", hash.status().message().c_str());
        return 1;
    }
    std::ifstream in(o.prompts);
    if (!in) {
        std::fprintf(stderr, "tessera-cli batch: cannot read %s\n", o.prompts.c_str());
        return 1;
    }
    std::vector<Item> items;
    std::string line;
    for (int n = 0; std::getline(in, line); ++n) {
        if (n % o.shards != o.shard || line.find_first_not_of(" \t\r") == std::string::npos) continue;
        items.push_back(parseItem(n, line, o.defaults, *hash));
    }

    pj::OpenOptions open_options;
    open_options.check_integrity = true; // never write into a damaged database
    auto project = fs::exists(fs::path(o.project) / "project.db") ? pj::Project::open(o.project, open_options)
                                                                  : pj::Project::create(o.project, open_options);
    if (!project) {
        std::fprintf(stderr, "tessera-cli batch: project %s: %s\n", o.project.c_str(),
                     project.error().c_str());
        return 1;
    }
    auto stored = storedKeys(*project, o.batch);
    if (!stored) {
        std::fprintf(stderr, "tessera-cli batch: %s\n", stored.status().message().c_str());
        return 1;
    }
    std::vector<const Item*> todo;
    std::vector<std::string> failures;
    int skipped = 0, run_failures = 0;
    for (const auto& it : items) {
        if (!it.error.empty())
            failures.push_back("line " + std::to_string(it.line + 1) + ": " + it.error);
        else if (stored->count(it.key) &&
                 static_cast<int>((*stored)[it.key].size()) >= it.settings["images"].get<int>())
            ++skipped;
        else
            todo.push_back(&it);
    }

    std::error_code ec;
    size_t model_bytes = 0;
    for (const auto& e : fs::directory_iterator(o.model, ec))
        if (e.path().extension() == ".safetensors") model_bytes += static_cast<size_t>(e.file_size(ec));
    auto model_id = project->addModel(
        {0, fs::absolute(o.model).string(), "janus", *hash, static_cast<int64_t>(model_bytes), 0});
    json job_params = {{"batch", o.batch},
                       {"shard", o.shard},
                       {"shards", o.shards},
                       {"prompts", fs::absolute(o.prompts).string()},
                       {"model", fs::absolute(o.model).string()},
                       {"items", items.size()}};
    if (!model_id) {
        std::fprintf(stderr, "tessera-cli batch: %s\n", model_id.error().c_str());
        return 1;
    }
    auto job = project->submitJob("batch", job_params);
    if (!job || !project->updateJobState(*job, pj::JobState::kRunning).ok()) {
        std::fprintf(stderr, "tessera-cli batch: %s\n",
                     job ? "cannot start the batch job" : job.error().c_str());
        return 1;
    }

    const int jobs = std::max(1, std::min<int>(o.jobs, static_cast<int>(todo.size())));
    const int hw = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    const int per_worker = std::max(1, (o.threads > 0 ? o.threads : hw) / jobs);
    std::vector<Worker> workers(static_cast<size_t>(todo.empty() ? 0 : jobs));
    for (auto& w : workers) {
        auto b = createBackend(o.backend, per_worker);
        if (!b) {
            std::fprintf(stderr, "tessera-cli batch: %s\n", b.status().message().c_str());
            return 1;
        }
        w.backend = std::move(*b);
        auto p = JanusPipeline::load(o.model, *w.backend);
        if (!p) {
            std::fprintf(stderr, "tessera-cli batch: %s\n", p.status().message().c_str());
            return 1;
        }
        w.pipeline = std::move(*p);
    }

    std::mutex project_mutex, report_mutex;
    std::atomic<size_t> next{0};
    int done = 0;
    double last_line_s = -1;
    const bool tty = ::isatty(2);
    const auto t0 = std::chrono::steady_clock::now();
    auto seconds = [&] {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    };
    auto work = [&](Worker& w) {
        for (size_t i; (i = next++) < todo.size();) {
            const Item& it = *todo[i];
            const auto prior = stored->find(it.key);
            Status s = runItem(w, it, o, *hash, *model_id, *job, *project, project_mutex,
                               prior == stored->end() ? std::set<int>{} : prior->second);
            std::lock_guard<std::mutex> lock(report_mutex);
            if (!s.ok()) {
                failures.push_back("line " + std::to_string(it.line + 1) + ": " + s.message());
                ++run_failures;
            }
            ++done;
            const double t = seconds(), rate = done / std::max(t, 1e-9);
            // A terminal gets every update in place; a log file (Slurm output) one line a second.
            if (!tty && t - last_line_s < 1.0 && static_cast<size_t>(done) != todo.size()) continue;
            last_line_s = t;
            std::fprintf(
                stderr, "%sshard %d/%d: %d/%zu done, %zu failed, %d skipped, %.2f items/s, ETA %.0f s%s",
                tty ? "\r" : "", o.shard, o.shards, done, todo.size(), failures.size(), skipped, rate,
                (static_cast<double>(todo.size()) - done) / std::max(rate, 1e-9), tty ? " " : "\n");
        }
    };
    std::vector<std::thread> threads;
    for (size_t k = 1; k < workers.size(); ++k) threads.emplace_back(work, std::ref(workers[k]));
    if (!workers.empty()) work(workers[0]);
    for (auto& t : threads) t.join();
    if (tty && done > 0) std::fprintf(stderr, "\n");
    const double elapsed = seconds();

    project->setJobResult(*job,
                          {{"generated", done - run_failures}, {"skipped", skipped}, {"failed", failures}});
    project->updateJobState(*job, failures.empty() ? pj::JobState::kDone : pj::JobState::kFailed,
                            failures.empty() ? "" : std::to_string(failures.size()) + " item(s) failed");
    const int stored_now = static_cast<int>(todo.size()) - run_failures;
    if (o.json_out) {
        std::printf("%s\n", json{{"batch", o.batch},
                                 {"shard", o.shard},
                                 {"shards", o.shards},
                                 {"items", items.size()},
                                 {"generated", stored_now},
                                 {"skipped", skipped},
                                 {"failed", failures},
                                 {"seconds", elapsed},
                                 {"items_per_s", elapsed > 0 ? stored_now / elapsed : 0.0}}
                                .dump()
                                .c_str());
    } else {
        std::printf(
            "shard %d/%d of batch '%s': %zu items, %d generated, %d skipped (stored before), %zu failed "
            "in %.2f s\n",
            o.shard, o.shards, o.batch.c_str(), items.size(), stored_now, skipped, failures.size(), elapsed);
    }
    for (const auto& f : failures) std::fprintf(stderr, "failed: %s\n", f.c_str());
    return failures.empty() ? 0 : 1;
}

} // namespace

int cmdBatch(int argc, char** argv) {
    BatchOptions o;
    bool done = false;
    if (int rc = parseBatchOptions(argc, argv, o, done); rc != 0 || done) return rc;
    return runBatch(o);
}

// ---------------------------------------------------------------- merge

namespace {

const char* kMergeUsage =
    "Usage: tessera-cli project merge OUT SHARD... [--json]\n\n"
    "Merges the shard projects into OUT (created when absent): generations with their token\n"
    "streams, statistics, tags, ratings, notes and branch trees, their media, models and jobs.\n"
    "Generations are deduplicated by content hash (model, parent, seed, prompt, parameters,\n"
    "tokens), so merging the same shards again changes nothing, and the order of the shards does\n"
    "not matter. All or nothing: media is copied first under temporary names, then every row is\n"
    "written in one transaction; a failed merge leaves OUT as it was. Every project must be at\n"
    "this Tessera's schema version.\n";

// Returns 0 with the paths filled, or the exit status (help: 0 and `done`; bad usage: 2).
int parseMergeOptions(int argc, char** argv, std::string& out, std::vector<fs::path>& shards, bool& json_out,
                      bool& done) {
    CLI::App app;
    std::vector<std::string> shard_dirs;
    app.add_option("OUT", out)->required();
    app.add_option("SHARD", shard_dirs)->required();
    app.add_flag("--json", json_out);
    for (int i = 0; i < argc; ++i)
        if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) done = true;
    if (auto rc = parseCommandLine(app, "project merge", kMergeUsage, argc, argv)) return *rc;
    for (const auto& d : shard_dirs) shards.emplace_back(d);
    return 0;
}

} // namespace

int cmdProjectMerge(int argc, char** argv) {
    std::string out;
    std::vector<fs::path> shards;
    bool json_out = false, done = false;
    if (int rc = parseMergeOptions(argc, argv, out, shards, json_out, done); rc != 0 || done) return rc;
    auto r = pj::mergeProjects(out, shards);
    if (!r) {
        std::fprintf(stderr, "tessera-cli project merge: %s\n", r.error().c_str());
        return 1;
    }
    if (json_out)
        std::printf("%s\n", json{{"out", out},
                                 {"shards", r->shards},
                                 {"generations_added", r->generations_added},
                                 {"generations_duplicate", r->generations_duplicate},
                                 {"media_copied", r->media_copied},
                                 {"jobs_added", r->jobs_added},
                                 {"models_added", r->models_added},
                                 {"created", r->created}}
                                .dump()
                                .c_str());
    else
        std::printf("merged %d project(s) into %s: %d generations added, %d already there, %d media files "
                    "copied\n",
                    r->shards, out.c_str(), r->generations_added, r->generations_duplicate, r->media_copied);
    return 0;
}

// ---------------------------------------------------------------- the benchmark

namespace {

const char* kBenchBatchUsage =
    "Usage: tessera-cli bench batch [--model DIR] [--items N] [--cores C]\n\n"
    "The cost of sharding: the same N prompts (default 200) generated by one shard using C cores\n"
    "(default 2), then by C local shards of one core each running at once (separate processes and\n"
    "projects, as job-array tasks would), then merged. Prints one JSON line: items/s of each and their\n"
    "ratio (sharded / single; 1 = no overhead), and the merge time.\n";

// Runs this executable with `args`; returns the child's pid.
pid_t spawnSelf(const std::vector<std::string>& args, const fs::path& log) {
    pid_t pid = ::fork();
    if (pid != 0) return pid;
    std::vector<char*> argv;
    static std::string self = fs::read_symlink("/proc/self/exe").string();
    argv.push_back(self.data());
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    if (!std::freopen(log.c_str(), "w", stdout) || ::dup2(::fileno(stdout), 2) < 0) ::_exit(126);
    ::execv(self.c_str(), argv.data());
    ::_exit(127);
}

bool waitOk(pid_t pid) {
    int st = 0;
    return ::waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

} // namespace

int cmdBenchBatch(int argc, char** argv) {
    CLI::App app;
    std::optional<std::string> model_dir;
    int items = 200, cores = 2;
    bool json_flag = false; // the output is JSON either way
    app.add_option("--model", model_dir);
    addInt(app, "--items", items, 1, 1000000);
    addInt(app, "--cores", cores, 1, 1024);
    app.add_flag("--json", json_flag);
    if (auto rc = parseCommandLine(app, "bench batch", kBenchBatchUsage, argc, argv)) return *rc;
    const std::string model = model_dir.value_or(defaultModelDir());
    const fs::path dir = fs::temp_directory_path() / ("tessera-bench-batch-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    const fs::path prompts = dir / "prompts.jsonl";
    {
        std::ofstream f(prompts);
        static const char* kSubjects[] = {"a red fox", "a lighthouse", "a bowl of ramen", "a snowy pass",
                                          "a robot"};
        static const char* kStyles[] = {"at dawn", "in watercolour", "as a woodcut", "under neon light"};
        for (int i = 0; i < items; ++i)
            f << json{{"prompt",
                       std::string(kSubjects[i % 5]) + " " + kStyles[(i / 5) % 4] + " #" + std::to_string(i)}}
                     .dump()
              << "\n";
    }
    auto timed = [&](int shards) -> double {
        const auto t0 = std::chrono::steady_clock::now();
        std::vector<pid_t> pids;
        for (int s = 0; s < shards; ++s) {
            const std::string tag = std::to_string(shards) + "-" + std::to_string(s);
            std::string shard = std::to_string(s);
            shard += '/';
            shard += std::to_string(shards);
            pids.push_back(spawnSelf({"batch", "--model", model, "--prompts", prompts.string(), "--project",
                                      (dir / ("p" + tag)).string(), "--shard", shard, "--threads",
                                      std::to_string(std::max(1, cores / shards)), "--json"},
                                     dir / ("log" + tag)));
        }
        bool ok = true;
        for (pid_t p : pids) ok = waitOk(p) && ok;
        const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        return ok ? t : -1;
    };
    const double one = timed(1);
    const double many = timed(cores);
    if (one <= 0 || many <= 0) {
        std::fprintf(stderr, "tessera-cli bench batch: a shard failed (logs in %s)\n", dir.c_str());
        return 1;
    }
    std::vector<fs::path> parts;
    for (int s = 0; s < cores; ++s)
        parts.push_back(dir / ("p" + std::to_string(cores) + "-" + std::to_string(s)));
    const auto m0 = std::chrono::steady_clock::now();
    auto merged = pj::mergeProjects(dir / "merged", parts);
    const double merge_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - m0).count();
    if (!merged || merged->generations_added != items) {
        std::fprintf(stderr, "tessera-cli bench batch: merge: %s\n",
                     merged ? "wrong number of generations" : merged.error().c_str());
        return 1;
    }
    auto round3 = [](double v) { return std::round(v * 1000.0) / 1000.0; };
    nlohmann::ordered_json j{{"bench", "batch"},
                             {"model", fs::path(model).filename().string()},
                             {"items", items},
                             {"cores", cores},
                             {"single_shard_s", round3(one)},
                             {"single_shard_items_per_s", round3(items / one)},
                             {"sharded_s", round3(many)},
                             {"sharded_items_per_s", round3(items / many)},
                             {"shards", cores},
                             {"ratio_sharded_over_single", round3(one / many)},
                             {"merge_s", round3(merge_s)}};
    std::printf("%s\n", j.dump().c_str());
    fs::remove_all(dir);
    return 0;
}

} // namespace tessera::cli

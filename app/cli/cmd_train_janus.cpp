// `tessera-cli train-janus`: trains text→image generation in the Janus-Pro layout (engine/train_janus_gen.h)
// or the Token-Shuffle layout (engine/train_token_shuffle.h, --layout token-shuffle) over a VQ tokenizer
// on Shapes world folders, and writes a checkpoint folder that `generate` and the studio load.
//
// Sections: data (index.jsonl, PNGs, the code cache) · vocabulary · training · the command.
#include "cli/cli.h"
#include "cli/train_run.h"
#include "tessera/engine/image.h"
#include "tessera/engine/train_janus_gen.h"
#include "tessera/engine/train_loop.h"
#include "tessera/engine/train_token_shuffle.h"
#include "tessera/world/world.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

namespace tessera::cli {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

const char* kUsage =
    "Usage: tessera-cli train-janus --vq DIR --train DIR --val DIR --out DIR --steps N [options]\n\n"
    "Trains text->image generation in the Janus-Pro layout (a Llama LM with the generation embeddings,\n"
    "aligner and head; f32 on the CPU) over the VQ tokenizer of --vq (a folder written by `tessera-cli\n"
    "train-vq`) on world folders written by `tessera-cli world` (index.jsonl: image and caption). Images "
    "are\n"
    "encoded to codes once and kept in the --codes file. Sequences are the ones `generate` feeds: the chat\n"
    "template with the image-start tag, then the image tokens; with probability --cfg-drop a caption is\n"
    "replaced by generate's unconditional row, so classifier-free guidance works. Step s sees examples\n"
    "s*B .. s*B+B-1 of a seeded shuffle (a new one each pass over the data); which captions are dropped\n"
    "depends on the seed and the step only, so a resumed run continues the same curve.\n"
    "Prints one JSON line per step {\"step\",\"total\",\"loss\",\"step_ms\"}, then a summary with the mean\n"
    "validation loss per image token (\"val_loss\", with the captions; \"val_loss_unconditional\", with\n"
    "the unconditional row). Writes to --out: config.json, model.safetensors (the LM, generation path and\n"
    "the VQ under model.vqmodel.*), tokenizer.json, tokenizer_config.json (word level: the world's words "
    "and\n"
    "the template's special tokens) and metrics.json. No vision tower is written: generation never loads "
    "it.\n"
    "--layout token-shuffle trains the Token-Shuffle layout instead (docs/TOKEN_SHUFFLE.md): the caption\n"
    "and <begin_of_image>, then one LM position per s x s window of codes through the input shuffle, each\n"
    "position predicting the next window's s*s codes through the unshuffle; the folder holds\n"
    "model.safetensors (the LM; its embedding table is the words, then the codes, and the classifier),\n"
    "token_shuffle.safetensors and the VQ in vq/.\n\n"
    "Options:\n"
    "  --vq DIR               the VQ tokenizer folder (model.vqmodel.* tensors and a vq_config)\n"
    "  --train DIR            training world folder (index.jsonl + PNGs)\n"
    "  --val DIR              validation world folder\n"
    "  --out DIR              the Janus folder to write\n"
    "  --steps N              optimizer steps (resumed steps count)\n"
    "  --batch N              sequences per step (default 16)\n"
    "  --lr X                 AdamW learning rate (default 0.001)\n"
    "  --weight-decay X       AdamW weight decay (default 0)\n"
    "  --layers N             LM layers (default 4)\n"
    "  --hidden N             LM width (default 256)\n"
    "  --heads N              attention heads (default 8)\n"
    "  --intermediate N       MLP width, 0 = 8/3 of --hidden rounded up to 32 (default 0)\n"
    "  --cfg-drop P           probability that a caption is replaced by the unconditional row (default 0.1)\n"
    "  --layout L             janus (default) or token-shuffle\n"
    "  --window S             token-shuffle: window side s, 1..4, dividing the code grid (default 2)\n"
    "  --shuffle-blocks N     token-shuffle: residual MLPs on each side of the LM (default 2)\n"
    "  --dtype bf16|f16|f32   weights in model.safetensors (default bf16)\n"
    "  --checkpoint FILE      training checkpoint (weights + optimizer), resumed from when present\n"
    "  --checkpoint-every N   steps between checkpoints (default 50; the last step is always written)\n"
    "  --codes FILE           code cache (default FILE.codes.json beside --checkpoint; none without one)\n"
    "  --val-count N          validation images used, 0 = all (default 0)\n"
    "  --seed S               initial weights, shuffle and caption drops (default 0)\n";

// ---- data ------------------------------------------------------------------------------------------

struct Item {
    std::string caption;
    std::vector<int64_t> codes;
};

struct Folder {
    std::vector<Item> items;
    int64_t side = 0; // image side in pixels
};

// FNV-1a, 64 bits: a content key for the cache (not a security measure).
uint64_t fnv1a(const void* data, size_t n, uint64_t h = 0xcbf29ce484222325ull) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

Expected<std::string> readFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Status::error("cannot read " + path);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::string hex(uint64_t v) {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
    return buf;
}

// index.jsonl's (image, caption) pairs, in file order; at most `limit` (0 = all).
Expected<std::vector<std::pair<std::string, std::string>>> readIndex(const std::string& dir, size_t limit,
                                                                     std::string& raw) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return Status::error(dir + " is not a folder");
    auto text = readFile(dir + "/index.jsonl");
    if (!text) return Status::error(dir + " has no index.jsonl (write the folder with `tessera-cli world`)");
    raw = *text;
    std::vector<std::pair<std::string, std::string>> out;
    std::istringstream lines(*text);
    std::string line;
    for (int n = 1; std::getline(lines, line); ++n) {
        if (line.empty()) continue;
        auto j = nlohmann::json::parse(line, nullptr, false);
        if (!j.is_object() || !j.contains("image") || !j["image"].is_string() || !j.contains("caption") ||
            !j["caption"].is_string())
            return Status::error(dir + "/index.jsonl line " + std::to_string(n) +
                                 ": needs \"image\" and \"caption\" strings");
        const std::string image = j["image"].get<std::string>();
        if (image.empty() || image.find('/') != std::string::npos || image == "..")
            return Status::error(dir + "/index.jsonl line " + std::to_string(n) + ": image '" + image +
                                 "' is not a file name in the folder");
        out.emplace_back(image, j["caption"].get<std::string>());
        if (limit && out.size() == limit) break;
    }
    if (out.empty()) return Status::error(dir + "/index.jsonl lists no image");
    return out;
}

// Encodes a folder's images with the VQ, or takes the codes from `cache` when the folder, its images
// and the VQ are the ones they were made from. Adds what it encodes to `cache`.
Expected<Folder> loadFolder(const std::string& dir, size_t limit, train::JanusVqCodes& vq,
                            const std::string& vq_key, nlohmann::json& cache, bool& cache_changed) {
    std::string raw;
    auto index = readIndex(dir, limit, raw);
    if (!index) return index.status();
    uint64_t h = fnv1a(raw.data(), raw.size(), fnv1a(vq_key.data(), vq_key.size()));
    h = fnv1a(&limit, sizeof limit, h);
    for (const auto& [image, caption] : *index) {
        std::error_code ec;
        const auto size = fs::file_size(fs::path(dir) / image, ec);
        if (ec) return Status::error(dir + "/" + image + ": " + ec.message());
        h = fnv1a(image.data(), image.size(), h);
        h = fnv1a(&size, sizeof size, h);
    }
    const std::string key = hex(h);
    Folder out;
    if (cache.contains(key)) {
        const auto& e = cache[key];
        out.side = e.value("side", int64_t{0});
        const auto& codes = e["codes"];
        if (codes.is_array() && codes.size() == index->size() && out.side > 0) {
            for (size_t i = 0; i < index->size(); ++i)
                out.items.push_back({(*index)[i].second, codes[i].get<std::vector<int64_t>>()});
            return out;
        }
        out = Folder{};
    }
    const auto t0 = Clock::now();
    const int64_t batch = 32;
    std::vector<float> px;
    int64_t in_batch = 0;
    auto flush = [&]() -> Status {
        if (in_batch == 0) return {};
        auto codes = vq.encode(px, in_batch, out.side, out.side);
        if (!codes) return codes.status();
        const size_t n = codes->size() / static_cast<size_t>(in_batch);
        const size_t first = out.items.size() - static_cast<size_t>(in_batch);
        for (int64_t b = 0; b < in_batch; ++b)
            out.items[first + static_cast<size_t>(b)].codes.assign(
                codes->begin() + static_cast<long>(b * n), codes->begin() + static_cast<long>((b + 1) * n));
        px.clear();
        in_batch = 0;
        return {};
    };
    for (const auto& [image, caption] : *index) {
        const std::string path = dir + "/" + image;
        auto im = readPng(path);
        if (!im) return Status::error(path + ": " + im.error());
        if (out.side == 0) out.side = im->width;
        if (im->width != out.side || im->height != out.side)
            return Status::error(path + " is " + std::to_string(im->width) + "x" +
                                 std::to_string(im->height) + "; every image must be " +
                                 std::to_string(out.side) + "x" + std::to_string(out.side));
        if (out.side % vq.downsample() != 0)
            return Status::error(path + ": the side (" + std::to_string(out.side) +
                                 ") is not a multiple of the VQ's " + "downsampling factor " +
                                 std::to_string(vq.downsample()));
        const size_t plane = static_cast<size_t>(out.side * out.side), at = px.size();
        px.resize(at + 3 * plane);
        rgb8ToSignedPlanes(im->rgb.data(), plane, px.data() + at);
        out.items.push_back({caption, {}});
        if (++in_batch == batch)
            if (Status s = flush(); !s.ok()) return s;
    }
    if (Status s = flush(); !s.ok()) return s;
    nlohmann::json codes = nlohmann::json::array();
    for (const auto& it : out.items) codes.push_back(it.codes);
    cache[key] = {{"dir", fs::absolute(dir).string()}, {"side", out.side}, {"codes", std::move(codes)}};
    cache_changed = true;
    std::printf("%s\n",
                nlohmann::json{{"event", "encoded"},
                               {"folder", dir},
                               {"images", out.items.size()},
                               {"ms", std::chrono::duration<double, std::milli>(Clock::now() - t0).count()}}
                    .dump()
                    .c_str());
    std::fflush(stdout);
    return out;
}

Status writeCache(const std::string& path, const nlohmann::json& cache) {
    const std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary);
        if (!(out << cache.dump() << '\n') || !out.flush()) return Status::error("cannot write " + tmp);
    }
    std::error_code ec;
    fs::rename(tmp, path, ec);
    if (ec) return Status::error("cannot move " + tmp + " to " + path + ": " + ec.message());
    return {};
}

// ---- vocabulary ------------------------------------------------------------------------------------

// Every word a world caption can hold, from the world's own caption code (so the two cannot drift):
// each object description, and the joining words of a two-object caption.
std::vector<std::string> worldWords() {
    namespace r = tessera::renderers;
    std::vector<std::string> words;
    std::set<std::string> seen;
    auto addWords = [&](const std::string& text) {
        std::istringstream in(text);
        for (std::string w; in >> w;)
            if (seen.insert(w).second) words.push_back(w);
    };
    r::Scene two;
    two.objects.resize(2);
    two.objects[0].position = {0, -2, world::kSmallSize};
    two.objects[1].position = {0, 2, world::kSmallSize};
    addWords(world::captionFor(two));
    for (double size : {world::kSmallSize, world::kLargeSize})
        for (int c = 0; c <= static_cast<int>(r::Color::Yellow); ++c)
            for (int m = 0; m <= static_cast<int>(r::Material::Metal); ++m)
                for (int s = 0; s <= static_cast<int>(r::Shape::Cylinder); ++s) {
                    r::SceneObject o;
                    o.size = size;
                    o.color = static_cast<r::Color>(c);
                    o.material = static_cast<r::Material>(m);
                    o.shape = static_cast<r::Shape>(s);
                    addWords(world::describeObject(o));
                }
    return words;
}

// The world's words, then any other word of the captions (runs of ASCII letters, digits and
// underscores, lower-cased, as the tokenizer splits them), in first-seen order.
std::vector<std::string> vocabulary(const std::vector<const Folder*>& folders) {
    std::vector<std::string> words = worldWords();
    std::set<std::string> seen(words.begin(), words.end());
    for (const Folder* f : folders)
        for (const Item& it : f->items) {
            std::string w;
            for (size_t i = 0; i <= it.caption.size(); ++i) {
                const char c = i < it.caption.size() ? it.caption[i] : ' ';
                const char l = c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
                if ((l >= 'a' && l <= 'z') || (l >= '0' && l <= '9') || l == '_') {
                    w += l;
                } else if (!w.empty()) {
                    if (seen.insert(w).second) words.push_back(w);
                    w.clear();
                }
            }
        }
    return words;
}

// Position k of the shuffled stream: pass k / n over the data in its own seeded order.
class Shuffle {
public:
    Shuffle(size_t n, uint64_t seed) : n_(n), seed_(seed) {}
    size_t at(uint64_t k) {
        const uint64_t pass = k / n_;
        if (pass != pass_ || order_.empty()) {
            order_.resize(n_);
            for (size_t i = 0; i < n_; ++i) order_[i] = i;
            for (size_t i = n_; i > 1; --i)
                std::swap(order_[i - 1], order_[trainingDraw(seed_, pass, i) % i]);
            pass_ = pass;
        }
        return order_[k % n_];
    }

private:
    size_t n_;
    uint64_t seed_, pass_ = 0;
    std::vector<size_t> order_;
};

} // namespace

// ---- training --------------------------------------------------------------------------------------

std::vector<int64_t> conditionalOf(const train::JanusGenTrainModel& m, const std::string& caption) {
    return m.prompts().conditional(caption);
}
std::vector<int64_t> unconditionalOf(const train::JanusGenTrainModel& m, const std::vector<int64_t>& prompt) {
    return m.prompts().unconditional(prompt);
}
std::vector<int64_t> conditionalOf(const train::TokenShuffleTrainModel& m, const std::string& caption) {
    return m.conditional(caption);
}
std::vector<int64_t> unconditionalOf(const train::TokenShuffleTrainModel& m, const std::vector<int64_t>& prompt) {
    return m.unconditional(prompt);
}

// What trainAndSave needs, the same for either layout: the command's options (parsed straight into
// it), then what the data decided (n, window, longest, vocabulary).
struct TrainRun {
    std::string layout = "janus", out_dir, checkpoint, dtype_name = "bf16";
    train::SaveDType dtype = train::SaveDType::BF16;
    train::JanusGenConfig mc;
    train::TrainerOptions opt;
    long long steps = 0, batch = 16, checkpoint_every = 50;
    double lr = 1e-3, weight_decay = 0.0, cfg_drop = 0.1;
    uint64_t seed = 0;
    int64_t n = 0, window = 0;
    size_t longest = 0, vocabulary = 0;
};

// Trains `model` on the captions and codes, validates, saves and prints the summary.
template <class Model>
int trainAndSave(Model& model, TrainRun& run, const Folder& train_data, const Folder& val_data) {
    const std::string& out_dir = run.out_dir;
    const std::string& checkpoint = run.checkpoint;
    const long long steps = run.steps, batch = run.batch, checkpoint_every = run.checkpoint_every;
    const double lr = run.lr, weight_decay = run.weight_decay, cfg_drop = run.cfg_drop;
    const uint64_t seed = run.seed;
    const int64_t n = run.n;
    const train::SaveDType dtype = run.dtype;
    const std::string& dtype_name = run.dtype_name;
    train::TrainerOptions& opt = run.opt;
    auto fail = [](const std::string& m) {
        std::fprintf(stderr, "tessera-cli train-janus: %s\n", m.c_str());
        return 1;
    };
    std::vector<train::JanusGenExample> examples, val_cond, val_uncond;
    for (const Item& it : train_data.items)
        examples.push_back({conditionalOf(model, it.caption), it.codes});
    for (const Item& it : val_data.items) {
        val_cond.push_back({conditionalOf(model, it.caption), it.codes});
        val_uncond.push_back({unconditionalOf(model, val_cond.back().prompt), it.codes});
    }
    size_t params = 0;
    for (const auto& p : model.parameters()) params += p.value.size();
    std::printf("%s\n", nlohmann::json{{"event", "data"},
                                       {"train_images", examples.size()},
                                       {"val_images", val_cond.size()},
                                       {"image", std::to_string(train_data.side) + "x" +
                                                     std::to_string(train_data.side)},
                                       {"tokens_per_image", n},
                                       {"layout", run.layout},
                                       {"vocabulary", run.vocabulary},
                                       {"longest_prompt", run.longest},
                                       {"context", run.mc.max_positions},
                                       {"parameters", params}}
                            .dump()
                            .c_str());
    std::fflush(stdout);

    Shuffle shuffle(examples.size(), seed);
    std::vector<train::JanusGenExample> step_batch(static_cast<size_t>(batch));
    opt.adam.lr = lr;
    opt.adam.weight_decay = weight_decay;
    opt.checkpoint_path = checkpoint;
    opt.checkpoint_every = checkpoint.empty() ? 0 : static_cast<int>(checkpoint_every);
    const uint64_t drop_below = static_cast<uint64_t>(cfg_drop * 18446744073709551615.0);
    train::Trainer trainer(model.parameters(), opt, [&](train::Tape<float>& t, int64_t step, int) {
        for (int64_t i = 0; i < batch; ++i) {
            const auto s = static_cast<uint64_t>(step), k = static_cast<uint64_t>(i);
            const train::JanusGenExample& e = examples[shuffle.at(s * static_cast<uint64_t>(batch) + k)];
            const bool drop =
                cfg_drop > 0 && (cfg_drop >= 1 || trainingDraw(seed ^ 0x5eed, s, k) < drop_below);
            step_batch[static_cast<size_t>(i)] = {drop ? unconditionalOf(model, e.prompt) : e.prompt,
                                                  e.codes};
        }
        return model.loss(t, step_batch);
    });
    auto mean_step_ms = runTrainerPrintingSteps(trainer, steps, !checkpoint.empty());
    if (!mean_step_ms) return fail(mean_step_ms.error());

    // Validation: mean loss per image token, with the captions and with the unconditional row.
    auto meanLoss = [&](const std::vector<train::JanusGenExample>& set) -> double {
        double sum = 0;
        for (size_t at = 0; at < set.size(); at += static_cast<size_t>(batch)) {
            const size_t end = std::min(set.size(), at + static_cast<size_t>(batch));
            std::vector<train::JanusGenExample> chunk(set.begin() + static_cast<long>(at),
                                                      set.begin() + static_cast<long>(end));
            train::Tape<float> t;
            sum += static_cast<double>(t.scalar(model.loss(t, chunk))) * static_cast<double>(chunk.size());
        }
        return sum / static_cast<double>(set.size());
    };
    double val_loss = 0, val_loss_uncond = 0;
    try {
        val_loss = meanLoss(val_cond);
        val_loss_uncond = meanLoss(val_uncond);
    } catch (const std::exception& e) {
        return fail(std::string("validation: ") + e.what());
    }
    if (Status s = model.save(out_dir, dtype); !s.ok()) return fail(s.message());
    nlohmann::json summary = {{"event", "done"},
                              {"steps", trainer.step()},
                              {"batch", batch},
                              {"train_images", examples.size()},
                              {"val_images", val_cond.size()},
                              {"tokens_per_image", n},
                              {"val_loss", val_loss},
                              {"val_loss_unconditional", val_loss_uncond},
                              {"last_loss", trainer.losses().empty() ? 0.0 : trainer.losses().back()},
                              {"parameters", params},
                              {"layout", run.layout},
                              {"layers", run.mc.layers},
                              {"hidden", run.mc.hidden},
                              {"heads", run.mc.heads},
                              {"cfg_drop", cfg_drop},
                              {"lr", lr},
                              {"dtype", dtype_name},
                              {"mean_step_ms", *mean_step_ms},
                              {"out", out_dir}};
    if (run.window > 0) summary["window"] = run.window;
    return finishTrainingCommand("train-janus", summary, out_dir);
}

// ---- the command -----------------------------------------------------------------------------------

int cmdTrainJanus(int argc, char** argv) {
    CLI::App app;
    // The options that trainAndSave reads live in `run`; the rest are this function's.
    TrainRun run;
    std::string vq_dir, train_dir, val_dir, codes_path;
    long long window = 2, shuffle_blocks = 2, val_count = 0;
    train::JanusGenConfig& mc = run.mc;
    app.add_option("--vq", vq_dir);
    app.add_option("--train", train_dir);
    app.add_option("--val", val_dir);
    app.add_option("--out", run.out_dir);
    addInt(app, "--steps", run.steps, 1, 100000000);
    addInt(app, "--batch", run.batch, 1, 4096);
    addNumber(app, "--lr", run.lr, 1e-8, 1.0);
    addNumber(app, "--weight-decay", run.weight_decay, 0.0, 1.0);
    addInt(app, "--layers", mc.layers, 1, 64);
    addInt(app, "--hidden", mc.hidden, 8, 8192);
    addInt(app, "--heads", mc.heads, 1, 256);
    addInt(app, "--intermediate", mc.intermediate, 0, 65536);
    addNumber(app, "--cfg-drop", run.cfg_drop, 0.0, 1.0);
    app.add_option("--layout", run.layout)->check(CLI::IsMember({"janus", "token-shuffle"}));
    addInt(app, "--window", window, 1, 4);
    addInt(app, "--shuffle-blocks", shuffle_blocks, 0, 16);
    app.add_option("--dtype", run.dtype_name);
    app.add_option("--checkpoint", run.checkpoint);
    addInt(app, "--checkpoint-every", run.checkpoint_every, 1, 100000000);
    app.add_option("--codes", codes_path);
    addInt(app, "--val-count", val_count, 0, 1 << 30);
    addSeed(app, "--seed", run.seed);
    if (auto rc = parseTrainingCommandLine(app, "train-janus", kUsage, run.opt, argc, argv)) return *rc;
    auto usage = [](const std::string& m) {
        std::fprintf(stderr, "tessera-cli train-janus: %s (see --help)\n", m.c_str());
        return 2;
    };
    if (vq_dir.empty() || train_dir.empty() || val_dir.empty() || run.out_dir.empty() || run.steps == 0)
        return usage("--vq, --train, --val, --out and --steps are required");
    if (mc.hidden % mc.heads != 0 || (mc.hidden / mc.heads) % 2 != 0)
        return usage("--hidden must split into --heads heads of an even width");
    const bool token_shuffle = run.layout == "token-shuffle";
    if (!token_shuffle && (app.count("--window") || app.count("--shuffle-blocks")))
        return usage("--window and --shuffle-blocks need --layout token-shuffle");
    if (token_shuffle && mc.hidden % (window * window) != 0)
        return usage("--hidden must be a multiple of --window squared");
    if (run.dtype_name == "bf16")
        run.dtype = train::SaveDType::BF16;
    else if (run.dtype_name == "f16")
        run.dtype = train::SaveDType::F16;
    else if (run.dtype_name == "f32")
        run.dtype = train::SaveDType::F32;
    else
        return usage("--dtype must be bf16, f16 or f32");
    if (codes_path.empty() && !run.checkpoint.empty()) codes_path = run.checkpoint + ".codes.json";
    auto fail = [](const std::string& m) {
        std::fprintf(stderr, "tessera-cli train-janus: %s\n", m.c_str());
        return 1;
    };

    // Data: codes from the cache or the VQ encoder.
    auto vq = train::JanusVqCodes::load(vq_dir);
    if (!vq) return fail(vq.error());
    auto vq_bytes = readFile(vq_dir + "/model.safetensors");
    if (!vq_bytes) return fail(vq_bytes.error());
    const std::string vq_key = hex(fnv1a(vq_bytes->data(), vq_bytes->size()));
    nlohmann::json cache = nlohmann::json::object();
    if (!codes_path.empty() && fs::exists(codes_path)) {
        auto text = readFile(codes_path);
        if (!text) return fail(text.error());
        auto parsed = nlohmann::json::parse(*text, nullptr, false);
        // A cache that does not parse (or another format) is rebuilt, not trusted.
        if (parsed.is_object() && parsed.value("format", "") == "tessera.janus-codes.1" &&
            parsed.contains("folders") && parsed["folders"].is_object())
            cache = parsed["folders"];
    }
    bool cache_changed = false;
    Folder train_data, val_data;
    try {
        auto t = loadFolder(train_dir, 0, **vq, vq_key, cache, cache_changed);
        if (!t) return fail(t.error());
        train_data = std::move(*t);
        auto v = loadFolder(val_dir, static_cast<size_t>(val_count), **vq, vq_key, cache, cache_changed);
        if (!v) return fail(v.error());
        val_data = std::move(*v);
    } catch (const std::exception& e) {
        return fail(std::string("the code cache ") + codes_path + " is malformed: " + e.what());
    }
    if (val_data.side != train_data.side)
        return fail("validation images are " + std::to_string(val_data.side) +
                    " pixels a side, training images " + std::to_string(train_data.side));
    if (cache_changed && !codes_path.empty())
        if (Status s = writeCache(codes_path, {{"format", "tessera.janus-codes.1"}, {"folders", cache}});
            !s.ok())
            return fail(s.message());
    const int64_t grid = train_data.side / (*vq)->downsample(), n = grid * grid;

    // The tokenizer and the longest prompt decide the context.
    const std::vector<std::string> words = vocabulary({&train_data, &val_data});
    auto tok_files = train::janusWordTokenizer(words);
    if (!tok_files) return fail(tok_files.error());
    auto tok = Tokenizer::fromJson(tok_files->tokenizer_json, tok_files->tokenizer_config_json);
    if (!tok) return fail(tok.error());
    const train::JanusPrompts prompts(*tok, 0);
    // The longest prompt: Janus's chat template, or Token-Shuffle's caption and <begin_of_image>.
    size_t longest = 0;
    for (const Folder* f : {&train_data, &val_data})
        for (const Item& it : f->items)
            longest = std::max(longest, token_shuffle
                                            ? tok->encode(it.caption, SpecialTokens::kTransformers).size() + 1
                                            : prompts.conditional(it.caption).size());
    if (token_shuffle && grid % window != 0)
        return usage("--window " + std::to_string(window) + " does not divide the code grid (" +
                     std::to_string(grid) + " a side)");
    const int64_t positions = token_shuffle ? (grid / window) * (grid / window) : n;
    mc.max_positions = std::max<int64_t>(token_shuffle ? 64 : 256, (static_cast<int64_t>(longest) + positions + 63) / 64 * 64);

    // The model, created in a scratch folder (its folder format is what save() writes) and kept in memory.
    const fs::path scratch = fs::temp_directory_path() / ("tessera-train-janus-" + std::to_string(::getpid()));
    std::optional<train::JanusGenTrainModel> janus_model;
    std::optional<train::TokenShuffleTrainModel> ts_model;
    std::string create_error;
    const auto common = [&](auto& init) {
        init.model = mc;
        init.vq_dir = vq_dir;
        init.grid = grid;
        init.words = words;
        init.seed = run.seed;
    };
    if (token_shuffle) {
        train::TokenShuffleGenInit init;
        common(init);
        init.window = window;
        init.blocks = shuffle_blocks;
        auto created = train::TokenShuffleTrainModel::create(init, scratch.string());
        if (created) ts_model = std::move(*created);
        else create_error = created.error();
    } else {
        train::JanusGenInit init;
        common(init);
        auto created = train::JanusGenTrainModel::create(init, scratch.string());
        if (created) janus_model = std::move(*created);
        else create_error = created.error();
    }
    std::error_code ec;
    fs::remove_all(scratch, ec);
    if (!create_error.empty()) return fail(create_error);

    run.n = n;
    run.window = token_shuffle ? window : 0;
    run.longest = longest;
    run.vocabulary = tok->vocabSize();
    return token_shuffle ? trainAndSave(*ts_model, run, train_data, val_data)
                         : trainAndSave(*janus_model, run, train_data, val_data);
}

} // namespace tessera::cli

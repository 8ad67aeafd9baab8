// Token-Shuffle text→image training on the tape (train_token_shuffle.h).
//
// Sections: names · window order · fresh folder · load · forward and loss · save.
#include "tessera/engine/checkpoint.h"
#include "tessera/engine/engine.h"
#include "tessera/engine/train_loop.h"
#include "tessera/engine/train_token_shuffle.h"
#include "train/model_files.h"

#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

namespace tessera::train {

namespace fs = std::filesystem;

namespace {

// ---- names ---------------------------------------------------------------------------------------------

const std::string kTs = "token_shuffle.";
const std::string kVq = "model.vqmodel.";
const std::string kEmbed = "model.embed_tokens.weight";
// janusWordTokenizer's fixed ids.
constexpr int32_t kImageStartId = 5, kImageEndId = 6;

// The token_shuffle.* tensors in parameter order: mlp_in, the input blocks, the output blocks, mlp_out.
std::vector<std::pair<std::string, Shape>> shuffleTensors(int64_t d, int64_t ss, int64_t r, int64_t blocks) {
    const int64_t slot = d / ss;
    std::vector<std::pair<std::string, Shape>> out = {{kTs + "mlp_in.weight", {slot, d}},
                                                      {kTs + "mlp_in.bias", {slot}}};
    for (const char* side : {"in_blocks.", "out_blocks."})
        for (int64_t i = 0; i < blocks; ++i) {
            const std::string p = kTs + side + std::to_string(i) + ".";
            out.push_back({p + "fc1.weight", {r, d}});
            out.push_back({p + "fc1.bias", {r}});
            out.push_back({p + "fc2.weight", {d, r}});
            out.push_back({p + "fc2.bias", {d}});
        }
    out.push_back({kTs + "mlp_out.weight", {d, slot}});
    out.push_back({kTs + "mlp_out.bias", {d}});
    return out;
}

Status readTensor(const Checkpoint& ckpt, Backend& be, const std::string& name, const Shape& want,
                  std::vector<float>& into) {
    const TensorInfo* info = ckpt.find(name);
    if (!info) return Status::error(ckpt.dir() + " lacks tensor " + name);
    if (!want.empty() && info->shape != want)
        return Status::error("tensor " + name + " has shape " + shapeString(info->shape) + ", expected " +
                             shapeString(want));
    auto t = ckpt.load(name, be);
    if (!t) return t.status();
    into = be.readF32(*t);
    return {};
}

} // namespace

// ---- window order --------------------------------------------------------------------------------------

std::vector<int64_t> codesInWindowOrder(const std::vector<int64_t>& raster, int64_t grid, int64_t window) {
    TS_CHECK(grid > 0 && window > 0 && grid % window == 0 &&
                 static_cast<int64_t>(raster.size()) == grid * grid,
             "window order: " + std::to_string(raster.size()) + " codes are not a " + std::to_string(grid) +
                 "² grid of " + std::to_string(window) + "×" + std::to_string(window) + " windows");
    std::vector<int64_t> out;
    out.reserve(raster.size());
    for (int64_t wy = 0; wy < grid / window; ++wy)
        for (int64_t wx = 0; wx < grid / window; ++wx)
            for (int64_t dy = 0; dy < window; ++dy)
                for (int64_t dx = 0; dx < window; ++dx)
                    out.push_back(raster[static_cast<size_t>((wy * window + dy) * grid + wx * window + dx)]);
    return out;
}

// ---- fresh folder --------------------------------------------------------------------------------------

Expected<TokenShuffleTrainModel> TokenShuffleTrainModel::create(const TokenShuffleGenInit& init,
                                                                const std::string& dir) {
    const JanusGenConfig& m = init.model;
    const int64_t d = m.hidden, s = init.window, ss = s * s;
    if (Status st = files::checkLlamaShape(m); !st.ok()) return st;
    if (s < 1 || s > 4 || d % ss != 0)
        return Status::error("the window must be 1 to 4 and the hidden size (" + std::to_string(d) +
                             ") a multiple of window² (" + std::to_string(ss) + ")");
    if (init.grid <= 0 || init.grid % s != 0)
        return Status::error("the image grid (" + std::to_string(init.grid) +
                             " tokens a side) must be a multiple of the window (" + std::to_string(s) + ")");
    if (init.blocks < 0 || init.blocks > 16) return Status::error("residual blocks must be 0 to 16");
    const int64_t windows = (init.grid / s) * (init.grid / s);
    if (m.max_positions < windows + 8)
        return Status::error("the context (" + std::to_string(m.max_positions) +
                             " positions) must hold a prompt and " + std::to_string(windows) + " windows");

    // The VQ: its config and tensors, as written.
    auto vq = Checkpoint::open(init.vq_dir);
    if (!vq) return vq.status();
    const TensorInfo* book = vq->find(kVq + "quantize.embedding.weight");
    if (!book || book->shape.size() != 2)
        return Status::error(init.vq_dir + " is not a Janus-layout VQ folder (no " + kVq +
                             "quantize.embedding.weight)");
    const int64_t codes = book->shape[0];
    auto vq_config = files::readText(init.vq_dir + "/config.json", true);
    if (!vq_config) return vq_config.status();

    auto tok = janusWordTokenizer(init.words);
    if (!tok) return tok.status();
    auto tokenizer = Tokenizer::fromJson(tok->tokenizer_json, tok->tokenizer_config_json);
    if (!tokenizer) return tokenizer.status();
    const int64_t text_vocab = static_cast<int64_t>(tokenizer->vocabSize()), vocab = text_vocab + codes;

    nlohmann::ordered_json cfg = {{"architectures", {"LlamaForCausalLM"}}};
    const nlohmann::ordered_json llama = files::llamaConfigJson(m, vocab);
    cfg.update(llama);
    cfg["torch_dtype"] = "float32";
    cfg["token_shuffle"] = {{"window", s},
                            {"image_vocab_start", text_vocab},
                            {"image_vocab_size", codes},
                            {"grid", init.grid},
                            {"in_blocks", init.blocks},
                            {"out_blocks", init.blocks},
                            {"mlp_ratio", 1.0},
                            {"mlp_act", "gelu"},
                            {"residual_norm", "none"},
                            {"image_start_token_id", kImageStartId},
                            {"image_end_token_id", kImageEndId},
                            {"classifier", "lm_head"},
                            {"weights", "token_shuffle.safetensors"},
                            {"vq", "vq"}};

    // Initial weights, drawn in this order from one stream.
    files::Rng rng(init.seed);
    struct Named {
        std::string name;
        Shape shape;
        std::vector<float> value;
    };
    std::vector<Named> lm, shuffle;
    auto add = [&](std::vector<Named>& into, const std::string& name, Shape shape, double std, double fill) {
        std::vector<float> v(static_cast<size_t>(shapeNumel(shape)));
        for (float& x : v) x = std > 0 ? static_cast<float>(std * rng.normal()) : static_cast<float>(fill);
        into.push_back({name, std::move(shape), std::move(v)});
    };
    files::addLlamaWeights([&](const std::string& name, Shape shape, double std,
                               double fill) { add(lm, name, std::move(shape), std, fill); },
                           "model.", m, vocab);
    const double w = files::kInitStd, w_out = files::residualInitStd(m.layers);
    for (const auto& [name, shape] : shuffleTensors(d, ss, d, init.blocks)) {
        const bool bias = name.size() > 5 && name.compare(name.size() - 5, 5, ".bias") == 0;
        const bool out_proj = name.find(".fc2.weight") != std::string::npos;
        add(shuffle, name, shape, bias ? 0.0 : out_proj ? w_out : w, 0);
    }

    std::error_code ec;
    fs::create_directories(fs::path(dir) / "vq", ec);
    if (ec) return Status::error("cannot create " + dir + ": " + ec.message());
    auto be = createBackend("cpu", 1);
    if (!be) return be.status();
    std::vector<Named> vq_tensors;
    if (Status st = files::readTensorsWithPrefix(*vq, **be, kVq, vq_tensors); !st.ok()) return st;
    auto write = [](const std::string& path, const std::vector<Named>& tensors) {
        files::SafetensorsOut out(SaveDType::F32);
        for (const auto& t : tensors) out.add(t.name, t.shape, t.value);
        return writeSafetensorsF32(path, out.tensors, {{"format", "pt"}});
    };
    if (Status st = write(dir + "/model.safetensors", lm); !st.ok()) return st;
    if (Status st = write(dir + "/token_shuffle.safetensors", shuffle); !st.ok()) return st;
    if (Status st = write(dir + "/vq/model.safetensors", vq_tensors); !st.ok()) return st;
    if (Status st = files::writeText(dir + "/vq/config.json", *vq_config); !st.ok()) return st;
    if (Status st = files::writeText(dir + "/config.json", cfg.dump(2) + "\n"); !st.ok()) return st;
    if (Status st = files::writeText(dir + "/tokenizer.json", tok->tokenizer_json); !st.ok()) return st;
    if (Status st = files::writeText(dir + "/tokenizer_config.json", tok->tokenizer_config_json); !st.ok())
        return st;
    return load(dir);
}

// ---- load ----------------------------------------------------------------------------------------------

Expected<TokenShuffleTrainModel> TokenShuffleTrainModel::load(const std::string& dir) {
    auto ckpt = Checkpoint::open(dir);
    if (!ckpt) return ckpt.status();
    const nlohmann::json& j = ckpt->config().json();
    const nlohmann::json ts = j.value("token_shuffle", nlohmann::json());
    if (!ts.is_object()) return Status::error(dir + "/config.json has no token_shuffle object");
    auto text = [&](const char* key, const char* fallback) {
        const auto it = ts.find(key);
        return it != ts.end() && it->is_string() ? it->get<std::string>() : std::string(fallback);
    };
    auto integer = [&](const char* key, int64_t fallback) {
        const auto it = ts.find(key);
        return it != ts.end() && it->is_number_integer() ? it->get<int64_t>() : fallback;
    };
    if (text("classifier", "lm_head") != "lm_head" || text("residual_norm", "none") != "none" ||
        text("mlp_act", "gelu") != "gelu" || integer("in_blocks", 2) != integer("out_blocks", 2))
        return Status::error(dir +
                             ": training supports the tied lm_head classifier, no residual norm, gelu and as "
                             "many output blocks as input blocks");
    if (ckpt->has("lm_head.weight"))
        return Status::error(dir +
                             ": training supports tied embeddings only (the folder has lm_head.weight)");
    auto lm = LlamaTrainModel::load(dir);
    if (!lm) return lm.status();
    auto tokenizer = Tokenizer::load(dir);
    if (!tokenizer) return Status::error(dir + ": " + tokenizer.error());

    TokenShuffleTrainModel m;
    m.lm_ = std::move(*lm);
    m.tokenizer_ = std::move(*tokenizer);
    const TransformerConfig& c = m.lm_.config();
    m.pad_id_ = m.tokenizer_.padId() >= 0 ? m.tokenizer_.padId()
                                          : static_cast<int32_t>(std::max<int64_t>(0, c.pad_id));
    m.image_start_ = static_cast<int32_t>(integer("image_start_token_id", -1));
    m.window_ = integer("window", 2);
    m.grid_ = integer("grid", 0);
    m.codebook_ = integer("image_vocab_size", 0);
    m.image_vocab_start_ = integer("image_vocab_start", -1);
    m.blocks_ = integer("in_blocks", 2);
    const int64_t d = c.hidden, ss = m.window_ * m.window_;
    if (m.window_ < 1 || d % ss != 0 || m.grid_ <= 0 || m.grid_ % m.window_ != 0 || m.codebook_ <= 0 ||
        m.image_vocab_start_ < 0 || m.image_vocab_start_ + m.codebook_ > c.vocab || m.image_start_ < 0 ||
        m.image_start_ >= c.vocab)
        return Status::error(dir +
                             "/config.json: token_shuffle's window, grid, image vocabulary or image start "
                             "token is out of range");

    auto be = createBackend("cpu", 1);
    if (!be) return be.status();
    const fs::path weights = fs::path(dir) / text("weights", "token_shuffle.safetensors");
    auto tsc = Checkpoint::openFiles({weights.string()});
    if (!tsc) return tsc.status();
    const TensorInfo* fc1 = tsc->find(kTs + "in_blocks.0.fc1.weight");
    const int64_t r = fc1 && fc1->shape.size() == 2 ? fc1->shape[0] : d;
    auto& params = m.lm_.parameters();
    m.ts_first_ = params.size();
    for (const auto& [name, shape] : shuffleTensors(d, ss, r, m.blocks_)) {
        Parameter<float> p;
        p.name = name;
        p.shape = shape;
        if (Status st = readTensor(*tsc, **be, name, shape, p.value); !st.ok())
            return Status::error(weights.string() + ": " + st.message());
        p.zeroGrad();
        params.push_back(std::move(p));
    }

    const fs::path vq_dir = fs::path(dir) / text("vq", "vq");
    auto vq = Checkpoint::openFiles({(vq_dir / "model.safetensors").string()});
    if (!vq) return vq.status();
    if (Status st = files::readTensorsWithPrefix(*vq, **be, kVq, m.vq_); !st.ok()) return st;
    if (m.vq_.empty()) return Status::error(vq_dir.string() + " holds no VQ tokenizer (" + kVq + "*)");

    auto config = files::readText(dir + "/config.json", true);
    auto tok_json = files::readText(dir + "/tokenizer.json", true);
    auto tok_cfg = files::readText(dir + "/tokenizer_config.json", false);
    auto vq_cfg = files::readText((vq_dir / "config.json").string(), false);
    for (const auto* t : {&config, &tok_json, &tok_cfg, &vq_cfg})
        if (!*t) return t->status();
    m.config_json_ = std::move(*config);
    m.tokenizer_json_ = std::move(*tok_json);
    m.tokenizer_config_json_ = std::move(*tok_cfg);
    m.vq_config_json_ = std::move(*vq_cfg);
    return m;
}

// ---- forward and loss ----------------------------------------------------------------------------------

std::vector<int64_t> TokenShuffleTrainModel::conditional(const std::string& caption) const {
    const std::vector<int32_t> ids = tokenizer_.encode(caption, SpecialTokens::kTransformers);
    std::vector<int64_t> out(ids.begin(), ids.end());
    out.push_back(image_start_);
    return out;
}

std::vector<int64_t> TokenShuffleTrainModel::unconditional(const std::vector<int64_t>& conditional) const {
    std::vector<int64_t> out = conditional;
    for (size_t i = 1; i + 1 < out.size(); ++i) out[i] = pad_id_;
    return out;
}

Var TokenShuffleTrainModel::leaf(Tape<float>& t, size_t index) {
    return t.leaf(lm_.parameters()[index]);
}

// x + fc2(gelu(fc1(x))) for `count` blocks whose tensors start at parameter `first`.
Var TokenShuffleTrainModel::residualBlocks(Tape<float>& t, Var x, size_t first, int64_t count) {
    for (int64_t i = 0; i < count; ++i) {
        const size_t p = first + static_cast<size_t>(4 * i);
        Var h = t.gelu(t.linear(x, leaf(t, p), leaf(t, p + 1)), Gelu::Erf);
        x = t.add(x, t.linear(h, leaf(t, p + 2), leaf(t, p + 3)));
    }
    return x;
}

Var TokenShuffleTrainModel::logits(Tape<float>& t, const std::vector<int64_t>& prompts,
                                   const std::vector<int64_t>& codes, int64_t rows, int64_t prompt_len) {
    const TransformerConfig& c = lm_.config();
    const int64_t ss = window_ * window_, n = (grid_ / window_) * (grid_ / window_),
                  total = prompt_len + n - 1, d = c.hidden;
    TS_CHECK(rows > 0 && prompt_len > 0 && static_cast<int64_t>(prompts.size()) == rows * prompt_len &&
                 static_cast<int64_t>(codes.size()) == rows * n * ss,
             "Token-Shuffle training rows: " + std::to_string(prompts.size()) + " prompt ids and " +
                 std::to_string(codes.size()) + " codes for " + std::to_string(rows) + " rows");
    TS_CHECK(total <= c.max_positions, "a prompt of " + std::to_string(prompt_len) + " tokens and " +
                                           std::to_string(n) + " windows exceed the context of " +
                                           std::to_string(c.max_positions));
    for (int64_t id : prompts)
        TS_CHECK(id >= 0 && id < image_vocab_start_,
                 "prompt id " + std::to_string(id) + " outside the text vocabulary");
    std::vector<int64_t> image_ids;
    image_ids.reserve(static_cast<size_t>(rows * (n - 1) * ss));
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t i = 0; i < (n - 1) * ss; ++i) {
            const int64_t code = codes[static_cast<size_t>(r * n * ss + i)];
            TS_CHECK(code >= 0 && code < codebook_,
                     "image code " + std::to_string(code) + " outside the codebook");
            image_ids.push_back(image_vocab_start_ + code);
        }
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t i = (n - 1) * ss; i < n * ss; ++i) {
            const int64_t code = codes[static_cast<size_t>(r * n * ss + i)];
            TS_CHECK(code >= 0 && code < codebook_,
                     "image code " + std::to_string(code) + " outside the codebook");
        }
    Parameter<float>* embed = lm_.find(kEmbed);
    TS_CHECK(embed != nullptr, "the model has no embedding table");
    Var table = t.leaf(*embed);
    const size_t p = ts_first_;
    Var x = t.reshape(t.embedding(table, prompts), {rows, prompt_len, d});
    if (n > 1) {
        // The input shuffle: each code's embedding D → D/s², the s² slots of a window side by side.
        Var slots = t.linear(t.embedding(table, image_ids), leaf(t, p), leaf(t, p + 1));
        Var windows = residualBlocks(t, t.reshape(slots, {rows, n - 1, d}), p + 2, blocks_);
        x = t.concat({x, windows}, 1);
    }
    Var h = lm_.hiddenFromEmbeds(t, x); // [rows, total, D]
    // The output unshuffle: each position's s² slots of D/s², each back to D, then the tied classifier.
    const size_t out_first = p + 2 + static_cast<size_t>(4 * blocks_),
                 last = out_first + static_cast<size_t>(4 * blocks_);
    h = residualBlocks(t, h, out_first, blocks_);
    Var up = t.linear(t.reshape(h, {rows * total * ss, d / ss}), leaf(t, last), leaf(t, last + 1));
    std::vector<int64_t> rows_of_codes(static_cast<size_t>(codebook_));
    for (int64_t k = 0; k < codebook_; ++k) rows_of_codes[static_cast<size_t>(k)] = image_vocab_start_ + k;
    Var classifier = t.embedding(table, rows_of_codes); // [codebook, D]
    return t.reshape(t.linear(up, classifier), {rows, total * ss, codebook_});
}

Var TokenShuffleTrainModel::loss(Tape<float>& t, const std::vector<JanusGenExample>& batch) {
    TS_CHECK(!batch.empty(), "Token-Shuffle training: an empty batch");
    const int64_t ss = window_ * window_, n = (grid_ / window_) * (grid_ / window_);
    std::map<size_t, std::vector<size_t>> by_length;
    for (size_t i = 0; i < batch.size(); ++i) {
        TS_CHECK(static_cast<int64_t>(batch[i].codes.size()) == grid_ * grid_,
                 "Token-Shuffle training: an image of " + std::to_string(batch[i].codes.size()) +
                     " codes, the model draws " + std::to_string(grid_ * grid_));
        by_length[batch[i].prompt.size()].push_back(i);
    }
    Var total;
    for (const auto& [len, members] : by_length) {
        const int64_t rows = static_cast<int64_t>(members.size()), l = static_cast<int64_t>(len),
                      span = l + n - 1;
        std::vector<int64_t> prompts, codes, targets(static_cast<size_t>(rows * span * ss), -100);
        for (int64_t r = 0; r < rows; ++r) {
            const JanusGenExample& e = batch[members[static_cast<size_t>(r)]];
            const std::vector<int64_t> windowed = codesInWindowOrder(e.codes, grid_, window_);
            prompts.insert(prompts.end(), e.prompt.begin(), e.prompt.end());
            codes.insert(codes.end(), windowed.begin(), windowed.end());
            // Position l − 1 + j predicts window j.
            for (int64_t i = 0; i < n * ss; ++i)
                targets[static_cast<size_t>((r * span + l - 1) * ss + i)] = windowed[static_cast<size_t>(i)];
        }
        Var lg = logits(t, prompts, codes, rows, l);
        Var part = t.scale(t.crossEntropy(t.reshape(lg, {rows * span * ss, codebook_}), targets),
                           static_cast<float>(rows) / static_cast<float>(batch.size()));
        total = total.defined() ? t.add(total, part) : part;
    }
    return total;
}

// ---- save ----------------------------------------------------------------------------------------------

Status TokenShuffleTrainModel::save(const std::string& dir, SaveDType dtype) const {
    std::error_code ec;
    fs::create_directories(fs::path(dir) / "vq", ec);
    if (ec) return Status::error("cannot create " + dir + ": " + ec.message());
    files::SafetensorsOut lm(dtype), shuffle(dtype), vq(dtype);
    const auto& params = lm_.parameters();
    for (size_t i = 0; i < params.size(); ++i)
        (i < ts_first_ ? lm : shuffle).add(params[i].name, params[i].shape, params[i].value);
    for (const auto& f : vq_) vq.add(f.name, f.shape, f.value);
    if (Status s = writeSafetensorsF32(dir + "/model.safetensors", lm.tensors, {{"format", "pt"}}); !s.ok())
        return s;
    if (Status s =
            writeSafetensorsF32(dir + "/token_shuffle.safetensors", shuffle.tensors, {{"format", "pt"}});
        !s.ok())
        return s;
    if (Status s = writeSafetensorsF32(dir + "/vq/model.safetensors", vq.tensors, {{"format", "pt"}});
        !s.ok())
        return s;
    if (!vq_config_json_.empty())
        if (Status s = files::writeText(dir + "/vq/config.json", vq_config_json_); !s.ok()) return s;
    nlohmann::ordered_json cfg = nlohmann::ordered_json::parse(config_json_, nullptr, false);
    if (cfg.is_discarded() || !cfg.is_object())
        return Status::error("the model's config.json is not a JSON object");
    cfg["torch_dtype"] = files::torchDtypeName(dtype);
    if (Status s = files::writeText(dir + "/config.json", cfg.dump(2) + "\n"); !s.ok()) return s;
    if (Status s = files::writeText(dir + "/tokenizer.json", tokenizer_json_); !s.ok()) return s;
    if (!tokenizer_config_json_.empty())
        if (Status s = files::writeText(dir + "/tokenizer_config.json", tokenizer_config_json_); !s.ok())
            return s;
    return {};
}

} // namespace tessera::train

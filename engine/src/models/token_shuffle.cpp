// Token-Shuffle family: config fields, tensor binding, input shuffle and output unshuffle around the
// Llama LM of llama.cpp. Sections: settings · residual MLP · loading · shuffle and unshuffle.
#include "models/token_shuffle.h"

#include "models/transformer.h"

#include <cmath>
#include <filesystem>

namespace fs = std::filesystem;

namespace tessera::models {

// ---- settings ------------------------------------------------------------------------------------------

bool isTokenShuffleConfig(const ModelConfig& config) {
    const auto& j = config.json();
    return j.is_object() && j.contains("token_shuffle") && j["token_shuffle"].is_object();
}

Expected<TokenShuffleSettings> readTokenShuffleSettings(const ModelConfig& config, int64_t hidden,
                                                        int64_t vocab) {
    if (!isTokenShuffleConfig(config)) return Status::error("config.json has no \"token_shuffle\" object");
    const nlohmann::json& o = config.json()["token_shuffle"];
    TokenShuffleSettings s;
    auto integer = [&](const char* key, int64_t fallback, bool required) -> Expected<int64_t> {
        auto it = o.find(key);
        if (it == o.end() || it->is_null()) {
            if (required)
                return Status::error(std::string("config.json: token_shuffle.") + key + " is missing");
            return fallback;
        }
        if (!it->is_number_integer())
            return Status::error(std::string("config.json: token_shuffle.") + key + " must be an integer");
        return it->get<int64_t>();
    };
    auto text = [&](const char* key, const std::string& fallback) -> Expected<std::string> {
        auto it = o.find(key);
        if (it == o.end() || it->is_null()) return fallback;
        if (!it->is_string())
            return Status::error(std::string("config.json: token_shuffle.") + key + " must be a string");
        return it->get<std::string>();
    };
    struct IntField {
        const char* key;
        int64_t* out;
        bool required;
    };
    for (const IntField& f :
         {IntField{"window", &s.window, false}, IntField{"image_vocab_start", &s.image_vocab_start, true},
          IntField{"image_vocab_size", &s.image_vocab_size, true}, IntField{"grid", &s.grid, false},
          IntField{"in_blocks", &s.in_blocks, false}, IntField{"out_blocks", &s.out_blocks, false},
          IntField{"image_start_token_id", &s.image_start_id, true},
          IntField{"image_end_token_id", &s.image_end_id, false}}) {
        auto v = integer(f.key, *f.out, f.required);
        if (!v) return v.status();
        *f.out = *v;
    }
    if (auto it = o.find("mlp_ratio"); it != o.end() && !it->is_null()) {
        if (!it->is_number()) return Status::error("config.json: token_shuffle.mlp_ratio must be a number");
        s.mlp_ratio = it->get<double>();
    }
    auto act = text("mlp_act", "gelu");
    auto norm = text("residual_norm", "none");
    auto classifier = text("classifier", "lm_head");
    auto weights = text("weights", s.weights);
    auto vq = text("vq", s.vq);
    for (auto* e : {&act, &norm, &classifier, &weights, &vq})
        if (!*e) return e->status();
    if (*act == "gelu")
        s.act = Activation::Gelu;
    else if (*act == "gelu_tanh" || *act == "gelu_pytorch_tanh")
        s.act = Activation::GeluTanh;
    else if (*act == "silu")
        s.act = Activation::Silu;
    else if (*act == "relu")
        s.act = Activation::Relu;
    else
        return Status::error("config.json: token_shuffle.mlp_act '" + *act +
                             "' is not one of gelu, gelu_tanh, silu, relu");
    if (*norm != "none" && *norm != "rms")
        return Status::error("config.json: token_shuffle.residual_norm '" + *norm + "' is not none or rms");
    s.rms_norm = *norm == "rms";
    if (*classifier != "lm_head" && *classifier != "own")
        return Status::error("config.json: token_shuffle.classifier '" + *classifier +
                             "' is not lm_head or own");
    s.own_classifier = *classifier == "own";
    s.weights = *weights;
    s.vq = *vq;

    if (s.window != 1 && s.window != 2 && s.window != 4)
        return Status::error("config.json: token_shuffle.window is " + std::to_string(s.window) +
                             "; Tessera supports 1, 2 and 4");
    if (hidden % (s.window * s.window) != 0)
        return Status::error("config.json: hidden_size " + std::to_string(hidden) +
                             " is not a multiple of window² = " + std::to_string(s.window * s.window));
    if (s.image_vocab_size < 1 || s.image_vocab_start < 0 || s.image_vocab_start + s.image_vocab_size > vocab)
        return Status::error("config.json: token_shuffle.image_vocab_start/image_vocab_size: codes [" +
                             std::to_string(s.image_vocab_start) + ", +" +
                             std::to_string(s.image_vocab_size) + ") does not fit the LM vocabulary of " +
                             std::to_string(vocab));
    if (s.image_start_id < 0 || s.image_start_id >= vocab)
        return Status::error("config.json: token_shuffle.image_start_token_id is outside the LM vocabulary");
    if (s.grid < s.window || s.grid % s.window != 0 || s.grid > 1024)
        return Status::error(
            "config.json: token_shuffle.grid must be a multiple of the window, at most 1024");
    if (s.in_blocks < 0 || s.out_blocks < 0 || s.in_blocks > 64 || s.out_blocks > 64)
        return Status::error("config.json: token_shuffle in_blocks/out_blocks must be between 0 and 64");
    if (!(s.mlp_ratio > 0 && s.mlp_ratio <= 64))
        return Status::error("config.json: token_shuffle.mlp_ratio must be in (0, 64]");
    return s;
}

// ---- residual MLP --------------------------------------------------------------------------------------

Tensor ResidualMlp::forward(Backend& be, const Tensor& x, Activation act, float eps) const {
    const Tensor in = norm.defined() ? be.rmsNorm(x, norm, eps) : x;
    Tensor h = be.activation(be.matmul(in, fc1_w, fc1_b.defined() ? &fc1_b : nullptr), act);
    return be.add(x, be.matmul(h, fc2_w, fc2_b.defined() ? &fc2_b : nullptr));
}

// ---- loading -------------------------------------------------------------------------------------------

namespace {

// The VQ tensors: a folder (model.safetensors, or config.json + index) or one .safetensors file.
Expected<Checkpoint> openVq(const fs::path& path) {
    std::error_code ec;
    if (fs::is_regular_file(path, ec)) return Checkpoint::openFiles({path.string()});
    if (!fs::is_directory(path, ec))
        return Status::error("the VQ decoder " + path.string() + " (token_shuffle.vq) does not exist");
    if (fs::exists(path / "config.json", ec)) return Checkpoint::open(path.string());
    if (fs::exists(path / "model.safetensors", ec))
        return Checkpoint::openFiles({(path / "model.safetensors").string()});
    return Status::error(path.string() + " (token_shuffle.vq) holds no model.safetensors");
}

} // namespace

Expected<std::unique_ptr<TokenShuffleModel>> TokenShuffleModel::load(const Checkpoint& ckpt, Backend& backend,
                                                                     bool with_vq) {
    try {
        auto tc = llamaConfig(ckpt.config());
        if (!tc) return Status::error(ckpt.dir() + ": " + tc.error());
        auto settings = readTokenShuffleSettings(ckpt.config(), tc->hidden, tc->vocab);
        if (!settings) return Status::error(ckpt.dir() + ": " + settings.error());
        auto m = std::make_unique<TokenShuffleModel>();
        m->s_ = *settings;
        m->be_ = &backend;
        m->eps_ = tc->norm_eps;
        auto lm = Transformer::load(ckpt, backend, *tc, LmLayout{});
        if (!lm) return lm.status();
        m->lm_ = std::move(*lm);

        // token_shuffle.* from model.safetensors, else from the `weights` file beside it.
        const TokenShuffleSettings& s = m->s_;
        std::optional<Checkpoint> side;
        if (!ckpt.has("token_shuffle.mlp_in.weight")) {
            const fs::path p = fs::path(ckpt.dir()) / s.weights;
            auto c = Checkpoint::openFiles({p.string()});
            if (!c)
                return Status::error(ckpt.dir() + ": no token_shuffle.* tensors in model.safetensors, and " +
                                     s.weights + ": " + c.error());
            side = std::move(*c);
        }
        const Checkpoint& src = side ? *side : ckpt;
        const int64_t d = tc->hidden, slot = d / (s.window * s.window);
        const int64_t r =
            std::max<int64_t>(1, static_cast<int64_t>(std::llround(static_cast<double>(d) * s.mlp_ratio)));
        WeightBinder wb(src, backend);
        m->mlp_in_w_ = wb.matrix("token_shuffle.mlp_in.weight", {slot, d});
        m->mlp_in_b_ = wb.optional("token_shuffle.mlp_in.bias", {slot});
        m->mlp_out_w_ = wb.matrix("token_shuffle.mlp_out.weight", {d, slot});
        m->mlp_out_b_ = wb.optional("token_shuffle.mlp_out.bias", {d});
        auto blocks = [&](const std::string& kind, int64_t n, std::vector<ResidualMlp>& out) {
            for (int64_t i = 0; i < n; ++i) {
                const std::string p = "token_shuffle." + kind + "." + std::to_string(i) + ".";
                ResidualMlp b;
                if (s.rms_norm) b.norm = wb.get(p + "norm.weight", {d});
                b.fc1_w = wb.matrix(p + "fc1.weight", {r, d});
                b.fc1_b = wb.optional(p + "fc1.bias", {r});
                b.fc2_w = wb.matrix(p + "fc2.weight", {d, r});
                b.fc2_b = wb.optional(p + "fc2.bias", {d});
                out.push_back(std::move(b));
            }
        };
        blocks("in_blocks", s.in_blocks, m->in_blocks_);
        blocks("out_blocks", s.out_blocks, m->out_blocks_);
        if (s.own_classifier)
            m->classifier_ = wb.matrix("token_shuffle.classifier.weight", {s.image_vocab_size, d});
        if (Status st = wb.finish(); !st.ok()) return Status::error(ckpt.dir() + ": " + st.message());
        m->own_bytes_ = wb.residentBytes();
        if (!s.own_classifier) {
            // The LM head's rows of the VQ codes (the embedding's when the head is tied), shared with the LM.
            const std::string head =
                ckpt.has("lm_head.weight") ? "lm_head.weight" : "model.embed_tokens.weight";
            auto t = ckpt.load(head, backend, /*matrix=*/true);
            if (!t) return Status::error(ckpt.dir() + ": " + t.error());
            if (t->rank() != 2 || t->dim(0) != tc->vocab || t->dim(1) != d)
                return Status::error(ckpt.dir() + ": " + head + " has shape " + shapeString(t->shape()) +
                                     ", expected [" + std::to_string(tc->vocab) + ", " + std::to_string(d) +
                                     "]");
            m->classifier_ = t->rows(s.image_vocab_start, s.image_vocab_start + s.image_vocab_size);
        }

        if (with_vq) {
            const fs::path vq_path =
                fs::path(s.vq).is_absolute() ? fs::path(s.vq) : fs::path(ckpt.dir()) / s.vq;
            auto vc = openVq(vq_path);
            if (!vc) return Status::error(ckpt.dir() + ": " + vc.error());
            janus::Layout layout;
            if (vc->has("model.vqmodel.quantize.embedding.weight"))
                layout = janus::Layout::Transformers;
            else if (vc->has("gen_vision_model.quantize.embedding.weight"))
                layout = janus::Layout::DeepSeek;
            else
                return Status::error(vq_path.string() +
                                     ": no VQ-16 codebook (model.vqmodel.quantize.embedding.weight or "
                                     "gen_vision_model.quantize.embedding.weight)");
            janus::Binder vb(*vc, backend, layout);
            m->vq_.load(vb, backend, /*with_encoder=*/false);
            if (Status st = vb.finish(); !st.ok())
                return Status::error(vq_path.string() + ": " + st.message());
            if (m->vq_.codebookSize() != s.image_vocab_size)
                return Status::error(
                    vq_path.string() + ": the VQ codebook has " + std::to_string(m->vq_.codebookSize()) +
                    " codes, token_shuffle.image_vocab_size says " + std::to_string(s.image_vocab_size));
            m->vq_bytes_ = vb.boundBytes();
            const Shape cin = vb.shapeOf("model.vqmodel.decoder.conv_in.weight");
            m->vq_in_channels_ = cin.empty() ? 0 : cin[0];
            const Shape cout = vb.shapeOf("model.vqmodel.decoder.conv_out.weight");
            m->vq_out_channels_ = cout.empty() ? 3 : cout[0];
            for (size_t l = 0;; ++l) {
                const Shape c =
                    vb.shapeOf("model.vqmodel.decoder.up." + std::to_string(l) + ".block.0.conv1.weight");
                if (c.empty()) break;
                m->vq_level_channels_.push_back(c[0]);
            }
            m->has_vq_ = true;
        }
        return m;
    } catch (const Error& e) {
        return Status::error(ckpt.dir() + ": " + e.what());
    } catch (const std::bad_alloc&) {
        return Status::error(ckpt.dir() + ": out of memory while loading the model");
    } catch (const std::exception& e) {
        return Status::error(ckpt.dir() + ": malformed checkpoint: " + e.what());
    }
}

size_t TokenShuffleModel::vqWindowBoundBytes(int64_t tokens, int threads) const {
    if (!has_vq_) return 0;
    // Level l's maps: its input channels (the previous level's, or conv_in's) and its own, at 2^l × the
    // token resolution; its upsample writes its channels at twice that.
    double largest = static_cast<double>(vq_in_channels_) * static_cast<double>(tokens * tokens);
    int64_t prev = vq_in_channels_;
    for (size_t l = 0; l < vq_level_channels_.size(); ++l) {
        const double side = static_cast<double>(tokens) * static_cast<double>(int64_t{1} << l);
        const int64_t c = std::max(prev, vq_level_channels_[l]);
        largest = std::max(largest, static_cast<double>(c) * side * side);
        if (l + 1 < vq_level_channels_.size())
            largest = std::max(largest, static_cast<double>(vq_level_channels_[l]) * 4.0 * side * side);
        prev = vq_level_channels_[l];
    }
    const double maps = 4.0 * largest * 4.0; // four f32 maps
    const double attention =
        static_cast<double>(tokens * tokens) * static_cast<double>(tokens * tokens) * 4.0;
    const double scratch = static_cast<double>(std::max(1, threads)) * 8.0 * 1024 * 1024;
    // The window's pixels as a tensor and as the host copy the blend reads.
    const double side = static_cast<double>(tokens * vq_.downsample());
    const double out = 2.0 * static_cast<double>(vq_out_channels_) * side * side * 4.0;
    return static_cast<size_t>(maps + attention + scratch + out);
}

// ---- shuffle and unshuffle -----------------------------------------------------------------------------

Tensor TokenShuffleModel::shuffleIn(const std::vector<int64_t>& codes, int64_t batch) {
    Backend& be = *be_;
    const int64_t ss = s_.window * s_.window, d = lm_->config().hidden;
    TS_CHECK(batch > 0 && static_cast<int64_t>(codes.size()) % (batch * ss) == 0,
             "token shuffle: " + std::to_string(codes.size()) + " codes do not make whole windows for " +
                 std::to_string(batch) + " row(s)");
    const int64_t n = static_cast<int64_t>(codes.size()) / (batch * ss);
    std::vector<int64_t> ids(codes.size());
    for (size_t i = 0; i < codes.size(); ++i) {
        TS_CHECK(codes[i] >= 0 && codes[i] < s_.image_vocab_size,
                 "token shuffle: code " + std::to_string(codes[i]) + " outside the codebook of " +
                     std::to_string(s_.image_vocab_size));
        ids[i] = codes[i] + s_.image_vocab_start;
    }
    Tensor e = lm_->embed(be.fromI64(ids, {batch, n * ss}));                        // [B, n·s², D]
    Tensor m = be.matmul(e, mlp_in_w_, mlp_in_b_.defined() ? &mlp_in_b_ : nullptr); // [B, n·s², D/s²]
    Tensor x = m.reshape({batch, n, d});                                            // slots side by side
    for (const ResidualMlp& b : in_blocks_) x = b.forward(be, x, s_.act, eps_);
    return x;
}

Tensor TokenShuffleModel::unshuffleLogits(const Tensor& hidden) {
    Backend& be = *be_;
    const int64_t ss = s_.window * s_.window, d = lm_->config().hidden;
    TS_CHECK(hidden.rank() == 3 && hidden.dim(2) == d, "token unshuffle: hidden must be [B, n, D]");
    const int64_t b = hidden.dim(0), n = hidden.dim(1);
    Tensor h = hidden;
    for (const ResidualMlp& blk : out_blocks_) h = blk.forward(be, h, s_.act, eps_);
    Tensor slots = h.reshape({b, n * ss, d / ss});
    Tensor up = be.matmul(slots, mlp_out_w_, mlp_out_b_.defined() ? &mlp_out_b_ : nullptr); // [B, n·s², D]
    return be.matmul(up, classifier_);                                                      // [B, n·s², V]
}

} // namespace tessera::models

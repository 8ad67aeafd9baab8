// Lumos-1 recipes (method "lumos-1") and the random-checkpoint presets in Lumos-1 shapes.
#include "tessera/engine/lumos.h"
#include "pipelines/recipe_fields.h"
#include "util/encoding.h"

#include <cmath>
#include <stdexcept>

namespace tessera {

nlohmann::json lumosRecipe(const LumosRequest& r, const LumosResult& res, const LumosRecipeInfo& info) {
    std::vector<int32_t> prompt_ids = r.prompt_ids;
    return {
        {"version", 1},
        {"method", "lumos-1"},
        {"task", lumosTaskName(r.task)},
        {"model", {{"dir", info.model_dir}, {"hash", info.model_hash}}},
        {"backend", info.backend},
        {"threads", info.threads},
        {"prompt", r.prompt},
        {"prompt_ids", prompt_ids},
        {"width", r.width},
        {"height", r.height},
        {"fps", res.shape.fps},
        {"duration_s", res.shape.duration_s},
        {"latent_frames", res.shape.latent_frames},
        {"latent_grid", {res.shape.lat_h, res.shape.lat_w}},
        {"steps", r.steps},
        {"cfg", res.shape.cfg},
        {"seed", r.seed},
        {"gumbel_temperature", r.gumbel_temperature},
        {"reset_temperature_per_frame", r.reset_temperature_per_frame},
        {"history_mask_ratio", r.history_mask_ratio},
        {"first_frame_codes", util::packTokens(r.first_frame_codes)},
        {"cancelled", res.cancelled},
        {"code_count", res.codes.size()},
        {"codes", util::packTokens(res.codes)},
        {"token_encoding", "zlib+base64 int32le"},
    };
}

namespace {

using recipe_fields::intIn;
using recipe_fields::numberIn;

std::vector<int32_t> unpack(const nlohmann::json& j, const char* key) {
    if (!j.contains(key) || !j.at(key).is_string())
        throw std::runtime_error(std::string("recipe: missing '") + key + "'");
    auto t = util::unpackTokens(j.at(key).get<std::string>());
    if (!t) throw std::runtime_error(std::string("recipe: '") + key + "': " + t.error());
    return *t;
}

} // namespace

Expected<LumosRecipe> parseLumosRecipe(const nlohmann::json& j) {
    try {
        if (!j.is_object() || j.value("method", "") != "lumos-1")
            return Status::error("not a Lumos-1 recipe (method is not \"lumos-1\")");
        LumosRecipe out;
        LumosRequest& r = out.request;
        const std::string task = j.value("task", "");
        if (task == "t2i")
            r.task = LumosTask::TextToImage;
        else if (task == "t2v")
            r.task = LumosTask::TextToVideo;
        else if (task == "i2v")
            r.task = LumosTask::ImageToVideo;
        else
            return Status::error("recipe: unknown task '" + task + "' (t2i, t2v, i2v)");
        if (j.contains("model") && j["model"].is_object()) {
            out.info.model_dir = j["model"].value("dir", "");
            out.info.model_hash = j["model"].value("hash", "");
        }
        out.info.backend = j.value("backend", "cpu");
        out.info.threads = static_cast<int>(intIn(j, "threads", 0, 4096));
        r.prompt = j.value("prompt", "");
        if (j.contains("prompt_ids")) {
            for (const auto& v : j.at("prompt_ids")) {
                if (!v.is_number_integer() || v.get<int64_t>() < 0 ||
                    v.get<int64_t>() >= LumosVocab::kCodeBase)
                    return Status::error("recipe: prompt_ids must be text token ids, got " + v.dump());
                r.prompt_ids.push_back(static_cast<int32_t>(v.get<int64_t>()));
            }
        }
        r.width = static_cast<int>(intIn(j, "width", 32, 8192));
        r.height = static_cast<int>(intIn(j, "height", 32, 8192));
        r.fps = static_cast<int>(intIn(j, "fps", 1, 120));
        r.duration_s = static_cast<int>(intIn(j, "duration_s", 1, 60));
        r.latent_frames = intIn(j, "latent_frames", 1, 256);
        r.steps = intIn(j, "steps", 1, 1000);
        r.cfg = static_cast<float>(numberIn(j, "cfg", -1e4, 1e4));
        const auto& seed = j.at("seed");
        if (!seed.is_number_unsigned() && !(seed.is_number_integer() && seed.get<int64_t>() >= 0))
            return Status::error("recipe: 'seed' must be a whole number from 0 to 2^64-1");
        r.seed = seed.get<uint64_t>();
        r.gumbel_temperature = numberIn(j, "gumbel_temperature", 0, 1e4);
        r.reset_temperature_per_frame = j.value("reset_temperature_per_frame", false);
        r.history_mask_ratio = numberIn(j, "history_mask_ratio", 1e-9, 1);
        r.first_frame_codes = unpack(j, "first_frame_codes");
        out.codes = unpack(j, "codes");
        out.cancelled = j.value("cancelled", false);
        return out;
    } catch (const std::exception& e) {
        return Status::error(e.what());
    }
}

// ---- presets -------------------------------------------------------------------------------------------

std::vector<std::string> lumosPresets() {
    return {"lumos-tiny", "lumos-1b"};
}

Expected<nlohmann::json> lumosPresetConfig(const std::string& name) {
    auto chameleon = [](int64_t vocab, int64_t hidden, int64_t layers, int64_t heads, int64_t kv_heads,
                        int64_t intermediate) {
        return nlohmann::json{{"architectures", {"ChameleonForConditionalGeneration"}},
                              {"model_type", "chameleon"},
                              {"vocab_size", vocab},
                              {"hidden_size", hidden},
                              {"num_hidden_layers", layers},
                              {"num_attention_heads", heads},
                              {"num_key_value_heads", kv_heads},
                              {"intermediate_size", intermediate},
                              {"max_position_embeddings", 16384},
                              {"rms_norm_eps", 1e-5},
                              {"rope_theta", 10000.0},
                              {"tie_word_embeddings", false},
                              {"mm_rope", true},
                              {"torch_dtype", "float32"}};
    };
    // d 32, two heads of 16 (the smallest MM-RoPE head), the full vocabulary (so Cosmos codes fit): 33 MB.
    if (name == "lumos-tiny") return chameleon(129536, 32, 2, 2, 1, 64);
    // Llama-3.2-1B dimensions with Lumos-1's full vocabulary.
    if (name == "lumos-1b") return chameleon(129536, 2048, 16, 32, 8, 8192);
    std::string known;
    for (const auto& p : lumosPresets()) known += " " + p;
    return Status::error("unknown Lumos-1 preset '" + name + "'; known:" + known);
}

} // namespace tessera

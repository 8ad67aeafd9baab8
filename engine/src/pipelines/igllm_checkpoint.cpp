// A tiny random IG-LLM checkpoint: LLaVA (CLIP tower, projector, Llama LM) in transformers 4.x naming,
// a word-level tokenizer over the scene grammar's words, and a float head whose outputs stay near 0.5.
#include "tessera/engine/bench.h"
#include "tessera/engine/igllm.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

namespace fs = std::filesystem;

namespace tessera {

namespace {

struct Rng { // splitmix64
    uint64_t s;
    uint64_t next() {
        uint64_t z = (s += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    float symmetric() {
        return static_cast<float>(static_cast<int64_t>(next() >> 40) - (1 << 23)) / (1 << 23);
    }
};

struct Named {
    std::string name;
    Shape shape;
    std::vector<float> values;
};

// Vocabulary after the specials: the grammar's words, the default prompt's words.
const std::vector<std::string> kWords = {
    "camera",   "light",    "object",   "cube",    "sphere", "cylinder",  "gray",      "red",
    "blue",     "green",    "brown",    "purple",  "cyan",   "yellow",    "rubber",    "metal",
    "size",     "position", "rotation", "look_at", "fov",    "direction", "intensity", "ambient",
    "Describe", "the",      "scene",    "as",      "a",      "program."};

Status writeF32Safetensors(const std::string& path, const std::vector<Named>& tensors) {
    nlohmann::ordered_json header;
    size_t offset = 0;
    for (const auto& t : tensors) {
        const size_t bytes = t.values.size() * 4;
        header[t.name] = {{"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
    }
    header["__metadata__"] = {{"format", "pt"}, {"tessera", "random IG-LLM weights"}};
    std::string text = header.dump();
    while ((8 + text.size()) % 64 != 0) text.push_back(' ');
    std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "wb"), &std::fclose);
    if (!f) return Status::error("cannot write " + path);
    unsigned char prefix[8];
    for (int i = 0; i < 8; ++i)
        prefix[i] = static_cast<unsigned char>(static_cast<uint64_t>(text.size()) >> (8 * i));
    bool ok = std::fwrite(prefix, 1, 8, f.get()) == 8 &&
              std::fwrite(text.data(), 1, text.size(), f.get()) == text.size();
    for (const auto& t : tensors)
        ok = ok && std::fwrite(t.values.data(), 4, t.values.size(), f.get()) == t.values.size();
    if (!ok || std::fflush(f.get()) != 0) return Status::error("writing " + path + " failed (disk full?)");
    return {};
}

} // namespace

std::string igllmWordTokenizerJson(const std::vector<std::string>& words) {
    static const char* const kSpecials[] = {"<unk>", "<s>", "</s>", "<image>", "[NUM]", "\n"};
    nlohmann::json added = nlohmann::json::array();
    nlohmann::ordered_json vocab;
    int id = 0;
    for (const char* s : kSpecials) {
        const bool special = std::string(s) != "[NUM]" && std::string(s) != "\n";
        added.push_back({{"id", id},
                         {"content", s},
                         {"single_word", false},
                         {"lstrip", false},
                         {"rstrip", false},
                         {"normalized", false},
                         {"special", special}});
        vocab[s] = id++;
    }
    for (const auto& w : words) vocab[w] = id++;
    const nlohmann::json tok = {{"version", "1.0"},
                                {"truncation", nullptr},
                                {"padding", nullptr},
                                {"added_tokens", added},
                                {"normalizer", nullptr},
                                {"pre_tokenizer", {{"type", "WhitespaceSplit"}}},
                                {"post_processor", nullptr},
                                {"decoder", nullptr},
                                {"model", {{"type", "WordLevel"}, {"vocab", vocab}, {"unk_token", "<unk>"}}}};
    return tok.dump();
}

int igllmPositionCell(float coordinate) {
    if (!(coordinate > kIgllmPositionLow)) return 0; // NaN too
    const int cell = static_cast<int>((coordinate - kIgllmPositionLow) / kIgllmPositionCellWidth);
    return std::min(cell, kIgllmPositionCells - 1);
}

std::string igllmCellWord(char axis, int cell) {
    char word[16];
    std::snprintf(word, sizeof word, "%c%d", axis, cell);
    return word;
}

std::vector<std::string> igllmCellWords() {
    std::vector<std::string> words;
    for (char axis : {'x', 'y'})
        for (int i = 0; i < kIgllmPositionCells; ++i) words.push_back(igllmCellWord(axis, i));
    return words;
}

Expected<bool> igllmCellsFirst(const nlohmann::json& config) {
    const auto it = config.find(kIgllmCellsKey);
    if (it == config.end() || *it == "in_position") return false;
    if (*it == kIgllmCellsFirst) return true;
    return Status::error(std::string("config.json: ") + kIgllmCellsKey + " is " + it->dump() +
                         ", not \"first\" or \"in_position\"");
}

Status writeRandomIgllmCheckpoint(const std::string& dir, const std::string& float_head, uint64_t seed) {
    if (float_head != "linear" && float_head != "tanh_mlp_gelu")
        return Status::error("a random IG-LLM checkpoint has a linear or tanh_mlp_gelu float head, not '" +
                             float_head + "'");
    const int64_t vocab = kIgllmWordTokenizerSpecials + static_cast<int64_t>(kWords.size());
    const int64_t d = 64, vd = 32, vff = 64, image = 32, patch = 8, vlayers = 2;
    nlohmann::json text = {{"model_type", "llama"},
                           {"vocab_size", vocab},
                           {"hidden_size", d},
                           {"num_hidden_layers", 2},
                           {"num_attention_heads", 4},
                           {"num_key_value_heads", 2},
                           {"intermediate_size", 128},
                           {"max_position_embeddings", 2048},
                           {"rms_norm_eps", 1e-5},
                           {"rope_theta", 10000.0},
                           {"tie_word_embeddings", false},
                           {"attention_bias", false},
                           {"mlp_bias", false},
                           {"bos_token_id", 1},
                           {"eos_token_id", 2},
                           {"pad_token_id", 0}};
    nlohmann::json config = {{"architectures", {"LlavaForConditionalGeneration"}},
                             {"model_type", "llava"},
                             {"image_token_index", 3},
                             {"projector_hidden_act", "gelu"},
                             {"vision_feature_layer", -2},
                             {"vision_feature_select_strategy", "default"},
                             {"float_head_type", float_head},
                             {"tie_word_embeddings", false},
                             {"text_config", text},
                             {"vision_config",
                              {{"model_type", "clip_vision_model"},
                               {"hidden_size", vd},
                               {"image_size", image},
                               {"patch_size", patch},
                               {"num_hidden_layers", vlayers},
                               {"num_attention_heads", 2},
                               {"intermediate_size", vff},
                               {"hidden_act", "quick_gelu"},
                               {"layer_norm_eps", 1e-5}}}};

    // The LM's tensors as a plain Llama names them, moved under language_model.
    nlohmann::json lm_config = text;
    lm_config["architectures"] = {"LlamaForCausalLM"};
    auto lm = bench::checkpointTensors(lm_config);
    if (!lm) return lm.status();
    Rng rng{seed * 0x2545F4914F6CDD1Dull + 17};
    std::vector<Named> t;
    auto add = [&](const std::string& name, Shape shape, float scale, float offset = 0.0f) {
        Named n{name, shape, std::vector<float>(static_cast<size_t>(shapeNumel(shape)))};
        for (float& v : n.values) v = offset + (scale == 0 ? 0.0f : rng.symmetric() * scale);
        t.push_back(std::move(n));
    };
    auto fan = [](int64_t in) { return 1.0f / std::sqrt(static_cast<float>(in)); };
    for (const auto& s : *lm) {
        const bool norm = s.name.find("norm.weight") != std::string::npos;
        const std::string name =
            s.name == "lm_head.weight" ? "language_model.lm_head.weight" : "language_model." + s.name;
        add(name, s.shape, norm ? 0.0f : (s.shape.size() == 2 ? fan(s.shape[1]) : 0.02f), norm ? 1.0f : 0.0f);
    }
    const std::string vt = "vision_tower.";
    const int64_t grid = image / patch;
    add(vt + "embeddings.patch_embedding.weight", {vd, 3, patch, patch}, fan(3 * patch * patch));
    add(vt + "embeddings.class_embedding", {vd}, 0.02f);
    add(vt + "embeddings.position_embedding.weight", {grid * grid + 1, vd}, 0.02f);
    add(vt + "pre_layrnorm.weight", {vd}, 0.0f, 1.0f);
    add(vt + "pre_layrnorm.bias", {vd}, 0.0f);
    for (int64_t l = 0; l < vlayers; ++l) {
        const std::string p = vt + "encoder.layers." + std::to_string(l) + ".";
        for (const char* ln : {"layer_norm1", "layer_norm2"}) {
            add(p + ln + ".weight", {vd}, 0.0f, 1.0f);
            add(p + ln + ".bias", {vd}, 0.0f);
        }
        for (const char* proj : {"q_proj", "k_proj", "v_proj", "out_proj"}) {
            add(p + "self_attn." + proj + ".weight", {vd, vd}, fan(vd));
            add(p + "self_attn." + proj + ".bias", {vd}, 0.02f);
        }
        add(p + "mlp.fc1.weight", {vff, vd}, fan(vd));
        add(p + "mlp.fc1.bias", {vff}, 0.02f);
        add(p + "mlp.fc2.weight", {vd, vff}, fan(vff));
        add(p + "mlp.fc2.bias", {vd}, 0.02f);
    }
    add("multi_modal_projector.linear_1.weight", {d, vd}, fan(vd));
    add("multi_modal_projector.linear_1.bias", {d}, 0.02f);
    add("multi_modal_projector.linear_2.weight", {d, d}, fan(d));
    add("multi_modal_projector.linear_2.bias", {d}, 0.02f);
    // The head's output is 0.5 plus at most 0.1: |w|·|h| <= (0.1/d)·sqrt(d)·|h|, and the final-normed
    // hidden state has |h| = sqrt(d) (norm weights 1). For the MLP, |GELU(a)| <= |a| <= sqrt(d) + 1.
    if (float_head == "linear") {
        add("float_head.weight", {1, d}, 0.1f / static_cast<float>(d));
        add("float_head.bias", {1}, 0.0f, 0.5f);
    } else {
        add("float_head.1.weight", {d, d}, fan(d));
        add("float_head.1.bias", {d}, 0.02f);
        add("float_head.3.weight", {1, d},
            0.1f / (static_cast<float>(d) * (std::sqrt(static_cast<float>(d)) + 1.0f)));
        add("float_head.3.bias", {1}, 0.0f, 0.5f);
    }

    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return Status::error("cannot create " + dir + ": " + ec.message());
    const std::vector<std::pair<std::string, std::string>> files = {
        {"config.json", config.dump(2)},
        {"tokenizer.json", igllmWordTokenizerJson(kWords)},
        {"tokenizer_config.json",
         nlohmann::json{{"bos_token", "<s>"}, {"eos_token", "</s>"}, {"unk_token", "<unk>"}}.dump(2)}};
    for (const auto& [name, body] : files) {
        std::ofstream out(fs::path(dir) / name);
        out << body << "\n";
        if (!out) return Status::error("cannot write " + (fs::path(dir) / name).string());
    }
    return writeF32Safetensors((fs::path(dir) / "model.safetensors").string(), t);
}

} // namespace tessera

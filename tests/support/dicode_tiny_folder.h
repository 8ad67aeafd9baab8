// A tiny DiCoDe checkpoint folder for tests, assembled from reference/dicode_tiny: its config.json and
// model.safetensors (LLM, U-Net and VAE under the official names), the "" text context and the
// unconditional image tokens from its golden file as dicode_constants.safetensors (unless
// `constants` is false), and a word-level tokenizer.json ("a cat runs" → 1 2 3; eos 39).
#pragma once

#include "tessera/engine/checkpoint.h"
#include "tessera/engine/dicode_pipeline.h"
#include "tessera/engine/train_loop.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <string>
#include <vector>

namespace tessera::test {

inline const std::string kDicodeTinySet = std::string(TESSERA_TEST_DATA_DIR) + "/reference/dicode_tiny";

// One float tensor of the set's golden.safetensors (a failed expectation when absent).
inline std::vector<float> dicodeGolden(const std::string& name) {
    auto f = SafetensorsFile::open(kDicodeTinySet + "/golden.safetensors");
    EXPECT_TRUE(f.ok()) << f.error();
    if (!f.ok()) return {};
    const TensorInfo* t = (*f)->find(name);
    EXPECT_NE(t, nullptr) << name;
    if (!t) return {};
    std::vector<float> v((t->end - t->begin) / sizeof(float));
    std::memcpy(v.data(), (*f)->data(*t), v.size() * sizeof(float));
    return v;
}

// Fills `dir` (created, emptied first).
inline void writeTinyDicodeFolder(const std::filesystem::path& dir, bool constants = true) {
    namespace fs = std::filesystem;
    fs::remove_all(dir);
    fs::create_directories(dir);
    fs::copy_file(kDicodeTinySet + "/config.json", dir / "config.json");
    fs::create_symlink(fs::absolute(kDicodeTinySet + "/model.safetensors"), dir / "model.safetensors");
    if (constants) {
        const std::vector<float> text = dicodeGolden("text_context"), uc = dicodeGolden("uc_img_tokens");
        Status st =
            train::writeSafetensorsF32((dir / kDicodeConstantsFile).string(),
                                       {{"text_context", {77, 32}, &text}, {"uc_img_tokens", {4, 32}, &uc}});
        EXPECT_TRUE(st.ok()) << st.message();
    }
    std::ofstream tok(dir / "tokenizer.json");
    tok << R"({"version":"1.0","truncation":null,"padding":null,"added_tokens":[],"normalizer":null,)"
           R"("pre_tokenizer":{"type":"WhitespaceSplit"},"post_processor":null,"decoder":null,)"
           R"("model":{"type":"WordLevel","vocab":{"<unk>":0,"a":1,"cat":2,"runs":3,"dog":4,"<eos>":39},)"
           R"("unk_token":"<unk>"}})";
}

} // namespace tessera::test

// Janus-Pro's generation loop (prompt template, CFG rows and padding, guidance, feedback of the forced
// tokens) against tests/data/reference/janus_tiny_genloop: guided logits recorded by transformers'
// own JanusForConditionalGeneration.generate on the janus_tiny checkpoint
// (tools/reference/janus_generation_loop.py). Two checks per case: the captured guided logits of the
// forced steps, and the whole token grid under greedy decoding (the forced prefix, then the reference's
// greedy continuation), which goes through the sampler's own guidance rather than the captured copy.
#include "tessera/engine/engine.h"
#include "tessera/engine/janus.h"
#include "tessera/engine/tokenizer.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <string>
#include <unistd.h>
#include <vector>

namespace fs = std::filesystem;

namespace tessera {
namespace {

const std::string kModel = std::string(TESSERA_TEST_DATA_DIR) + "/reference/janus_tiny";
const std::string kGolden = std::string(TESSERA_TEST_DATA_DIR) + "/reference/janus_tiny_genloop/golden.json";
// float32 on both sides; the loop's logits stay below 1 in magnitude, so this is far above summation-order
// noise (about 1e-7 here) and far below what a wrong row, pad or weight moves them by.
constexpr float kTolerance = 1e-4f;

nlohmann::json readJson(const std::string& path) {
    std::ifstream in(path);
    EXPECT_TRUE(in.good()) << path;
    return nlohmann::json::parse(in);
}

const nlohmann::json& goldenCase(const std::string& name) {
    static const nlohmann::json golden = readJson(kGolden);
    for (const auto& c : golden["cases"])
        if (c["name"] == name) return c;
    ADD_FAILURE() << "no case " << name << " in " << kGolden;
    static const nlohmann::json none;
    return none;
}

struct Comparison {
    bool ran = false;
    float max_abs_diff = 0;
    std::string detail;
};

// Generates with the case's prompt, images, cfg and forced tokens and compares the guided logits of
// every recorded step.
Comparison compareToGolden(const nlohmann::json& c, const std::string& model_dir, const std::string* prompt) {
    Comparison out;
    auto be = createBackend("cpu", 2);
    if (!be) {
        out.detail = be.error();
        return out;
    }
    auto p = JanusPipeline::load(model_dir, **be);
    if (!p) {
        out.detail = p.error();
        return out;
    }
    JanusRequest req;
    req.prompt = prompt ? *prompt : c["prompt"].get<std::string>();
    req.images = c["images"].get<int>();
    req.sampler.cfg = c["cfg"].get<float>();
    // Greedy, as the reference ran: after the forced prefix the tokens come from the sampler's own
    // guidance, so they check the combine that drives sampling, not only the captured copy.
    req.sampler.temperature = 0.0f;
    req.forced = c["forced"].get<std::vector<std::vector<int32_t>>>();
    req.capture_logits_steps = c["steps"].get<int>();
    req.previews = false;
    std::atomic<bool> never{false};
    JobContext ctx(
        1, [](const Event&) {}, &never);
    auto r = (*p)->generate(req, ctx);
    if (!r) {
        out.detail = r.error();
        return out;
    }
    out.ran = true;
    const auto want = c["guided_logits"].get<std::vector<std::vector<float>>>();
    EXPECT_EQ(r->guided_logits.size(), want.size());
    for (size_t s = 0; s < std::min(want.size(), r->guided_logits.size()); ++s) {
        EXPECT_EQ(r->guided_logits[s].size(), want[s].size()) << "step " << s;
        for (size_t i = 0; i < std::min(want[s].size(), r->guided_logits[s].size()); ++i) {
            const float d = std::fabs(r->guided_logits[s][i] - want[s][i]);
            if (!(d <= out.max_abs_diff)) {
                out.max_abs_diff = std::isnan(d) ? INFINITY : d;
                out.detail = "step " + std::to_string(s) + " index " + std::to_string(i);
            }
        }
    }
    for (size_t im = 0; im < req.forced.size(); ++im)
        for (size_t s = 0; s < req.forced[im].size(); ++s)
            EXPECT_EQ(r->tokens[im][s], req.forced[im][s]) << "image " << im << " step " << s;
    // The reference's whole grid: the forced prefix, then its greedy continuation.
    EXPECT_EQ(r->tokens, c["tokens"].get<std::vector<std::vector<int32_t>>>()) << c["name"];
    return out;
}

void expectMatches(const std::string& name, const std::string& model_dir = kModel,
                   const std::string* prompt = nullptr) {
    const nlohmann::json& c = goldenCase(name);
    ASSERT_FALSE(c.is_null());
    Comparison cmp = compareToGolden(c, model_dir, prompt);
    ASSERT_TRUE(cmp.ran) << cmp.detail;
    std::printf("%s: max |guided - golden| = %.3g\n", name.c_str(), static_cast<double>(cmp.max_abs_diff));
    EXPECT_LE(cmp.max_abs_diff, kTolerance) << name << ": worst at " << cmp.detail;
}

fs::path tempCopyOfModel(const std::string& tag) {
    const fs::path dir =
        fs::temp_directory_path() / ("tessera_janus_genloop_" + tag + "_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    for (const auto& e : fs::directory_iterator(kModel)) fs::copy_file(e.path(), dir / e.path().filename());
    return dir;
}

} // namespace

// The golden's prompt ids are what Tessera's tokenizer gives for the formatted prompt (so a mismatch in
// the loop below is the loop's, not the tokenizer's).
TEST(JanusGenerationGolden, FormattedPromptsTokenizeAsTheReferenceDid) {
    auto tok = Tokenizer::load(kModel);
    ASSERT_TRUE(tok) << tok.error();
    for (const auto& c : readJson(kGolden)["cases"]) {
        const std::string text = c["formatted_prompt"].get<std::string>() + "<begin_of_image>";
        EXPECT_EQ(tok->encode(text, SpecialTokens::kTransformers), c["input_ids"].get<std::vector<int32_t>>())
            << c["name"];
    }
}

TEST(JanusGenerationGolden, OneImageCfg5MatchesTransformers) {
    expectMatches("one_image_cfg5");
}

// "  the cube \n": the user content is stripped before it goes into the template; two images with
// different forced tokens and another guidance weight.
TEST(JanusGenerationGolden, TwoImagesStrippedPromptCfg3MatchesTransformers) {
    expectMatches("two_images_cfg3_padded_prompt");
}

// Python's str.strip() also drops Unicode spaces (ideographic space, no-break space) and the
// separators U+001C..U+001F: this prompt formats exactly as "a red cube" does.
TEST(JanusGenerationGolden, UnicodeWhitespaceIsStrippedAsPythonStrips) {
    const std::string prompt = "\xe3\x80\x80\x1f a red cube\xc2\xa0\t\n";
    expectMatches("one_image_cfg5", kModel, &prompt);
}

// A prompt that is empty once stripped: the original conversation template writes
// "<|User|>:<|Assistant|>:" (no separator after an empty message).
TEST(JanusGenerationGolden, EmptyPromptFollowsTheOriginalTemplate) {
    expectMatches("empty_prompt_deepseek_template");
}

// The pad id comes from the vocabulary's <｜▁pad▁｜>, as the original processor (`pad_id`) and
// transformers' conversion script (generation_config.pad_token_id) find it, not from tokenizer_config's
// pad_token or the LM config's pad_token_id, which released checkpoints do not keep consistent.
TEST(JanusGenerationGolden, PadIdIsTheVocabularysPadToken) {
    const fs::path dir = tempCopyOfModel("pad");
    nlohmann::json tc = readJson((dir / "tokenizer_config.json").string());
    tc["pad_token"] = "<｜end▁of▁sentence｜>";
    std::ofstream(dir / "tokenizer_config.json") << tc.dump();
    nlohmann::json cfg = readJson((dir / "config.json").string());
    cfg["text_config"]["pad_token_id"] = 2;
    std::ofstream(dir / "config.json") << cfg.dump();
    expectMatches("one_image_cfg5", dir.string());
    fs::remove_all(dir);
}

TEST(JanusGenerationGolden, CapturesOnlyTheRequestedSteps) {
    auto be = createBackend("cpu", 1);
    ASSERT_TRUE(be);
    auto p = JanusPipeline::load(kModel, **be);
    ASSERT_TRUE(p) << p.error();
    JanusRequest req;
    req.prompt = "a red cube";
    req.images = 2;
    req.previews = false;
    std::atomic<bool> never{false};
    JobContext ctx(
        1, [](const Event&) {}, &never);
    auto none = (*p)->generate(req, ctx);
    ASSERT_TRUE(none) << none.error();
    EXPECT_TRUE(none->guided_logits.empty());
    req.capture_logits_steps = 3;
    auto three = (*p)->generate(req, ctx);
    ASSERT_TRUE(three) << three.error();
    ASSERT_EQ(three->guided_logits.size(), 3u);
    for (const auto& s : three->guided_logits)
        EXPECT_EQ(s.size(), static_cast<size_t>(2 * (*p)->info().codebook));
}

} // namespace tessera

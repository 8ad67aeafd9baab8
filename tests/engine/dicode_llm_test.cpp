// DiCoDe's LLM side against the official modules' run (reference/dicode_tiny), through the public
// loader and the verify runner, plus streaming, cancel, seeding, limits and bad input.
#include "tessera/engine/dicode.h"
#include "tessera/engine/engine.h"
#include "tessera/engine/verify.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <unistd.h>
#include <vector>

namespace fs = std::filesystem;

namespace tessera {
namespace {

const std::string kSet = std::string(TESSERA_TEST_DATA_DIR) + "/reference/dicode_tiny";

std::unique_ptr<Backend> cpu() {
    auto be = createBackend("cpu", 2);
    EXPECT_TRUE(be.ok()) << be.error();
    return std::move(*be);
}

bool llmGolden(const std::string& name) {
    for (const char* p : {"tok_", "uc_", "train_", "gen_"})
        if (name.rfind(p, 0) == 0) return true;
    return false;
}

// Every output and intermediate golden of the LLM side is compared and within tolerance; the set's
// inputs (features, ids, draws) are what the runs consume.
TEST(DicodeLlmReference, EveryLlmGoldenPasses) {
    auto be = cpu();
    auto report = verifyReferenceSet(kSet, *be);
    ASSERT_TRUE(report.ok()) << report.error();
    EXPECT_EQ(report->kind, "dicode");
    std::set<std::string> checked;
    for (const auto& c : report->checks) {
        if (!llmGolden(c.name)) continue;
        checked.insert(c.name);
        EXPECT_TRUE(c.passed) << c.name << " max|d| " << c.max_abs_diff << " " << c.detail;
        if (c.tolerance > 0) {
            EXPECT_LE(c.tolerance, 1e-4) << c.name;
        }
    }
    std::ifstream in(kSet + "/golden.json");
    const nlohmann::json golden = nlohmann::json::parse(in);
    size_t expected = 0;
    for (const auto& [name, meta] : golden.items()) {
        if (!llmGolden(name) || meta.at("role") == "input") continue;
        ++expected;
        EXPECT_TRUE(checked.count(name)) << name << " is not compared";
    }
    EXPECT_GE(expected, 17u);
    // The prompt layout is an exact check.
    EXPECT_TRUE(checked.count("gen_input_ids"));
}

class DicodeLlmTest : public ::testing::Test {
protected:
    void SetUp() override {
        be_ = cpu();
        auto m = DicodeLlm::load(kSet, *be_);
        ASSERT_TRUE(m.ok()) << m.error();
        llm_ = std::move(*m);
    }
    std::unique_ptr<Backend> be_;
    std::unique_ptr<DicodeLlm> llm_;
    const std::vector<int64_t> text_ = {28, 27, 27};
};

TEST_F(DicodeLlmTest, ReadsTheConfig) {
    const DicodeLlmConfig& c = llm_->config();
    EXPECT_EQ(c.num_img_tokens, 4);
    EXPECT_EQ(c.gmm_components, 4);
    EXPECT_EQ(c.token_dim, 32);
    EXPECT_EQ(c.text_length, 8);
    EXPECT_EQ(c.max_frames, 16); // VideoPosToken max_length 64 / 4 tokens
    EXPECT_EQ(c.boi_id, 41);
    EXPECT_EQ(c.pad_id, 39);
    // Prompt: truncation on the right, eos padding, then <img>.
    EXPECT_EQ(llm_->promptIds({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}),
              (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 41}));
    EXPECT_EQ(llm_->promptIds({}), (std::vector<int64_t>{39, 39, 39, 39, 39, 39, 39, 39, 41}));
}

TEST_F(DicodeLlmTest, KeyframesStreamAsGroupsAndMatchTheResult) {
    std::vector<int64_t> order;
    std::vector<float> streamed;
    DicodeGenerateOptions o;
    o.keyframes = 3;
    o.seed = 11;
    o.on_keyframe = [&](int64_t k, const std::vector<float>& tokens) {
        order.push_back(k);
        EXPECT_EQ(tokens.size(), 4u * 32u);
        streamed.insert(streamed.end(), tokens.begin(), tokens.end());
        return true;
    };
    auto r = llm_->generate(text_, o);
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(order, (std::vector<int64_t>{0, 1, 2}));
    EXPECT_EQ(r->keyframes, 3);
    EXPECT_FALSE(r->cancelled);
    EXPECT_EQ(streamed, r->tokens);
}

TEST_F(DicodeLlmTest, CancelStopsBetweenSteps) {
    DicodeGenerateOptions o;
    o.keyframes = 3;
    int64_t seen = 0;
    o.on_keyframe = [&](int64_t, const std::vector<float>&) { return ++seen < 2; }; // stop after the second
    auto r = llm_->generate(text_, o);
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_TRUE(r->cancelled);
    EXPECT_EQ(r->keyframes, 2);
    EXPECT_EQ(r->tokens.size(), 2u * 4u * 32u);

    int polls = 0;
    o.on_keyframe = nullptr;
    o.cancelled = [&] { return ++polls > 5; }; // cancel inside the second keyframe
    r = llm_->generate(text_, o);
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_TRUE(r->cancelled);
    EXPECT_EQ(r->keyframes, 1); // only whole keyframes are returned
    EXPECT_EQ(r->tokens.size(), 4u * 32u);
}

TEST_F(DicodeLlmTest, SeedDecidesTheSample) {
    DicodeGenerateOptions o;
    o.keyframes = 2;
    o.seed = 5;
    auto a = llm_->generate(text_, o), b = llm_->generate(text_, o);
    o.seed = 6;
    auto c = llm_->generate(text_, o);
    ASSERT_TRUE(a.ok() && b.ok() && c.ok());
    EXPECT_EQ(a->tokens, b->tokens);
    EXPECT_NE(a->tokens, c->tokens);
}

// With a vanishing variance the sample is one component's mean: the draw picks a whole component and
// moves by at most a few sigma around it.
TEST_F(DicodeLlmTest, SampleLiesOnOneComponent) {
    const int64_t k = 4, d = 32;
    DicodeGenerateOptions o;
    o.keyframes = 2;
    o.seed = 3;
    o.var_scale = 1e-12f;
    o.record_steps = true;
    auto r = llm_->generate(text_, o);
    ASSERT_TRUE(r.ok()) << r.error();
    std::set<int64_t> used;
    for (int64_t s = 0; s < 8; ++s) {
        const float* params = r->step_params.data() + s * (2 * k * d + k);
        const float* x = r->tokens.data() + s * d;
        int matches = 0;
        for (int64_t c = 0; c < k; ++c) {
            double worst = 0;
            for (int64_t e = 0; e < d; ++e)
                worst = std::max(worst, std::fabs(double(x[e]) - params[c * d + e]));
            if (worst < 1e-3) {
                ++matches;
                used.insert(c);
            }
        }
        EXPECT_EQ(matches, 1) << "step " << s;
    }
}

// The seeded draw follows the mixture: over many seeds the first token's component frequencies match
// softmax(mixture logits), and (x - mean_c) / sigma_c is standard normal. A seed's component does not
// depend on var_scale, so a run with a vanishing variance names the component of the run with var 1.
TEST_F(DicodeLlmTest, SeededDrawsFollowTheMixture) {
    const int64_t k = 4, d = 32, p = 2 * k * d + k;
    const int seeds = 1500;
    DicodeGenerateOptions o;
    o.keyframes = 1;
    o.record_steps = true;
    o.on_keyframe = [](int64_t, const std::vector<float>&) { return true; };
    std::vector<int> count(k, 0);
    double zsum = 0, zsq = 0;
    std::vector<float> params0;
    for (int s = 0; s < seeds; ++s) {
        o.seed = static_cast<uint64_t>(s) + 100;
        o.var_scale = 1e-12f;
        auto pick = llm_->generate(text_, o);
        o.var_scale = 1.0f;
        auto full = llm_->generate(text_, o);
        ASSERT_TRUE(pick.ok() && full.ok());
        if (params0.empty()) params0.assign(full->step_params.begin(), full->step_params.begin() + p);
        int c = -1;
        for (int64_t j = 0; j < k && c < 0; ++j) {
            double worst = 0;
            for (int64_t e = 0; e < d; ++e)
                worst = std::max(worst, std::fabs(double(pick->tokens[e]) - params0[j * d + e]));
            if (worst < 1e-3) c = static_cast<int>(j);
        }
        ASSERT_GE(c, 0);
        ++count[static_cast<size_t>(c)];
        for (int64_t e = 0; e < d; ++e) {
            const double raw = params0[k * d + c * d + e];
            const double var = std::max(raw > 20 ? raw : std::log1p(std::exp(raw)), 1e-5);
            const double z = (full->tokens[e] - params0[c * d + e]) / std::sqrt(var);
            zsum += z;
            zsq += z * z;
        }
    }
    double mx = -1e300, norm = 0;
    for (int64_t j = 0; j < k; ++j) mx = std::max(mx, double(params0[2 * k * d + j]));
    for (int64_t j = 0; j < k; ++j) norm += std::exp(params0[2 * k * d + j] - mx);
    for (int64_t j = 0; j < k; ++j) {
        const double prob = std::exp(params0[2 * k * d + j] - mx) / norm;
        const double freq = double(count[static_cast<size_t>(j)]) / seeds;
        EXPECT_NEAR(freq, prob, 4 * std::sqrt(prob * (1 - prob) / seeds) + 1e-3) << "component " << j;
    }
    const double n = double(seeds) * d, mean = zsum / n, var = zsq / n - mean * mean;
    EXPECT_NEAR(mean, 0.0, 4 / std::sqrt(n));
    EXPECT_NEAR(var, 1.0, 0.03);
}

TEST_F(DicodeLlmTest, LengthLimitIsAClearError) {
    // 64 positions: prompt 9 + 5 per keyframe, the last token never fed -> 11 keyframes.
    EXPECT_EQ(llm_->config().maxKeyframes(64), 11);
    DicodeGenerateOptions o;
    o.do_sample = false;
    o.keyframes = 11;
    auto ok = llm_->generate(text_, o);
    ASSERT_TRUE(ok.ok()) << ok.error();
    EXPECT_EQ(ok->keyframes, 11);
    o.keyframes = 12;
    auto bad = llm_->generate(text_, o);
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().find("1 to 11"), std::string::npos) << bad.error();
    o.keyframes = 0;
    EXPECT_FALSE(llm_->generate(text_, o).ok());
}

TEST_F(DicodeLlmTest, BadInputIsAnError) {
    DicodeGenerateOptions o;
    EXPECT_FALSE(llm_->generate({1000}, o).ok()); // outside the vocabulary
    o.var_scale = -1;
    EXPECT_FALSE(llm_->generate(text_, o).ok());
    o.var_scale = 0.01f;
    DicodeGmmDraws short_draws{{0}, std::vector<float>(32)};
    o.replay = &short_draws;
    EXPECT_FALSE(llm_->generate(text_, o).ok());
    DicodeGmmDraws bad_component{std::vector<int64_t>(8, 9), std::vector<float>(8 * 32)};
    o.replay = &bad_component;
    EXPECT_FALSE(llm_->generate(text_, o).ok());

    // Teacher forcing: a mask that is not whole keyframes, targets of the wrong size.
    std::vector<int64_t> ids = {28, 41, 42, 43, 44, 45}, mask = {0, 0, 1, 1, 1, 1};
    std::vector<float> targets(4 * 32, 0.1f);
    EXPECT_TRUE(llm_->teacherForced(ids, mask, targets).ok());
    EXPECT_FALSE(llm_->teacherForced(ids, {0, 0, 1, 1, 1, 0}, targets).ok());
    EXPECT_FALSE(llm_->teacherForced(ids, mask, std::vector<float>(5)).ok());
    EXPECT_FALSE(llm_->teacherForced({28, 41}, {0, 0, 1}, targets).ok());
}

TEST(DicodeLlmLoad, BrokenFoldersAreErrors) {
    auto be = cpu();
    const fs::path dir = fs::temp_directory_path() / ("tessera_dicode_llm_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    fs::copy_file(kSet + "/model.safetensors", dir / "model.safetensors",
                  fs::copy_options::overwrite_existing);
    std::ifstream in(kSet + "/config.json");
    nlohmann::json cfg = nlohmann::json::parse(in);
    auto write = [&](const nlohmann::json& j) { std::ofstream(dir / "config.json") << j.dump(); };

    nlohmann::json no_llm = cfg;
    no_llm.erase("llm");
    write(no_llm);
    auto r = DicodeLlm::load(dir.string(), *be);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().find("llm"), std::string::npos) << r.error();

    nlohmann::json wrong_k = cfg;
    wrong_k["llm"]["agent"]["num_gmm_kernel"] = 3; // 260 outputs are not 2·3·d + 3
    write(wrong_k);
    r = DicodeLlm::load(dir.string(), *be);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().find("output_resampler.2.weight"), std::string::npos) << r.error();

    nlohmann::json wide = cfg;
    wide["llm"]["gpt2"]["n_embd"] = 128;
    write(wide);
    r = DicodeLlm::load(dir.string(), *be);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().find("llm_agent.llm.transformer."), std::string::npos) << r.error();
    fs::remove_all(dir);
}

TEST(DicodeResamplerTest, WrongFeatureWidthIsAnError) {
    auto be = cpu();
    auto ckpt = Checkpoint::open(kSet);
    ASSERT_TRUE(ckpt.ok()) << ckpt.error();
    auto rc = DicodeResamplerConfig::fromJson(
        ckpt->config().json()["tokenizer_model"]["params"]["image_proj_stage_config"]["params"]);
    ASSERT_TRUE(rc.ok()) << rc.error();
    EXPECT_EQ(rc->embedding_dim, 40);
    auto r = DicodeResampler::load(*ckpt, *be, "image_proj_model.", *rc);
    ASSERT_TRUE(r.ok()) << r.error();
    Tensor x = be->fromF32(std::vector<float>(2 * 5 * 40, 0.5f), {2, 5, 40});
    EXPECT_EQ(r->forward(x).shape(), (Shape{2, 4, 32}));
    EXPECT_THROW(r->forward(be->fromF32(std::vector<float>(5 * 41), {1, 5, 41})), Error);
    auto missing = DicodeResampler::load(*ckpt, *be, "no_such_prefix.", *rc);
    ASSERT_FALSE(missing.ok());
    EXPECT_NE(missing.error().find("no_such_prefix.latents"), std::string::npos) << missing.error();
}

} // namespace
} // namespace tessera

namespace tessera {
namespace {

// The random writer's folder loads through the same loader (config read back, official names) and
// generates; its Resampler has the tokenizer's layout.
TEST(DicodeRandomCheckpoint, TinyShapeLoadsAndGenerates) {
    auto be = cpu();
    auto shape = dicodeLlmShape("tiny");
    ASSERT_TRUE(shape.ok()) << shape.error();
    const fs::path dir = fs::temp_directory_path() / ("tessera_dicode_random_" + std::to_string(::getpid()));
    ASSERT_TRUE(writeRandomDicodeCheckpoint(*shape, dir.string(), 3).ok());
    auto m = DicodeLlm::load(dir.string(), *be);
    ASSERT_TRUE(m.ok()) << m.error();
    EXPECT_EQ((*m)->config().token_dim, 32);
    EXPECT_EQ((*m)->config().max_frames, 16);
    EXPECT_EQ((*m)->backboneConfig().vocab, 106);
    ASSERT_NE((*m)->preInputResampler(), nullptr);
    DicodeGenerateOptions o;
    o.keyframes = 2;
    auto r = (*m)->generate({1, 2, 3}, o);
    ASSERT_TRUE(r.ok()) << r.error();
    ASSERT_EQ(r->tokens.size(), 2u * 4u * 32u);
    for (float v : r->tokens) ASSERT_TRUE(std::isfinite(v));
    // Every tensor the official tiny set has (LLM side and image_proj_model) is written, same shapes.
    auto mine = Checkpoint::open(dir.string());
    auto ref = Checkpoint::open(kSet);
    ASSERT_TRUE(mine.ok() && ref.ok());
    for (const std::string& name : ref->names()) {
        if (name.rfind("llm_agent.", 0) != 0 && name.rfind("image_proj_model.", 0) != 0) continue;
        const TensorInfo* a = mine->find(name);
        ASSERT_NE(a, nullptr) << name;
        EXPECT_EQ(a->shape, ref->find(name)->shape) << name;
    }
    EXPECT_FALSE(dicodeLlmShape("huge").ok());
    fs::remove_all(dir);
}

} // namespace
} // namespace tessera

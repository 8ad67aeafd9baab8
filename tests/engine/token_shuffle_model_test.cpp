// Token-Shuffle family: s = 1 reduces to the plain Llama family (transformers' logits of llama_tiny are
// the oracle), windows never see later windows, and the one-window step path matches the prefill.
#include "models/token_shuffle.h"
#include "tessera/engine/engine.h"
#include "token_shuffle_test_util.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <gtest/gtest.h>

namespace fs = std::filesystem;

namespace tessera {
namespace {

using models::TokenShuffleModel;

std::unique_ptr<TokenShuffleModel> loadModel(const fs::path& dir, Backend& be) {
    auto ckpt = Checkpoint::open(dir.string());
    EXPECT_TRUE(ckpt.ok()) << ckpt.error();
    if (!ckpt) return nullptr;
    auto m = TokenShuffleModel::load(*ckpt, be, /*with_vq=*/false);
    EXPECT_TRUE(m.ok()) << m.error();
    return m ? std::move(*m) : nullptr;
}

// Text ids through the LM's embedding, then image codes through the shuffle; logits of every position
// through the unshuffle.
std::vector<float> prefillLogits(TokenShuffleModel& m, const std::vector<int64_t>& text,
                                 const std::vector<int64_t>& codes) {
    Backend& be = m.backend();
    KvCache cache = m.lm().newCache(1, 64);
    Tensor e = m.lm().embed(be.fromI64(text, {1, static_cast<int64_t>(text.size())}));
    if (!codes.empty()) e = be.concat(e, m.shuffleIn(codes, 1), 1);
    return be.readF32(m.unshuffleLogits(m.lm().forward(e, cache)));
}

TEST(TokenShuffleModel, WindowOneReproducesTheLlamaReference) {
    const fs::path dir = test::makeLlamaTinyTokenShuffle("identity", 1, /*identity_weights=*/true);
    const std::string ref = std::string(TESSERA_TEST_DATA_DIR) + "/reference/llama_tiny";
    auto be = createBackend("cpu", 2);
    ASSERT_TRUE(be.ok()) << be.error();
    auto m = loadModel(dir, **be);
    ASSERT_TRUE(m);
    auto golden = Checkpoint::openFiles({ref + "/golden.safetensors"});
    ASSERT_TRUE(golden.ok()) << golden.error();
    auto ids_t = golden->load("input_ids", **be);
    auto want_t = golden->load("prefill_logits", **be);
    ASSERT_TRUE(ids_t.ok() && want_t.ok());
    const std::vector<int64_t> ids = (*be)->readI64(*ids_t);
    const std::vector<float> want = (*be)->readF32(*want_t); // transformers' LlamaForCausalLM
    ASSERT_EQ(ids.size(), 10u);

    // The first token as text, the other nine as image codes through the shuffle path.
    const std::vector<float> got =
        prefillLogits(*m, {ids[0]}, std::vector<int64_t>(ids.begin() + 1, ids.end()));
    ASSERT_EQ(got.size(), want.size());
    double max_diff = 0, max_ref = 0;
    for (size_t i = 0; i < got.size(); ++i) {
        max_diff = std::max(max_diff, static_cast<double>(std::fabs(got[i] - want[i])));
        max_ref = std::max(max_ref, static_cast<double>(std::fabs(want[i])));
    }
    EXPECT_LT(max_diff, 1e-4 * std::max(1.0, max_ref)) << "max |logit| " << max_ref;

    // And bit for bit the plain Llama family on the same folder.
    auto ckpt = Checkpoint::open(dir.string());
    ASSERT_TRUE(ckpt.ok());
    auto plain = loadCausalLM(*ckpt, **be);
    ASSERT_TRUE(plain.ok()) << plain.error();
    KvCache cache = (*plain)->newCache(1, 16);
    const std::vector<float> llama = (*be)->readF32(
        (*plain)->logits((*plain)->forward((*plain)->embed((*be)->fromI64(ids, {1, 10})), cache)));
    EXPECT_EQ(got, llama);
    fs::remove_all(dir);
}

TEST(TokenShuffleModel, NonIdentityWeightsChangeTheLogits) {
    // The identity case above is not vacuous: the same codes through random shuffle tensors differ.
    const fs::path dir = test::makeLlamaTinyTokenShuffle("nonidentity", 1, /*identity_weights=*/false);
    auto be = createBackend("cpu", 1);
    auto m = loadModel(dir, **be);
    ASSERT_TRUE(m);
    const fs::path idir = test::makeLlamaTinyTokenShuffle("identity2", 1, true);
    auto mi = loadModel(idir, **be);
    ASSERT_TRUE(mi);
    const std::vector<int64_t> text = {1, 5}, codes = {3, 9, 27};
    const auto a = prefillLogits(*m, text, codes), b = prefillLogits(*mi, text, codes);
    double diff = 0;
    for (size_t i = 0; i < a.size(); ++i) diff = std::max(diff, static_cast<double>(std::fabs(a[i] - b[i])));
    EXPECT_GT(diff, 1e-2);
    fs::remove_all(dir);
    fs::remove_all(idir);
}

class TokenShuffleWindows : public ::testing::TestWithParam<int> {};

// Changing window k's codes never changes the predictions of windows <= k (made at the positions
// before window k), and does change the prediction of window k + 1.
TEST_P(TokenShuffleWindows, WindowsNeverSeeLaterWindows) {
    const int s = GetParam();
    const int64_t ss = s * s, windows = 5;
    const fs::path dir =
        test::makeLlamaTinyTokenShuffle("causal" + std::to_string(s), s, /*identity_weights=*/false);
    auto be = createBackend("cpu", 2);
    auto m = loadModel(dir, **be);
    ASSERT_TRUE(m);
    const std::vector<int64_t> text = {1, 17, 42}; // the last text position predicts window 0
    std::vector<int64_t> codes(static_cast<size_t>(windows * ss));
    for (size_t i = 0; i < codes.size(); ++i) codes[i] = static_cast<int64_t>((i * 37 + 11) % 256);
    const std::vector<float> base = prefillLogits(*m, text, codes);
    const int64_t v = 256, row = ss * v; // logits per position
    for (int64_t k = 0; k < windows; ++k) {
        std::vector<int64_t> changed = codes;
        for (int64_t j = 0; j < ss; ++j)
            changed[static_cast<size_t>(k * ss + j)] = (changed[static_cast<size_t>(k * ss + j)] + 101) % 256;
        const std::vector<float> other = prefillLogits(*m, text, changed);
        // Window w is predicted at position text.size() - 1 + w.
        for (int64_t w = 0; w <= windows; ++w) {
            const int64_t pos = static_cast<int64_t>(text.size()) - 1 + w;
            const auto b = base.begin() + pos * row, o = other.begin() + pos * row;
            const bool same = std::equal(b, b + row, o);
            if (w <= k) {
                EXPECT_TRUE(same) << "window " << w << " changed when window " << k << " did";
            } else if (w == k + 1) {
                EXPECT_FALSE(same) << "window " << w << " ignores window " << k;
            }
        }
    }
    fs::remove_all(dir);
}

// One window per forward on a KV cache (the decode step) gives the prefill's predictions.
TEST_P(TokenShuffleWindows, StepByStepMatchesPrefill) {
    const int s = GetParam();
    const int64_t ss = s * s, windows = 4;
    const fs::path dir = test::makeLlamaTinyTokenShuffle("steps" + std::to_string(s), s, false);
    auto be = createBackend("cpu", 1);
    auto m = loadModel(dir, **be);
    ASSERT_TRUE(m);
    Backend& b = **be;
    const std::vector<int64_t> text = {1, 17, 42};
    std::vector<int64_t> codes(static_cast<size_t>(windows * ss));
    for (size_t i = 0; i < codes.size(); ++i) codes[i] = static_cast<int64_t>((i * 53 + 5) % 256);
    const std::vector<float> whole = prefillLogits(*m, text, codes);
    KvCache cache = m->lm().newCache(1, 64);
    Tensor h = m->lm().forward(m->lm().embed(b.fromI64(text, {1, 3})), cache);
    std::vector<float> steps = b.readF32(m->unshuffleLogits(b.slice(h, 1, 2, 3)));
    for (int64_t w = 0; w < windows; ++w) {
        std::vector<int64_t> one(codes.begin() + w * ss, codes.begin() + (w + 1) * ss);
        auto l = b.readF32(m->unshuffleLogits(m->lm().forward(m->shuffleIn(one, 1), cache)));
        steps.insert(steps.end(), l.begin(), l.end());
    }
    const int64_t row = ss * 256;
    ASSERT_EQ(static_cast<int64_t>(steps.size()), (windows + 1) * row);
    double diff = 0;
    for (int64_t i = 0; i < (windows + 1) * row; ++i)
        diff = std::max(diff, static_cast<double>(std::fabs(steps[static_cast<size_t>(i)] -
                                                            whole[static_cast<size_t>(2 * row + i)])));
    EXPECT_LT(diff, 1e-4);
    fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Sizes, TokenShuffleWindows, ::testing::Values(1, 2, 4));

TEST(TokenShuffleModel, BadConfigsAreClearErrors) {
    auto be = createBackend("cpu", 1);
    for (const auto& [key, value] :
         std::vector<std::pair<std::string, nlohmann::json>>{{"window", 3},
                                                             {"image_vocab_size", 1000},
                                                             {"mlp_act", "swish9"},
                                                             {"image_start_token_id", nullptr}}) {
        const fs::path dir = test::makeLlamaTinyTokenShuffle("bad", 2, false);
        nlohmann::json cfg = nlohmann::json::parse(std::ifstream(dir / "config.json"));
        if (value.is_null())
            cfg["token_shuffle"].erase(key);
        else
            cfg["token_shuffle"][key] = value;
        std::ofstream(dir / "config.json") << cfg.dump();
        auto ckpt = Checkpoint::open(dir.string());
        ASSERT_TRUE(ckpt.ok());
        auto m = models::TokenShuffleModel::load(*ckpt, **be, false);
        ASSERT_FALSE(m.ok()) << key;
        EXPECT_NE(m.error().find(key), std::string::npos) << m.error();
        fs::remove_all(dir);
    }
    // A missing tensor is named.
    const fs::path dir = test::makeLlamaTinyTokenShuffle("missing", 2, false);
    nlohmann::json cfg = nlohmann::json::parse(std::ifstream(dir / "config.json"));
    cfg["token_shuffle"]["in_blocks"] = 3;
    std::ofstream(dir / "config.json") << cfg.dump();
    auto ckpt = Checkpoint::open(dir.string());
    auto m = models::TokenShuffleModel::load(*ckpt, **be, false);
    ASSERT_FALSE(m.ok());
    EXPECT_NE(m.error().find("token_shuffle.in_blocks.2.fc1.weight"), std::string::npos) << m.error();
    fs::remove_all(dir);
}

} // namespace
} // namespace tessera

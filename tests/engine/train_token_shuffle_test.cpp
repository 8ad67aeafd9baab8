// Token-Shuffle text→image training (engine/train_token_shuffle.h) on tiny sizes.
//
// The oracle is the inference side, an independent implementation of the same network: a trained model
// is saved and loaded by the Token-Shuffle pipeline (TokenShufflePipeline: its own prompt and CFG rows,
// the model family's shuffle and unshuffle on backend ops, one LM step per window through the KV cache).
// With forced tokens and guidance 1 (0) under a constant schedule, its guided logits are the conditional
// (unconditional) row's logits, and they must equal the tape's within 1e-4 for every window. Also: the
// window order of the codes, a bf16 save read back, and the loss falling in training.
#include "engine/image_gen_train_support.h"
#include "tessera/engine/engine.h"
#include "tessera/engine/token_shuffle.h"
#include "tessera/engine/train_loop.h"
#include "tessera/engine/train_token_shuffle.h"
#include "tessera/engine/train_vq.h"

#include <cmath>
#include <filesystem>
#include <gtest/gtest.h>
#include <string>
#include <unistd.h>
#include <vector>

namespace tessera {
namespace {

namespace fs = std::filesystem;
using train::JanusGenExample;
using train::Tape;
using train::TokenShuffleGenInit;
using train::TokenShuffleTrainModel;

using test::maxAbsDiff;
using test::tinyCodes;
const std::vector<std::string>& kWords = test::kCaptionWords;

class TrainTokenShuffle : public ::testing::Test {
protected:
    void SetUp() override {
        root_ = fs::temp_directory_path() / ("tessera_train_tshuffle_" + std::to_string(::getpid()));
        fs::remove_all(root_);
        ASSERT_TRUE(test::writeTinyVq((root_ / "vq").string()).ok());
    }
    void TearDown() override { fs::remove_all(root_); }

    TokenShuffleGenInit init() const {
        TokenShuffleGenInit in;
        in.model.hidden = 32;
        in.model.layers = 2;
        in.model.heads = 4;
        in.model.kv_heads = 2;
        in.model.intermediate = 48;
        in.model.max_positions = 64;
        in.vq_dir = (root_ / "vq").string();
        in.grid = 4;
        in.window = 2;
        in.blocks = 1;
        in.words = kWords;
        in.seed = 13;
        return in;
    }

    // Raster-order codes of a 4×4 image.
    static std::vector<int64_t> codes(int k) { return tinyCodes(k); }

    static std::vector<JanusGenExample> batchOf(const TokenShuffleTrainModel& m) {
        return {{m.conditional("a small red metal cube"), codes(0)},
                {m.conditional("a large blue rubber sphere left of a small green metal cylinder"), codes(1)},
                {m.unconditional(m.conditional("a small blue rubber cube")), codes(2)},
                {m.conditional("a large red rubber cylinder"), codes(3)}};
    }

    static void trainSome(TokenShuffleTrainModel& m, int steps, std::vector<float>* losses = nullptr) {
        const std::vector<JanusGenExample> batch = batchOf(m);
        train::TrainerOptions opt;
        opt.adam.lr = 1e-2;
        train::Trainer trainer(m.parameters(), opt,
                               [&](Tape<float>& t, int64_t, int) { return m.loss(t, batch); });
        Status s = trainer.run(steps);
        ASSERT_TRUE(s.ok()) << s.message();
        if (losses) *losses = trainer.losses();
    }

    static void spread(TokenShuffleTrainModel& m, float amount) {
        test::spreadWeights(m.parameters(), amount);
    }

    fs::path root_;
};

// The tape's logits for one row at positions prompt_len − 1 … (the n windows' predictions), s² rows each.
std::vector<float> tapeWindowLogits(TokenShuffleTrainModel& m, const std::vector<int64_t>& prompt,
                                    const std::vector<int64_t>& raster) {
    Tape<float> t;
    const int64_t len = static_cast<int64_t>(prompt.size()), ss = m.window() * m.window(),
                  n = (m.grid() / m.window()) * (m.grid() / m.window()), k = m.codebook();
    const std::vector<int64_t> windowed = train::codesInWindowOrder(raster, m.grid(), m.window());
    const std::vector<float>& all = t.value(m.logits(t, prompt, windowed, 1, len));
    return std::vector<float>(all.begin() + (len - 1) * ss * k, all.begin() + (len - 1 + n) * ss * k);
}

} // namespace

TEST_F(TrainTokenShuffle, WindowOrderIsWindowAfterWindowSlotsRowMajor) {
    // 4×4 raster ids 0..15: window 0 holds cells 0, 1, 4, 5; window 1 cells 2, 3, 6, 7; and so on.
    std::vector<int64_t> raster(16);
    for (int64_t i = 0; i < 16; ++i) raster[static_cast<size_t>(i)] = i;
    EXPECT_EQ(train::codesInWindowOrder(raster, 4, 2),
              (std::vector<int64_t>{0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15}));
    EXPECT_EQ(train::codesInWindowOrder(raster, 4, 1), raster);
    EXPECT_THROW(train::codesInWindowOrder(raster, 4, 3), Error);
}

TEST_F(TrainTokenShuffle, TapeLogitsEqualThePipelinesForEveryWindow) {
    auto m = TokenShuffleTrainModel::create(init(), (root_ / "model").string());
    ASSERT_TRUE(m.ok()) << m.error();
    trainSome(*m, 2);
    spread(*m, 0.3f);
    const std::string dir = (root_ / "f32").string();
    ASSERT_TRUE(m->save(dir, train::SaveDType::F32).ok());
    auto be = createBackend("cpu", 2);
    ASSERT_TRUE(be.ok());
    auto pipe = TokenShufflePipeline::load(dir, **be);
    ASSERT_TRUE(pipe.ok()) << pipe.error();
    EXPECT_EQ((*pipe)->info().window, 2);
    EXPECT_EQ((*pipe)->info().grid, 4);
    EXPECT_EQ((*pipe)->info().image_size, 8);

    const std::string caption = "a large green metal cylinder left of a small red rubber cube";
    const std::vector<int64_t> c = codes(9);
    const std::vector<int64_t> windowed = train::codesInWindowOrder(c, 4, 2);
    const std::vector<int64_t> cond = m->conditional(caption);
    for (float cfg : {1.0f, 0.0f}) {
        TokenShuffleRequest req;
        req.prompt = caption;
        req.sampler.cfg = cfg;
        req.cfg_schedule = CfgSchedule::Constant;
        req.forced = {std::vector<int32_t>(windowed.begin(), windowed.end())};
        req.capture_logits_steps = 4;
        req.previews = false;
        JobContext ctx(1, nullptr, nullptr);
        auto r = (*pipe)->generate(req, ctx);
        ASSERT_TRUE(r.ok()) << r.error();
        ASSERT_EQ(r->guided_logits.size(), 4u);
        EXPECT_EQ(r->tokens[0], std::vector<int32_t>(windowed.begin(), windowed.end()));
        std::vector<float> pipeline;
        for (const auto& step : r->guided_logits) pipeline.insert(pipeline.end(), step.begin(), step.end());
        // Guidance 1 gives the conditional row's logits, guidance 0 the unconditional row's.
        const std::vector<float> tape = tapeWindowLogits(*m, cfg == 1.0f ? cond : m->unconditional(cond), c);
        ASSERT_EQ(tape.size(), static_cast<size_t>(4 * 4 * 16));
        EXPECT_LT(maxAbsDiff(tape, pipeline), 1e-4) << "guidance " << cfg;
        // Not trivially equal: the logits vary over windows.
        EXPECT_GT(maxAbsDiff(std::vector<float>(tape.begin(), tape.begin() + 64),
                             std::vector<float>(tape.end() - 64, tape.end())),
                  1e-3);
    }
    // The two rows differ (the caption matters), so the comparison above tells them apart.
    EXPECT_GT(maxAbsDiff(tapeWindowLogits(*m, cond, c), tapeWindowLogits(*m, m->unconditional(cond), c)),
              1e-4);
}

TEST_F(TrainTokenShuffle, Bf16SaveReadsBackAndTheLossFalls) {
    auto m = TokenShuffleTrainModel::create(init(), (root_ / "model").string());
    ASSERT_TRUE(m.ok()) << m.error();
    std::vector<float> losses;
    trainSome(*m, 30, &losses);
    ASSERT_EQ(losses.size(), 30u);
    EXPECT_LT(losses.back(), 0.7f * losses.front());
    // The initial loss is about ln(16): the codes are near-uniform before training.
    EXPECT_NEAR(losses.front(), std::log(16.0f), 0.3f);

    const std::string dir = (root_ / "bf16").string();
    ASSERT_TRUE(m->save(dir, train::SaveDType::BF16).ok());
    auto back = TokenShuffleTrainModel::load(dir);
    ASSERT_TRUE(back.ok()) << back.error();
    ASSERT_EQ(back->parameters().size(), m->parameters().size());
    // Every weight is its bf16 rounding (relative error at most 2^-8).
    for (size_t i = 0; i < m->parameters().size(); ++i) {
        const auto& a = m->parameters()[i].value;
        const auto& b = back->parameters()[i].value;
        ASSERT_EQ(a.size(), b.size()) << m->parameters()[i].name;
        for (size_t j = 0; j < a.size(); ++j)
            ASSERT_LE(std::fabs(a[j] - b[j]), std::fabs(a[j]) / 256.0f + 1e-30f) << m->parameters()[i].name;
    }
    Tape<float> t1, t2;
    const float l1 = t1.scalar(m->loss(t1, batchOf(*m))), l2 = t2.scalar(back->loss(t2, batchOf(*back)));
    EXPECT_NEAR(l1, l2, 0.05f);
    // The pipeline loads the bf16 folder and draws a picture.
    auto be = createBackend("cpu", 1);
    ASSERT_TRUE(be.ok());
    auto pipe = TokenShufflePipeline::load(dir, **be);
    ASSERT_TRUE(pipe.ok()) << pipe.error();
    TokenShuffleRequest req;
    req.prompt = "a small red metal cube";
    req.previews = false;
    JobContext ctx(1, nullptr, nullptr);
    auto r = (*pipe)->generate(req, ctx);
    ASSERT_TRUE(r.ok()) << r.error();
    ASSERT_EQ(r->images.size(), 1u);
    EXPECT_EQ(r->images[0].width, 8);
}

TEST_F(TrainTokenShuffle, BadSizesAreRefused) {
    TokenShuffleGenInit bad = init();
    bad.model.hidden = 36; // not a multiple of window² = 4 heads of even width... 36/4 = 9: odd
    EXPECT_FALSE(TokenShuffleTrainModel::create(bad, (root_ / "a").string()).ok());
    bad = init();
    bad.grid = 5;
    EXPECT_FALSE(TokenShuffleTrainModel::create(bad, (root_ / "b").string()).ok());
    bad = init();
    bad.window = 3; // 32 is not a multiple of 9
    EXPECT_FALSE(TokenShuffleTrainModel::create(bad, (root_ / "c").string()).ok());
    EXPECT_FALSE(TokenShuffleTrainModel::load((root_ / "vq").string()).ok()); // not a Token-Shuffle folder
}

} // namespace tessera

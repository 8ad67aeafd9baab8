// Janus-Pro text→image training (engine/train_janus_gen.h) on tiny sizes.
//
// The oracles are the inference side, an independent implementation of the same network: a trained
// model is saved, loaded by the normal Janus loader (JanusModel, backend ops) and by the pipeline
// (JanusPipeline: its own prompt template, tokenizer call, CFG rows and KV-cache positions), and their
// logits for the same image tokens must equal the tape's within 1e-4. The pipeline's guided logits with
// forced tokens are its conditional row's logits at guidance 1 and its unconditional row's at guidance 0
// (uncond + w·(cond − uncond)), so the training rows are checked against the rows generation really
// feeds. The tokenizer is checked against its own vocabulary lookups and by round trip; the loss by a
// relation (grouped rows give the token-weighted mean of each group's loss) and by falling in training.
#include "engine/image_gen_train_support.h"
#include "models/janus_model.h"
#include "tessera/engine/checkpoint.h"
#include "tessera/engine/engine.h"
#include "tessera/engine/janus.h"
#include "tessera/engine/train_janus_gen.h"
#include "tessera/engine/train_loop.h"
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
using train::JanusGenInit;
using train::JanusGenTrainModel;
using train::Tape;

using test::maxAbsDiff;
using test::tinyCodes;
const std::vector<std::string>& kWords = test::kCaptionWords;

class TrainJanusGen : public ::testing::Test {
protected:
    void SetUp() override {
        root_ = fs::temp_directory_path() / ("tessera_train_janus_gen_" + std::to_string(::getpid()));
        fs::remove_all(root_);
        ASSERT_TRUE(test::writeTinyVq((root_ / "vq").string()).ok());
    }
    void TearDown() override { fs::remove_all(root_); }

    JanusGenInit init() const {
        JanusGenInit in;
        in.model.hidden = 32;
        in.model.layers = 2;
        in.model.heads = 4;
        in.model.kv_heads = 2;
        in.model.intermediate = 48;
        in.model.max_positions = 64;
        in.vq_dir = (root_ / "vq").string();
        in.grid = 4;
        in.words = kWords;
        in.seed = 11;
        return in;
    }

    static std::vector<int64_t> codes(int k) { return tinyCodes(k); }

    // A few Adam steps on mixed prompt lengths so every tensor has moved off its initial value.
    static void trainSome(JanusGenTrainModel& m, int steps, std::vector<float>* losses = nullptr) {
        std::vector<JanusGenExample> batch = {
            {m.prompts().conditional("a small red metal cube"), codes(0)},
            {m.prompts().conditional("a large blue rubber sphere left of a small green metal cylinder"),
             codes(1)},
            {m.prompts().unconditional(m.prompts().conditional("a small blue rubber cube")), codes(2)},
            {m.prompts().conditional("a large red rubber cylinder"), codes(3)}};
        train::TrainerOptions opt;
        opt.adam.lr = 1e-2;
        train::Trainer trainer(m.parameters(), opt,
                               [&](Tape<float>& t, int64_t, int) { return m.loss(t, batch); });
        Status s = trainer.run(steps);
        ASSERT_TRUE(s.ok()) << s.message();
        if (losses) *losses = trainer.losses();
    }

    static void spread(JanusGenTrainModel& m, float amount) { test::spreadWeights(m.parameters(), amount); }

    fs::path root_;
};

// The tape's logits for one row, positions prompt_len-1 .. prompt_len+n-2 (the n image-token predictions).
std::vector<float> tapeImageLogits(JanusGenTrainModel& m, const std::vector<int64_t>& prompt,
                                   const std::vector<int64_t>& codes) {
    Tape<float> t;
    const int64_t len = static_cast<int64_t>(prompt.size()), n = static_cast<int64_t>(codes.size()),
                  k = m.codebook();
    const std::vector<float>& all = t.value(m.logits(t, prompt, codes, 1, len));
    return std::vector<float>(all.begin() + (len - 1) * k, all.begin() + (len - 1 + n) * k);
}

TEST_F(TrainJanusGen, WordTokenizerEncodesTheJanusPromptAndRoundTrips) {
    auto files = train::janusWordTokenizer(kWords);
    ASSERT_TRUE(files.ok()) << files.error();
    auto tok = Tokenizer::fromJson(files->tokenizer_json, files->tokenizer_config_json);
    ASSERT_TRUE(tok.ok()) << tok.error();
    // Fixed ids of the template's special tokens, then <unk>, ":" and the words in order.
    const char* specials[] = {
        "<｜▁pad▁｜>",      "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<|User|>", "<|Assistant|>",
        "<begin_of_image>", "<end_of_image>",          "<image_placeholder>",   "<unk>",    ":"};
    for (int i = 0; i < 10; ++i) EXPECT_EQ(tok->tokenId(specials[i]), i) << specials[i];
    for (size_t i = 0; i < kWords.size(); ++i)
        EXPECT_EQ(tok->tokenId(kWords[i]), static_cast<int32_t>(10 + i));
    EXPECT_EQ(tok->vocabSize(), 10 + kWords.size());

    const std::string caption = "a large blue rubber sphere left of a small green metal cylinder";
    std::vector<int32_t> want = {tok->tokenId("<｜begin▁of▁sentence｜>"), tok->tokenId("<|User|>"),
                                 tok->tokenId(":")};
    for (const char* w :
         {"a", "large", "blue", "rubber", "sphere", "left", "of", "a", "small", "green", "metal", "cylinder"})
        want.push_back(tok->tokenId(w));
    for (const char* w : {"<|Assistant|>", ":", "<begin_of_image>"}) want.push_back(tok->tokenId(w));
    EXPECT_EQ(tok->encode(janusGenerationPrompt(caption), SpecialTokens::kTransformers), want);
    // Round trip: the caption's ids decode to the caption; case is folded; unknown words are <unk>.
    EXPECT_EQ(tok->decode(tok->encode(caption, SpecialTokens::kNone)), caption);
    EXPECT_EQ(tok->decode(tok->encode(caption, SpecialTokens::kTransformers), true), caption);
    EXPECT_EQ(tok->encode("A Small RED cube", SpecialTokens::kNone),
              tok->encode("a small red cube", SpecialTokens::kNone));
    EXPECT_EQ(tok->encode("a purple cube", SpecialTokens::kNone),
              (std::vector<int32_t>{tok->tokenId("a"), 8, tok->tokenId("cube")}));
    // The pipeline finds its CFG pad in this vocabulary.
    auto pad = janusPadId(*tok, -1, "x");
    ASSERT_TRUE(pad.ok());
    EXPECT_EQ(*pad, 0);

    EXPECT_FALSE(train::janusWordTokenizer({}).ok());
    EXPECT_FALSE(train::janusWordTokenizer({"left of"}).ok());
    EXPECT_FALSE(train::janusWordTokenizer({"cube,"}).ok());
}

TEST_F(TrainJanusGen, TapeLogitsEqualTheJanusLoadersOnTheSavedFolder) {
    auto created = JanusGenTrainModel::create(init(), (root_ / "init").string());
    ASSERT_TRUE(created.ok()) << created.error();
    trainSome(*created, 2);
    spread(*created, 0.3f);
    for (auto dtype : {train::SaveDType::F32, train::SaveDType::BF16}) {
        const std::string dir = (root_ / (dtype == train::SaveDType::F32 ? "f32" : "bf16")).string();
        ASSERT_TRUE(created->save(dir, dtype).ok());
        // The training side reads the saved folder back (bf16 widened exactly), so both sides see the
        // same weights.
        auto m = JanusGenTrainModel::load(dir);
        ASSERT_TRUE(m.ok()) << m.error();
        auto be = createBackend("cpu", 2);
        ASSERT_TRUE(be.ok());
        auto ckpt = Checkpoint::open(dir);
        ASSERT_TRUE(ckpt.ok()) << ckpt.error();
        auto model = JanusModel::load(*ckpt, **be, /*generation_only=*/true);
        ASSERT_TRUE(model.ok()) << model.error();
        CausalLM& lm = (*model)->lm();
        Backend& b = **be;

        const std::vector<int64_t> cond =
            m->prompts().conditional("a small red metal cube left of a large blue rubber sphere");
        for (const auto& prompt : {cond, m->prompts().unconditional(cond)}) {
            const std::vector<int64_t> c = codes(5);
            const int64_t len = static_cast<int64_t>(prompt.size()), n = 16;
            // Inference: prefill the prompt, then feed image tokens 0..n-2 one at a time through the KV
            // cache.
            KvCache cache = lm.newCache(1, len + n);
            Tensor last = b.slice(lm.forward(lm.embed(b.fromI64(prompt, {1, len})), cache), 1, len - 1, len);
            std::vector<float> inference = b.readF32((*model)->genHead(last));
            for (int64_t i = 0; i + 1 < n; ++i) {
                Tensor h = lm.forward(
                    (*model)->imageTokenEmbeds(b.fromI64({c[static_cast<size_t>(i)]}, {1, 1})), cache);
                const std::vector<float> step = b.readF32((*model)->genHead(h));
                inference.insert(inference.end(), step.begin(), step.end());
            }
            const std::vector<float> tape = tapeImageLogits(*m, prompt, c);
            ASSERT_EQ(tape.size(), static_cast<size_t>(n * 16));
            EXPECT_LT(maxAbsDiff(tape, inference), 1e-4) << dir;
            // Not trivially equal: the logits vary over codes and positions.
            EXPECT_GT(maxAbsDiff(std::vector<float>(tape.begin(), tape.begin() + 16),
                                 std::vector<float>(tape.end() - 16, tape.end())),
                      1e-3);
        }
    }
}

TEST_F(TrainJanusGen, TrainingRowsAreThePipelinesRows) {
    auto m = JanusGenTrainModel::create(init(), (root_ / "model").string());
    ASSERT_TRUE(m.ok()) << m.error();
    trainSome(*m, 2);
    spread(*m, 0.3f);
    ASSERT_TRUE(m->save((root_ / "model").string(), train::SaveDType::F32).ok());
    auto be = createBackend("cpu", 2);
    ASSERT_TRUE(be.ok());
    auto pipe = JanusPipeline::load((root_ / "model").string(), **be);
    ASSERT_TRUE(pipe.ok()) << pipe.error();
    EXPECT_EQ((*pipe)->info().grid_h, 4);
    EXPECT_EQ((*pipe)->info().image_size, 8);

    // The prompt as a user might type it: the pipeline strips it and folds nothing else.
    const std::string caption = "a large green metal cylinder left of a small red rubber cube";
    const std::vector<int64_t> c = codes(9);
    const std::vector<int64_t> cond = m->prompts().conditional("  " + caption + "\n");
    for (float cfg : {1.0f, 0.0f}) {
        JanusRequest req;
        req.prompt = "  " + caption + "\n";
        req.sampler.cfg = cfg;
        req.forced = {std::vector<int32_t>(c.begin(), c.end())};
        req.capture_logits_steps = 16;
        req.previews = false;
        JobContext ctx(1, nullptr, nullptr);
        auto r = (*pipe)->generate(req, ctx);
        ASSERT_TRUE(r.ok()) << r.error();
        ASSERT_EQ(r->guided_logits.size(), 16u);
        EXPECT_EQ(r->tokens[0], std::vector<int32_t>(c.begin(), c.end()));
        std::vector<float> pipeline;
        for (const auto& step : r->guided_logits) pipeline.insert(pipeline.end(), step.begin(), step.end());
        // Guidance 1 gives the conditional row's logits, guidance 0 the unconditional row's.
        const std::vector<float> tape =
            tapeImageLogits(*m, cfg == 1.0f ? cond : m->prompts().unconditional(cond), c);
        EXPECT_LT(maxAbsDiff(tape, pipeline), 1e-4) << "guidance " << cfg;
    }
    // The two rows differ (the caption matters), so the comparison above tells them apart.
    EXPECT_GT(
        maxAbsDiff(tapeImageLogits(*m, cond, c), tapeImageLogits(*m, m->prompts().unconditional(cond), c)),
        1e-4);
}

TEST_F(TrainJanusGen, GroupedLossIsTheMeanOverImageTokensAndFalls) {
    auto m = JanusGenTrainModel::create(init(), (root_ / "model").string());
    ASSERT_TRUE(m.ok()) << m.error();
    const JanusGenExample a{m->prompts().conditional("a small red metal cube"), codes(1)};
    const JanusGenExample b{
        m->prompts().conditional("a small red metal cube left of a large blue rubber sphere"), codes(2)};
    const JanusGenExample c{m->prompts().conditional("a large green rubber cube"), codes(3)};
    ASSERT_NE(a.prompt.size(), b.prompt.size());
    auto lossOf = [&](const std::vector<JanusGenExample>& batch) {
        Tape<float> t;
        return static_cast<double>(t.scalar(m->loss(t, batch)));
    };
    // Every row has 16 image tokens, so the batch mean is the mean of the rows' means.
    EXPECT_NEAR(lossOf({a, b, c}), (lossOf({a}) + lossOf({b}) + lossOf({c})) / 3.0, 1e-5);
    EXPECT_NEAR(lossOf({a, c}), (lossOf({a}) + lossOf({c})) / 2.0, 1e-5);
    // An untrained model is near uniform over the 16 codes.
    EXPECT_NEAR(lossOf({a, b, c}), std::log(16.0), 0.5);

    std::vector<float> losses;
    trainSome(*m, 25, &losses);
    ASSERT_EQ(losses.size(), 25u);
    EXPECT_LT(losses.back(), 0.5f * losses.front())
        << "first " << losses.front() << ", last " << losses.back();

    // Bad inputs are errors, not crashes.
    Tape<float> t;
    EXPECT_THROW(m->loss(t, {}), Error);
    EXPECT_THROW(m->loss(t, {{a.prompt, std::vector<int64_t>(15, 0)}}), Error);
    EXPECT_THROW(m->loss(t, {{a.prompt, std::vector<int64_t>(16, 16)}}), Error);
    EXPECT_THROW(m->loss(t, {{std::vector<int64_t>(60, 1), codes(0)}}), Error); // past the context
}

TEST_F(TrainJanusGen, SavedFolderGeneratesAnImageAndVqCodesMatchTheLoader) {
    auto m = JanusGenTrainModel::create(init(), (root_ / "model").string());
    ASSERT_TRUE(m.ok()) << m.error();
    trainSome(*m, 1);
    ASSERT_TRUE(m->save((root_ / "out").string()).ok()); // bf16 by default
    for (const char* f : {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"})
        EXPECT_TRUE(fs::exists(root_ / "out" / f)) << f;
    auto ckpt = Checkpoint::open((root_ / "out").string());
    ASSERT_TRUE(ckpt.ok());
    EXPECT_EQ(ckpt->find("model.language_model.embed_tokens.weight")->dtype, DType::BF16);
    EXPECT_TRUE(ckpt->has("model.vqmodel.quantize.embedding.weight"));

    auto be = createBackend("cpu", 2);
    ASSERT_TRUE(be.ok());
    auto pipe = JanusPipeline::load((root_ / "out").string(), **be);
    ASSERT_TRUE(pipe.ok()) << pipe.error();
    JanusRequest req;
    req.prompt = "a small red metal cube";
    req.seed = 4;
    JobContext ctx(1, nullptr, nullptr);
    auto r = (*pipe)->generate(req, ctx);
    ASSERT_TRUE(r.ok()) << r.error();
    ASSERT_EQ(r->images.size(), 1u);
    EXPECT_EQ(r->images[0].width, 8);
    EXPECT_EQ(r->images[0].height, 8);
    EXPECT_EQ(r->images[0].rgb.size(), 8u * 8u * 3u);
    EXPECT_EQ(r->tokens[0].size(), 16u);

    // Encoding through JanusVqCodes (the Janus VQ loader) gives the training VQ's codes.
    train::VqTrainConfig vc;
    vc.channels = vc.z_channels = 32;
    vc.levels = 2;
    vc.codebook = 16;
    vc.code_dim = 4;
    train::VqTrainModel vq(vc, 3);
    std::vector<float> px(2 * 3 * 8 * 8);
    for (size_t i = 0; i < px.size(); ++i) px[i] = std::sin(0.37f * static_cast<float>(i));
    Tape<float> t;
    const std::vector<int64_t> want = vq.forward(t, px, 2, 8, 8).codes;
    auto enc = train::JanusVqCodes::load((root_ / "vq").string(), 1);
    ASSERT_TRUE(enc.ok()) << enc.error();
    EXPECT_EQ((*enc)->downsample(), 2);
    EXPECT_EQ((*enc)->codebook(), 16);
    auto got = (*enc)->encode(px, 2, 8, 8);
    ASSERT_TRUE(got.ok()) << got.error();
    EXPECT_EQ(*got, want);
    EXPECT_FALSE((*enc)->encode(px, 2, 7, 8).ok());
    EXPECT_FALSE(train::JanusVqCodes::load((root_ / "nothing").string()).ok());
    EXPECT_FALSE(JanusGenTrainModel::load((root_ / "vq").string()).ok());
}

} // namespace
} // namespace tessera

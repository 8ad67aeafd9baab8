// The IG-LLM pipeline on tiny random checkpoints (both float-head types): the streamed pieces add up to
// the program; every line is an object statement (checked by a regular expression written from
// docs/scene-programs.md); each number is the float head on the hidden state that chose `[NUM]`
// (checked against a teacher-forced forward pass of the whole sequence, which also shows that `[NUM]`'s
// embedding is what the model read back); seeds reproduce; cancel and bad input.
#include "models/llava_model.h"
#include "tessera/engine/engine.h"
#include "tessera/engine/igllm.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <regex>
#include <unistd.h>

namespace tessera {
namespace {

namespace fs = std::filesystem;

fs::path tinyCheckpoint(const std::string& head) {
    const fs::path dir =
        fs::temp_directory_path() / ("tessera_igllm_tiny_" + head + "_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    Status s = writeRandomIgllmCheckpoint(dir.string(), head, 3);
    EXPECT_TRUE(s.ok()) << s.message();
    return dir;
}

// 32x32 (the tiny tower's side, so preprocessing does no resampling): a diagonal colour ramp.
ImageRgb8 testImage() {
    ImageRgb8 img;
    img.width = img.height = 32;
    img.rgb.resize(32 * 32 * 3);
    for (int y = 0; y < 32; ++y)
        for (int x = 0; x < 32; ++x) {
            uint8_t* p = &img.rgb[static_cast<size_t>((y * 32 + x) * 3)];
            p[0] = static_cast<uint8_t>(x * 8);
            p[1] = static_cast<uint8_t>(y * 8);
            p[2] = static_cast<uint8_t>(255 - (x + y) * 4);
        }
    return img;
}

const std::regex kObjectLine(
    R"(^[ \t]*object[ \t]+(cube|sphere|cylinder)[ \t]+(gray|red|blue|green|brown|purple|cyan|yellow)[ \t]+(rubber|metal)[ \t]+size[ \t]+N[ \t]+position[ \t]+N[ \t]+N[ \t]+N[ \t]+rotation[ \t]+N[ \t]*$)");

struct Outcome {
    IgllmResult result;
    std::string streamed;
    std::vector<ProgramPiece> pieces;
    int token_events = 0;
};

Outcome reconstruct(IgllmPipeline& p, uint64_t seed, int max_tokens, bool constrain = true,
                    int cancel_after = -1) {
    Outcome run;
    std::atomic<bool> cancel{false};
    IgllmRequest req;
    req.image = testImage();
    req.seed = seed;
    req.max_new_tokens = max_tokens;
    req.constrain_to_grammar = constrain;
    req.on_piece = [&](const ProgramPiece& piece) {
        run.streamed += piece.text;
        run.pieces.push_back(piece);
        if (cancel_after >= 0 && static_cast<int>(run.pieces.size()) >= cancel_after) cancel = true;
    };
    JobContext ctx(
        9, [&](const Event& e) { run.token_events += std::holds_alternative<TokenSampled>(e) ? 1 : 0; },
        &cancel);
    auto r = p.reconstruct(req, ctx);
    EXPECT_TRUE(r.ok()) << r.error();
    if (r.ok()) run.result = std::move(*r);
    return run;
}

class IgllmPipelineTest : public ::testing::TestWithParam<std::string> {};

TEST_P(IgllmPipelineTest, StreamsAWellFormedProgramWhoseNumbersComeFromTheHead) {
    const fs::path dir = tinyCheckpoint(GetParam());
    auto be = createBackend("cpu", 2);
    ASSERT_TRUE(be.ok());
    auto p = IgllmPipeline::load(dir.string(), **be);
    ASSERT_TRUE(p.ok()) << p.error();
    const IgllmInfo& info = (*p)->info();
    EXPECT_EQ(info.float_head, GetParam());
    EXPECT_TRUE(info.grammar_constraint);
    EXPECT_EQ(info.image_tokens, 16);
    EXPECT_EQ(info.num_token, 4);

    // The random model ends the text at a statement boundary about half the time: the first seed whose
    // program holds two statements or more is examined.
    Outcome run;
    for (uint64_t seed = 1;
         seed <= 40 && std::count(run.result.program.begin(), run.result.program.end(), '\n') < 2; ++seed)
        run = reconstruct(**p, seed, 80);
    const IgllmResult& r = run.result;
    EXPECT_TRUE(r.constrained);
    EXPECT_TRUE(r.finished); // 80 tokens: at most 6 statements of 13, then the end-of-text token
    EXPECT_EQ(run.streamed, r.program);
    EXPECT_EQ(run.token_events, static_cast<int>(r.tokens.size()));
    EXPECT_EQ(r.program.find("\n "), std::string::npos) << "a line starts with a space:\n" << r.program;

    // Every line an object statement; the numbers in the text, in order, are the head's values.
    std::string masked;
    std::vector<float> in_text;
    const std::regex num(R"(-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?)");
    std::string rest = r.program;
    std::smatch m;
    while (std::regex_search(rest, m, num)) {
        masked += m.prefix().str() + "N";
        in_text.push_back(std::stof(m.str()));
        rest = m.suffix().str();
    }
    masked += rest;
    int lines = 0;
    size_t start = 0;
    while (start < masked.size()) {
        size_t end = masked.find('\n', start);
        if (end == std::string::npos) end = masked.size();
        const std::string line = masked.substr(start, end - start);
        if (line.find_first_not_of(" \t") != std::string::npos) {
            EXPECT_TRUE(std::regex_match(line, kObjectLine)) << "line " << lines + 1 << ": '" << line << "'";
            ++lines;
        }
        start = end + 1;
    }
    EXPECT_GE(lines, 2);
    ASSERT_EQ(in_text.size(), r.numbers.size());
    EXPECT_EQ(r.numbers.size(), static_cast<size_t>(lines) * 5);
    for (size_t i = 0; i < in_text.size(); ++i) {
        EXPECT_EQ(in_text[i], r.numbers[i]) << "number " << i; // shortest round-trip form
        EXPECT_GE(r.numbers[i], 0.4f);
        EXPECT_LE(r.numbers[i], 0.6f);
    }
    int num_pieces = 0;
    for (const auto& piece : run.pieces)
        if (piece.is_number) {
            EXPECT_EQ(piece.token, info.num_token);
            EXPECT_NE(piece.text.find(formatProgramNumber(piece.value)), std::string::npos);
            ++num_pieces;
        }
    EXPECT_EQ(num_pieces, static_cast<int>(r.numbers.size()));

    // Teacher forcing: the prompt and every generated token in one pass. The hidden state one position
    // before each [NUM] must give that number through the head.
    auto ckpt = Checkpoint::open(dir.string());
    ASSERT_TRUE(ckpt.ok());
    auto model = LlavaModel::load(*ckpt, **be);
    ASSERT_TRUE(model.ok()) << model.error();
    std::vector<int64_t> ids = {1};
    ids.insert(ids.end(), 16, 3);
    const std::vector<int64_t> prompt = {30, 31, 32, 33, 34, 35}; // "Describe the scene as a program."
    ids.insert(ids.end(), prompt.begin(), prompt.end());
    ASSERT_EQ(static_cast<int>(ids.size()), r.prompt_tokens);
    ids.insert(ids.end(), r.tokens.begin(), r.tokens.end());
    std::vector<float> px(3 * 32 * 32);
    const float mean[3] = {0.48145466f, 0.4578275f, 0.40821073f},
                sd[3] = {0.26862954f, 0.26130258f, 0.27577711f};
    const ImageRgb8 img = testImage();
    for (int c = 0; c < 3; ++c)
        for (int i = 0; i < 32 * 32; ++i)
            px[static_cast<size_t>(c * 1024 + i)] =
                (img.rgb[static_cast<size_t>(i * 3 + c)] / 255.0f - mean[c]) / sd[c];
    Backend& b = **be;
    const int64_t n = static_cast<int64_t>(ids.size());
    KvCache cache = (*model)->lm().newCache(1, n);
    Tensor hidden = (*model)->lm().forward(
        (*model)->inputEmbeds(b.fromI64(ids, {1, n}), b.fromF32(px, {1, 3, 32, 32})), cache);
    const std::vector<float> all = (*model)->floatValues(hidden);
    size_t k = 0;
    for (size_t i = 0; i < r.tokens.size(); ++i)
        if (r.tokens[i] == info.num_token) {
            ASSERT_LT(k, r.numbers.size());
            EXPECT_NEAR(all[static_cast<size_t>(r.prompt_tokens) + i - 1], r.numbers[k], 1e-5)
                << "number " << k;
            ++k;
        }
    EXPECT_EQ(k, r.numbers.size());
}

TEST_P(IgllmPipelineTest, SeedsReproduceAndDiffer) {
    const fs::path dir = tinyCheckpoint(GetParam());
    auto be = createBackend("cpu", 1);
    ASSERT_TRUE(be.ok());
    auto p = IgllmPipeline::load(dir.string(), **be);
    ASSERT_TRUE(p.ok()) << p.error();
    Outcome a = reconstruct(**p, 5, 60), b = reconstruct(**p, 5, 60), c = reconstruct(**p, 6, 60);
    EXPECT_EQ(a.result.tokens, b.result.tokens);
    EXPECT_EQ(a.result.program, b.result.program);
    EXPECT_EQ(a.result.numbers, b.result.numbers);
    EXPECT_NE(a.result.tokens, c.result.tokens);
}

INSTANTIATE_TEST_SUITE_P(Heads, IgllmPipelineTest, ::testing::Values("linear", "tanh_mlp_gelu"));

TEST(IgllmPipeline, UnconstrainedRunsToTheLimitAndCancelStops) {
    const fs::path dir = tinyCheckpoint("linear");
    auto be = createBackend("cpu", 1);
    ASSERT_TRUE(be.ok());
    auto p = IgllmPipeline::load(dir.string(), **be);
    ASSERT_TRUE(p.ok()) << p.error();
    Outcome free = reconstruct(**p, 2, 40, /*constrain=*/false);
    EXPECT_FALSE(free.result.constrained);
    EXPECT_LE(free.result.tokens.size(), 40u);
    EXPECT_EQ(free.streamed, free.result.program);
    size_t nums = 0;
    for (int32_t t : free.result.tokens) nums += t == 4 ? 1 : 0;
    EXPECT_EQ(nums, free.result.numbers.size());

    Outcome cut = reconstruct(**p, 2, 80, true, /*cancel_after=*/5);
    EXPECT_TRUE(cut.result.cancelled);
    EXPECT_EQ(cut.result.tokens.size(), 5u);
}

TEST(IgllmPipeline, BadInputIsAnError) {
    const fs::path dir = tinyCheckpoint("tanh_mlp_gelu");
    auto be = createBackend("cpu", 1);
    ASSERT_TRUE(be.ok());
    auto p = IgllmPipeline::load(dir.string(), **be);
    ASSERT_TRUE(p.ok()) << p.error();
    std::atomic<bool> cancel{false};
    JobContext ctx(1, nullptr, &cancel);
    IgllmRequest req;
    auto empty = (*p)->reconstruct(req, ctx);
    ASSERT_FALSE(empty.ok());
    EXPECT_NE(empty.error().find("image"), std::string::npos) << empty.error();
    req.image = testImage();
    req.max_new_tokens = 5000;
    auto too_long = (*p)->reconstruct(req, ctx);
    ASSERT_FALSE(too_long.ok());
    EXPECT_NE(too_long.error().find("context"), std::string::npos) << too_long.error();

    // A LLaVA folder without a tokenizer, and a folder that is not LLaVA.
    auto no_tok = IgllmPipeline::load(std::string(TESSERA_TEST_DATA_DIR) + "/reference/llava_tiny", **be);
    ASSERT_FALSE(no_tok.ok());
    EXPECT_NE(no_tok.error().find("tokenizer"), std::string::npos) << no_tok.error();
    auto not_llava = IgllmPipeline::load(std::string(TESSERA_TEST_DATA_DIR) + "/reference/llama_tiny", **be);
    ASSERT_FALSE(not_llava.ok());
    EXPECT_NE(not_llava.error().find("not a LLaVA"), std::string::npos) << not_llava.error();
    // No [NUM] in the vocabulary of a checkpoint with a head.
    fs::path broken = dir.string() + "_nonum";
    fs::remove_all(broken);
    fs::copy(dir, broken);
    {
        std::string tj;
        {
            std::ifstream in(broken / "tokenizer.json");
            tj.assign(std::istreambuf_iterator<char>(in), {});
        }
        for (size_t at; (at = tj.find("[NUM]")) != std::string::npos;) tj.replace(at, 5, "[XYZ]");
        std::ofstream(broken / "tokenizer.json") << tj;
    }
    auto no_num = IgllmPipeline::load(broken.string(), **be);
    ASSERT_FALSE(no_num.ok());
    EXPECT_NE(no_num.error().find("[NUM]"), std::string::npos) << no_num.error();
}

} // namespace
} // namespace tessera

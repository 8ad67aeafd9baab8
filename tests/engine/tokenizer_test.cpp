// Tokenizer against the reference sets (ids and decoded text from the `tokenizers` library and
// transformers' AutoTokenizer), plus hand-derived cases for the rules the sets do not reach.
#include "tessera/engine/engine.h"
#include "tessera/engine/tokenizer.h"
#include "tessera/engine/verify.h"
#include "tokenizer/components.h"
#include "tokenizer/regex.h"
#include "tokenizer/unicode.h"
#include "verify/verify_internal.h"

#include <chrono>
#include <fstream>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

namespace tessera {
namespace {

const std::string kRef = std::string(TESSERA_TEST_DATA_DIR) + "/reference/";

nlohmann::json readJson(const std::string& path) {
    std::ifstream in(path);
    return nlohmann::json::parse(in);
}

std::vector<int32_t> idsOf(const nlohmann::json& list) {
    return list.get<std::vector<int32_t>>();
}

std::vector<int32_t> concat(std::initializer_list<std::vector<int32_t>> parts) {
    std::vector<int32_t> out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

// ---- Reference sets --------------------------------------------------------------------------------

class TokenizerReference : public ::testing::TestWithParam<std::string> {};

TEST_P(TokenizerReference, IdsAndDecodedTextMatchGolden) {
    const std::string dir = kRef + GetParam();
    auto tok = Tokenizer::load(dir);
    ASSERT_TRUE(tok.ok()) << tok.error();
    const nlohmann::json golden = readJson(dir + "/golden.json");
    ASSERT_FALSE(golden.empty());
    for (const auto& e : golden) {
        const std::string text = e["text"];
        EXPECT_EQ(tok->encode(text), idsOf(e["ids"])) << "text: " << text;
        EXPECT_EQ(tok->decode(idsOf(e["ids"]), true), e["decoded"].get<std::string>()) << "text: " << text;
    }
}

TEST_P(TokenizerReference, VerifyRunsTheSet) {
    auto be = createBackend("cpu", 1);
    ASSERT_TRUE(be.ok()) << be.error();
    auto report = verifyReferenceSet(kRef + GetParam(), **be);
    ASSERT_TRUE(report.ok()) << report.error();
    EXPECT_EQ(report->kind, "tokenizer");
    EXPECT_EQ(report->checks.size(), 2 * readJson(kRef + GetParam() + "/golden.json").size());
    for (const auto& c : report->checks) EXPECT_TRUE(c.passed) << c.name << ": " << c.detail;
}

INSTANTIATE_TEST_SUITE_P(Sets, TokenizerReference,
                         ::testing::Values("tok_bytelevel_bpe", "tok_metaspace_bpe", "tok_gpt2_bytelevel",
                                           "tok_llama3_split", "tok_qwen2_nfc", "tok_sp_bpe_bytefallback",
                                           "tok_unigram_metaspace", "tok_unigram_bytefallback",
                                           "tok_unigram_precompiled", "tok_wordpiece_bert",
                                           "tok_wordpiece_digits", "tok_wordlevel_punctuation",
                                           "tok_bpe_scripts_suffix", "tok_bpe_split_behaviors",
                                           "tok_bpe_added_tokens"));

TEST(Tokenizer, JanusTokenizerMatchesLibraryAndAutoTokenizer) {
    const std::string dir = kRef + "janus_tiny";
    auto tok = Tokenizer::load(dir);
    ASSERT_TRUE(tok.ok()) << tok.error();
    const nlohmann::json golden = readJson(dir + "/tokenizer_golden.json");
    ASSERT_FALSE(golden.empty());
    for (const auto& e : golden) {
        const std::string text = e["text"];
        EXPECT_EQ(tok->encode(text), idsOf(e["ids"])) << "text: " << text;
        EXPECT_EQ(tok->encode(text, SpecialTokens::kTransformers), idsOf(e["auto_ids"])) << "text: " << text;
        EXPECT_EQ(tok->decode(idsOf(e["ids"]), true), e["decoded"].get<std::string>()) << "text: " << text;
    }
    // Facts stated by generation_config.json and the reference README.
    const nlohmann::json gen = readJson(dir + "/generation_config.json");
    EXPECT_EQ(tok->bosId(), gen["bos_token_id"].get<int32_t>());
    EXPECT_EQ(tok->eosId(), gen["eos_token_id"].get<int32_t>());
    EXPECT_EQ(tok->padId(), gen["pad_token_id"].get<int32_t>());
    EXPECT_EQ(tok->tokenId("<image_placeholder>"), 299);
    EXPECT_EQ(tok->vocabSize(), 300u);
    EXPECT_TRUE(tok->isSpecial(299));
    EXPECT_EQ(tok->idToToken(299), "<image_placeholder>");
    EXPECT_EQ(tok->tokenId("no such token"), -1);
    // Without special tokens the BOS the post-processor adds is gone, nothing else changes.
    const auto with = tok->encode("a red cube");
    EXPECT_EQ(concat({{tok->bosId()}, tok->encode("a red cube", false)}), with);
}

TEST(Tokenizer, VerifyRunsJanusTokenizerGolden) {
    // Janus folders are dispatched as model sets; their tokenizer goldens run through the same runner.
    auto report = verify::verifyTokenizer(kRef + "janus_tiny");
    ASSERT_TRUE(report.ok()) << report.error();
    EXPECT_EQ(report->checks.size(), 3 * readJson(kRef + "janus_tiny/tokenizer_golden.json").size());
    for (const auto& c : report->checks) EXPECT_TRUE(c.passed) << c.name << ": " << c.detail;
}

TEST(Tokenizer, ByteLevelRoundTripsAnyText) {
    auto tok = Tokenizer::load(kRef + "tok_bytelevel_bpe/tokenizer.json");
    ASSERT_TRUE(tok.ok()) << tok.error();
    for (std::string text : {"Grüße, 世界! ✨ x²+y²", "line one\n\n  line two\t\tend  ", "don't WE'LL it's",
                             "<|User|>hi<|Assistant|>"})
        EXPECT_EQ(tok->decode(tok->encode(text)), text);
    // Malformed UTF-8 is read as U+FFFD, one per maximal broken sequence.
    EXPECT_EQ(tok->decode(tok->encode("\xff\xfe")), "\xEF\xBF\xBD\xEF\xBF\xBD");
    EXPECT_EQ(tok->encode("\xff"), tok->encode("\xEF\xBF\xBD"));
    // Ids no token has are skipped rather than trusted.
    EXPECT_EQ(tok->decode({-5, 100000}), "");
}

TEST(Tokenizer, ArbitraryBytesNeitherCrashNorYieldBrokenText) {
    std::vector<Tokenizer> toks;
    for (const char* set : {"tok_bytelevel_bpe", "tok_metaspace_bpe", "janus_tiny"}) {
        auto t = Tokenizer::load(kRef + set);
        ASSERT_TRUE(t.ok()) << t.error();
        toks.push_back(*t);
    }
    uint32_t state = 12345;
    auto next = [&] { return state = state * 1664525u + 1013904223u; };
    for (int round = 0; round < 300; ++round) {
        std::string text(next() % 64, '\0');
        for (char& c : text) c = static_cast<char>(next() >> 24);
        for (const Tokenizer& t : toks) {
            const auto ids = t.encode(text);
            for (int32_t id : ids) ASSERT_LT(static_cast<size_t>(id), t.vocabSize());
            const std::string back = t.decode(ids);
            EXPECT_EQ(tok::sanitizeUtf8(back), back);
        }
    }
}

// ---- Added-token rules (byte-level file with extra tokens) --------------------------------------

nlohmann::json byteLevelJson() {
    return readJson(kRef + "tok_bytelevel_bpe/tokenizer.json");
}

TEST(Tokenizer, AddedTokensStripAndWordBoundaries) {
    nlohmann::json j = byteLevelJson();
    j["added_tokens"].push_back({{"id", 900},
                                 {"content", "[IMG]"},
                                 {"single_word", false},
                                 {"lstrip", true},
                                 {"rstrip", true},
                                 {"normalized", false},
                                 {"special", true}});
    j["added_tokens"].push_back({{"id", 901},
                                 {"content", "cat"},
                                 {"single_word", true},
                                 {"lstrip", false},
                                 {"rstrip", false},
                                 {"normalized", false},
                                 {"special", false}});
    auto tok = Tokenizer::fromJson(j.dump());
    ASSERT_TRUE(tok.ok()) << tok.error();
    // lstrip/rstrip: the spaces around [IMG] belong to the token.
    EXPECT_EQ(tok->encode("a  [IMG] b"), concat({tok->encode("a"), {900}, tok->encode("b")}));
    // single_word: "cat" inside "concat" is no match.
    EXPECT_EQ(tok->encode("cat concat"), concat({{901}, tok->encode(" concat")}));
    EXPECT_EQ(tok->vocabSize(), 902u);
    EXPECT_EQ(tok->decode({900, 901}, true), "cat");
}

// ---- SentencePiece-style BPE with byte fallback (hand-built file) -------------------------------

const char* kByteFallbackJson = R"({
  "version": "1.0",
  "added_tokens": [
    {"id": 0, "content": "<unk>", "special": true, "normalized": false},
    {"id": 1, "content": "<s>", "special": true, "normalized": false},
    {"id": 2, "content": "</s>", "special": true, "normalized": false}],
  "normalizer": null,
  "pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": false},
  "post_processor": {"type": "TemplateProcessing",
    "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
    "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
  "decoder": {"type": "Sequence", "decoders": [
    {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "}, {"type": "ByteFallback"},
    {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
  "model": {"type": "BPE", "unk_token": "<unk>", "byte_fallback": true, "fuse_unk": true,
    "vocab": {"<unk>": 0, "<s>": 1, "</s>": 2, "<0xC3>": 3, "<0xA9>": 4, "\u2581": 5, "h": 6, "i": 7,
              "hi": 8, "\u2581hi": 9},
    "merges": [["h", "i"], ["\u2581", "hi"]]}
})";

TEST(Tokenizer, MetaspaceByteFallbackAndUnknown) {
    auto tok = Tokenizer::fromJson(kByteFallbackJson);
    ASSERT_TRUE(tok.ok()) << tok.error();
    EXPECT_EQ(tok->encode("hi hi"), (std::vector<int32_t>{1, 9, 9}));
    // "é" is C3 A9 in UTF-8: both bytes have tokens.
    EXPECT_EQ(tok->encode("é"), (std::vector<int32_t>{1, 5, 3, 4}));
    EXPECT_EQ(tok->decode({1, 5, 3, 4}, true), "é");
    EXPECT_EQ(tok->decode({5, 3}, true), "\xEF\xBF\xBD"); // a lone lead byte
    // "ü" is C3 BC and 0xBC has no token: unknown, and fuse_unk folds neighbours into one <unk>.
    EXPECT_EQ(tok->encode("üü", false), (std::vector<int32_t>{5, 0}));
    // The "first" prepend scheme marks only the start of the input, not text after a special token.
    EXPECT_EQ(tok->encode("<s>hi", false), (std::vector<int32_t>{1, 8}));
    EXPECT_EQ(tok->encode("hi<s>hi", false), (std::vector<int32_t>{9, 1, 8}));
    EXPECT_EQ(tok->encode("", true), (std::vector<int32_t>{1}));
}

TEST(Tokenizer, ConcurrentEncodesAgreeWithOneThread) {
    // One loaded tokenizer shared by several threads (regexes on Oniguruma, scripts, normalizers).
    for (const char* set : {"tok_llama3_split", "tok_bpe_scripts_suffix", "tok_unigram_precompiled"}) {
        auto tok = Tokenizer::load(kRef + set);
        ASSERT_TRUE(tok.ok()) << tok.error();
        const nlohmann::json golden = readJson(kRef + set + "/golden.json");
        std::vector<std::vector<int32_t>> want;
        for (const auto& e : golden) want.push_back(tok->encode(e["text"].get<std::string>()));
        std::vector<int> mismatches(4, 0);
        std::vector<std::thread> threads;
        for (int t = 0; t < 4; ++t)
            threads.emplace_back([&, t] {
                for (int round = 0; round < 20; ++round)
                    for (size_t i = 0; i < golden.size(); ++i)
                        mismatches[t] += tok->encode(golden[i]["text"].get<std::string>()) != want[i];
            });
        for (auto& th : threads) th.join();
        EXPECT_EQ(mismatches, std::vector<int>(4, 0)) << set;
    }
}

// ---- Models on hand-worked examples ----------------------------------------------------------------

TEST(TokenizerModels, UnigramPicksTheBestScoringSegmentation) {
    auto tok = Tokenizer::fromJson(R"({"model": {"type": "Unigram", "unk_id": 0, "vocab":
        [["<unk>", 0.0], ["a", -1.0], ["b", -1.0], ["ab", -1.5], ["abc", -9.0]]}})");
    ASSERT_TRUE(tok.ok()) << tok.error();
    EXPECT_EQ(tok->encode("ab"), (std::vector<int32_t>{3}));      // -1.5 beats a + b = -2
    EXPECT_EQ(tok->encode("abab"), (std::vector<int32_t>{3, 3})); // -3 beats every other split
    EXPECT_EQ(tok->encode("abc"), (std::vector<int32_t>{4}));     // -9 beats ab + unknown c = -1.5 - 19
    EXPECT_EQ(tok->encode("abd"), (std::vector<int32_t>{3, 0}));  // d unknown at min score - 10
    EXPECT_EQ(tok->encode("xy"), (std::vector<int32_t>{0}));      // neighbouring unknowns fuse into one
}

TEST(TokenizerModels, WordPieceGreedyLongestPrefix) {
    nlohmann::json j = {
        {"pre_tokenizer", {{"type", "WhitespaceSplit"}}},
        {"model",
         {{"type", "WordPiece"},
          {"unk_token", "[UNK]"},
          {"max_input_chars_per_word", 8},
          {"vocab", {{"[UNK]", 0}, {"un", 1}, {"##aff", 2}, {"##able", 3}, {"u", 4}, {"##n", 5}}}}}};
    auto tok = Tokenizer::fromJson(j.dump());
    ASSERT_TRUE(tok.ok()) << tok.error();
    EXPECT_EQ(tok->encode("unaffable"),
              (std::vector<int32_t>{0})); // 9 characters > 8: the whole word is unknown
    EXPECT_EQ(tok->encode("unaff un"), (std::vector<int32_t>{1, 2, 1}));
    EXPECT_EQ(tok->encode("unx"), (std::vector<int32_t>{0})); // one part missing: the whole word is unknown
}

// ---- Unicode (utf8proc) and regexes (Oniguruma) --------------------------------------------------

std::vector<std::string> regexPieces(const std::string& pattern, const std::string& text) {
    std::vector<std::string> out;
    for (auto [b, e] : tok::Regex::compile(pattern).findAll(text)) out.push_back(text.substr(b, e - b));
    return out;
}

const std::string kGpt2 = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
std::string llama3(const char* digits) {
    return std::string(R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|)") + digits +
           R"(| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
}

TEST(TokenizerPatterns, Gpt2Split) { // expected pieces worked out by hand from the pattern
    using V = std::vector<std::string>;
    EXPECT_EQ(regexPieces(kGpt2, "Hello world's  test 123!?"),
              (V{"Hello", " world", "'s", " ", " test", " 123", "!?"}));
    EXPECT_EQ(regexPieces(kGpt2, "a\n\nb  "), (V{"a", "\n", "\n", "b", "  "}));
    EXPECT_EQ(regexPieces(kGpt2, " naïve 東京"), (V{" naïve", " 東京"}));
}

TEST(TokenizerPatterns, Llama3Split) {
    using V = std::vector<std::string>;
    EXPECT_EQ(regexPieces(llama3(R"(\p{N}{1,3})"), "I'LL pay 12345 (now)\n\n"),
              (V{"I", "'LL", " pay", " ", "123", "45", " (", "now", ")\n\n"}));
    EXPECT_EQ(regexPieces(llama3(R"(\p{N}{1,3})"), "x  \n y"), (V{"x", "  \n", " y"}));
    EXPECT_EQ(regexPieces(llama3(R"(\p{N})"), "2024"), (V{"2", "0", "2", "4"}));
}

TEST(TokenizerUnicode, CategoriesAndUtf8) {
    EXPECT_TRUE(tok::isLetter(U'é'));
    EXPECT_TRUE(tok::isLetter(U'東'));
    EXPECT_FALSE(tok::isLetter(U'1'));
    EXPECT_TRUE(tok::isNumber(U'\u0663')); // ARABIC-INDIC DIGIT THREE
    EXPECT_TRUE(tok::isNumber(U'²'));      // category No
    EXPECT_FALSE(tok::isNumber(U'x'));
    EXPECT_TRUE(tok::isWhitespace(U'\u3000'));
    EXPECT_FALSE(tok::isWhitespace(U'\u200B')); // zero width space is not White_Space
    EXPECT_TRUE(tok::isMark(U'\u0301'));
    EXPECT_TRUE(tok::isOther(U'\u200B')); // Cf
    size_t pos = 0;
    EXPECT_EQ(tok::decodeUtf8("\xE6\x9D", pos), tok::kReplacementChar); // truncated 東
    EXPECT_EQ(pos, 2u);
    EXPECT_EQ(tok::sanitizeUtf8("a\xC0\xAF"
                                "b"),
              "a\xEF\xBF\xBD\xEF\xBF\xBD"
              "b"); // overlong: two bad bytes
    EXPECT_EQ(tok::lowercase("ÀB\u0130"), "àbi\u0307");
    EXPECT_NE(tok::scriptOf(U'a'), tok::scriptOf(U'東'));
    EXPECT_EQ(tok::scriptOf(U'a'), tok::scriptOf(U'é'));
}

TEST(TokenizerUnicode, NormalForms) { // values from the Unicode normalization charts
    using tok::NormalForm;
    EXPECT_EQ(tok::normalizeForm("e\u0301", NormalForm::kNfc), "\u00E9");
    EXPECT_EQ(tok::normalizeForm("\u00E9", NormalForm::kNfd), "e\u0301");
    EXPECT_EQ(tok::normalizeForm("\u1E0A\u0323", NormalForm::kNfc), "\u1E0C\u0307");
    EXPECT_EQ(tok::normalizeForm("\u212B", NormalForm::kNfc), "\u00C5");
    EXPECT_EQ(tok::normalizeForm("\u0958", NormalForm::kNfc), "\u0915\u093C");
    EXPECT_EQ(tok::normalizeForm("\uAC01", NormalForm::kNfd), "\u1100\u1161\u11A8");
    EXPECT_EQ(tok::normalizeForm("\uFB01", NormalForm::kNfc), "\uFB01"); // ligature fi: compatibility only
    EXPECT_EQ(tok::normalizeForm("\uFB01", NormalForm::kNfkc), "fi");
    EXPECT_EQ(tok::normalizeForm("\u00BD", NormalForm::kNfkd), "1\u20442");
}

TEST(TokenizerRegex, OnigurumaSemantics) {
    using V = std::vector<std::string>;
    EXPECT_EQ(regexPieces("a|ab", "abab"), (V{"a", "a"}));          // first alternative wins, not the longest
    EXPECT_EQ(regexPieces(R"(\s+$)", "ab  \ncd "), (V{"  ", " "})); // $ also ends a line
    EXPECT_EQ(regexPieces("(?i:hello)", "HeLLo hello"), (V{"HeLLo", "hello"}));
    EXPECT_EQ(regexPieces("x{2,3}", "xxxxx"), (V{"xxx", "xx"}));
    EXPECT_EQ(regexPieces("a(?=b)", "ab ac"), (V{"a"}));
    EXPECT_EQ(regexPieces("(?<=a)b", "ab cb"), (V{"b"}));
    EXPECT_EQ(regexPieces(R"(\d+?)", "12"), (V{"1", "2"}));
    EXPECT_EQ(regexPieces("x*", "axb"), (V{"", "x", ""})); // empty matches, none right after a match
    // Oniguruma syntax, not Ruby's: the (?W) option (ASCII \w) compiles, as in the `tokenizers` library,
    // which splits "aab xé" with it into the matches "aab" and "x".
    EXPECT_EQ(regexPieces(R"((?W:\w+))", "aab xé"), (V{"aab", "x"}));
    for (const char* bad : {"(a", "[b-a]", "*a", R"(\p{NoSuchClass})"})
        EXPECT_THROW(tok::Regex::compile(bad), Error) << bad;
}

TEST(TokenizerRegex, CatastrophicBacktrackingIsAnErrorInBoundedTime) {
    nlohmann::json j = readJson(kRef + "tok_bytelevel_bpe/tokenizer.json");
    j["pre_tokenizer"] = {{"type", "Sequence"},
                          {"pretokenizers",
                           {{{"type", "Split"}, {"pattern", {{"Regex", "(a+)+$"}}}, {"behavior", "Isolated"}},
                            j["pre_tokenizer"]}}};
    auto tok = Tokenizer::fromJson(j.dump());
    ASSERT_TRUE(tok.ok()) << tok.error();
    EXPECT_TRUE(tok->tryEncode("aaaa").ok()); // harmless input
    const auto start = std::chrono::steady_clock::now();
    auto ids = tok->tryEncode(std::string(30, 'a') + "!");
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ASSERT_FALSE(ids.ok());
    EXPECT_NE(ids.error().find("regex"), std::string::npos) << ids.error();
    EXPECT_LT(seconds, 20.0); // 2^30 backtracking steps without the limit
    EXPECT_TRUE(tok->encode(std::string(30, 'a') + "!").empty());
}

TEST(TokenizerRegex, DeepSeekLlmSplitSequence) {
    // The pre-tokenizer of DeepSeek-LLM (the Janus-Pro language model), minus the final ByteLevel step.
    // Three Greek range ends are escaped: Unicode normalization (NFC) would turn them into lookalike
    // characters that make the ranges descending.
    const nlohmann::json splits = nlohmann::json::array(
        {"[\r\n]",
         "\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-"
         "ჅᎠ-"
         "Ᏽᏸ-"
         "ᏽᲐ-"
         "ᲺᲽ-"
         "Ჿᴀ-"
         "ᴫᵫ-"
         "ᵷᵹ-"
         "ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-\u1F7Dᾀ-ᾴᾶ-ᾼιῂ-ῄῆ-ῌῐ-\u1FD3ῖ-\u1FDBῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤΩℨK-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-"
         "ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-"
         "ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-"
         "𐳲𑢠-"
         "𑣟𞤀-"
         "𞥃]"
         "+",
         "\\s?[!-/:-~！-／：-～‘-‟　-。]+", "\\s+$", "[一-龥ࠀ-一가-퟿]+", "\\p{N}+"});
    nlohmann::json seq = {{"type", "Sequence"}, {"pretokenizers", nlohmann::json::array()}};
    for (const auto& r : splits)
        seq["pretokenizers"].push_back(
            {{"type", "Split"}, {"pattern", {{"Regex", r}}}, {"behavior", "Isolated"}, {"invert", false}});
    auto pre = tok::makePreTokenizer(seq);
    std::vector<tok::Piece> pieces{{"Hello, world!\n 123 东京", true}};
    pre->split(pieces);
    std::vector<std::string> got;
    for (const auto& p : pieces) got.push_back(p.text);
    EXPECT_EQ(got, (std::vector<std::string>{"Hello", ",", " world", "!", "\n", " ", "123", " ", "东京"}));
}

// ---- Errors ---------------------------------------------------------------------------------------

void expectLoadError(const nlohmann::json& j, const std::string& fragment) {
    auto tok = Tokenizer::fromJson(j.dump());
    ASSERT_FALSE(tok.ok()) << "expected an error mentioning " << fragment;
    EXPECT_NE(tok.error().find(fragment), std::string::npos) << tok.error();
}

TEST(TokenizerErrors, EmptyTokenizerIsHarmless) {
    const Tokenizer t;
    EXPECT_TRUE(t.encode("abc").empty());
    EXPECT_EQ(t.decode({1, 2, 3}), "");
    EXPECT_EQ(t.vocabSize(), 0u);
    EXPECT_EQ(t.tokenId("a"), -1);
    EXPECT_EQ(t.bosId(), -1);
}

TEST(TokenizerErrors, MissingFile) {
    auto tok = Tokenizer::load(kRef + "no_such_folder");
    ASSERT_FALSE(tok.ok());
    EXPECT_NE(tok.error().find("tokenizer.json"), std::string::npos) << tok.error();
}

TEST(TokenizerErrors, MalformedJson) {
    auto tok = Tokenizer::fromJson("{\"model\": {\"type\": \"BPE\", ");
    ASSERT_FALSE(tok.ok());
    EXPECT_NE(tok.error().find("not valid JSON"), std::string::npos) << tok.error();
    EXPECT_FALSE(Tokenizer::fromJson("[1, 2]").ok());
    EXPECT_FALSE(Tokenizer::fromJson("{}").ok());
}

TEST(TokenizerErrors, UnsupportedComponentsAreNamed) {
    nlohmann::json j = byteLevelJson();
    j["model"]["type"] = "Markov";
    expectLoadError(j, "Markov");

    j = byteLevelJson();
    j["normalizer"] = {{"type", "Unicode2Ascii"}};
    expectLoadError(j, "Unicode2Ascii");

    j = byteLevelJson(); // a charsmap too short to hold its own trie size
    j["normalizer"] = {{"type", "Precompiled"}, {"precompiled_charsmap", "AAAA"}};
    expectLoadError(j, "Precompiled normalizer");

    j = byteLevelJson(); // a trie size beyond the data
    j["normalizer"] = {{"type", "Precompiled"}, {"precompiled_charsmap", "/////w=="}};
    expectLoadError(j, "truncated");

    j = byteLevelJson();
    j["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "(a"}}}, {"behavior", "Isolated"}};
    expectLoadError(j, "regex \"(a\"");

    j = byteLevelJson();
    j["decoder"] = {{"type", "Telepathy"}};
    expectLoadError(j, "decoder type \"Telepathy\"");
}

TEST(TokenizerErrors, BoundsOnWhatTheFileSays) {
    nlohmann::json j = byteLevelJson();
    nlohmann::json pre = j["pre_tokenizer"];
    for (int i = 0; i < 40; ++i) pre = {{"type", "Sequence"}, {"pretokenizers", {pre}}};
    j["pre_tokenizer"] = pre;
    expectLoadError(j, "nest more than 16 deep");

    j = byteLevelJson();
    nlohmann::json norm = {{"type", "NFC"}};
    for (int i = 0; i < 17; ++i) norm = {{"type", "Sequence"}, {"normalizers", {norm}}};
    j["normalizer"] = norm;
    expectLoadError(j, "nest more than 16 deep");

    j = byteLevelJson();
    j["model"]["vocab"]["huge"] = 100000000;
    expectLoadError(j, "out of range");

    j = byteLevelJson();
    j["added_tokens"][0]["id"] = 2000000000;
    expectLoadError(j, "added_tokens");

    j = byteLevelJson(); // the largest allowed id does not allocate a table of that size
    j["model"]["vocab"]["huge"] = 99999999;
    auto tok = Tokenizer::fromJson(j.dump());
    ASSERT_TRUE(tok.ok()) << tok.error();
    EXPECT_EQ(tok->vocabSize(), 100000000u);
    EXPECT_EQ(tok->idToToken(99999999), "huge");
}

TEST(TokenizerErrors, InconsistentModel) {
    nlohmann::json j = byteLevelJson();
    j["model"]["merges"].push_back({"zz_missing", "a"});
    expectLoadError(j, "missing from the vocabulary");

    j = byteLevelJson();
    j["model"]["unk_token"] = "<nope>";
    expectLoadError(j, "<nope>");

    j = byteLevelJson();
    j["model"]["vocab"] = nlohmann::json::array();
    expectLoadError(j, "vocab");

    j = byteLevelJson();
    j["added_tokens"][0]["lstrip"] = "yes";
    expectLoadError(j, "lstrip");
}

} // namespace
} // namespace tessera

// The pipeline stages of a Hugging Face tokenizer.json, besides the model: normalizers,
// pre-tokenizers, decoders and the post-processor. Each is built from its JSON node by a factory that
// throws tessera::Error naming the unsupported or malformed component; Tokenizer::load turns that
// into a Status. All stages are immutable once built and safe to share between threads.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace tessera::tok {

// A stretch of text on its way to the model. `at_start` marks the piece that begins the user's text
// (offset 0 of the original), which Metaspace's "first" prepend scheme needs.
struct Piece {
    std::string text;
    bool at_start = false;
};

class Normalizer {
public:
    virtual ~Normalizer() = default;
    virtual void normalize(std::string& text) const = 0;
};

class PreTokenizer {
public:
    virtual ~PreTokenizer() = default;
    // Replaces every piece by its sub-pieces; empty sub-pieces are dropped.
    virtual void split(std::vector<Piece>& pieces) const = 0;
};

// Decoders work on the list of token strings, as Hugging Face's decode_chain does: some map each
// token, some fuse the whole list into one string.
class Decoder {
public:
    virtual ~Decoder() = default;
    virtual void decodeChain(std::vector<std::string>& tokens) const = 0;
};

// What the post-processor adds around a single sequence: the ids before and after it.
struct PostProcessor {
    std::vector<int32_t> prefix, suffix;
};

std::unique_ptr<Normalizer> makeNormalizer(const nlohmann::json& node);
std::unique_ptr<PreTokenizer> makePreTokenizer(const nlohmann::json& node);
std::unique_ptr<Decoder> makeDecoder(const nlohmann::json& node);
PostProcessor makePostProcessor(const nlohmann::json& node);

// Byte-level alphabet: every byte maps to one printable code point (GPT-2's bytes_to_unicode).
const std::string& byteToUnicode(unsigned char b); // UTF-8 of the mapped code point
int byteFromUnicode(char32_t cp);                  // -1 for code points outside the alphabet

// Splits text at the spans the GPT-2 / Llama-3 pre-tokenizer patterns match (returned as byte
// [begin, end) ranges, in order, that cover the whole text). The Llama-3 family differs in how many
// digits one number chunk holds (\p{N}{1,3} for Llama-3, \p{N} for Qwen2): `max_digits`.
enum class SplitPattern { kGpt2, kLlama3 };
std::vector<std::pair<size_t, size_t>> patternMatches(std::string_view text, SplitPattern pattern,
                                                      int max_digits = 3);

} // namespace tessera::tok

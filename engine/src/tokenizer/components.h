// The pipeline stages of a Hugging Face tokenizer.json: model, normalizers, pre-tokenizers, decoders
// and the post-processor. Each is built from its JSON node by a factory that throws tessera::Error
// naming the unsupported or malformed component; Tokenizer::load turns that into a Status. All stages
// are immutable once built and safe to share between threads. Nested Sequence nodes deeper than
// kMaxNesting are rejected (the JSON comes from the user's folder).
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace tessera::tok {

constexpr int kMaxNesting = 16;                // Sequence inside Sequence …
constexpr long long kMaxTokenId = 100'000'000; // ids at or above this are rejected before allocating

// A stretch of text on its way to the model. `at_start` marks the piece that begins the user's text
// (offset 0 of the original), which Metaspace's "first" prepend scheme needs.
struct Piece {
    std::string text;
    bool at_start = false;
};

class Model {
public:
    virtual ~Model() = default;
    // Appends the ids of one pre-tokenized piece. Never fails.
    virtual void tokenize(std::string_view piece, std::vector<int32_t>& out) const = 0;
    const std::unordered_map<std::string, int32_t>& vocab() const { return vocab_; }
    int32_t tokenId(std::string_view token) const; // -1 when absent

protected:
    std::unordered_map<std::string, int32_t> vocab_;
};

class Normalizer {
public:
    virtual ~Normalizer() = default;
    virtual void normalize(std::string& text) const = 0; // text is valid UTF-8 and stays so
};

class PreTokenizer {
public:
    virtual ~PreTokenizer() = default;
    // Replaces every piece by its sub-pieces; empty sub-pieces are dropped. Throws tessera::Error
    // when a regex search reaches its step limit.
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

std::unique_ptr<Model> makeModel(const nlohmann::json& node);
std::unique_ptr<Normalizer> makeNormalizer(const nlohmann::json& node, int depth = 0);
std::unique_ptr<PreTokenizer> makePreTokenizer(const nlohmann::json& node, int depth = 0);
std::unique_ptr<Decoder> makeDecoder(const nlohmann::json& node, int depth = 0);
PostProcessor makePostProcessor(const nlohmann::json& node, int depth = 0);

// Byte-level alphabet: every byte maps to one printable code point (GPT-2's bytes_to_unicode).
const std::string& byteToUnicode(unsigned char b); // UTF-8 of the mapped code point
int byteFromUnicode(char32_t cp);                  // -1 for code points outside the alphabet

class Regex;
void replaceAll(std::string& text, const std::string& from, const std::string& to);
void regexReplace(std::string& text, const Regex& regex, const std::string& content); // every match

} // namespace tessera::tok

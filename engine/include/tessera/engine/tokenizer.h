// Text ↔ token ids for the language models, from a Hugging Face `tokenizer.json`.
//
// Supported: every component a tokenizer.json names in the `tokenizers` library — the models BPE
// (byte fallback, ignore_merges; dropout is treated as off), Unigram, WordPiece and WordLevel; the
// normalizers Sequence/Prepend/Replace/Strip/StripAccents/NFC/NFD/NFKC/NFKD/Lowercase/BertNormalizer/
// Nmt/Precompiled/ByteLevel; the pre-tokenizers ByteLevel/Metaspace/Split/Digits/Whitespace/WhitespaceSplit/
// Punctuation/BertPreTokenizer/CharDelimiterSplit/UnicodeScripts/FixedLength/Sequence; the
// post-processors TemplateProcessing/ByteLevel/Roberta/Bert/Sequence; the decoders ByteLevel/
// Metaspace/Replace/ByteFallback/Fuse/Strip/WordPiece/BPEDecoder/CTC/Sequence; added tokens with
// single_word/lstrip/rstrip/normalized.
// Any other component makes load() fail with a message naming it, rather than tokenizing differently
// from the reference library. Regexes run on Oniguruma, Unicode on utf8proc.
// `truncation` and `padding` settings are ignored: encode() works on one text at full length.
//
// Ownership and threads: a Tokenizer is immutable once loaded; copies share the same tables, and
// every method may be called from any thread concurrently.
#pragma once

#include "tessera/engine/status.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace tessera {

struct AddedToken {
    int32_t id = -1;
    std::string content;
    bool special = false;     // dropped by decode(…, skip_special_tokens = true)
    bool single_word = false; // matches only with no word character right before or after it
    bool lstrip = false;      // swallows the whitespace on its left
    bool rstrip = false;      // swallows the whitespace on its right
    bool normalized = false;  // matched in the normalized text instead of the raw input
};

// Which special tokens encode() puts around the text. Special tokens written in the text itself
// ("<|User|>") are recognised whatever the choice.
enum class SpecialTokens {
    kNone,          // the text's ids only
    kPostProcessor, // what tokenizer.json's post-processor adds (the `tokenizers` library's
                    // encode(text, add_special_tokens=True))
    kTransformers,  // what transformers' AutoTokenizer adds: when tokenizer_config.json sets
                    // add_bos_token / add_eos_token (Llama-family tokenizer classes, Janus/DeepSeek
                    // included, rebuild their template from them), BOS and/or EOS as configured;
                    // otherwise the same as kPostProcessor
};

class Tokenizer {
public:
    // An empty tokenizer: encodes everything to nothing. Use load() for a real one.
    Tokenizer();

    // `path` is a tokenizer.json file or a folder holding one. A tokenizer_config.json beside it, if
    // any, supplies the BOS/EOS/pad tokens and the transformers settings (SpecialTokens::kTransformers).
    // Fails when the file is missing, is not valid JSON, or uses an unsupported component.
    static Expected<Tokenizer> load(const std::string& path);
    // The same from the files' contents; `tokenizer_config_json` may be empty.
    static Expected<Tokenizer> fromJson(std::string_view tokenizer_json,
                                        std::string_view tokenizer_config_json = {});

    // Characters the vocabulary cannot express become <unk> / byte tokens, or are dropped when the
    // file defines neither. Malformed UTF-8 is read as U+FFFD. Fails only when a regex of the file
    // gives up at its backtracking step limit (a pathological pattern or input): tryEncode returns that
    // error, encode an empty list.
    Expected<std::vector<int32_t>> tryEncode(std::string_view text,
                                             SpecialTokens special = SpecialTokens::kPostProcessor) const;
    std::vector<int32_t> encode(std::string_view text, bool add_special_tokens = true) const;
    std::vector<int32_t> encode(std::string_view text, SpecialTokens special) const;

    // Ids no token has are skipped. The result is valid UTF-8 (broken sequences become U+FFFD); empty
    // when a Replace decoder's regex gives up at its step limit.
    std::string decode(const std::vector<int32_t>& ids, bool skip_special_tokens = false) const;

    int32_t tokenId(std::string_view token) const; // -1 when absent
    std::string idToToken(int32_t id) const;       // "" when no token has this id
    bool isSpecial(int32_t id) const;              // an added token marked special
    // One past the largest id (model vocabulary and added tokens): the embedding rows a model needs.
    size_t vocabSize() const;
    const std::vector<AddedToken>& addedTokens() const;

    // From tokenizer_config.json (bos_token, eos_token, pad_token); -1 when it does not name them.
    int32_t bosId() const;
    int32_t eosId() const;
    int32_t padId() const;

private:
    struct Impl;
    explicit Tokenizer(std::shared_ptr<const Impl> impl);
    std::shared_ptr<const Impl> impl_;
};

} // namespace tessera

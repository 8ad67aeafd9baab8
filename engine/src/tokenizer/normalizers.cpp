// Normalizers of tokenizer.json: Sequence, Prepend, Replace, Strip, StripAccents, NFC, NFD, NFKC, NFKD,
// Lowercase, BertNormalizer, Nmt, Precompiled and ByteLevel. Unicode work goes through tokenizer/unicode.h
// (utf8proc), regex replacement through tokenizer/regex.h (Oniguruma).
#include "tokenizer/components.h"
#include "tokenizer/json_fields.h"
#include "tokenizer/regex.h"
#include "tokenizer/unicode.h"

#include <functional>
#include <openssl/evp.h>
#include <optional>

namespace tessera::tok {
namespace {

// One normalizer = one function over the whole text.
class FunctionNormalizer : public Normalizer {
public:
    explicit FunctionNormalizer(std::function<void(std::string&)> fn) : fn_(std::move(fn)) {}
    void normalize(std::string& text) const override { fn_(text); }

private:
    std::function<void(std::string&)> fn_;
};

// Rebuilds `text` character by character: `map` appends what a code point becomes (or nothing).
template <class Map> void mapChars(std::string& text, Map map) {
    std::string out;
    out.reserve(text.size());
    for (size_t pos = 0; pos < text.size();) {
        const size_t begin = pos;
        const char32_t cp = decodeUtf8(text, pos);
        map(cp, std::string_view(text).substr(begin, pos - begin), out);
    }
    text = std::move(out);
}

void strip(std::string& text, bool left, bool right) {
    size_t b = 0, e = text.size();
    for (size_t next = b; left && b < e && isWhitespace(decodeUtf8(text, next)); next = b) b = next;
    if (right) {
        size_t last_end = b; // end of the last non-space character
        for (size_t pos = b; pos < e;)
            if (!isWhitespace(decodeUtf8(text, pos))) last_end = pos;
        e = last_end;
    }
    text = text.substr(b, e - b);
}

void removeMarks(std::string& text, bool nonspacing_only) {
    mapChars(text, [&](char32_t cp, std::string_view raw, std::string& out) {
        if (!(nonspacing_only ? isNonspacingMark(cp) : isMark(cp))) out += raw;
    });
}

bool isChineseChar(char32_t c) { // the CJK ideograph blocks BERT pads with spaces
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
           (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) ||
           (c >= 0x2B920 && c <= 0x2CEAF) || (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

void bertNormalize(std::string& text, bool clean, bool chinese, bool accents, bool lower) {
    if (clean)
        mapChars(text, [](char32_t cp, std::string_view raw, std::string& out) {
            const bool control = cp != '\t' && cp != '\n' && cp != '\r' && isOther(cp);
            if (cp == 0 || cp == kReplacementChar || control) return;
            if (isWhitespace(cp))
                out += ' ';
            else
                out += raw;
        });
    if (chinese)
        mapChars(text, [](char32_t cp, std::string_view raw, std::string& out) {
            if (isChineseChar(cp))
                out.append(" ").append(raw).append(" ");
            else
                out += raw;
        });
    if (accents) {
        text = normalizeForm(text, NormalForm::kNfd);
        removeMarks(text, true);
    }
    if (lower) text = lowercase(text);
}

// The NMT normalizer: drops some control characters and reads a few spaces and separators as ' '.
void nmtNormalize(std::string& text) {
    mapChars(text, [](char32_t c, std::string_view raw, std::string& out) {
        if ((c >= 1 && c <= 8) || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F || c == 0x8F ||
            c == 0x9F)
            return;
        const bool space = c == 0x09 || c == 0x0A || c == 0x0C || c == 0x0D || c == 0x1680 ||
                           (c >= 0x200B && c <= 0x200F) || c == 0x2028 || c == 0x2029 || c == 0x2581 ||
                           c == 0xFEFF || c == 0xFFFD;
        if (space)
            out += ' ';
        else
            out += raw;
    });
}

// SentencePiece's precompiled charsmap: a Darts double-array trie over UTF-8 bytes whose leaves index
// NUL-terminated replacements. Whole graphemes (under 6 bytes) are looked up first, then characters;
// the shortest prefix the trie holds wins, as in the `tokenizers` library.
class PrecompiledNormalizer : public Normalizer {
public:
    explicit PrecompiledNormalizer(const std::string& base64) {
        std::string blob(base64.size() / 4 * 3 + 3, '\0');
        const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(blob.data()),
                                      reinterpret_cast<const unsigned char*>(base64.data()),
                                      static_cast<int>(base64.size()));
        TS_CHECK(n >= 4 && base64.size() % 4 == 0,
                 "Precompiled normalizer: precompiled_charsmap is not base64");
        blob.resize(static_cast<size_t>(n) - (base64.ends_with("==") ? 2 : base64.ends_with("=") ? 1 : 0));
        auto le32 = [&](size_t at) {
            uint32_t v = 0;
            for (int i = 3; i >= 0; --i)
                v = v << 8 | static_cast<unsigned char>(blob[at + static_cast<size_t>(i)]);
            return v;
        };
        const size_t trie_bytes = le32(0);
        TS_CHECK(trie_bytes % 4 == 0 && trie_bytes <= blob.size() - 4,
                 "Precompiled normalizer: charsmap is truncated");
        for (size_t i = 0; i < trie_bytes / 4; ++i) trie_.push_back(le32(4 + 4 * i));
        strings_ = blob.substr(4 + trie_bytes);
    }
    void normalize(std::string& text) const override {
        std::string out;
        for (size_t pos = 0, end; pos < text.size(); pos = end) {
            end = graphemeEnd(text, pos);
            if (end - pos < 6 && lookUp(std::string_view(text).substr(pos, end - pos), out)) continue;
            for (size_t c = pos, next; c < end; c = next)
                if (next = c + utf8Length(text, c); !lookUp(std::string_view(text).substr(c, next - c), out))
                    out.append(text, c, next - c);
        }
        text = sanitizeUtf8(out); // a corrupt charsmap may index into the middle of a character
    }

private:
    bool lookUp(std::string_view key, std::string& out) const {
        size_t node = trie_.empty() ? 0 : offset(trie_[0]);
        for (unsigned char c : key) {
            if (c == 0 || (node ^= c) >= trie_.size() || (trie_[node] & 0x800000FFu) != c) return false;
            const uint32_t unit = trie_[node];
            if ((node ^= offset(unit)) >= trie_.size()) return false;
            if (!(unit >> 8 & 1)) continue;
            const size_t at = trie_[node] & 0x7FFFFFFFu;
            if (at >= strings_.size()) return false;
            out.append(strings_, at, strings_.find('\0', at) - at);
            return true;
        }
        return false;
    }
    static size_t offset(uint32_t unit) { return (unit >> 10) << ((unit & (1u << 9)) >> 6); }
    std::vector<uint32_t> trie_;
    std::string strings_;
};

} // namespace

void regexReplace(std::string& text, const Regex& regex, const std::string& content) {
    std::string out;
    size_t pos = 0;
    for (auto [b, e] : regex.findAll(text)) out.append(text, pos, b - pos).append(content), pos = e;
    text = out.append(text, pos, std::string::npos);
}

void replaceAll(std::string& text, const std::string& from, const std::string& to) {
    if (from.empty()) return;
    std::string out;
    size_t pos = 0;
    for (size_t hit; (hit = text.find(from, pos)) != std::string::npos; pos = hit + from.size())
        out.append(text, pos, hit - pos).append(to);
    out.append(text, pos, std::string::npos);
    text = std::move(out);
}

std::unique_ptr<Normalizer> makeNormalizer(const nlohmann::json& node, int depth) {
    if (node.is_null()) return nullptr;
    const std::string type = typeOf(node, "normalizer", depth, kMaxNesting);
    auto make = [](auto fn) { return std::make_unique<FunctionNormalizer>(std::move(fn)); };
    if (type == "Sequence") {
        std::vector<std::shared_ptr<Normalizer>> steps;
        for (const auto& child : listField(node, "normalizers", type))
            if (auto n = makeNormalizer(child, depth + 1)) steps.push_back(std::move(n));
        return make([steps](std::string& t) {
            for (const auto& s : steps) s->normalize(t);
        });
    }
    if (type == "Prepend")
        return make([prefix = stringField(node, "prepend")](std::string& t) {
            if (!t.empty()) t = prefix + t;
        });
    if (type == "Replace") {
        bool is_regex = false;
        const std::string pattern = patternField(node, "Replace normalizer", is_regex);
        const std::string content = stringField(node, "content");
        if (!is_regex) return make([pattern, content](std::string& t) { replaceAll(t, pattern, content); });
        return make(
            [re = Regex::compile(pattern), content](std::string& t) { regexReplace(t, re, content); });
    }
    if (type == "Strip")
        return make([l = boolField(node, "strip_left", true),
                     r = boolField(node, "strip_right", true)](std::string& t) { strip(t, l, r); });
    if (type == "StripAccents") return make([](std::string& t) { removeMarks(t, false); });
    for (auto [name, form] : {std::pair{"NFC", NormalForm::kNfc}, std::pair{"NFD", NormalForm::kNfd},
                              std::pair{"NFKC", NormalForm::kNfkc}, std::pair{"NFKD", NormalForm::kNfkd}})
        if (type == name) return make([form = form](std::string& t) { t = normalizeForm(t, form); });
    if (type == "Lowercase") return make([](std::string& t) { t = lowercase(t); });
    if (type == "BertNormalizer") {
        const bool lower = boolField(node, "lowercase", true);
        const bool clean = boolField(node, "clean_text", true),
                   chinese = boolField(node, "handle_chinese_chars", true);
        const bool accents = boolField(node, "strip_accents", lower); // unset: follows lowercase
        return make([=](std::string& t) { bertNormalize(t, clean, chinese, accents, lower); });
    }
    if (type == "Nmt") return make(nmtNormalize);
    if (type == "Precompiled")
        return std::make_unique<PrecompiledNormalizer>(stringField(node, "precompiled_charsmap"));
    if (type == "ByteLevel")
        return make([](std::string& t) {
            std::string mapped;
            for (char c : t) mapped += byteToUnicode(static_cast<unsigned char>(c));
            t = std::move(mapped);
        });
    throw Error(
        "normalizer type \"" + type +
        "\" is not supported (supported: Sequence, Prepend, Replace, Strip, StripAccents, NFC, NFD, NFKC, "
        "NFKD, Lowercase, BertNormalizer, Nmt, Precompiled, ByteLevel)");
}

} // namespace tessera::tok

// Normalizers and pre-tokenizers of tokenizer.json.
//
//   1. Pattern helpers (literal or regex → matched spans; split behaviours)
//   2. Normalizers: Sequence, Prepend, Replace, Strip, NFC, NFD
//   3. Pre-tokenizers: ByteLevel, Metaspace, Split, Digits, WhitespaceSplit, Sequence
#include "tokenizer/components.h"
#include "tokenizer/json_fields.h"
#include "tokenizer/normalization.h"
#include "tokenizer/regex.h"
#include "tokenizer/unicode.h"

#include <algorithm>
#include <optional>

namespace tessera::tok {
namespace {

// ---- 1. Pattern helpers ----------------------------------------------------------------------------

struct Span {
    size_t begin, end;
    bool match;
};

std::string literalPattern(const nlohmann::json& node, const char* what) {
    const nlohmann::json* pattern = field(node, "pattern");
    TS_CHECK(pattern && pattern->is_object(), std::string(what) + " has no \"pattern\"");
    if (const nlohmann::json* s = field(*pattern, "String")) {
        TS_CHECK(s->is_string(), std::string(what) + ": pattern.String should be a string");
        return s->get<std::string>();
    }
    if (field(*pattern, "Regex"))
        throw Error(std::string(what) +
                    " with a Regex pattern is not supported (only literal String patterns)");
    throw Error(std::string(what) + ": pattern should hold \"String\" or \"Regex\"");
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

// Turns matched ranges into spans covering the whole text, matches and gaps alternating.
std::vector<Span> coverWithGaps(size_t size, const std::vector<std::pair<size_t, size_t>>& matches) {
    std::vector<Span> spans;
    size_t pos = 0;
    for (auto [b, e] : matches) {
        if (b > pos) spans.push_back({pos, b, false});
        spans.push_back({b, e, true});
        pos = e;
    }
    if (pos < size) spans.push_back({pos, size, false});
    return spans;
}

std::vector<std::pair<size_t, size_t>> literalMatches(std::string_view text, const std::string& literal) {
    std::vector<std::pair<size_t, size_t>> out;
    if (literal.empty()) return out;
    for (size_t pos = 0, hit; (hit = text.find(literal, pos)) != std::string_view::npos;
         pos = hit + literal.size())
        out.emplace_back(hit, hit + literal.size());
    return out;
}

enum class Behavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

Behavior parseBehavior(const std::string& name) {
    if (name == "Removed") return Behavior::kRemoved;
    if (name == "Isolated") return Behavior::kIsolated;
    if (name == "MergedWithPrevious") return Behavior::kMergedWithPrevious;
    if (name == "MergedWithNext") return Behavior::kMergedWithNext;
    if (name == "Contiguous") return Behavior::kContiguous;
    throw Error("Split behavior \"" + name + "\" is unknown");
}

// The `tokenizers` library's split semantics: a delimiter is dropped, kept alone, glued to its
// neighbour, or runs of delimiters are glued together.
std::vector<std::pair<size_t, size_t>> applyBehavior(std::vector<Span> spans, Behavior behavior) {
    std::vector<std::pair<size_t, size_t>> out;
    bool previous_match = false;
    switch (behavior) {
    case Behavior::kRemoved:
        for (const Span& s : spans)
            if (!s.match) out.emplace_back(s.begin, s.end);
        break;
    case Behavior::kIsolated:
        for (const Span& s : spans) out.emplace_back(s.begin, s.end);
        break;
    case Behavior::kMergedWithPrevious:
        for (const Span& s : spans) {
            if (s.match && !previous_match && !out.empty())
                out.back().second = s.end;
            else
                out.emplace_back(s.begin, s.end);
            previous_match = s.match;
        }
        break;
    case Behavior::kMergedWithNext:
        for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
            if (it->match && !previous_match && !out.empty())
                out.back().first = it->begin;
            else
                out.emplace_back(it->begin, it->end);
            previous_match = it->match;
        }
        std::reverse(out.begin(), out.end());
        break;
    case Behavior::kContiguous:
        for (const Span& s : spans) {
            if (s.match == previous_match && !out.empty())
                out.back().second = s.end;
            else
                out.emplace_back(s.begin, s.end);
            previous_match = s.match;
        }
        break;
    }
    return out;
}

// Replaces each piece by its sub-pieces. `ranges` gives [begin, end) byte ranges of one piece's text.
template <class RangesFn> void splitPieces(std::vector<Piece>& pieces, RangesFn ranges) {
    std::vector<Piece> out;
    for (Piece& p : pieces) {
        for (auto [b, e] : ranges(p)) {
            if (e <= b) continue;
            out.push_back({p.text.substr(b, e - b), p.at_start && b == 0});
        }
    }
    pieces = std::move(out);
}

// ---- 2. Normalizers --------------------------------------------------------------------------------

class SequenceNormalizer : public Normalizer {
public:
    std::vector<std::unique_ptr<Normalizer>> steps;
    void normalize(std::string& text) const override {
        for (const auto& s : steps) s->normalize(text);
    }
};

class PrependNormalizer : public Normalizer {
public:
    std::string prefix;
    void normalize(std::string& text) const override {
        if (!text.empty()) text = prefix + text;
    }
};

class ReplaceNormalizer : public Normalizer {
public:
    std::string from, to;
    void normalize(std::string& text) const override { replaceAll(text, from, to); }
};

class StripNormalizer : public Normalizer {
public:
    bool left = true, right = true;
    void normalize(std::string& text) const override {
        size_t b = 0, e = text.size();
        if (left) {
            while (b < e) {
                size_t next = b;
                if (!isWhitespace(decodeUtf8(text, next))) break;
                b = next;
            }
        }
        if (right) {
            // Walk forward to find the last non-space character (UTF-8 cannot be decoded backwards
            // without re-synchronising, and texts here are short).
            size_t last_end = b;
            for (size_t pos = b; pos < e;) {
                const char32_t c = decodeUtf8(text, pos);
                if (!isWhitespace(c)) last_end = pos;
            }
            e = last_end;
        }
        text = text.substr(b, e - b);
    }
};

class NfcNormalizer : public Normalizer {
public:
    void normalize(std::string& text) const override { text = toNfc(text); }
};

class NfdNormalizer : public Normalizer {
public:
    void normalize(std::string& text) const override { text = toNfd(text); }
};

// ---- 3. Pre-tokenizers -----------------------------------------------------------------------------

class SequencePreTokenizer : public PreTokenizer {
public:
    std::vector<std::unique_ptr<PreTokenizer>> steps;
    void split(std::vector<Piece>& pieces) const override {
        for (const auto& s : steps) s->split(pieces);
    }
};

class ByteLevelPreTokenizer : public PreTokenizer {
public:
    bool add_prefix_space = false, use_regex = true;
    void split(std::vector<Piece>& pieces) const override {
        if (add_prefix_space)
            for (Piece& p : pieces)
                if (p.text.empty() || p.text[0] != ' ') p.text = " " + p.text;
        if (use_regex)
            splitPieces(pieces, [](const Piece& p) { return patternMatches(p.text, SplitPattern::kGpt2); });
        for (Piece& p : pieces) {
            std::string mapped;
            mapped.reserve(p.text.size() * 2);
            for (char c : p.text) mapped += byteToUnicode(static_cast<unsigned char>(c));
            p.text = std::move(mapped);
        }
    }
};

enum class PrependScheme { kAlways, kFirst, kNever };

PrependScheme parsePrependScheme(const nlohmann::json& node) {
    const std::string scheme = stringField(node, "prepend_scheme");
    if (scheme.empty())
        return boolField(node, "add_prefix_space", true) ? PrependScheme::kAlways : PrependScheme::kNever;
    if (scheme == "always") return PrependScheme::kAlways;
    if (scheme == "first") return PrependScheme::kFirst;
    if (scheme == "never") return PrependScheme::kNever;
    throw Error("Metaspace prepend_scheme \"" + scheme + "\" is unknown (expected always, first or never)");
}

std::string replacementOf(const nlohmann::json& node) {
    const std::string r = stringField(node, "replacement", "\xE2\x96\x81"); // U+2581 '▁'
    TS_CHECK(!r.empty() && utf8Length(r, 0) == r.size(),
             "Metaspace replacement should be a single character");
    return r;
}

class MetaspacePreTokenizer : public PreTokenizer {
public:
    std::string replacement;
    PrependScheme scheme = PrependScheme::kAlways;
    bool split_words = true;
    void split(std::vector<Piece>& pieces) const override {
        for (Piece& p : pieces) {
            replaceAll(p.text, " ", replacement);
            const bool starts = p.text.compare(0, replacement.size(), replacement) == 0;
            if (!starts &&
                (scheme == PrependScheme::kAlways || (scheme == PrependScheme::kFirst && p.at_start)))
                p.text = replacement + p.text;
        }
        if (!split_words) return;
        splitPieces(pieces, [&](const Piece& p) {
            const auto spans = coverWithGaps(p.text.size(), literalMatches(p.text, replacement));
            return applyBehavior(spans, Behavior::kMergedWithNext);
        });
    }
};

class SplitPreTokenizer : public PreTokenizer {
public:
    std::string literal;
    bool is_regex = false, is_known = false; // a known pattern runs on the hand-written matcher
    std::optional<Regex> regex;
    SplitPattern pattern = SplitPattern::kGpt2;
    int max_digits = 3;
    Behavior behavior = Behavior::kIsolated;
    bool invert = false;
    void split(std::vector<Piece>& pieces) const override {
        splitPieces(pieces, [&](const Piece& p) {
            auto spans = coverWithGaps(p.text.size(), !is_regex  ? literalMatches(p.text, literal)
                                                      : is_known ? patternMatches(p.text, pattern, max_digits)
                                                                 : regex->findAll(p.text));
            if (invert)
                for (Span& s : spans) s.match = !s.match;
            return applyBehavior(std::move(spans), behavior);
        });
    }
};

// Regexes known by their exact text; anything else would need a general regex engine.
bool knownRegex(const std::string& regex, SplitPattern& pattern, int& max_digits) {
    static const std::string kGpt2 =
        R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
    if (regex == kGpt2) {
        pattern = SplitPattern::kGpt2;
        return true;
    }
    for (int n = 1; n <= 9; ++n) {
        const std::string digits = n == 1 ? R"(\p{N})" : R"(\p{N}{1,)" + std::to_string(n) + "}";
        const std::string llama3 = R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|)" + digits +
                                   R"(| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
        if (regex == llama3) {
            pattern = SplitPattern::kLlama3;
            max_digits = n;
            return true;
        }
    }
    return false;
}

class DigitsPreTokenizer : public PreTokenizer {
public:
    bool individual = false;
    void split(std::vector<Piece>& pieces) const override {
        splitPieces(pieces, [&](const Piece& p) {
            std::vector<std::pair<size_t, size_t>> matches;
            for (size_t pos = 0; pos < p.text.size();) {
                const size_t b = pos;
                if (!isNumber(decodeUtf8(p.text, pos))) continue;
                if (!individual && !matches.empty() && matches.back().second == b)
                    matches.back().second = pos;
                else
                    matches.emplace_back(b, pos);
            }
            return applyBehavior(coverWithGaps(p.text.size(), matches), Behavior::kIsolated);
        });
    }
};

class WhitespaceSplitPreTokenizer : public PreTokenizer {
public:
    void split(std::vector<Piece>& pieces) const override {
        splitPieces(pieces, [](const Piece& p) {
            std::vector<std::pair<size_t, size_t>> matches;
            for (size_t pos = 0; pos < p.text.size();) {
                const size_t b = pos;
                if (!isWhitespace(decodeUtf8(p.text, pos))) continue;
                if (!matches.empty() && matches.back().second == b)
                    matches.back().second = pos;
                else
                    matches.emplace_back(b, pos);
            }
            return applyBehavior(coverWithGaps(p.text.size(), matches), Behavior::kRemoved);
        });
    }
};

const nlohmann::json& listField(const nlohmann::json& node, const char* key, const std::string& type) {
    const nlohmann::json* list = field(node, key);
    TS_CHECK(list && list->is_array(), type + " needs a list \"" + key + "\"");
    return *list;
}

} // namespace

std::unique_ptr<Normalizer> makeNormalizer(const nlohmann::json& node) {
    if (node.is_null()) return nullptr;
    const std::string type = typeOf(node, "normalizer");
    if (type == "Sequence") {
        auto seq = std::make_unique<SequenceNormalizer>();
        for (const auto& child : listField(node, "normalizers", type))
            if (auto n = makeNormalizer(child)) seq->steps.push_back(std::move(n));
        return seq;
    }
    if (type == "Prepend") {
        auto n = std::make_unique<PrependNormalizer>();
        n->prefix = stringField(node, "prepend");
        return n;
    }
    if (type == "Replace") {
        auto n = std::make_unique<ReplaceNormalizer>();
        n->from = literalPattern(node, "Replace normalizer");
        n->to = stringField(node, "content");
        return n;
    }
    if (type == "Strip") {
        auto n = std::make_unique<StripNormalizer>();
        n->left = boolField(node, "strip_left", true);
        n->right = boolField(node, "strip_right", true);
        return n;
    }
    if (type == "NFC") return std::make_unique<NfcNormalizer>();
    if (type == "NFD") return std::make_unique<NfdNormalizer>();
    throw Error("normalizer type \"" + type +
                "\" is not supported (supported: Sequence, Prepend, Replace, Strip, NFC, NFD)");
}

std::unique_ptr<PreTokenizer> makePreTokenizer(const nlohmann::json& node) {
    if (node.is_null()) return nullptr;
    const std::string type = typeOf(node, "pre_tokenizer");
    if (type == "Sequence") {
        auto seq = std::make_unique<SequencePreTokenizer>();
        for (const auto& child : listField(node, "pretokenizers", type))
            if (auto p = makePreTokenizer(child)) seq->steps.push_back(std::move(p));
        return seq;
    }
    if (type == "ByteLevel") {
        auto p = std::make_unique<ByteLevelPreTokenizer>();
        p->add_prefix_space = boolField(node, "add_prefix_space", true);
        p->use_regex = boolField(node, "use_regex", true);
        return p;
    }
    if (type == "Metaspace") {
        auto p = std::make_unique<MetaspacePreTokenizer>();
        p->replacement = replacementOf(node);
        p->scheme = parsePrependScheme(node);
        p->split_words = boolField(node, "split", true);
        return p;
    }
    if (type == "Split") {
        auto p = std::make_unique<SplitPreTokenizer>();
        const nlohmann::json* pattern = field(node, "pattern");
        TS_CHECK(pattern && pattern->is_object(), "Split pre-tokenizer has no \"pattern\"");
        if (const nlohmann::json* regex = field(*pattern, "Regex")) {
            TS_CHECK(regex->is_string(), "Split pre-tokenizer: pattern.Regex should be a string");
            p->is_regex = true;
            p->is_known = knownRegex(regex->get<std::string>(), p->pattern, p->max_digits);
            if (!p->is_known) p->regex = Regex::compile(regex->get<std::string>());
        } else {
            p->literal = literalPattern(node, "Split pre-tokenizer");
        }
        p->behavior = parseBehavior(stringField(node, "behavior", "Isolated"));
        p->invert = boolField(node, "invert", false);
        return p;
    }
    if (type == "Digits") {
        auto p = std::make_unique<DigitsPreTokenizer>();
        p->individual = boolField(node, "individual_digits", false);
        return p;
    }
    if (type == "WhitespaceSplit") return std::make_unique<WhitespaceSplitPreTokenizer>();
    throw Error(
        "pre-tokenizer type \"" + type +
        "\" is not supported (supported: ByteLevel, Metaspace, Split, Digits, WhitespaceSplit, Sequence)");
}

} // namespace tessera::tok

// Pre-tokenizers of tokenizer.json and the byte-level alphabet.
//
//   1. Spans and split behaviours (how matched delimiters become pieces)
//   2. Pre-tokenizers: ByteLevel, Metaspace, Split, Digits, Whitespace, WhitespaceSplit, Punctuation,
//      BertPreTokenizer, CharDelimiterSplit, UnicodeScripts, FixedLength, Sequence
#include "tokenizer/components.h"
#include "tokenizer/json_fields.h"
#include "tokenizer/regex.h"
#include "tokenizer/unicode.h"

#include <algorithm>
#include <array>
#include <functional>

namespace tessera::tok {
namespace {

// ---- 1. Spans and split behaviours -----------------------------------------------------------------

struct ByteAlphabet {
    std::array<std::string, 256> to_unicode;
    std::array<int, 512> from_unicode{}; // every mapped code point is below 512
    ByteAlphabet() {
        from_unicode.fill(-1);
        int extra = 0;
        for (int b = 0; b < 256; ++b) {
            // Printable Latin-1 bytes keep their code point; the rest move past U+00FF, in byte order.
            const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
            const char32_t cp = printable ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + extra++);
            appendUtf8(to_unicode[static_cast<size_t>(b)], cp);
            from_unicode[cp] = b;
        }
    }
};

const ByteAlphabet& alphabet() {
    static const ByteAlphabet a;
    return a;
}

using Ranges = std::vector<std::pair<size_t, size_t>>;

struct Span {
    size_t begin, end;
    bool match;
};

// Turns matched ranges into spans covering the whole text, matches and gaps alternating.
std::vector<Span> coverWithGaps(size_t size, const Ranges& matches, bool invert = false) {
    std::vector<Span> spans;
    size_t pos = 0;
    for (auto [b, e] : matches) {
        if (b > pos) spans.push_back({pos, b, invert});
        spans.push_back({b, e, !invert});
        pos = e;
    }
    if (pos < size) spans.push_back({pos, size, invert});
    return spans;
}

Ranges literalMatches(std::string_view text, const std::string& literal) {
    Ranges out;
    if (literal.empty()) return out;
    for (size_t pos = 0, hit; (hit = text.find(literal, pos)) != std::string_view::npos;
         pos = hit + literal.size())
        out.emplace_back(hit, hit + literal.size());
    return out;
}

// Every character `pred` accepts is a match of its own.
Ranges charMatches(std::string_view text, const std::function<bool(char32_t)>& pred) {
    Ranges out;
    for (size_t pos = 0; pos < text.size();) {
        const size_t b = pos;
        if (pred(decodeUtf8(text, pos))) out.emplace_back(b, pos);
    }
    return out;
}

enum class Behavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

Behavior parseBehavior(const std::string& name) {
    const char* const kNames[] = {"Removed", "Isolated", "MergedWithPrevious", "MergedWithNext",
                                  "Contiguous"};
    for (size_t i = 0; i < std::size(kNames); ++i)
        if (name == kNames[i]) return static_cast<Behavior>(i);
    throw Error("split behavior \"" + name + "\" is unknown");
}

// The `tokenizers` library's split semantics: a delimiter is dropped, kept alone, glued to its
// neighbour, or runs of delimiters are glued together.
Ranges applyBehavior(std::vector<Span> spans, Behavior behavior) {
    Ranges out;
    bool previous_match = false;
    if (behavior == Behavior::kMergedWithNext) std::reverse(spans.begin(), spans.end());
    for (const Span& s : spans) {
        const bool glue = !out.empty() && (behavior == Behavior::kContiguous ? s.match == previous_match
                                           : behavior == Behavior::kMergedWithPrevious ||
                                                   behavior == Behavior::kMergedWithNext
                                               ? s.match && !previous_match
                                               : false);
        previous_match = s.match;
        if (behavior == Behavior::kRemoved && s.match) continue;
        if (!glue)
            out.emplace_back(s.begin, s.end);
        else if (behavior == Behavior::kMergedWithNext)
            out.back().first = s.begin;
        else
            out.back().second = s.end;
    }
    if (behavior == Behavior::kMergedWithNext) std::reverse(out.begin(), out.end());
    return out;
}

// Replaces each piece by its sub-pieces; `ranges` gives [begin, end) byte ranges of one piece's text.
using RangesFn = std::function<Ranges(const std::string&)>;

class FunctionPreTokenizer : public PreTokenizer {
public:
    explicit FunctionPreTokenizer(RangesFn fn) : fn_(std::move(fn)) {}
    void split(std::vector<Piece>& pieces) const override {
        std::vector<Piece> out;
        for (Piece& p : pieces)
            for (auto [b, e] : fn_(p.text))
                if (e > b) out.push_back({p.text.substr(b, e - b), p.at_start && b == 0});
        pieces = std::move(out);
    }

private:
    RangesFn fn_;
};

std::unique_ptr<PreTokenizer> splitBy(std::function<Ranges(std::string_view)> matches, Behavior behavior,
                                      bool invert = false) {
    return std::make_unique<FunctionPreTokenizer>([=](const std::string& text) {
        return applyBehavior(coverWithGaps(text.size(), matches(text), invert), behavior);
    });
}

std::unique_ptr<PreTokenizer> splitByRegex(const std::string& pattern, Behavior behavior,
                                           bool invert = false) {
    return splitBy([re = Regex::compile(pattern)](std::string_view t) { return re.findAll(t); }, behavior,
                   invert);
}

std::unique_ptr<PreTokenizer> splitByLiteral(std::string s, Behavior behavior, bool invert = false) {
    return splitBy([s](std::string_view t) { return literalMatches(t, s); }, behavior, invert);
}

std::unique_ptr<PreTokenizer> splitByChar(std::function<bool(char32_t)> pred, Behavior behavior) {
    return splitBy([pred](std::string_view t) { return charMatches(t, pred); }, behavior);
}

bool isPunctuationChar(char32_t c) { // ASCII punctuation (symbols included) or Unicode P*
    return (c < 0x80 && c > 0x20 && c != 0x7F && !std::isalnum(static_cast<int>(c))) || isPunctuation(c);
}

// ---- 2. Pre-tokenizers -----------------------------------------------------------------------------

class SequencePreTokenizer : public PreTokenizer {
public:
    std::vector<std::unique_ptr<PreTokenizer>> steps;
    void split(std::vector<Piece>& pieces) const override {
        for (const auto& s : steps) s->split(pieces);
    }
};

const char* const kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

class ByteLevelPreTokenizer : public PreTokenizer {
public:
    bool add_prefix_space = false;
    std::unique_ptr<PreTokenizer> regex; // null: use_regex false
    void split(std::vector<Piece>& pieces) const override {
        if (add_prefix_space)
            for (Piece& p : pieces)
                if (p.text.empty() || p.text[0] != ' ') p.text = " " + p.text;
        if (regex) regex->split(pieces);
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

std::string singleChar(const nlohmann::json& node, const char* key, const char* fallback,
                       const std::string& what) {
    const std::string r = stringField(node, key, fallback);
    TS_CHECK(!r.empty() && sanitizeUtf8(r) == r && utf8Length(r, 0) == r.size(),
             what + " " + key + " should be a single character");
    return r;
}

class MetaspacePreTokenizer : public PreTokenizer {
public:
    std::string replacement;
    PrependScheme scheme = PrependScheme::kAlways;
    std::unique_ptr<PreTokenizer> words; // null: "split": false
    void split(std::vector<Piece>& pieces) const override {
        for (Piece& p : pieces) {
            replaceAll(p.text, " ", replacement);
            const bool starts = p.text.compare(0, replacement.size(), replacement) == 0;
            if (!starts &&
                (scheme == PrependScheme::kAlways || (scheme == PrependScheme::kFirst && p.at_start)))
                p.text = replacement + p.text;
        }
        if (words) words->split(pieces);
    }
};

// Splits where the Unicode script changes; spaces belong to either side, Hiragana and Katakana count
// as Han (Japanese text stays one piece), as the `tokenizers` library's UnicodeScripts does. Text
// before the first character with a script (leading spaces) is dropped, as there.
Ranges scriptRanges(std::string_view text) {
    static const int kHan = scriptOf(U'\u4E00');
    static const int kHiragana = scriptOf(U'\u3042'), kKatakana = scriptOf(U'\u30A2');
    std::vector<size_t> cuts;
    int last = -1; // -1: none yet
    for (size_t pos = 0; pos < text.size();) {
        const size_t begin = pos;
        const char32_t cp = decodeUtf8(text, pos);
        int script = cp == U' ' ? -2 : cp == 0x30FC ? kHan : scriptOf(cp); // -2: any script
        if (script == kHiragana || script == kKatakana) script = kHan;
        if (script != -2 && script != last) cuts.push_back(begin);
        if (script != -2) last = script;
    }
    cuts.push_back(text.size());
    Ranges out;
    for (size_t i = 0; i + 1 < cuts.size(); ++i) out.emplace_back(cuts[i], cuts[i + 1]);
    return out;
}

} // namespace

const std::string& byteToUnicode(unsigned char b) {
    return alphabet().to_unicode[b];
}

int byteFromUnicode(char32_t cp) {
    return cp < 512 ? alphabet().from_unicode[cp] : -1;
}

std::unique_ptr<PreTokenizer> makePreTokenizer(const nlohmann::json& node, int depth) {
    if (node.is_null()) return nullptr;
    const std::string type = typeOf(node, "pre_tokenizer", depth, kMaxNesting);
    if (type == "Sequence") {
        auto seq = std::make_unique<SequencePreTokenizer>();
        for (const auto& child : listField(node, "pretokenizers", type))
            if (auto p = makePreTokenizer(child, depth + 1)) seq->steps.push_back(std::move(p));
        return seq;
    }
    if (type == "ByteLevel") {
        auto p = std::make_unique<ByteLevelPreTokenizer>();
        p->add_prefix_space = boolField(node, "add_prefix_space", true);
        if (boolField(node, "use_regex", true)) p->regex = splitByRegex(kGpt2Pattern, Behavior::kIsolated);
        return p;
    }
    if (type == "Metaspace") {
        auto p = std::make_unique<MetaspacePreTokenizer>();
        p->replacement = singleChar(node, "replacement", "\xE2\x96\x81", "Metaspace"); // U+2581 '▁'
        p->scheme = parsePrependScheme(node);
        if (boolField(node, "split", true))
            p->words = splitByLiteral(p->replacement, Behavior::kMergedWithNext);
        return p;
    }
    if (type == "Split") {
        bool is_regex = false;
        const std::string pattern = patternField(node, "Split pre-tokenizer", is_regex);
        const Behavior behavior = parseBehavior(stringField(node, "behavior", "Isolated"));
        const bool invert = boolField(node, "invert", false);
        return is_regex ? splitByRegex(pattern, behavior, invert) : splitByLiteral(pattern, behavior, invert);
    }
    if (type == "Digits")
        return splitByChar(isNumber, boolField(node, "individual_digits", false) ? Behavior::kIsolated
                                                                                 : Behavior::kContiguous);
    if (type == "Whitespace") // \w as the Rust regex crate reads it: Oniguruma's plus Join_Control
        return splitByRegex("[\\w\u200C\u200D]+|[^\\w\\s\u200C\u200D]+", Behavior::kRemoved, true);
    if (type == "WhitespaceSplit") return splitByChar(isWhitespace, Behavior::kRemoved);
    if (type == "Punctuation")
        return splitByChar(isPunctuationChar, parseBehavior(stringField(node, "behavior", "Isolated")));
    if (type == "BertPreTokenizer") {
        auto seq = std::make_unique<SequencePreTokenizer>();
        seq->steps.push_back(splitByChar(isWhitespace, Behavior::kRemoved));
        seq->steps.push_back(splitByChar(isPunctuationChar, Behavior::kIsolated));
        return seq;
    }
    if (type == "CharDelimiterSplit")
        return splitByLiteral(singleChar(node, "delimiter", "", type), Behavior::kRemoved);
    if (type == "UnicodeScripts") return std::make_unique<FunctionPreTokenizer>(scriptRanges);
    if (type == "FixedLength") {
        const long long length = intField(node, "length", 5);
        TS_CHECK(length > 0, "FixedLength pre-tokenizer: length should be positive");
        return std::make_unique<FunctionPreTokenizer>([length](const std::string& text) {
            Ranges out;
            long long chars = 0;
            for (size_t pos = 0; pos < text.size(); ++chars) {
                const size_t b = pos;
                pos += utf8Length(text, pos);
                if (chars % length == 0)
                    out.emplace_back(b, pos);
                else
                    out.back().second = pos;
            }
            return out;
        });
    }
    throw Error(
        "pre-tokenizer type \"" + type +
        "\" is not supported (supported: ByteLevel, Metaspace, Split, Digits, Whitespace, WhitespaceSplit, "
        "Punctuation, BertPreTokenizer, CharDelimiterSplit, UnicodeScripts, FixedLength, Sequence)");
}

} // namespace tessera::tok

// The byte-level alphabet and the GPT-2 / Llama-3 pre-tokenizer patterns, matched by hand: the
// patterns need \p{L} and \p{N}, which std::regex lacks. Each matcher follows the pattern's
// alternatives in order, with the backtracking a regex engine would do, so the spans equal those
// of Oniguruma / the regex crate that the `tokenizers` library uses.
#include "tokenizer/components.h"
#include "tokenizer/unicode.h"

#include <array>
#include <vector>

namespace tessera::tok {
namespace {

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

enum class Cls { kSpace, kLetter, kNumber, kOther };

Cls classify(char32_t c) {
    if (isWhitespace(c)) return Cls::kSpace;
    if (isLetter(c)) return Cls::kLetter;
    if (isNumber(c)) return Cls::kNumber;
    return Cls::kOther;
}

struct Text {
    std::vector<char32_t> cp;
    std::vector<Cls> cls;
    size_t n = 0;

    size_t run(size_t i, Cls c) const {
        while (i < n && cls[i] == c) ++i;
        return i;
    }
    bool is(size_t i, Cls c) const { return i < n && cls[i] == c; }
    bool isNewline(size_t i) const { return i < n && (cp[i] == U'\r' || cp[i] == U'\n'); }
};

char32_t lowerAscii(char32_t c) {
    return c >= U'A' && c <= U'Z' ? c + 32 : c;
}

// 's|'t|'re|'ve|'m|'ll|'d (optionally case-insensitive). Returns the end, or `i` when none matches.
size_t contraction(const Text& t, size_t i, bool ignore_case) {
    if (t.cp[i] != U'\'' || i + 1 >= t.n) return i;
    auto at = [&](size_t k) { return k < t.n ? (ignore_case ? lowerAscii(t.cp[k]) : t.cp[k]) : char32_t{0}; };
    const char32_t a = at(i + 1), b = at(i + 2);
    if (a == U's' || a == U't' || a == U'm' || a == U'd') return i + 2;
    if (((a == U'r' || a == U'v') && b == U'e') || (a == U'l' && b == U'l')) return i + 3;
    return i;
}

// \s+(?!\S)|\s+ : a whitespace run, leaving its last space to the word that follows it.
size_t trailingSpaces(const Text& t, size_t i) {
    const size_t j = t.run(i, Cls::kSpace);
    if (j == t.n || j - 1 == i) return j;
    return j - 1;
}

size_t matchGpt2(const Text& t, size_t i) {
    if (size_t e = contraction(t, i, false); e != i) return e;
    // ' ?\p{L}+', ' ?\p{N}+', ' ?[^\s\p{L}\p{N}]+': the optional space binds to what follows it.
    const size_t s = (t.cp[i] == U' ' && i + 1 < t.n) ? i + 1 : i;
    for (Cls c : {Cls::kLetter, Cls::kNumber, Cls::kOther})
        if (t.is(s, c)) return t.run(s, c);
    return trailingSpaces(t, i);
}

size_t matchLlama3(const Text& t, size_t i, int max_digits) {
    if (size_t e = contraction(t, i, true); e != i) return e;
    // [^\r\n\p{L}\p{N}]?\p{L}+
    if (t.is(i, Cls::kLetter)) return t.run(i, Cls::kLetter);
    if (!t.isNewline(i) && !t.is(i, Cls::kNumber) && t.is(i + 1, Cls::kLetter))
        return t.run(i + 1, Cls::kLetter);
    // \p{N}{1,max_digits}
    if (t.is(i, Cls::kNumber)) return std::min(t.run(i, Cls::kNumber), i + static_cast<size_t>(max_digits));
    // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
    const size_t s = t.cp[i] == U' ' ? i + 1 : i;
    if (t.is(s, Cls::kOther)) {
        size_t e = t.run(s, Cls::kOther);
        while (t.isNewline(e)) ++e;
        return e;
    }
    // \s*[\r\n]+ : up to and including the run's last line break.
    const size_t j = t.run(i, Cls::kSpace);
    for (size_t k = j; k > i; --k)
        if (t.isNewline(k - 1)) return k;
    return trailingSpaces(t, i);
}

} // namespace

const std::string& byteToUnicode(unsigned char b) {
    return alphabet().to_unicode[b];
}

int byteFromUnicode(char32_t cp) {
    return cp < 512 ? alphabet().from_unicode[cp] : -1;
}

std::vector<std::pair<size_t, size_t>> patternMatches(std::string_view text, SplitPattern pattern,
                                                      int max_digits) {
    Text t;
    std::vector<size_t> offsets; // byte offset of each code point, plus the end
    for (size_t pos = 0; pos < text.size();) {
        offsets.push_back(pos);
        const char32_t c = decodeUtf8(text, pos);
        t.cp.push_back(c);
        t.cls.push_back(classify(c));
    }
    offsets.push_back(text.size());
    t.n = t.cp.size();
    std::vector<std::pair<size_t, size_t>> spans;
    for (size_t i = 0; i < t.n;) {
        size_t e = pattern == SplitPattern::kGpt2 ? matchGpt2(t, i) : matchLlama3(t, i, max_digits);
        if (e <= i) e = i + 1; // cannot happen (every class has an alternative); keeps the loop finite
        spans.emplace_back(offsets[i], offsets[e]);
        i = e;
    }
    return spans;
}

} // namespace tessera::tok

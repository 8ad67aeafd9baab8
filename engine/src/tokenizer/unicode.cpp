// UTF-8 decoding, and the utf8proc / Oniguruma calls behind the Unicode properties.
#include "tokenizer/unicode.h"

#include <cstdlib>
#include <memory>
#include <oniguruma.h>
#include <utf8proc.h>

namespace tessera::tok {
namespace {

bool isContinuation(unsigned char b) {
    return (b & 0xC0) == 0x80;
}

// The second byte of E0/ED/F0/F4 sequences has a narrower range (no overlongs, surrogates, > U+10FFFF).
bool secondByteOk(unsigned char lead, unsigned char b) {
    if (lead == 0xE0) return b >= 0xA0 && b <= 0xBF;
    if (lead == 0xED) return b >= 0x80 && b <= 0x9F;
    if (lead == 0xF0) return b >= 0x90 && b <= 0xBF;
    if (lead == 0xF4) return b >= 0x80 && b <= 0x8F;
    return isContinuation(b);
}

utf8proc_category_t category(char32_t cp) {
    return utf8proc_category(static_cast<utf8proc_int32_t>(cp));
}

} // namespace

char32_t decodeUtf8(std::string_view s, size_t& pos) {
    const auto b0 = static_cast<unsigned char>(s[pos]);
    size_t need = 0;
    char32_t cp = b0;
    if (b0 >= 0xC2 && b0 <= 0xDF)
        need = 1, cp = b0 & 0x1F;
    else if (b0 >= 0xE0 && b0 <= 0xEF)
        need = 2, cp = b0 & 0x0F;
    else if (b0 >= 0xF0 && b0 <= 0xF4)
        need = 3, cp = b0 & 0x07;
    else if (b0 >= 0x80)
        cp = kReplacementChar;
    size_t i = pos + 1;
    for (size_t k = 0; k < need && i < s.size(); ++k, ++i) {
        const auto b = static_cast<unsigned char>(s[i]);
        if (k == 0 ? !secondByteOk(b0, b) : !isContinuation(b)) break;
        cp = (cp << 6) | (b & 0x3F);
    }
    const bool complete = i == pos + 1 + need;
    pos = i;
    return complete ? cp : kReplacementChar;
}

size_t utf8Length(std::string_view s, size_t pos) {
    size_t next = pos;
    decodeUtf8(s, next);
    return next - pos;
}

void appendUtf8(std::string& out, char32_t cp) {
    utf8proc_uint8_t buf[4];
    const auto n = utf8proc_encode_char(static_cast<utf8proc_int32_t>(cp), buf);
    out.append(reinterpret_cast<const char*>(buf), static_cast<size_t>(n));
}

std::string sanitizeUtf8(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (size_t pos = 0; pos < s.size();) {
        const size_t start = pos;
        if (decodeUtf8(s, pos) == kReplacementChar)
            appendUtf8(out, kReplacementChar);
        else
            out.append(s.substr(start, pos - start));
    }
    return out;
}

bool isLetter(char32_t cp) {
    const auto c = category(cp);
    return c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO;
}
bool isNumber(char32_t cp) {
    const auto c = category(cp);
    return c >= UTF8PROC_CATEGORY_ND && c <= UTF8PROC_CATEGORY_NO;
}
bool isPunctuation(char32_t cp) {
    const auto c = category(cp);
    return c >= UTF8PROC_CATEGORY_PC && c <= UTF8PROC_CATEGORY_PO;
}
bool isMark(char32_t cp) {
    const auto c = category(cp);
    return c >= UTF8PROC_CATEGORY_MN && c <= UTF8PROC_CATEGORY_ME;
}
bool isNonspacingMark(char32_t cp) {
    return category(cp) == UTF8PROC_CATEGORY_MN;
}
bool isOther(char32_t cp) {
    const auto c = category(cp);
    return c == UTF8PROC_CATEGORY_CN || c >= UTF8PROC_CATEGORY_CC;
}
bool isWhitespace(char32_t cp) {
    return ONIGENC_IS_CODE_SPACE(ONIG_ENCODING_UTF8, static_cast<OnigCodePoint>(cp));
}

bool isWordChar(char32_t cp) {
    return cp == 0x200C || cp == 0x200D ||
           ONIGENC_IS_CODE_WORD(ONIG_ENCODING_UTF8, static_cast<OnigCodePoint>(cp));
}

std::string normalizeForm(std::string_view text, NormalForm form) {
    int options = UTF8PROC_STABLE;
    options |= form == NormalForm::kNfc || form == NormalForm::kNfkc ? UTF8PROC_COMPOSE : UTF8PROC_DECOMPOSE;
    if (form == NormalForm::kNfkc || form == NormalForm::kNfkd) options |= UTF8PROC_COMPAT;
    utf8proc_uint8_t* mapped = nullptr;
    const auto n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                                static_cast<utf8proc_ssize_t>(text.size()), &mapped,
                                static_cast<utf8proc_option_t>(options));
    std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> owner(mapped, &std::free);
    if (n < 0) return std::string(text);
    return std::string(reinterpret_cast<const char*>(mapped), static_cast<size_t>(n));
}

size_t graphemeEnd(std::string_view text, size_t pos) {
    utf8proc_int32_t state = 0;
    auto prev = static_cast<utf8proc_int32_t>(decodeUtf8(text, pos));
    for (size_t next = pos; pos < text.size(); pos = next) {
        const auto cp = static_cast<utf8proc_int32_t>(decodeUtf8(text, next));
        if (utf8proc_grapheme_break_stateful(prev, cp, &state)) break;
        prev = cp;
    }
    return pos;
}

std::string lowercase(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (size_t pos = 0; pos < text.size();) {
        const char32_t cp = decodeUtf8(text, pos);
        if (cp == 0x130) // the one unconditional multi-character lowercase mapping
            out += "i\xCC\x87";
        else
            appendUtf8(out, static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp))));
    }
    return out;
}

} // namespace tessera::tok

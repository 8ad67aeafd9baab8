// UTF-8 decoding and the few Unicode properties the pre-tokenizer patterns need (\p{L}, \p{N}, \p{P}, \p{S},
// \p{M}, \s).
// std::regex knows no Unicode categories, so the tokenizer classifies code points itself.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace tessera::tok {

constexpr char32_t kReplacementChar = 0xFFFD;

// Decodes the code point starting at s[pos] and advances pos past it. A malformed sequence yields
// U+FFFD and consumes its maximal valid prefix (at least one byte), the rule Unicode recommends and
// Rust's from_utf8_lossy follows, so one truncated character becomes one replacement character.
char32_t decodeUtf8(std::string_view s, size_t& pos);
// Length in bytes of the character starting at s[pos] (malformed: its maximal valid prefix).
size_t utf8Length(std::string_view s, size_t pos);
void appendUtf8(std::string& out, char32_t cp);
// Replaces malformed sequences by U+FFFD; valid text is returned unchanged.
std::string sanitizeUtf8(std::string_view s);

bool isLetter(char32_t cp);      // general category L*
bool isNumber(char32_t cp);      // general category N*
bool isPunctuation(char32_t cp); // general category P*
bool isSymbol(char32_t cp);      // general category S*
bool isMark(char32_t cp);        // general category M*
bool isWhitespace(char32_t cp);  // White_Space property
// Word character as Hugging Face's added-token boundary check sees it (alphanumeric or '_').
inline bool isWordChar(char32_t cp) {
    return cp == U'_' || isLetter(cp) || isNumber(cp);
}

} // namespace tessera::tok

// UTF-8 and the Unicode properties the tokenizer needs, on utf8proc (categories, normalization forms,
// case) and Oniguruma (White_Space). The UTF-8 decoder is Tessera's own: neither library reports the
// maximal-valid-prefix length of a malformed sequence, which the U+FFFD rule below needs.
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

bool isLetter(char32_t cp);         // general category L*
bool isNumber(char32_t cp);         // general category N*
bool isPunctuation(char32_t cp);    // general category P*
bool isMark(char32_t cp);           // general category M*
bool isNonspacingMark(char32_t cp); // general category Mn
bool isOther(char32_t cp);          // general category C* (control, format, unassigned, private, surrogate)
bool isWhitespace(char32_t cp);     // White_Space property
// \w of the Rust regex crate (Alphabetic, M, Nd, Pc, Join_Control): the added-token boundary check.
bool isWordChar(char32_t cp);

enum class NormalForm { kNfc, kNfd, kNfkc, kNfkd };
// `text` must be valid UTF-8 (sanitizeUtf8); anything utf8proc rejects is returned unchanged.
std::string normalizeForm(std::string_view text, NormalForm form);
// End of the extended grapheme cluster that starts at text[pos] (text valid UTF-8).
size_t graphemeEnd(std::string_view text, size_t pos);
// Per-character full lowercase mapping (U+0130 becomes "i\u0307"), as Rust's char::to_lowercase.
std::string lowercase(std::string_view text);

} // namespace tessera::tok

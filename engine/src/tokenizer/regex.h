// Regular expressions for tokenizer.json patterns (Split pre-tokenizer, Replace normalizer and
// decoder, the ByteLevel split), on Oniguruma, the engine the `tokenizers` library uses, with the syntax
// (ONIG_SYNTAX_ONIGURUMA) and options (none) its Rust binding picks: a pattern means the same here.
//
// Each search runs under a backtracking step limit: a pathological pattern or input (`(a+)+$` on a
// long run of "a" ending in "!") makes findAll throw tessera::Error after a bounded amount of work
// instead of hanging. A compiled Regex is immutable and may be searched from several threads at once.
#pragma once

#include <memory>
#include <string_view>
#include <utility>
#include <vector>

namespace tessera::tok {

class Regex {
public:
    // Throws tessera::Error with Oniguruma's message for a pattern it rejects.
    static Regex compile(std::string_view pattern);

    // Leftmost matches as byte ranges of `text` (valid UTF-8), in order, as the `tokenizers` library
    // iterates them: an empty match right where the previous match ended is skipped. Empty matches
    // are otherwise reported (begin == end). Throws tessera::Error when the step limit is reached.
    std::vector<std::pair<size_t, size_t>> findAll(std::string_view text) const;

    static constexpr unsigned long kStepLimit = 10'000'000; // backtracking retries per search

    struct Compiled;

private:
    std::shared_ptr<const Compiled> re_;
};

// The Unicode script of a code point as a small number (equal numbers, same script; Common and
// Inherited are scripts of their own); 0 for unassigned code points. From Oniguruma's Unicode tables.
int scriptOf(char32_t cp);

} // namespace tessera::tok

// A small backtracking regex engine for the Split pre-tokenizer patterns of tokenizer.json files
// (DeepSeek's, for one), with the Unicode classes std::regex lacks. Semantics follow Oniguruma, the
// engine the `tokenizers` library uses: leftmost match, alternatives tried in order, greedy
// quantifiers, ^/$ at line boundaries.
//
// Supported: literals, `.`, classes `[...]` with ranges and negation, \s \S \p{L|N|P|S|M} \P{…},
// \r \n \t \f \v \xHH \x{H…} \uHHHH, escaped punctuation, groups `(…)` `(?:…)` `(?i:…)`, lookahead
// `(?=…)` `(?!…)`, quantifiers ? * + {n} {n,} {n,m}, anchors ^ $ \A \z \Z, alternation.
// Anything else (lookbehind, lazy/possessive quantifiers, \d \w \b, nested classes, back-references)
// is rejected at compile time with a message naming it.
#pragma once

#include <memory>
#include <string_view>
#include <utility>
#include <vector>

namespace tessera::tok {

class Regex {
public:
    // Throws tessera::Error naming the unsupported construct or the syntax error.
    static Regex compile(std::string_view pattern);

    // Non-overlapping leftmost matches as byte ranges, in order. Empty matches are skipped (they
    // would not produce a piece).
    std::vector<std::pair<size_t, size_t>> findAll(std::string_view text) const;

    struct Node;

private:
    std::shared_ptr<const Node> root_;
};

} // namespace tessera::tok

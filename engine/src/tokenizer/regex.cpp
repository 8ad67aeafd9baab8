// Backtracking regex over code points: a parser building a node tree, and a matcher in
// continuation-passing style (each node calls `next` with the position after it, and backtracks when
// `next` fails).
//
//   1. Nodes and character sets
//   2. Parser
//   3. Matcher
#include "tokenizer/regex.h"

#include "tessera/engine/status.h"
#include "tokenizer/unicode.h"

#include <functional>
#include <string>

namespace tessera::tok {

// ---- 1. Nodes and character sets -------------------------------------------------------------------

namespace {

enum class Property { kSpace, kLetter, kNumber, kPunctuation, kSymbol, kMark, kAnyButNewline };

bool hasProperty(Property p, char32_t c) {
    switch (p) {
    case Property::kSpace:
        return isWhitespace(c);
    case Property::kLetter:
        return isLetter(c);
    case Property::kNumber:
        return isNumber(c);
    case Property::kPunctuation:
        return isPunctuation(c);
    case Property::kSymbol:
        return isSymbol(c);
    case Property::kMark:
        return isMark(c);
    case Property::kAnyButNewline:
        return c != U'\n';
    }
    return false;
}

struct CharSet {
    std::vector<std::pair<char32_t, char32_t>> ranges;
    std::vector<std::pair<Property, bool>> properties; // (property, negated)
    bool negated = false;
    bool ignore_case = false;

    bool containsExact(char32_t c) const {
        for (auto [lo, hi] : ranges)
            if (c >= lo && c <= hi) return true;
        for (auto [p, neg] : properties)
            if (hasProperty(p, c) != neg) return true;
        return false;
    }
    bool contains(char32_t c) const {
        bool in = containsExact(c);
        if (!in && ignore_case) {
            if (c >= U'a' && c <= U'z')
                in = containsExact(c - 32);
            else if (c >= U'A' && c <= U'Z')
                in = containsExact(c + 32);
        }
        return in != negated;
    }
};

} // namespace

struct Regex::Node {
    enum class Kind {
        kSet,
        kSeq,
        kAlt,
        kRepeat,
        kLookahead,
        kLineStart,
        kLineEnd,
        kTextStart,
        kTextEnd,
        kTextEndNewline
    };
    Kind kind = Kind::kSeq;
    CharSet set;                                 // kSet
    std::vector<std::unique_ptr<Node>> children; // kSeq, kAlt; kRepeat / kLookahead: one child
    int min = 0, max = -1;                       // kRepeat; max -1: unbounded
    bool negated = false;                        // kLookahead
};

namespace {

using Node = Regex::Node;
using Kind = Regex::Node::Kind;

// ---- 2. Parser -------------------------------------------------------------------------------------

class Parser {
public:
    explicit Parser(std::string_view pattern) : pattern_(pattern) {
        for (size_t pos = 0; pos < pattern.size();) p_.push_back(decodeUtf8(pattern, pos));
    }

    std::unique_ptr<Node> parse() {
        auto root = alternation(false);
        if (i_ < p_.size()) fail("unbalanced ')'");
        return root;
    }

private:
    [[noreturn]] void fail(const std::string& what) const {
        throw Error("regex " + std::string(pattern_) + ": " + what + " (at character " + std::to_string(i_) +
                    ")");
    }
    bool atEnd() const { return i_ >= p_.size(); }
    char32_t peek(size_t ahead = 0) const { return i_ + ahead < p_.size() ? p_[i_ + ahead] : 0; }
    bool eat(char32_t c) {
        if (peek() != c || atEnd()) return false;
        ++i_;
        return true;
    }

    std::unique_ptr<Node> alternation(bool icase) {
        auto alt = std::make_unique<Node>();
        alt->kind = Kind::kAlt;
        alt->children.push_back(sequence(icase));
        while (eat(U'|')) alt->children.push_back(sequence(icase));
        if (alt->children.size() == 1) return std::move(alt->children[0]);
        return alt;
    }

    std::unique_ptr<Node> sequence(bool icase) {
        auto seq = std::make_unique<Node>();
        seq->kind = Kind::kSeq;
        while (!atEnd() && peek() != U'|' && peek() != U')') seq->children.push_back(quantified(icase));
        return seq;
    }

    std::unique_ptr<Node> quantified(bool icase) {
        auto atom_node = atom(icase);
        for (;;) {
            int min = 0, max = -1;
            if (eat(U'?'))
                max = 1;
            else if (eat(U'*')) {
            } else if (eat(U'+'))
                min = 1;
            else if (!braces(min, max))
                break;
            if (peek() == U'?' || peek() == U'+') fail("lazy and possessive quantifiers are not supported");
            auto rep = std::make_unique<Node>();
            rep->kind = Kind::kRepeat;
            rep->min = min;
            rep->max = max;
            rep->children.push_back(std::move(atom_node));
            atom_node = std::move(rep);
        }
        return atom_node;
    }

    // {n}, {n,}, {n,m}; anything else leaves '{' to be read as a literal, as Oniguruma does.
    bool braces(int& min, int& max) {
        if (peek() != U'{') return false;
        size_t j = i_ + 1;
        auto number = [&](int& out) {
            const size_t start = j;
            long long v = 0;
            while (j < p_.size() && p_[j] >= U'0' && p_[j] <= U'9' && v < 100000)
                v = v * 10 + (p_[j++] - U'0');
            out = static_cast<int>(v);
            return j > start;
        };
        int lo = 0, hi = -1;
        if (!number(lo)) return false;
        if (j < p_.size() && p_[j] == U',') {
            ++j;
            if (!number(hi)) hi = -1;
        } else {
            hi = lo;
        }
        if (j >= p_.size() || p_[j] != U'}') return false;
        if (hi >= 0 && hi < lo) fail("quantifier {n,m} with m < n");
        i_ = j + 1;
        min = lo;
        max = hi;
        return true;
    }

    std::unique_ptr<Node> setNode(CharSet set) {
        auto n = std::make_unique<Node>();
        n->kind = Kind::kSet;
        n->set = std::move(set);
        return n;
    }

    std::unique_ptr<Node> atom(bool icase) {
        const char32_t c = p_[i_++];
        switch (c) {
        case U'(':
            return group(icase);
        case U'[':
            return charClass(icase);
        case U'.': {
            CharSet s;
            s.properties.push_back({Property::kAnyButNewline, false});
            return setNode(std::move(s));
        }
        case U'^':
            return anchor(Kind::kLineStart);
        case U'$':
            return anchor(Kind::kLineEnd);
        case U'*':
        case U'+':
        case U'?':
            fail("quantifier without anything to repeat");
        case U'\\': {
            if (eat(U'A')) return anchor(Kind::kTextStart);
            if (eat(U'z')) return anchor(Kind::kTextEnd);
            if (eat(U'Z')) return anchor(Kind::kTextEndNewline);
            CharSet s;
            s.ignore_case = icase;
            escape(s);
            return setNode(std::move(s));
        }
        default: {
            CharSet s;
            s.ignore_case = icase;
            s.ranges.push_back({c, c});
            return setNode(std::move(s));
        }
        }
    }

    std::unique_ptr<Node> anchor(Kind kind) {
        auto n = std::make_unique<Node>();
        n->kind = kind;
        return n;
    }

    std::unique_ptr<Node> group(bool icase) {
        std::unique_ptr<Node> node;
        if (eat(U'?')) {
            if (eat(U':')) {
                node = alternation(icase);
            } else if (peek() == U'i' && peek(1) == U':') {
                i_ += 2;
                node = alternation(true);
            } else if (peek() == U'=' || peek() == U'!') {
                auto look = std::make_unique<Node>();
                look->kind = Kind::kLookahead;
                look->negated = p_[i_++] == U'!';
                look->children.push_back(alternation(icase));
                node = std::move(look);
            } else {
                fail("this group kind (lookbehind, named group, inline flags) is not supported");
            }
        } else {
            node = alternation(icase);
        }
        if (!eat(U')')) fail("missing ')'");
        return node;
    }

    static int hexValue(char32_t c) {
        if (c >= U'0' && c <= U'9') return static_cast<int>(c - U'0');
        if (c >= U'a' && c <= U'f') return static_cast<int>(c - U'a' + 10);
        if (c >= U'A' && c <= U'F') return static_cast<int>(c - U'A' + 10);
        return -1;
    }

    char32_t hexDigits(size_t count) {
        char32_t v = 0;
        for (size_t k = 0; k < count; ++k) {
            const int h = hexValue(peek());
            if (h < 0 || atEnd()) fail("malformed hexadecimal escape");
            v = v * 16 + static_cast<char32_t>(h);
            ++i_;
        }
        return v;
    }

    // After a backslash: adds the escaped character or class to `s`. Returns the character for a
    // single-character escape (usable as a range end), or 0 for a class escape.
    char32_t escape(CharSet& s) {
        if (atEnd()) fail("pattern ends with a backslash");
        const char32_t c = p_[i_++];
        auto single = [&](char32_t ch) {
            s.ranges.push_back({ch, ch});
            return ch;
        };
        switch (c) {
        case U'n':
            return single(U'\n');
        case U'r':
            return single(U'\r');
        case U't':
            return single(U'\t');
        case U'f':
            return single(U'\f');
        case U'v':
            return single(U'\v');
        case U'a':
            return single(U'\a');
        case U'e':
            return single(0x1B);
        case U's':
            s.properties.push_back({Property::kSpace, false});
            return 0;
        case U'S':
            s.properties.push_back({Property::kSpace, true});
            return 0;
        case U'p':
        case U'P': {
            const bool neg = c == U'P';
            if (!eat(U'{')) fail("\\p needs a {category}");
            std::u32string name;
            while (!atEnd() && peek() != U'}') name += p_[i_++];
            if (!eat(U'}')) fail("unterminated \\p{…}");
            Property prop;
            if (name == U"L")
                prop = Property::kLetter;
            else if (name == U"N")
                prop = Property::kNumber;
            else if (name == U"P")
                prop = Property::kPunctuation;
            else if (name == U"S")
                prop = Property::kSymbol;
            else if (name == U"M")
                prop = Property::kMark;
            else
                fail("Unicode class other than L, N, P, S, M");
            s.properties.push_back({prop, neg});
            return 0;
        }
        case U'x':
            if (eat(U'{')) {
                char32_t v = 0;
                size_t digits = 0;
                while (!atEnd() && peek() != U'}') {
                    const int h = hexValue(p_[i_++]);
                    if (h < 0 || ++digits > 6) fail("malformed \\x{…} escape");
                    v = v * 16 + static_cast<char32_t>(h);
                }
                if (!eat(U'}') || digits == 0) fail("malformed \\x{…} escape");
                return single(v);
            }
            return single(hexDigits(2));
        case U'u':
            return single(hexDigits(4));
        default:
            if ((c >= U'0' && c <= U'9') || (c >= U'a' && c <= U'z') || (c >= U'A' && c <= U'Z'))
                fail(std::string("escape \\") + static_cast<char>(c) + " is not supported");
            return single(c); // escaped punctuation stands for itself
        }
    }

    std::unique_ptr<Node> charClass(bool icase) {
        CharSet s;
        s.ignore_case = icase;
        s.negated = eat(U'^');
        bool first = true;
        for (;;) {
            if (atEnd()) fail("unterminated character class");
            char32_t c = p_[i_];
            if (c == U']' && !first) {
                ++i_;
                break;
            }
            first = false;
            if (c == U'[') fail("nested character classes are not supported");
            if (c == U'&' && peek(1) == U'&') fail("class intersection (&&) is not supported");
            ++i_;
            char32_t lo = c;
            if (c == U'\\') {
                CharSet tmp;
                lo = escape(tmp);
                if (lo == 0) { // a class escape such as \s or \p{L}
                    s.properties.insert(s.properties.end(), tmp.properties.begin(), tmp.properties.end());
                    continue;
                }
            }
            if (peek() == U'-' && peek(1) != U']' && i_ + 1 < p_.size()) {
                ++i_;
                char32_t hi = p_[i_++];
                if (hi == U'\\') {
                    CharSet tmp;
                    hi = escape(tmp);
                    if (hi == 0) fail("a class escape cannot end a range");
                }
                if (hi < lo) fail("character range out of order");
                s.ranges.push_back({lo, hi});
            } else {
                s.ranges.push_back({lo, lo});
            }
        }
        return setNode(std::move(s));
    }

    std::string_view pattern_;
    std::u32string p_;
    size_t i_ = 0;
};

// ---- 3. Matcher ------------------------------------------------------------------------------------

using Next = std::function<bool(size_t)>;

class Matcher {
public:
    explicit Matcher(const std::u32string& text) : t_(text) {}

    bool match(const Node& n, size_t i, const Next& next) const {
        switch (n.kind) {
        case Kind::kSet:
            return i < t_.size() && n.set.contains(t_[i]) && next(i + 1);
        case Kind::kSeq:
            return sequence(n, 0, i, next);
        case Kind::kAlt:
            for (const auto& c : n.children)
                if (match(*c, i, next)) return true;
            return false;
        case Kind::kRepeat:
            return repeat(n, i, next);
        case Kind::kLookahead: {
            const bool found = match(*n.children[0], i, [](size_t) { return true; });
            return found != n.negated && next(i);
        }
        case Kind::kLineStart:
            return (i == 0 || t_[i - 1] == U'\n') && next(i);
        case Kind::kLineEnd:
            return (i == t_.size() || t_[i] == U'\n') && next(i);
        case Kind::kTextStart:
            return i == 0 && next(i);
        case Kind::kTextEnd:
            return i == t_.size() && next(i);
        case Kind::kTextEndNewline:
            return (i == t_.size() || (i + 1 == t_.size() && t_[i] == U'\n')) && next(i);
        }
        return false;
    }

private:
    bool sequence(const Node& n, size_t k, size_t i, const Next& next) const {
        if (k == n.children.size()) return next(i);
        return match(*n.children[k], i, [&](size_t j) { return sequence(n, k + 1, j, next); });
    }

    bool repeat(const Node& n, size_t i, const Next& next) const {
        const Node& child = *n.children[0];
        const size_t max = n.max < 0 ? SIZE_MAX : static_cast<size_t>(n.max);
        const size_t min = static_cast<size_t>(n.min);
        if (child.kind == Kind::kSet) {
            // One character per repetition: take the longest run, then give back one at a time.
            size_t count = 0;
            while (count < max && i + count < t_.size() && child.set.contains(t_[i + count])) ++count;
            for (size_t c = count + 1; c-- > min;)
                if (next(i + c)) return true;
            return false;
        }
        return repeatGeneral(child, min, max, 0, i, next);
    }

    bool repeatGeneral(const Node& child, size_t min, size_t max, size_t count, size_t i,
                       const Next& next) const {
        if (count < max && match(child, i, [&](size_t j) {
                // An empty iteration cannot make progress: stop repeating there.
                return j != i && repeatGeneral(child, min, max, count + 1, j, next);
            }))
            return true;
        return count >= min && next(i);
    }

    const std::u32string& t_;
};

} // namespace

Regex Regex::compile(std::string_view pattern) {
    Regex r;
    r.root_ = Parser(pattern).parse();
    return r;
}

std::vector<std::pair<size_t, size_t>> Regex::findAll(std::string_view text) const {
    std::u32string cps;
    std::vector<size_t> offsets;
    for (size_t pos = 0; pos < text.size();) {
        offsets.push_back(pos);
        cps.push_back(decodeUtf8(text, pos));
    }
    offsets.push_back(text.size());
    Matcher m(cps);
    std::vector<std::pair<size_t, size_t>> out;
    for (size_t start = 0; start < cps.size();) {
        size_t end = 0;
        if (m.match(*root_, start,
                    [&](size_t e) {
                        end = e;
                        return true;
                    }) &&
            end > start) {
            out.emplace_back(offsets[start], offsets[end]);
            start = end;
        } else {
            ++start;
        }
    }
    return out;
}

} // namespace tessera::tok

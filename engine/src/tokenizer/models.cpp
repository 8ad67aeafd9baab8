// The models of tokenizer.json: BPE, Unigram, WordPiece and WordLevel.
//
// BPE: a piece starts as its characters and the lowest-ranked adjacent pair is merged until none is
// left, leftmost first among equal ranks, exactly as the `tokenizers` library orders its queue.
// Unigram: the Viterbi best segmentation by piece score, unknown characters at the lowest score
// minus 10, as SentencePiece and `tokenizers` score them. WordPiece: greedy longest prefix, "##"
// continuations, the whole word unknown when any part is. WordLevel: one id per piece.
// `dropout` (BPE) is a training-time setting; encoding is deterministic, as with dropout unset.
#include "tokenizer/components.h"
#include "tokenizer/json_fields.h"
#include "tokenizer/unicode.h"

#include <array>
#include <cstdio>
#include <limits>
#include <queue>

namespace tessera::tok {
namespace {

int32_t checkedId(const nlohmann::json& v, const std::string& token) {
    TS_CHECK(v.is_number_integer(), "model.vocab: the id of \"" + token + "\" is not an integer");
    const long long id = v.get<long long>();
    TS_CHECK(id >= 0 && id < kMaxTokenId, "model.vocab: the id of \"" + token + "\" is out of range");
    return static_cast<int32_t>(id);
}

// Token → id object (BPE, WordPiece, WordLevel).
std::unordered_map<std::string, int32_t> vocabObject(const nlohmann::json& model) {
    const nlohmann::json* vocab = field(model, "vocab");
    TS_CHECK(vocab && vocab->is_object(), "model.vocab should be an object mapping tokens to ids");
    std::unordered_map<std::string, int32_t> out;
    out.reserve(vocab->size());
    for (auto it = vocab->begin(); it != vocab->end(); ++it) out[it.key()] = checkedId(it.value(), it.key());
    return out;
}

std::array<int32_t, 256> byteTokenIds(const Model& m) {
    std::array<int32_t, 256> ids{};
    for (int b = 0; b < 256; ++b) {
        char name[8];
        std::snprintf(name, sizeof name, "<0x%02X>", b);
        ids[static_cast<size_t>(b)] = m.tokenId(name);
    }
    return ids;
}

// Appends the <0xNN> ids of `s`'s bytes; false (nothing appended) when one has no token.
bool appendBytes(const std::array<int32_t, 256>& byte_ids, std::string_view s, std::vector<int32_t>& out) {
    for (char c : s)
        if (byte_ids[static_cast<unsigned char>(c)] < 0) return false;
    for (char c : s) out.push_back(byte_ids[static_cast<unsigned char>(c)]);
    return true;
}

class BpeModel : public Model {
public:
    explicit BpeModel(const nlohmann::json& model);
    void tokenize(std::string_view piece, std::vector<int32_t>& out) const override;

private:
    struct Merge {
        uint32_t rank;
        int32_t new_id;
    };
    static uint64_t pairKey(int32_t a, int32_t b) {
        return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
    }
    void mergeAll(std::vector<int32_t>& symbols) const;

    std::unordered_map<uint64_t, Merge> merges_;
    int32_t unk_id_ = -1;
    bool fuse_unk_ = false, ignore_merges_ = false;
    std::string continuing_prefix_, end_suffix_;
    std::array<int32_t, 256> byte_ids_{};
};

BpeModel::BpeModel(const nlohmann::json& model) {
    vocab_ = vocabObject(model);
    continuing_prefix_ = stringField(model, "continuing_subword_prefix");
    end_suffix_ = stringField(model, "end_of_word_suffix");
    fuse_unk_ = boolField(model, "fuse_unk", false);
    ignore_merges_ = boolField(model, "ignore_merges", false);
    const std::string unk = stringField(model, "unk_token");
    if (!unk.empty()) {
        unk_id_ = tokenId(unk);
        TS_CHECK(unk_id_ >= 0, "model.unk_token \"" + unk + "\" is not in the vocabulary");
    }
    byte_ids_ = byteTokenIds(*this); // all -1 without byte fallback
    if (!boolField(model, "byte_fallback", false)) byte_ids_.fill(-1);
    const nlohmann::json* merges = field(model, "merges");
    if (!merges) return;
    TS_CHECK(merges->is_array(), "model.merges should be a list");
    merges_.reserve(merges->size());
    uint32_t rank = 0;
    for (const auto& merge : *merges) {
        std::string a, b;
        if (merge.is_string()) { // legacy "left right"
            const std::string& s = merge.get_ref<const std::string&>();
            const size_t space = s.find(' ');
            TS_CHECK(space != std::string::npos && space > 0 && space + 1 < s.size(),
                     "model.merges entry \"" + s + "\" should be two tokens separated by a space");
            a = s.substr(0, space);
            b = s.substr(space + 1);
        } else {
            TS_CHECK(merge.is_array() && merge.size() == 2 && merge[0].is_string() && merge[1].is_string(),
                     "model.merges entries should be \"left right\" strings or [left, right] pairs");
            a = merge[0].get_ref<const std::string&>();
            b = merge[1].get_ref<const std::string&>();
        }
        const int32_t ia = tokenId(a), ib = tokenId(b);
        TS_CHECK(ia >= 0 && ib >= 0,
                 "model.merges: \"" + a + "\" + \"" + b + "\" uses a token missing from the vocabulary");
        // With a continuing-subword prefix the right part carries it, the merged token only once.
        std::string merged = a;
        if (!continuing_prefix_.empty() && b.compare(0, continuing_prefix_.size(), continuing_prefix_) == 0)
            merged += b.substr(continuing_prefix_.size());
        else
            merged += b;
        const int32_t id = tokenId(merged);
        TS_CHECK(id >= 0,
                 "model.merges: the merge of \"" + a + "\" + \"" + b + "\" is not in the vocabulary");
        merges_[pairKey(ia, ib)] = {rank++, id}; // a repeated pair keeps its last rank, as in `tokenizers`
    }
}

void BpeModel::tokenize(std::string_view piece, std::vector<int32_t>& out) const {
    if (piece.empty()) return;
    if (int32_t id = ignore_merges_ ? tokenId(piece) : -1; id >= 0) return out.push_back(id);
    std::vector<int32_t> symbols;
    int32_t pending_unk = -1; // an unknown character waiting to be emitted (or fused with the next)
    for (size_t pos = 0; pos < piece.size();) {
        const size_t begin = pos;
        pos += utf8Length(piece, pos);
        std::string ch(piece.substr(begin, pos - begin));
        if (begin > 0 && !continuing_prefix_.empty()) ch = continuing_prefix_ + ch;
        if (pos == piece.size() && !end_suffix_.empty()) ch += end_suffix_;
        if (int32_t id = tokenId(ch); id >= 0) {
            if (pending_unk >= 0) symbols.push_back(pending_unk), pending_unk = -1;
            symbols.push_back(id);
            continue;
        }
        // The `tokenizers` library emits byte tokens ahead of a still pending unknown token.
        if (appendBytes(byte_ids_, ch, symbols)) continue;
        if (unk_id_ < 0) continue; // no unknown token: the character is dropped
        if (pending_unk >= 0 && !fuse_unk_) symbols.push_back(pending_unk);
        pending_unk = unk_id_;
    }
    if (pending_unk >= 0) symbols.push_back(pending_unk);
    mergeAll(symbols);
    out.insert(out.end(), symbols.begin(), symbols.end());
}

void BpeModel::mergeAll(std::vector<int32_t>& symbols) const {
    const size_t n = symbols.size();
    if (n < 2 || merges_.empty()) return;
    // Doubly linked list over the symbols; a merged-away symbol is marked dead.
    std::vector<size_t> prev(n), next(n);
    std::vector<bool> alive(n, true);
    for (size_t i = 0; i < n; ++i) prev[i] = i - 1, next[i] = i + 1; // prev[0] wraps to SIZE_MAX: none
    struct Candidate {
        uint32_t rank;
        size_t pos;
        int32_t new_id;
        bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
    };
    std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> queue;
    auto consider = [&](size_t left) {
        const size_t right = next[left];
        if (right >= n) return;
        auto it = merges_.find(pairKey(symbols[left], symbols[right]));
        if (it != merges_.end()) queue.push({it->second.rank, left, it->second.new_id});
    };
    for (size_t i = 0; i + 1 < n; ++i) consider(i);
    while (!queue.empty()) {
        const Candidate top = queue.top();
        queue.pop();
        if (!alive[top.pos] || next[top.pos] >= n) continue;
        const size_t right = next[top.pos];
        // Skip entries made stale by an earlier merge around this position.
        auto it = merges_.find(pairKey(symbols[top.pos], symbols[right]));
        if (it == merges_.end() || it->second.new_id != top.new_id) continue;
        symbols[top.pos] = top.new_id;
        alive[right] = false;
        next[top.pos] = next[right];
        if (next[right] < n) prev[next[right]] = top.pos;
        if (prev[top.pos] < n) consider(prev[top.pos]);
        consider(top.pos);
    }
    size_t w = 0;
    for (size_t i = 0; i < n; ++i)
        if (alive[i]) symbols[w++] = symbols[i];
    symbols.resize(w);
}

class UnigramModel : public Model {
public:
    explicit UnigramModel(const nlohmann::json& model) {
        const nlohmann::json& vocab = listField(model, "vocab", "Unigram model");
        TS_CHECK(vocab.size() < static_cast<size_t>(kMaxTokenId), "Unigram model: vocabulary too large");
        double min_score = std::numeric_limits<double>::max();
        for (size_t i = 0; i < vocab.size(); ++i) {
            const auto& e = vocab[i];
            TS_CHECK(e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_number(),
                     "Unigram model: vocab entries should be [token, score]");
            const std::string& token = e[0].get_ref<const std::string&>();
            vocab_[token] = static_cast<int32_t>(i); // a repeated token keeps its last id
            scores_.push_back(e[1].get<double>());
            min_score = std::min(min_score, scores_.back());
            max_len_ = std::max(max_len_, token.size());
        }
        unk_score_ = min_score - 10.0;
        const long long unk = intField(model, "unk_id", -1);
        TS_CHECK(unk < static_cast<long long>(vocab.size()),
                 "Unigram model: unk_id is beyond the vocabulary");
        unk_id_ = static_cast<int32_t>(unk);
        byte_ids_ = byteTokenIds(*this);
        if (!boolField(model, "byte_fallback", false)) byte_ids_.fill(-1);
    }

    void tokenize(std::string_view s, std::vector<int32_t>& out) const override {
        struct Best {
            double score = 0;
            size_t start = SIZE_MAX; // SIZE_MAX: not reached
            int32_t id = -1;
        };
        std::vector<Best> best(s.size() + 1);
        best[0].start = 0;
        auto offer = [&](size_t from, size_t to, int32_t id, double score) {
            Best& b = best[to];
            if (b.start == SIZE_MAX || best[from].score + score > b.score)
                b = {best[from].score + score, from, id};
        };
        for (size_t pos = 0; pos < s.size();) {
            const size_t char_len = utf8Length(s, pos);
            bool single = false;
            for (size_t len = 1; len <= max_len_ && pos + len <= s.size(); ++len) {
                auto it = vocab_.find(std::string(s.substr(pos, len)));
                if (it == vocab_.end()) continue;
                offer(pos, pos + len, it->second, scores_[static_cast<size_t>(it->second)]);
                single = single || len == char_len;
            }
            if (!single) offer(pos, pos + char_len, unk_id_, unk_score_);
            pos += char_len;
        }
        // Walk back; neighbouring unknown characters fuse into one piece.
        std::vector<std::pair<size_t, size_t>> pieces;
        bool last_unk = false;
        for (size_t end = s.size(); end > 0; end = best[end].start) {
            const bool unk = best[end].id == unk_id_;
            if (!unk || !last_unk) pieces.push_back({end, end});
            pieces.back().first = best[end].start;
            last_unk = unk;
        }
        for (auto it = pieces.rbegin(); it != pieces.rend(); ++it) {
            const std::string_view piece = s.substr(it->first, it->second - it->first);
            if (int32_t id = tokenId(piece); id >= 0)
                out.push_back(id);
            else if (appendBytes(byte_ids_, piece, out))
                continue;
            else if (unk_id_ >= 0)
                out.push_back(unk_id_);
        }
    }

private:
    std::vector<double> scores_;
    size_t max_len_ = 0;
    double unk_score_ = 0;
    int32_t unk_id_ = -1;
    std::array<int32_t, 256> byte_ids_{};
};

class WordPieceModel : public Model {
public:
    explicit WordPieceModel(const nlohmann::json& model) {
        vocab_ = vocabObject(model);
        prefix_ = stringField(model, "continuing_subword_prefix", "##");
        max_chars_ = static_cast<size_t>(std::max(0LL, intField(model, "max_input_chars_per_word", 100)));
        unk_id_ = tokenId(stringField(model, "unk_token", "[UNK]"));
    }
    void tokenize(std::string_view word, std::vector<int32_t>& out) const override {
        if (word.empty()) return;
        size_t chars = 0;
        for (size_t pos = 0; pos < word.size(); pos += utf8Length(word, pos)) ++chars;
        const size_t mark = out.size();
        for (size_t start = 0; chars <= max_chars_ && start < word.size();) {
            int32_t id = -1;
            size_t end = word.size();
            for (; end > start; end = previousBoundary(word, end))
                if ((id = tokenId((start ? prefix_ : std::string()) +
                                  std::string(word.substr(start, end - start)))) >= 0)
                    break;
            if (id < 0) {
                out.resize(mark);
                break;
            }
            out.push_back(id);
            start = end;
        }
        if (out.size() == mark && unk_id_ >= 0) out.push_back(unk_id_);
    }

private:
    static size_t previousBoundary(std::string_view s, size_t end) { // s is valid UTF-8
        do --end;
        while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80);
        return end;
    }
    std::string prefix_;
    size_t max_chars_ = 100;
    int32_t unk_id_ = -1;
};

class WordLevelModel : public Model {
public:
    explicit WordLevelModel(const nlohmann::json& model) {
        vocab_ = vocabObject(model);
        unk_id_ = tokenId(stringField(model, "unk_token", "<unk>"));
    }
    void tokenize(std::string_view word, std::vector<int32_t>& out) const override {
        const int32_t id = tokenId(word);
        if (id >= 0 || unk_id_ >= 0) out.push_back(id >= 0 ? id : unk_id_);
    }

private:
    int32_t unk_id_ = -1;
};

} // namespace

int32_t Model::tokenId(std::string_view token) const {
    auto it = vocab_.find(std::string(token));
    return it == vocab_.end() ? -1 : it->second;
}

std::unique_ptr<Model> makeModel(const nlohmann::json& node) {
    TS_CHECK(node.is_object(), "tokenizer.json has no \"model\"");
    const std::string type = stringField(node, "type", field(node, "merges") ? "BPE" : "");
    if (type == "BPE") return std::make_unique<BpeModel>(node);
    if (type == "Unigram") return std::make_unique<UnigramModel>(node);
    if (type == "WordPiece") return std::make_unique<WordPieceModel>(node);
    if (type == "WordLevel") return std::make_unique<WordLevelModel>(node);
    throw Error("tokenizer model type \"" + type +
                "\" is not supported (supported: BPE, Unigram, WordPiece, WordLevel)");
}

} // namespace tessera::tok

// BPE: a piece starts as its characters and the lowest-ranked adjacent pair is merged until none
// is left, leftmost first among equal ranks, exactly as the `tokenizers` library orders its queue.
#include "tokenizer/bpe_model.h"

#include "tokenizer/json_fields.h"
#include "tokenizer/unicode.h"

#include <cstdio>
#include <queue>

namespace tessera::tok {

BpeModel BpeModel::fromJson(const nlohmann::json& model) {
    BpeModel m;
    const nlohmann::json* vocab = field(model, "vocab");
    TS_CHECK(vocab && vocab->is_object(), "model.vocab should be an object mapping tokens to ids");
    m.vocab_.reserve(vocab->size());
    for (auto it = vocab->begin(); it != vocab->end(); ++it) {
        TS_CHECK(it.value().is_number_integer(),
                 "model.vocab: the id of \"" + it.key() + "\" is not an integer");
        const long long id = it.value().get<long long>();
        TS_CHECK(id >= 0 && id < INT32_MAX, "model.vocab: the id of \"" + it.key() + "\" is out of range");
        m.vocab_[it.key()] = static_cast<int32_t>(id);
    }

    m.continuing_prefix_ = stringField(model, "continuing_subword_prefix");
    m.end_suffix_ = stringField(model, "end_of_word_suffix");
    m.fuse_unk_ = boolField(model, "fuse_unk", false);
    m.byte_fallback_ = boolField(model, "byte_fallback", false);
    m.ignore_merges_ = boolField(model, "ignore_merges", false);
    // Dropout only matters while training; inference in the `tokenizers` library is deterministic too
    // when dropout is unset, which is what released tokenizers ship.
    const std::string unk = stringField(model, "unk_token");
    if (!unk.empty()) {
        m.unk_id_ = m.tokenId(unk);
        TS_CHECK(m.unk_id_ >= 0, "model.unk_token \"" + unk + "\" is not in the vocabulary");
    }
    for (int b = 0; b < 256; ++b) {
        char name[8];
        std::snprintf(name, sizeof name, "<0x%02X>", b);
        m.byte_ids_[b] = m.tokenId(name);
    }

    const nlohmann::json* merges = field(model, "merges");
    if (!merges) return m;
    TS_CHECK(merges->is_array(), "model.merges should be a list");
    m.merges_.reserve(merges->size());
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
        const int32_t ia = m.tokenId(a), ib = m.tokenId(b);
        TS_CHECK(ia >= 0 && ib >= 0,
                 "model.merges: \"" + a + "\" + \"" + b + "\" uses a token missing from the vocabulary");
        // With a continuing-subword prefix the right part carries it, the merged token only once.
        std::string merged = a;
        if (!m.continuing_prefix_.empty() &&
            b.compare(0, m.continuing_prefix_.size(), m.continuing_prefix_) == 0)
            merged += b.substr(m.continuing_prefix_.size());
        else
            merged += b;
        const int32_t id = m.tokenId(merged);
        TS_CHECK(id >= 0,
                 "model.merges: the merge of \"" + a + "\" + \"" + b + "\" is not in the vocabulary");
        m.merges_[pairKey(ia, ib)] = {rank++, id}; // a repeated pair keeps its last rank, as in `tokenizers`
    }
    return m;
}

int32_t BpeModel::tokenId(std::string_view token) const {
    auto it = vocab_.find(std::string(token));
    return it == vocab_.end() ? -1 : it->second;
}

void BpeModel::tokenize(std::string_view piece, std::vector<int32_t>& out) const {
    if (piece.empty()) return;
    if (ignore_merges_) {
        if (int32_t id = tokenId(piece); id >= 0) {
            out.push_back(id);
            return;
        }
    }
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
        if (byte_fallback_) {
            bool all = true;
            for (char c : ch) all = all && byte_ids_[static_cast<unsigned char>(c)] >= 0;
            if (all) {
                // The `tokenizers` library emits byte tokens ahead of a still pending unknown token.
                for (char c : ch) symbols.push_back(byte_ids_[static_cast<unsigned char>(c)]);
                continue;
            }
        }
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

} // namespace tessera::tok

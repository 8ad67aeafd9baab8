// Tokenizer: loading tokenizer.json and running its pipeline.
//
//   1. Added-token matcher (longest match at the leftmost position, lstrip/rstrip/single_word)
//   2. Loading (tokenizer.json, tokenizer_config.json)
//   3. encode / decode
#include "tessera/engine/tokenizer.h"

#include "tokenizer/components.h"
#include "tokenizer/json_fields.h"
#include "tokenizer/unicode.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unordered_set>

namespace fs = std::filesystem;

namespace tessera {
namespace {

// ---- 1. Added-token matcher ------------------------------------------------------------------------

struct Segment {
    std::string text;
    int32_t id = -1; // an added token, or -1 for text still to tokenize
    bool at_start = false;
};

class AddedMatcher {
public:
    void add(const std::string& pattern, size_t token_index) {
        if (pattern.empty()) return;
        size_t node = 0;
        for (unsigned char c : pattern) {
            const uint64_t key = (static_cast<uint64_t>(node) << 8) | c;
            auto it = edges_.find(key);
            if (it == edges_.end()) {
                it = edges_.emplace(key, terminal_.size()).first;
                terminal_.push_back(-1);
            }
            node = it->second;
        }
        terminal_[node] = static_cast<int64_t>(token_index);
    }

    bool empty() const { return edges_.empty(); }

    // Cuts `text` at the added tokens it holds. Once a match is taken or rejected the scan resumes
    // after it, as the `tokenizers` library's non-overlapping search does.
    std::vector<Segment> split(const std::string& text, bool at_start,
                               const std::vector<AddedToken>& tokens) const {
        std::vector<Segment> out;
        size_t emitted = 0; // text before this is already in `out`
        for (size_t pos = 0; pos < text.size();) {
            size_t node = 0, match_end = 0;
            int64_t match = -1;
            for (size_t i = pos; i < text.size(); ++i) {
                auto it =
                    edges_.find((static_cast<uint64_t>(node) << 8) | static_cast<unsigned char>(text[i]));
                if (it == edges_.end()) break;
                node = it->second;
                if (terminal_[node] >= 0) match = terminal_[node], match_end = i + 1;
            }
            if (match < 0) {
                ++pos;
                continue;
            }
            const AddedToken& tok = tokens[static_cast<size_t>(match)];
            size_t start = pos, stop = match_end;
            pos = match_end;
            if (tok.single_word && (wordCharBefore(text, start) || wordCharAfter(text, stop))) continue;
            if (tok.lstrip) start = std::max(emitted, spaceBefore(text, start));
            if (tok.rstrip) stop = spaceAfter(text, stop);
            if (start > emitted)
                out.push_back({text.substr(emitted, start - emitted), -1, at_start && emitted == 0});
            out.push_back({text.substr(start, stop - start), tok.id, false});
            emitted = stop;
            pos = std::max(pos, stop);
        }
        if (emitted < text.size()) out.push_back({text.substr(emitted), -1, at_start && emitted == 0});
        return out;
    }

private:
    static char32_t charAt(const std::string& s, size_t pos) { return tok::decodeUtf8(s, pos); }
    static size_t previousChar(const std::string& s, size_t pos) { // pos > 0; s is valid UTF-8
        do --pos;
        while (pos > 0 && (static_cast<unsigned char>(s[pos]) & 0xC0) == 0x80);
        return pos;
    }
    static bool wordCharBefore(const std::string& s, size_t pos) {
        return pos > 0 && tok::isWordChar(charAt(s, previousChar(s, pos)));
    }
    static bool wordCharAfter(const std::string& s, size_t pos) {
        return pos < s.size() && tok::isWordChar(charAt(s, pos));
    }
    static size_t spaceBefore(const std::string& s, size_t pos) { // start of the whitespace run ending at pos
        while (pos > 0 && tok::isWhitespace(charAt(s, previousChar(s, pos)))) pos = previousChar(s, pos);
        return pos;
    }
    static size_t spaceAfter(const std::string& s, size_t pos) {
        while (pos < s.size() && tok::isWhitespace(charAt(s, pos))) pos += tok::utf8Length(s, pos);
        return pos;
    }

    std::unordered_map<uint64_t, size_t> edges_; // (node << 8 | byte) → child node
    std::vector<int64_t> terminal_{-1};          // token index ending at each node, or -1
};

std::string readFile(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    TS_CHECK(in, "cannot open " + path.string());
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// tokenizer_config.json names tokens either as a string or as {"content": …}.
std::string configToken(const nlohmann::json& config, const char* key) {
    const nlohmann::json* v = tok::field(config, key);
    if (!v) return {};
    if (v->is_string()) return v->get<std::string>();
    if (v->is_object()) return tok::stringField(*v, "content");
    return {};
}

} // namespace

// ---- 2. Loading ------------------------------------------------------------------------------------

struct Tokenizer::Impl {
    std::unique_ptr<tok::Model> model;
    std::unique_ptr<tok::Normalizer> normalizer;
    std::unique_ptr<tok::PreTokenizer> pre_tokenizer;
    std::unique_ptr<tok::Decoder> decoder;
    tok::PostProcessor post_processor;
    tok::PostProcessor transformers_special; // SpecialTokens::kTransformers
    std::vector<AddedToken> added;
    std::unordered_map<std::string, int32_t> added_ids;
    AddedMatcher raw_matcher, normalized_matcher;
    std::unordered_map<int32_t, std::string> id_to_token; // sparse: ids come from the file
    std::unordered_set<int32_t> special;
    size_t size = 0; // one past the largest id
    int32_t bos = -1, eos = -1, pad = -1;

    int32_t tokenId(std::string_view token) const {
        auto it = added_ids.find(std::string(token));
        return it != added_ids.end() ? it->second : model ? model->tokenId(token) : -1;
    }

    void build(const nlohmann::json& j, const nlohmann::json& config);
    void tokenizeText(Segment segment, std::vector<int32_t>& ids) const;
};

void Tokenizer::Impl::build(const nlohmann::json& j, const nlohmann::json& config) {
    TS_CHECK(j.is_object(), "tokenizer.json should hold a JSON object");
    const nlohmann::json kNull;
    auto part = [&](const char* key) -> const nlohmann::json& {
        const nlohmann::json* p = tok::field(j, key);
        return p ? *p : kNull;
    };
    model = tok::makeModel(part("model"));
    normalizer = tok::makeNormalizer(part("normalizer"));
    pre_tokenizer = tok::makePreTokenizer(part("pre_tokenizer"));
    decoder = tok::makeDecoder(part("decoder"));
    post_processor = tok::makePostProcessor(part("post_processor"));

    if (const nlohmann::json* list = tok::field(j, "added_tokens")) {
        TS_CHECK(list->is_array(), "added_tokens should be a list");
        for (const auto& t : *list) {
            AddedToken a;
            const long long id = tok::intField(t, "id", -1);
            TS_CHECK(id >= 0 && id < tok::kMaxTokenId,
                     "added_tokens: every entry needs an \"id\" from 0 to 99999999");
            a.id = static_cast<int32_t>(id);
            a.content = tok::stringField(t, "content");
            TS_CHECK(!a.content.empty(), "added_tokens: token " + std::to_string(id) + " has no content");
            a.special = tok::boolField(t, "special", false);
            a.single_word = tok::boolField(t, "single_word", false);
            a.lstrip = tok::boolField(t, "lstrip", false);
            a.rstrip = tok::boolField(t, "rstrip", false);
            a.normalized = tok::boolField(t, "normalized", !a.special);
            added.push_back(a);
        }
    }
    for (const auto& [token, id] : model->vocab()) {
        size = std::max(size, static_cast<size_t>(id) + 1);
        id_to_token[id] = token;
    }
    for (size_t i = 0; i < added.size(); ++i) {
        const AddedToken& a = added[i];
        added_ids[a.content] = a.id;
        id_to_token[a.id] = a.content;
        if (a.special) special.insert(a.id);
        size = std::max(size, static_cast<size_t>(a.id) + 1);
        std::string pattern = a.content;
        if (a.normalized && normalizer) normalizer->normalize(pattern);
        (a.normalized ? normalized_matcher : raw_matcher).add(pattern, i);
    }
    for (const auto* side : {&post_processor.prefix, &post_processor.suffix})
        for (int32_t id : *side)
            TS_CHECK(static_cast<size_t>(id) < size,
                     "post_processor adds id " + std::to_string(id) + ", beyond the vocabulary");

    auto configId = [&](const char* key) {
        const std::string token = configToken(config, key);
        return token.empty() ? -1 : tokenId(token);
    };
    bos = configId("bos_token");
    eos = configId("eos_token");
    pad = configId("pad_token");
    transformers_special = post_processor;
    if (tok::field(config, "add_bos_token") || tok::field(config, "add_eos_token")) {
        transformers_special = {};
        if (tok::boolField(config, "add_bos_token", false)) {
            TS_CHECK(bos >= 0,
                     "tokenizer_config.json sets add_bos_token but its bos_token is not in the vocabulary");
            transformers_special.prefix.push_back(bos);
        }
        if (tok::boolField(config, "add_eos_token", false)) {
            TS_CHECK(eos >= 0,
                     "tokenizer_config.json sets add_eos_token but its eos_token is not in the vocabulary");
            transformers_special.suffix.push_back(eos);
        }
    }
}

Tokenizer::Tokenizer() : impl_(std::make_shared<const Impl>()) {}

Tokenizer::Tokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}

Expected<Tokenizer> Tokenizer::fromJson(std::string_view tokenizer_json,
                                        std::string_view tokenizer_config_json) {
    try {
        nlohmann::json j, config;
        const char* file = "tokenizer.json";
        try {
            j = nlohmann::json::parse(tokenizer_json);
            file = "tokenizer_config.json";
            if (!tokenizer_config_json.empty()) config = nlohmann::json::parse(tokenizer_config_json);
        } catch (const nlohmann::json::parse_error& e) {
            return Status::error(std::string(file) + " is not valid JSON: " + e.what());
        }
        auto impl = std::make_shared<Impl>();
        impl->build(j, config);
        return Tokenizer(std::move(impl));
    } catch (const std::exception& e) {
        return Status::error(e.what());
    }
}

Expected<Tokenizer> Tokenizer::load(const std::string& path) {
    try {
        fs::path file = path;
        if (fs::is_directory(file)) file /= "tokenizer.json";
        if (!fs::is_regular_file(file))
            return Status::error(file.string() + " not found: a tokenizer needs the model's tokenizer.json");
        const fs::path config_file = file.parent_path() / "tokenizer_config.json";
        const std::string config = fs::is_regular_file(config_file) ? readFile(config_file) : std::string();
        auto t = fromJson(readFile(file), config);
        if (!t) return Status::error(file.string() + ": " + t.error());
        return t;
    } catch (const std::exception& e) {
        return Status::error(path + ": " + e.what());
    }
}

// ---- 3. encode / decode ----------------------------------------------------------------------------

void Tokenizer::Impl::tokenizeText(Segment segment, std::vector<int32_t>& ids) const {
    if (normalizer) normalizer->normalize(segment.text);
    std::vector<Segment> parts;
    if (normalized_matcher.empty())
        parts.push_back(std::move(segment));
    else
        parts = normalized_matcher.split(segment.text, segment.at_start, added);
    for (Segment& part : parts) {
        if (part.id >= 0) {
            ids.push_back(part.id);
            continue;
        }
        std::vector<tok::Piece> pieces{{std::move(part.text), part.at_start}};
        if (pre_tokenizer) pre_tokenizer->split(pieces);
        for (const tok::Piece& p : pieces) model->tokenize(p.text, ids);
    }
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
    return encode(text, add_special_tokens ? SpecialTokens::kPostProcessor : SpecialTokens::kNone);
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, SpecialTokens special) const {
    auto ids = tryEncode(text, special);
    return ids ? std::move(*ids) : std::vector<int32_t>();
}

Expected<std::vector<int32_t>> Tokenizer::tryEncode(std::string_view text, SpecialTokens special) const {
    const Impl& im = *impl_;
    std::vector<int32_t> ids;
    const tok::PostProcessor* pp = special == SpecialTokens::kPostProcessor  ? &im.post_processor
                                   : special == SpecialTokens::kTransformers ? &im.transformers_special
                                                                             : nullptr;
    if (pp) ids = pp->prefix;
    try {
        if (im.model)
            for (Segment& s : im.raw_matcher.split(tok::sanitizeUtf8(text), true, im.added)) {
                if (s.id >= 0)
                    ids.push_back(s.id);
                else
                    im.tokenizeText(std::move(s), ids);
            }
    } catch (const std::exception& e) {
        return Status::error(std::string("cannot tokenize this text: ") + e.what());
    }
    if (pp) ids.insert(ids.end(), pp->suffix.begin(), pp->suffix.end());
    return ids;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const {
    const Impl& im = *impl_;
    std::vector<std::string> tokens;
    tokens.reserve(ids.size());
    for (int32_t id : ids) {
        auto it = im.id_to_token.find(id);
        if (it == im.id_to_token.end() || (skip_special_tokens && isSpecial(id))) continue;
        tokens.push_back(it->second);
    }
    std::string out;
    try {
        if (im.decoder) {
            im.decoder->decodeChain(tokens);
            for (const std::string& t : tokens) out += t;
        } else {
            for (size_t i = 0; i < tokens.size(); ++i) out += (i ? " " : "") + tokens[i];
        }
    } catch (const std::exception&) {
        out.clear(); // a Replace decoder's regex gave up
    }
    return tok::sanitizeUtf8(out);
}

int32_t Tokenizer::tokenId(std::string_view token) const {
    return impl_->tokenId(token);
}

std::string Tokenizer::idToToken(int32_t id) const {
    auto it = impl_->id_to_token.find(id);
    return it == impl_->id_to_token.end() ? std::string() : it->second;
}

bool Tokenizer::isSpecial(int32_t id) const {
    return impl_->special.count(id) != 0;
}

size_t Tokenizer::vocabSize() const {
    return impl_->size;
}
const std::vector<AddedToken>& Tokenizer::addedTokens() const {
    return impl_->added;
}
int32_t Tokenizer::bosId() const {
    return impl_->bos;
}
int32_t Tokenizer::eosId() const {
    return impl_->eos;
}
int32_t Tokenizer::padId() const {
    return impl_->pad;
}

} // namespace tessera

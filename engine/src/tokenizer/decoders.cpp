// Decoders (ids' token strings → text) and the post-processor (special tokens around a sequence).
// Decoders: ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip, WordPiece, BPEDecoder, CTC, Sequence.
// Post-processors: TemplateProcessing, ByteLevel, RobertaProcessing, BertProcessing, Sequence.
#include "tokenizer/components.h"
#include "tokenizer/json_fields.h"
#include "tokenizer/regex.h"
#include "tokenizer/unicode.h"

#include <cctype>
#include <optional>

namespace tessera::tok {
namespace {

const char* const kMetaspaceChar = "\xE2\x96\x81"; // U+2581 '▁'

class SequenceDecoder : public Decoder {
public:
    std::vector<std::unique_ptr<Decoder>> steps;
    void decodeChain(std::vector<std::string>& tokens) const override {
        for (const auto& s : steps) s->decodeChain(tokens);
    }
};

// Maps the byte-level alphabet back to bytes. A token with a character outside the alphabet (an
// added token such as "<｜begin▁of▁sentence｜>") passes through as its own UTF-8.
class ByteLevelDecoder : public Decoder {
public:
    void decodeChain(std::vector<std::string>& tokens) const override {
        std::string bytes;
        for (const std::string& t : tokens) {
            std::string mapped;
            bool all_mapped = true;
            for (size_t pos = 0; pos < t.size() && all_mapped;) {
                const int b = byteFromUnicode(decodeUtf8(t, pos));
                if (b < 0)
                    all_mapped = false;
                else
                    mapped += static_cast<char>(b);
            }
            bytes += all_mapped ? mapped : t;
        }
        tokens.assign(1, sanitizeUtf8(bytes));
    }
};

class MetaspaceDecoder : public Decoder {
public:
    std::string replacement = kMetaspaceChar;
    bool strip_first = true; // prepend scheme other than "never": the first token's marks were added
    void decodeChain(std::vector<std::string>& tokens) const override {
        for (size_t i = 0; i < tokens.size(); ++i)
            replaceAll(tokens[i], replacement, i == 0 && strip_first ? "" : " ");
    }
};

class ReplaceDecoder : public Decoder {
public:
    std::string from, to;
    std::optional<Regex> regex;
    void decodeChain(std::vector<std::string>& tokens) const override {
        for (std::string& t : tokens) {
            if (!regex) {
                replaceAll(t, from, to);
                continue;
            }
            std::string out;
            size_t pos = 0;
            for (auto [b, e] : regex->findAll(t)) out.append(t, pos, b - pos).append(to), pos = e;
            t = out.append(t, pos, std::string::npos);
        }
    }
};

// The `tokenizers` library's WordPiece cleanup: no space before punctuation and contractions.
std::string cleanup(std::string text) {
    static const std::pair<const char*, const char*> kRules[] = {
        {" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"}, {" n't", "n't"},
        {" 'm", "'m"}, {" do not", " don't"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
    for (auto [from, to] : kRules) replaceAll(text, from, to);
    return text;
}

// WordPiece: continuation tokens lose their prefix, other tokens after the first get a space.
class WordPieceDecoder : public Decoder {
public:
    std::string prefix;
    bool cleanup_text = true;
    void decodeChain(std::vector<std::string>& tokens) const override {
        for (size_t i = 0; i < tokens.size(); ++i) {
            std::string& t = tokens[i];
            if (i > 0) t = t.compare(0, prefix.size(), prefix) == 0 ? t.substr(prefix.size()) : " " + t;
            if (cleanup_text) t = cleanup(t);
        }
    }
};

// BPEDecoder: the end-of-word suffix becomes a space (nothing after the last token).
class BpeSuffixDecoder : public Decoder {
public:
    std::string suffix;
    void decodeChain(std::vector<std::string>& tokens) const override {
        for (size_t i = 0; i < tokens.size(); ++i) replaceAll(tokens[i], suffix, i + 1 == tokens.size() ? "" : " ");
    }
};

// CTC: repeated tokens collapse, the pad token disappears, the word delimiter becomes a space.
class CtcDecoder : public Decoder {
public:
    std::string pad, delimiter;
    bool cleanup_text = true;
    void decodeChain(std::vector<std::string>& tokens) const override {
        std::vector<std::string> out;
        for (size_t i = 0; i < tokens.size(); ++i) {
            if (i > 0 && tokens[i] == tokens[i - 1]) continue;
            std::string t = tokens[i];
            replaceAll(t, pad, "");
            if (cleanup_text) t = cleanup(t), replaceAll(t, delimiter, " ");
            if (!t.empty()) out.push_back(std::move(t));
        }
        tokens = std::move(out);
    }
};

// <0xNN> tokens become raw bytes; a run that is not valid UTF-8 becomes one U+FFFD per byte.
class ByteFallbackDecoder : public Decoder {
public:
    void decodeChain(std::vector<std::string>& tokens) const override {
        std::vector<std::string> out;
        std::string pending;
        size_t pending_count = 0;
        auto flush = [&] {
            if (pending_count == 0) return;
            if (sanitizeUtf8(pending) == pending)
                out.push_back(pending);
            else
                for (size_t i = 0; i < pending_count; ++i) out.emplace_back("\xEF\xBF\xBD");
            pending.clear();
            pending_count = 0;
        };
        for (std::string& t : tokens) {
            int byte = -1;
            if (t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>') {
                const std::string hex = t.substr(3, 2);
                if (std::isxdigit(static_cast<unsigned char>(hex[0])) &&
                    std::isxdigit(static_cast<unsigned char>(hex[1])))
                    byte = std::stoi(hex, nullptr, 16);
            }
            if (byte >= 0) {
                pending += static_cast<char>(byte);
                ++pending_count;
            } else {
                flush();
                out.push_back(std::move(t));
            }
        }
        flush();
        tokens = std::move(out);
    }
};

class FuseDecoder : public Decoder {
public:
    void decodeChain(std::vector<std::string>& tokens) const override {
        std::string all;
        for (const std::string& t : tokens) all += t;
        tokens.assign(1, std::move(all));
    }
};

// Removes up to `start` leading and `stop` trailing copies of one character from every token.
class StripDecoder : public Decoder {
public:
    std::string content;
    size_t start = 0, stop = 0;
    void decodeChain(std::vector<std::string>& tokens) const override {
        for (std::string& t : tokens) {
            size_t b = 0, e = t.size();
            for (size_t i = 0; i < start && t.compare(b, content.size(), content) == 0 && b < e; ++i)
                b += content.size();
            for (size_t i = 0; i < stop && e >= b + content.size() &&
                               t.compare(e - content.size(), content.size(), content) == 0;
                 ++i)
                e -= content.size();
            t = t.substr(b, e - b);
        }
    }
};

// The ids a TemplateProcessing "SpecialToken" item stands for.
std::vector<int32_t> templateSpecialIds(const nlohmann::json& processor, const std::string& name) {
    const nlohmann::json* specials = field(processor, "special_tokens");
    const nlohmann::json* entry = specials ? field(*specials, name.c_str()) : nullptr;
    TS_CHECK(entry,
             "TemplateProcessing uses special token \"" + name + "\" but does not list it in special_tokens");
    const nlohmann::json& ids = listField(*entry, "ids", "TemplateProcessing special token " + name);
    std::vector<int32_t> out;
    for (const auto& id : ids) {
        TS_CHECK(id.is_number_integer() && id.get<long long>() >= 0,
                 "TemplateProcessing: ids of " + name + " should be token ids");
        out.push_back(static_cast<int32_t>(id.get<long long>()));
    }
    return out;
}

PostProcessor templateProcessing(const nlohmann::json& node) {
    PostProcessor pp;
    bool seen_sequence = false;
    for (const auto& item : listField(node, "single", "TemplateProcessing")) {
        if (const nlohmann::json* seq = field(item, "Sequence")) {
            const std::string id = stringField(*seq, "id", "A");
            TS_CHECK(id == "A" && !seen_sequence,
                     "TemplateProcessing: the single template should hold sequence $A once");
            seen_sequence = true;
        } else if (const nlohmann::json* sp = field(item, "SpecialToken")) {
            const auto ids = templateSpecialIds(node, stringField(*sp, "id"));
            auto& side = seen_sequence ? pp.suffix : pp.prefix;
            side.insert(side.end(), ids.begin(), ids.end());
        } else {
            throw Error("TemplateProcessing: template items should be \"Sequence\" or \"SpecialToken\"");
        }
    }
    TS_CHECK(seen_sequence, "TemplateProcessing: the single template has no $A");
    return pp;
}

// RobertaProcessing / BertProcessing: "cls": [token, id], "sep": [token, id].
int32_t pairId(const nlohmann::json& node, const char* key, const std::string& type) {
    const nlohmann::json* pair = field(node, key);
    TS_CHECK(pair && pair->is_array() && pair->size() == 2 && (*pair)[1].is_number_integer(),
             type + " needs \"" + key + "\": [token, id]");
    return static_cast<int32_t>((*pair)[1].get<long long>());
}

} // namespace

std::unique_ptr<Decoder> makeDecoder(const nlohmann::json& node, int depth) {
    if (node.is_null()) return nullptr;
    const std::string type = typeOf(node, "decoder", depth, kMaxNesting);
    if (type == "Sequence") {
        auto seq = std::make_unique<SequenceDecoder>();
        for (const auto& child : listField(node, "decoders", type))
            if (auto d = makeDecoder(child, depth + 1)) seq->steps.push_back(std::move(d));
        return seq;
    }
    if (type == "ByteLevel") return std::make_unique<ByteLevelDecoder>();
    if (type == "Metaspace") {
        auto d = std::make_unique<MetaspaceDecoder>();
        d->replacement = stringField(node, "replacement", kMetaspaceChar);
        const std::string scheme = stringField(node, "prepend_scheme");
        d->strip_first = scheme.empty() ? boolField(node, "add_prefix_space", true) : scheme != "never";
        return d;
    }
    if (type == "Replace") {
        auto d = std::make_unique<ReplaceDecoder>();
        bool is_regex = false;
        d->from = patternField(node, "Replace decoder", is_regex);
        if (is_regex) d->regex = Regex::compile(d->from);
        d->to = stringField(node, "content");
        return d;
    }
    if (type == "WordPiece") {
        auto d = std::make_unique<WordPieceDecoder>();
        d->prefix = stringField(node, "prefix", "##");
        d->cleanup_text = boolField(node, "cleanup", true);
        return d;
    }
    if (type == "BPEDecoder") {
        auto d = std::make_unique<BpeSuffixDecoder>();
        d->suffix = stringField(node, "suffix", "</w>");
        return d;
    }
    if (type == "CTC") {
        auto d = std::make_unique<CtcDecoder>();
        d->pad = stringField(node, "pad_token", "<pad>");
        d->delimiter = stringField(node, "word_delimiter_token", "|");
        d->cleanup_text = boolField(node, "cleanup", true);
        return d;
    }

    if (type == "ByteFallback") return std::make_unique<ByteFallbackDecoder>();
    if (type == "Fuse") return std::make_unique<FuseDecoder>();
    if (type == "Strip") {
        auto d = std::make_unique<StripDecoder>();
        d->content = stringField(node, "content", " ");
        TS_CHECK(!d->content.empty() && utf8Length(d->content, 0) == d->content.size(),
                 "Strip decoder content should be a single character");
        const long long start = intField(node, "start", 0), stop = intField(node, "stop", 0);
        TS_CHECK(start >= 0 && stop >= 0, "Strip decoder start/stop should not be negative");
        d->start = static_cast<size_t>(start);
        d->stop = static_cast<size_t>(stop);
        return d;
    }
    throw Error("decoder type \"" + type +
                "\" is not supported (supported: ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip, "
                "WordPiece, BPEDecoder, CTC, Sequence)");
}

PostProcessor makePostProcessor(const nlohmann::json& node, int depth) {
    if (node.is_null()) return {};
    const std::string type = typeOf(node, "post_processor", depth, kMaxNesting);
    if (type == "TemplateProcessing") return templateProcessing(node);
    if (type == "ByteLevel") return {}; // only adjusts offsets, which Tessera does not report
    if (type == "RobertaProcessing" || type == "BertProcessing")
        return {{pairId(node, "cls", type)}, {pairId(node, "sep", type)}};
    if (type == "Sequence") {
        // Each processor wraps what the previous one produced.
        PostProcessor all;
        for (const auto& child : listField(node, "processors", type)) {
            PostProcessor p = makePostProcessor(child, depth + 1);
            all.prefix.insert(all.prefix.begin(), p.prefix.begin(), p.prefix.end());
            all.suffix.insert(all.suffix.end(), p.suffix.begin(), p.suffix.end());
        }
        return all;
    }
    throw Error(
        "post_processor type \"" + type +
        "\" is not supported (supported: TemplateProcessing, ByteLevel, RobertaProcessing, BertProcessing, "
        "Sequence)");
}

} // namespace tessera::tok

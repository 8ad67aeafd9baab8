// Decoders (ids' token strings → text) and the post-processor (special tokens around a sequence).
// Decoders: ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip, WordPiece, BPEDecoder, CTC, Sequence.
// Post-processors: TemplateProcessing, ByteLevel, RobertaProcessing, BertProcessing, Sequence.
#include "tokenizer/components.h"
#include "tokenizer/json_fields.h"
#include "tokenizer/regex.h"
#include "tokenizer/unicode.h"

#include <cctype>
#include <functional>

namespace tessera::tok {
namespace {

using Tokens = std::vector<std::string>;

// One decoder = one function over the token list.
class FunctionDecoder : public Decoder {
public:
    explicit FunctionDecoder(std::function<void(Tokens&)> fn) : fn_(std::move(fn)) {}
    void decodeChain(Tokens& tokens) const override { fn_(tokens); }

private:
    std::function<void(Tokens&)> fn_;
};

// Maps the byte-level alphabet back to bytes. A token with a character outside the alphabet (an
// added token such as "<｜begin▁of▁sentence｜>") passes through as its own UTF-8.
void byteLevel(Tokens& tokens) {
    std::string bytes;
    for (const std::string& t : tokens) {
        std::string mapped;
        int b = 0;
        for (size_t pos = 0; pos < t.size() && b >= 0;)
            if ((b = byteFromUnicode(decodeUtf8(t, pos))) >= 0) mapped += static_cast<char>(b);
        bytes += b >= 0 ? mapped : t;
    }
    tokens.assign(1, sanitizeUtf8(bytes));
}

// <0xNN> tokens become raw bytes; a run that is not valid UTF-8 becomes one U+FFFD per byte.
void byteFallback(Tokens& tokens) {
    Tokens out;
    std::string pending;
    auto flush = [&] {
        if (sanitizeUtf8(pending) == pending)
            out.push_back(pending);
        else
            out.insert(out.end(), pending.size(), "\xEF\xBF\xBD");
        pending.clear();
    };
    for (std::string& t : tokens) {
        const bool is_byte = t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>' &&
                             std::isxdigit(static_cast<unsigned char>(t[3])) &&
                             std::isxdigit(static_cast<unsigned char>(t[4]));
        if (is_byte) {
            pending += static_cast<char>(std::stoi(t.substr(3, 2), nullptr, 16));
            continue;
        }
        if (!pending.empty()) flush();
        out.push_back(std::move(t));
    }
    if (!pending.empty()) flush();
    tokens = std::move(out);
}

// The `tokenizers` library's WordPiece cleanup: no space before punctuation and contractions.
std::string cleanup(std::string text) {
    static const std::pair<const char*, const char*> kRules[] = {
        {" .", "."},   {" ?", "?"},           {" !", "!"},   {" ,", ","},     {" ' ", "'"},   {" n't", "n't"},
        {" 'm", "'m"}, {" do not", " don't"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
    for (auto [from, to] : kRules) replaceAll(text, from, to);
    return text;
}

// CTC: repeated tokens collapse, the pad token disappears, the word delimiter becomes a space.
void ctc(Tokens& tokens, const std::string& pad, const std::string& delimiter, bool clean) {
    Tokens out;
    for (size_t i = 0; i < tokens.size(); ++i) {
        if (i > 0 && tokens[i] == tokens[i - 1]) continue;
        std::string t = tokens[i];
        replaceAll(t, pad, "");
        if (clean) t = cleanup(t), replaceAll(t, delimiter, " ");
        if (!t.empty()) out.push_back(std::move(t));
    }
    tokens = std::move(out);
}

// Removes up to `start` leading and `stop` trailing copies of `c` from every token.
void strip(Tokens& tokens, const std::string& c, size_t start, size_t stop) {
    for (std::string& t : tokens) {
        size_t b = 0, e = t.size();
        for (size_t i = 0; i < start && b < e && t.compare(b, c.size(), c) == 0; ++i) b += c.size();
        for (size_t i = 0; i < stop && e >= b + c.size() && t.compare(e - c.size(), c.size(), c) == 0; ++i)
            e -= c.size();
        t = t.substr(b, e - b);
    }
}

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
    auto make = [](auto fn) { return std::make_unique<FunctionDecoder>(std::move(fn)); };
    if (type == "Sequence") {
        std::vector<std::shared_ptr<Decoder>> steps;
        for (const auto& child : listField(node, "decoders", type))
            if (auto d = makeDecoder(child, depth + 1)) steps.push_back(std::move(d));
        return make([steps](Tokens& t) {
            for (const auto& s : steps) s->decodeChain(t);
        });
    }
    if (type == "ByteLevel") return make(byteLevel);
    if (type == "ByteFallback") return make(byteFallback);
    if (type == "Fuse")
        return make([](Tokens& t) {
            std::string all;
            for (const std::string& s : t) all += s;
            t.assign(1, std::move(all));
        });
    if (type == "Metaspace") {
        const std::string scheme = stringField(node, "prepend_scheme");
        // A prepend scheme other than "never": the first token's mark was added by the pre-tokenizer.
        const bool strip_first =
            scheme.empty() ? boolField(node, "add_prefix_space", true) : scheme != "never";
        return make([r = stringField(node, "replacement", "\xE2\x96\x81"), strip_first](Tokens& t) {
            for (size_t i = 0; i < t.size(); ++i) replaceAll(t[i], r, i == 0 && strip_first ? "" : " ");
        });
    }
    if (type == "Replace") {
        bool is_regex = false;
        const std::string from = patternField(node, "Replace decoder", is_regex),
                          to = stringField(node, "content");
        if (!is_regex)
            return make([from, to](Tokens& t) {
                for (std::string& s : t) replaceAll(s, from, to);
            });
        return make([re = Regex::compile(from), to](Tokens& t) {
            for (std::string& s : t) regexReplace(s, re, to);
        });
    }
    if (type == "WordPiece") // continuation tokens lose their prefix, other tokens get a space
        return make([prefix = stringField(node, "prefix", "##"),
                     clean = boolField(node, "cleanup", true)](Tokens& t) {
            for (size_t i = 0; i < t.size(); ++i) {
                if (i > 0)
                    t[i] =
                        t[i].compare(0, prefix.size(), prefix) == 0 ? t[i].substr(prefix.size()) : " " + t[i];
                if (clean) t[i] = cleanup(t[i]);
            }
        });
    if (type == "BPEDecoder") // the end-of-word suffix becomes a space, nothing after the last token
        return make([suffix = stringField(node, "suffix", "</w>")](Tokens& t) {
            for (size_t i = 0; i < t.size(); ++i) replaceAll(t[i], suffix, i + 1 == t.size() ? "" : " ");
        });
    if (type == "CTC")
        return make([pad = stringField(node, "pad_token", "<pad>"),
                     delim = stringField(node, "word_delimiter_token", "|"),
                     clean = boolField(node, "cleanup", true)](Tokens& t) { ctc(t, pad, delim, clean); });
    if (type == "Strip") {
        const std::string content = stringField(node, "content", " ");
        TS_CHECK(!content.empty() && utf8Length(content, 0) == content.size(),
                 "Strip decoder content should be a single character");
        const long long start = intField(node, "start", 0), stop = intField(node, "stop", 0);
        TS_CHECK(start >= 0 && stop >= 0, "Strip decoder start/stop should not be negative");
        return make(
            [=](Tokens& t) { strip(t, content, static_cast<size_t>(start), static_cast<size_t>(stop)); });
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

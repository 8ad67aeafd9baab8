// Decoders (ids' token strings → text) and the post-processor (special tokens around a sequence).
#include "tokenizer/components.h"
#include "tokenizer/json_fields.h"
#include "tokenizer/unicode.h"

#include <cctype>

namespace tessera::tok {
namespace {

const char* const kMetaspaceChar = "\xE2\x96\x81"; // U+2581 '▁'

void replaceAll(std::string& text, const std::string& from, const std::string& to) {
    if (from.empty()) return;
    std::string out;
    size_t pos = 0;
    for (size_t hit; (hit = text.find(from, pos)) != std::string::npos; pos = hit + from.size())
        out.append(text, pos, hit - pos).append(to);
    out.append(text, pos, std::string::npos);
    text = std::move(out);
}

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
    void decodeChain(std::vector<std::string>& tokens) const override {
        for (std::string& t : tokens) replaceAll(t, from, to);
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

const nlohmann::json& listField(const nlohmann::json& node, const char* key, const std::string& type) {
    const nlohmann::json* list = field(node, key);
    TS_CHECK(list && list->is_array(), type + " needs a list \"" + key + "\"");
    return *list;
}

std::string replacePattern(const nlohmann::json& node) {
    const nlohmann::json* pattern = field(node, "pattern");
    TS_CHECK(pattern && pattern->is_object(), "Replace decoder has no \"pattern\"");
    if (const nlohmann::json* s = field(*pattern, "String")) {
        TS_CHECK(s->is_string(), "Replace decoder: pattern.String should be a string");
        return s->get<std::string>();
    }
    throw Error("Replace decoder with a Regex pattern is not supported (only literal String patterns)");
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

std::unique_ptr<Decoder> makeDecoder(const nlohmann::json& node) {
    if (node.is_null()) return nullptr;
    const std::string type = typeOf(node, "decoder");
    if (type == "Sequence") {
        auto seq = std::make_unique<SequenceDecoder>();
        for (const auto& child : listField(node, "decoders", type))
            if (auto d = makeDecoder(child)) seq->steps.push_back(std::move(d));
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
        d->from = replacePattern(node);
        d->to = stringField(node, "content");
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
                "Sequence)");
}

PostProcessor makePostProcessor(const nlohmann::json& node) {
    if (node.is_null()) return {};
    const std::string type = typeOf(node, "post_processor");
    if (type == "TemplateProcessing") return templateProcessing(node);
    if (type == "ByteLevel") return {}; // only adjusts offsets, which Tessera does not report
    if (type == "RobertaProcessing" || type == "BertProcessing")
        return {{pairId(node, "cls", type)}, {pairId(node, "sep", type)}};
    if (type == "Sequence") {
        // Each processor wraps what the previous one produced.
        PostProcessor all;
        for (const auto& child : listField(node, "processors", type)) {
            PostProcessor p = makePostProcessor(child);
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

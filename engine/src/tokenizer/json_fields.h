// Reading optional fields of tokenizer.json nodes: a missing key and an explicit null both mean "use
// the default"; a value of the wrong type is an error that names the field.
#pragma once

#include "tessera/engine/status.h"

#include <nlohmann/json.hpp>
#include <string>

namespace tessera::tok {

inline const nlohmann::json* field(const nlohmann::json& node, const char* key) {
    if (!node.is_object()) return nullptr;
    auto it = node.find(key);
    return it == node.end() || it->is_null() ? nullptr : &*it;
}

inline std::string stringField(const nlohmann::json& node, const char* key, std::string fallback = {}) {
    const nlohmann::json* v = field(node, key);
    if (!v) return fallback;
    TS_CHECK(v->is_string(), std::string("field \"") + key + "\" should be a string");
    return v->get<std::string>();
}

inline bool boolField(const nlohmann::json& node, const char* key, bool fallback) {
    const nlohmann::json* v = field(node, key);
    if (!v) return fallback;
    TS_CHECK(v->is_boolean(), std::string("field \"") + key + "\" should be true or false");
    return v->get<bool>();
}

inline long long intField(const nlohmann::json& node, const char* key, long long fallback) {
    const nlohmann::json* v = field(node, key);
    if (!v) return fallback;
    TS_CHECK(v->is_number_integer(), std::string("field \"") + key + "\" should be an integer");
    return v->get<long long>();
}

// `depth` counts the Sequence nodes around this one; `max_depth` bounds it.
inline std::string typeOf(const nlohmann::json& node, const char* what, int depth = 0, int max_depth = 16) {
    TS_CHECK(depth <= max_depth,
             std::string(what) + ": Sequences nest more than " + std::to_string(max_depth) + " deep");
    TS_CHECK(node.is_object(), std::string(what) + " should be a JSON object");
    const std::string type = stringField(node, "type");
    TS_CHECK(!type.empty(), std::string(what) + " has no \"type\"");
    return type;
}

inline const nlohmann::json& listField(const nlohmann::json& node, const char* key, const std::string& type) {
    const nlohmann::json* list = field(node, key);
    TS_CHECK(list && list->is_array(), type + " needs a list \"" + key + "\"");
    return *list;
}

// A Split / Replace "pattern": {"String": literal} or {"Regex": pattern}. Returns the text, and sets
// `is_regex`.
inline std::string patternField(const nlohmann::json& node, const std::string& what, bool& is_regex) {
    const nlohmann::json* pattern = field(node, "pattern");
    TS_CHECK(pattern && pattern->is_object(), what + " has no \"pattern\"");
    for (const char* kind : {"String", "Regex"}) {
        if (const nlohmann::json* s = field(*pattern, kind)) {
            TS_CHECK(s->is_string(), what + ": pattern." + kind + " should be a string");
            is_regex = kind[0] == 'R';
            return s->get<std::string>();
        }
    }
    throw Error(what + ": pattern should hold \"String\" or \"Regex\"");
}

} // namespace tessera::tok

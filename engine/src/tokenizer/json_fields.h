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

inline std::string typeOf(const nlohmann::json& node, const char* what) {
    TS_CHECK(node.is_object(), std::string(what) + " should be a JSON object");
    const std::string type = stringField(node, "type");
    TS_CHECK(!type.empty(), std::string(what) + " has no \"type\"");
    return type;
}

} // namespace tessera::tok

// Reading a video recipe's numeric fields (Lumos-1, DiCoDe). Both throw std::runtime_error naming the
// key, the allowed range and the value found; the recipe parsers turn that into a Status.
#pragma once

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace tessera::recipe_fields {

inline int64_t intIn(const nlohmann::json& j, const char* key, int64_t min, int64_t max) {
    if (!j.contains(key)) throw std::runtime_error(std::string("recipe: missing '") + key + "'");
    const auto& v = j.at(key);
    if (!v.is_number_integer() || v.get<int64_t>() < min || v.get<int64_t>() > max)
        throw std::runtime_error(std::string("recipe: '") + key + "' must be a whole number from " +
                                 std::to_string(min) + " to " + std::to_string(max) + ", got " + v.dump());
    return v.get<int64_t>();
}

inline double numberIn(const nlohmann::json& j, const char* key, double min, double max) {
    if (!j.contains(key)) throw std::runtime_error(std::string("recipe: missing '") + key + "'");
    const auto& v = j.at(key);
    if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() < min || v.get<double>() > max)
        throw std::runtime_error(std::string("recipe: '") + key + "' must be a number from " +
                                 std::to_string(min) + " to " + std::to_string(max) + ", got " + v.dump());
    return v.get<double>();
}

} // namespace tessera::recipe_fields

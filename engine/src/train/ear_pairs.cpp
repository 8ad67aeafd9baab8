// EAR's prompt-pairs file: reading with errors that name the place, and writing.
#include "tessera/engine/train_ear.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace tessera::train {

namespace {
// Line and column (1-based) of byte offset `byte` in `text`.
std::string where(const std::string& text, size_t byte) {
    size_t line = 1, col = 1;
    for (size_t i = 0; i < byte && i < text.size(); ++i) {
        if (text[i] == '\n') {
            ++line;
            col = 1;
        } else {
            ++col;
        }
    }
    return std::to_string(line) + ":" + std::to_string(col);
}
} // namespace

Expected<EarPairs> parseEarPairs(const std::string& text, const std::string& source) {
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
        // e.byte is 1-based: the character at which parsing stopped.
        const std::string what = e.what();
        const size_t cut = what.find("syntax error");
        return Status::error(source + ":" + where(text, e.byte > 0 ? e.byte - 1 : 0) + ": JSON " +
                             (cut == std::string::npos ? what : what.substr(cut)));
    }
    if (!j.is_object())
        return Status::error(
            source +
            ": expected an object {\"pairs\": [{\"unsafe\", \"safe_neutral\", \"safe_target\"}, …]}");
    EarPairs out;
    for (auto it = j.begin(); it != j.end(); ++it) {
        const std::string& key = it.key();
        if (key == "concept" || key == "description") {
            if (!it->is_string()) return Status::error(source + ": " + key + " must be a string");
            (key == "concept" ? out.concept_name : out.description) = it->get<std::string>();
        } else if (key != "pairs") {
            return Status::error(source + ": unknown key '" + key +
                                 "' (expected concept, description, pairs)");
        }
    }
    if (!j.contains("pairs") || !j["pairs"].is_array())
        return Status::error(source +
                             ": pairs must be a list of {\"unsafe\", \"safe_neutral\", \"safe_target\"}");
    const auto& pairs = j["pairs"];
    if (pairs.empty()) return Status::error(source + ": pairs is empty; EAR needs at least one prompt pair");
    for (size_t i = 0; i < pairs.size(); ++i) {
        const std::string at = source + ": pairs[" + std::to_string(i) + "]";
        const auto& p = pairs[i];
        if (!p.is_object())
            return Status::error(at + " must be an object with unsafe, safe_neutral, safe_target");
        for (auto it = p.begin(); it != p.end(); ++it)
            if (it.key() != "unsafe" && it.key() != "safe_neutral" && it.key() != "safe_target")
                return Status::error(at + ": unknown key '" + it.key() +
                                     "' (expected unsafe, safe_neutral, safe_target)");
        EarPair pair;
        for (auto [key, field] :
             {std::pair{"unsafe", &pair.unsafe}, std::pair{"safe_neutral", &pair.safe_neutral},
              std::pair{"safe_target", &pair.safe_target}}) {
            if (!p.contains(key) || !p[key].is_string() || p[key].get<std::string>().empty())
                return Status::error(at + "." + key + " must be a non-empty string");
            *field = p[key].get<std::string>();
        }
        out.pairs.push_back(std::move(pair));
    }
    return out;
}

Expected<EarPairs> readEarPairs(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Status::error("cannot read " + path);
    std::ostringstream ss;
    ss << in.rdbuf();
    return parseEarPairs(ss.str(), path);
}

std::string earPairsJson(const EarPairs& pairs) {
    nlohmann::ordered_json j;
    if (!pairs.concept_name.empty()) j["concept"] = pairs.concept_name;
    if (!pairs.description.empty()) j["description"] = pairs.description;
    j["pairs"] = nlohmann::ordered_json::array();
    for (const auto& p : pairs.pairs)
        j["pairs"].push_back(
            {{"unsafe", p.unsafe}, {"safe_neutral", p.safe_neutral}, {"safe_target", p.safe_target}});
    return j.dump(2) + "\n";
}

} // namespace tessera::train

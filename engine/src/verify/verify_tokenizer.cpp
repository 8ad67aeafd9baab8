// Tokenizer reference sets: tokenizer.json + golden.json, a list of {text, ids, decoded} and
// optionally auto_ids (what transformers' AutoTokenizer gives). Janus checkpoints ship the same list
// as tokenizer_golden.json. `decoded` is the text of the ids with special tokens skipped.
#include "tessera/engine/tokenizer.h"
#include "verify/verify_internal.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace fs = std::filesystem;

namespace tessera::verify {
namespace {

std::vector<int64_t> widen(const std::vector<int32_t>& ids) {
    return {ids.begin(), ids.end()};
}

std::vector<int64_t> goldenIds(const nlohmann::json& entry, const char* key, size_t index) {
    auto it = entry.find(key);
    if (it == entry.end() || !it->is_array())
        throw Error("golden entry " + std::to_string(index) + " has no list \"" + key + "\"");
    std::vector<int64_t> ids;
    for (const auto& v : *it) {
        if (!v.is_number_integer())
            throw Error("golden entry " + std::to_string(index) + ": " + key + " holds a non-integer");
        ids.push_back(v.get<int64_t>());
    }
    return ids;
}

// A short, printable label for a check: the entry's index and the start of its text (cut at a
// character boundary, control characters escaped).
std::string label(const std::string& what, size_t index, const std::string& text) {
    constexpr size_t kMaxBytes = 24;
    size_t cut = std::min(text.size(), kMaxBytes);
    while (cut < text.size() && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    std::string shown;
    for (char c : text.substr(0, cut)) {
        if (c == '\n')
            shown += "\\n";
        else if (c == '\t')
            shown += "\\t";
        else if (c == '\r')
            shown += "\\r";
        else
            shown += c;
    }
    return what + "[" + std::to_string(index) + "] \"" + shown + (cut < text.size() ? "…" : "") + "\"";
}

} // namespace

Expected<VerifyReport> verifyTokenizer(const std::string& dir) {
    fs::path golden_path = fs::path(dir) / "golden.json";
    if (!fs::exists(golden_path)) golden_path = fs::path(dir) / "tokenizer_golden.json";
    if (!fs::exists(golden_path)) return Status::error(dir + ": no golden.json or tokenizer_golden.json");
    auto tokenizer = Tokenizer::load(dir);
    if (!tokenizer) return tokenizer.status();

    nlohmann::json golden;
    try {
        std::ifstream in(golden_path);
        golden = nlohmann::json::parse(in);
    } catch (const std::exception& e) {
        return Status::error(golden_path.string() + " is not valid JSON: " + e.what());
    }
    if (!golden.is_array() || golden.empty())
        return Status::error(golden_path.string() + " should be a non-empty list of {text, ids, decoded}");

    VerifyReport report;
    report.kind = "tokenizer";
    try {
        for (size_t i = 0; i < golden.size(); ++i) {
            const nlohmann::json& entry = golden[i];
            if (!entry.is_object() || !entry.contains("text") || !entry["text"].is_string())
                throw Error("golden entry " + std::to_string(i) + " has no \"text\"");
            const std::string text = entry["text"].get<std::string>();
            // A text the tokenizer cannot encode (a regex of the file gave up) fails with its reason.
            const auto ids = tokenizer->tryEncode(text);
            report.checks.push_back(compareIds(label("ids", i, text),
                                               ids ? widen(*ids) : std::vector<int64_t>{},
                                               goldenIds(entry, "ids", i)));
            if (!ids) report.checks.back().passed = false, report.checks.back().detail = ids.error();
            if (entry.contains("auto_ids"))
                report.checks.push_back(compareIds(
                    label("auto_ids", i, text), widen(tokenizer->encode(text, SpecialTokens::kTransformers)),
                    goldenIds(entry, "auto_ids", i)));
            if (entry.contains("decoded") && entry["decoded"].is_string()) {
                // Decode the golden ids, so a decode check does not depend on the encode check.
                const auto want_ids = goldenIds(entry, "ids", i);
                const std::string got =
                    tokenizer->decode(std::vector<int32_t>(want_ids.begin(), want_ids.end()), true);
                const std::string want = entry["decoded"].get<std::string>();
                VerifyCheck c;
                c.name = label("decoded", i, text);
                c.passed = got == want;
                c.max_abs_diff = c.passed ? 0 : 1;
                c.detail = c.passed ? "identical" : "got \"" + got + "\", golden \"" + want + "\"";
                report.checks.push_back(c);
            }
        }
    } catch (const Error& e) {
        return Status::error(golden_path.string() + ": " + e.what());
    }
    return report;
}

} // namespace tessera::verify

// Fuzz target: arbitrary bytes as a tokenizer.json (up to the first NUL byte) and a text to encode
// (after it), through Tokenizer::fromJson, tryEncode/encode with every special-token choice, decode
// and the lookups. Load and encode errors are Status values; any exception that escapes, crash,
// leak or undefined behaviour is what the fuzzer should report.
#include "tessera/engine/tokenizer.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const size_t nul = input.find('\0');
    const std::string_view json = input.substr(0, nul);
    const std::string text = nul == std::string_view::npos
                                 ? std::string("Hello, world! 123 naïve 東京 🚀\n\t  x")
                                 : std::string(input.substr(nul + 1));
    auto tok = tessera::Tokenizer::fromJson(json);
    if (!tok) return 0;
    volatile size_t sink = 0;
    for (auto special : {tessera::SpecialTokens::kNone, tessera::SpecialTokens::kPostProcessor,
                         tessera::SpecialTokens::kTransformers}) {
        auto ids = tok->tryEncode(text, special);
        if (!ids) continue;
        sink = sink + ids->size();
        for (bool skip : {false, true}) sink = sink + tok->decode(*ids, skip).size();
        for (int32_t id : *ids) sink = sink + tok->idToToken(id).size() + (tok->isSpecial(id) ? 1 : 0);
    }
    sink = sink + tok->encode(text).size() + tok->vocabSize() + tok->addedTokens().size();
    sink = sink + tok->decode({-1, 0, 1, 2, 3, 1 << 30}).size();
    return 0;
}

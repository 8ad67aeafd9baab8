// Fuzz target: arbitrary bytes as a whole safetensors file, through parseSafetensorsHeader.
//
// Besides "does not crash", an accepted header must keep the promises the loader relies on; a broken
// promise traps so the fuzzer reports it like a crash.
#include "tessera/engine/checkpoint.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

namespace {

void require(bool cond) {
    if (!cond) std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto h = tessera::parseSafetensorsHeader(data, size, size);
    if (!h) {
        require(!h.error().empty());
        return 0;
    }
    require(h->data_offset >= 8 && h->data_offset <= size);
    const size_t data_bytes = size - h->data_offset;
    std::vector<std::pair<size_t, size_t>> ranges;
    for (const auto& t : h->tensors) {
        require(t.begin <= t.end && t.end <= data_bytes);
        require(t.shape.size() <= 8);
        int64_t numel = 1;
        for (int64_t d : t.shape) {
            require(d >= 0);
            numel *= d;
        }
        require(static_cast<size_t>(numel) * tessera::dtypeSize(t.dtype) == t.end - t.begin);
        // Every byte the loader will touch is inside the buffer (ASan checks the read).
        if (t.end > t.begin) {
            volatile uint8_t sink = data[h->data_offset + t.begin] ^ data[h->data_offset + t.end - 1];
            (void)sink;
            ranges.emplace_back(t.begin, t.end);
        }
    }
    std::sort(ranges.begin(), ranges.end());
    for (size_t i = 1; i < ranges.size(); ++i) require(ranges[i].first >= ranges[i - 1].second);
    return 0;
}

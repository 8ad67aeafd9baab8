// Unicode canonical normalization (NFC, NFD) for the tokenizer.json normalizers of that name
// (Qwen2's tokenizer applies NFC, for one).
#pragma once

#include <string>
#include <string_view>

namespace tessera::tok {

std::string toNfd(std::string_view text);
std::string toNfc(std::string_view text);

} // namespace tessera::tok

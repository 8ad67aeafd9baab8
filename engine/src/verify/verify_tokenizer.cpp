// Tokenizer reference sets: tokenizer.json + golden.json [{text, ids, decoded}].
#include "verify/verify_internal.h"

namespace tessera::verify {

Expected<VerifyReport> verifyTokenizer(const std::string& dir) {
    return Status::error(dir + ": tokenizer sets are not supported yet");
}

} // namespace tessera::verify

// Shared pieces of the reference-set runners (one file per kind).
#pragma once

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "tessera/engine/checkpoint.h"
#include "tessera/engine/verify.h"

namespace tessera::verify {

VerifyCheck compareF32(const std::string& name, const std::vector<float>& got, const std::vector<float>& want,
                       double tolerance);
VerifyCheck compareIds(const std::string& name, const std::vector<int64_t>& got, const std::vector<int64_t>& want);

// While set, every name Goldens::tensor() reads on this thread is added to `names`.
void recordGoldensInto(std::set<std::string>* names);
void resetGoldenRecorder();

struct Goldens {
    Checkpoint ckpt;
    static Expected<Goldens> open(const std::string& dir);
    Expected<Tensor> tensor(const std::string& name, Backend& backend) const;
};

Expected<VerifyReport> verifyCausalLm(const std::string& dir, Backend& backend);
Expected<VerifyReport> verifyTokenizer(const std::string& dir);

// Kinds registered by other runners (Janus, LLaVA, …): checked before the causal-LM default.
struct Kind {
    std::string name;
    std::function<bool(const ModelConfig&)> matches;
    std::function<Expected<VerifyReport>(const std::string&, Backend&)> run;
    // For sets without config.json (golden.safetensors only): decides from the folder's files.
    std::function<bool(const std::string& dir)> matches_folder = {};
};
const std::vector<Kind>& extraKinds();

} // namespace tessera::verify

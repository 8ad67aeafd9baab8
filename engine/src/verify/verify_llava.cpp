// LLaVA reference sets: input_ids + pixel_values -> logits over every position.
#include "models/llava_model.h"
#include "verify/verify_internal.h"

namespace tessera::verify {

bool isLlavaConfig(const ModelConfig& cfg) {
    return cfg.architecture().find("Llava") != std::string::npos || cfg.modelType() == "llava";
}

Expected<VerifyReport> verifyLlava(const std::string& dir, Backend& be) {
    auto ckpt = Checkpoint::open(dir);
    if (!ckpt) return ckpt.status();
    auto model = LlavaModel::load(*ckpt, be);
    if (!model) return model.status();
    auto gold = Goldens::open(dir);
    if (!gold) return gold.status();
    auto ids = gold->tensor("input_ids", be), pixels = gold->tensor("pixel_values", be), logits = gold->tensor("logits", be);
    for (auto* e : {&ids, &pixels, &logits})
        if (!*e) return e->status();
    VerifyReport r;
    r.kind = "llava";
    CausalLM& lm = (*model)->lm();
    KvCache cache = lm.newCache(ids->dim(0), ids->dim(1));
    Tensor hidden = lm.forward((*model)->inputEmbeds(*ids, *pixels), cache);
    r.checks.push_back(compareF32("logits", be.readF32(lm.logits(hidden)), be.readF32(*logits), 1e-4));
    return r;
}

} // namespace tessera::verify

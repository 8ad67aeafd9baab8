// DiCoDe reference sets, LLM side (verify_dicode_llm.h). Every golden is compared within the set's
// stated tolerance for single forwards (max |Δ| ≤ 1e-4, relative beyond magnitude 1); the generation
// goldens replay the reference's component indices and normal draws, so they are exact-path checks too.
#include "verify/verify_dicode_llm.h"

#include "tessera/engine/dicode.h"
#include "verify/verify_internal.h"

#include <algorithm>

namespace tessera::verify {

namespace {

constexpr double kTolerance = 1e-4;

const nlohmann::json* path(const nlohmann::json& j, std::initializer_list<const char*> keys) {
    const nlohmann::json* at = &j;
    for (const char* k : keys) {
        if (!at->is_object() || !at->contains(k)) return nullptr;
        at = &(*at)[k];
    }
    return at;
}

struct Reader {
    const Goldens& gold;
    Backend& be;
    Tensor get(const std::string& name) const {
        auto t = gold.tensor(name, be);
        if (!t) throw Error(t.error());
        return *t;
    }
    std::vector<float> f32(const std::string& name) const { return be.readF32(get(name)); }
    std::vector<int64_t> i64(const std::string& name) const { return be.readI64(get(name)); }
};

float generateKwarg(const nlohmann::json& cfg, const char* key) {
    const nlohmann::json* v = path(cfg, {"llm", "generate_kwargs", key});
    if (!v || !v->is_number())
        throw Error(std::string("config.json: llm.generate_kwargs.") + key + " is missing");
    return v->get<float>();
}

} // namespace

bool isDicodeConfig(const ModelConfig& cfg) {
    const nlohmann::json& j = cfg.json();
    if (const nlohmann::json* t = path(j, {"llm", "agent", "_target_"}); t && t->is_string())
        if (t->get<std::string>().find("ContinuousLVLM") != std::string::npos) return true;
    if (const nlohmann::json* t = path(j, {"tokenizer_model", "target"}); t && t->is_string())
        return t->get<std::string>().find("LatentVisualDiffusion") != std::string::npos;
    return false;
}

bool isDicodeLlmGolden(const std::string& name) {
    for (const char* prefix : {"tok_", "uc_", "train_", "gen_"})
        if (name.rfind(prefix, 0) == 0) return true;
    return false;
}

Status verifyDicodeLlm(const std::string& dir, Backend& be, VerifyReport& report) {
    auto ckpt = Checkpoint::open(dir);
    if (!ckpt) return ckpt.status();
    auto gold = Goldens::open(dir);
    if (!gold) return gold.status();
    try {
        const Reader g{*gold, be};
        const nlohmann::json& cfg = ckpt->config().json();

        // ---- the tokenizer's Resampler: ViT features -> deep tokens --------------------------------------
        const nlohmann::json* rp =
            path(cfg, {"tokenizer_model", "params", "image_proj_stage_config", "params"});
        if (!rp)
            return Status::error(
                dir + ": config.json has no tokenizer_model.params.image_proj_stage_config.params");
        auto rcfg = DicodeResamplerConfig::fromJson(*rp);
        if (!rcfg) return rcfg.status();
        auto image_proj = DicodeResampler::load(*ckpt, be, "image_proj_model.", *rcfg);
        if (!image_proj) return image_proj.status();
        report.checks.push_back(compareF32("tok_deep_tokens",
                                           be.readF32(image_proj->forward(g.get("tok_vit_feats"))),
                                           g.f32("tok_deep_tokens"), kTolerance));
        report.checks.push_back(compareF32("uc_img_tokens",
                                           be.readF32(image_proj->forward(g.get("uc_vit_feats"))),
                                           g.f32("uc_img_tokens"), kTolerance));

        // ---- teacher forcing ------------------------------------------------------------------------------
        auto llm = DicodeLlm::load(*ckpt, be);
        if (!llm) return llm.status();
        const DicodeLlm& m = **llm;
        if (!m.preInputResampler())
            return Status::error(dir + ": the set has no llm_agent.pre_input_resampler");
        std::vector<float> targets = be.readF32(m.preInputResampler()->forward(g.get("train_vit_feats")));
        report.checks.push_back(compareF32("train_targets", targets, g.f32("train_targets"), kTolerance));
        auto tf = m.teacherForced(g.i64("train_input_ids"), g.i64("train_video_ids_mask"), targets);
        if (!tf) return tf.status();
        report.checks.push_back(
            compareF32("train_inputs_embeds", tf->inputs_embeds, g.f32("train_inputs_embeds"), kTolerance));
        report.checks.push_back(
            compareF32("train_last_hidden", tf->last_hidden, g.f32("train_last_hidden"), kTolerance));
        report.checks.push_back(
            compareF32("train_gmm_params", tf->gmm_params, g.f32("train_gmm_params"), kTolerance));
        report.checks.push_back(compareF32("train_means", tf->means, g.f32("train_means"), kTolerance));
        report.checks.push_back(
            compareF32("train_variances", tf->variances, g.f32("train_variances"), kTolerance));
        report.checks.push_back(
            compareF32("train_mix_logits", tf->mix_logits, g.f32("train_mix_logits"), kTolerance));
        report.checks.push_back(
            compareF32("train_token_logprob", tf->token_logprob, g.f32("train_token_logprob"), kTolerance));
        report.checks.push_back(compareF32("train_nll", {tf->nll}, g.f32("train_nll"), kTolerance));

        // ---- generation: the prompt -----------------------------------------------------------------------
        // The golden prompt is text + eos pads + <img>; the text is what precedes the pads.
        const std::vector<int64_t> prompt = g.i64("gen_input_ids");
        std::vector<int64_t> text(prompt.begin(), prompt.end() - (prompt.empty() ? 0 : 1));
        while (!text.empty() && text.back() == m.config().pad_id) text.pop_back();
        report.checks.push_back(compareIds("gen_input_ids", m.promptIds(text), prompt));

        const Tensor pred_t = g.get("gen_pred");
        const int64_t keyframes = pred_t.dim(1), h = m.backboneConfig().hidden;

        // do_sample=false: mixture-weighted means, with every step's head output and the first fed embedding.
        DicodeGenerateOptions greedy;
        greedy.keyframes = keyframes;
        greedy.do_sample = false;
        greedy.record_steps = true;
        auto gen = m.generate(text, greedy);
        if (!gen) return gen.status();
        report.checks.push_back(compareF32("gen_pred", gen->tokens, be.readF32(pred_t), kTolerance));
        report.checks.push_back(
            compareF32("gen_step_gmm_params", gen->step_params, g.f32("gen_step_gmm_params"), kTolerance));
        std::vector<float> first_input(
            gen->step_inputs.begin(),
            gen->step_inputs.begin() + std::min<int64_t>(h, static_cast<int64_t>(gen->step_inputs.size())));
        report.checks.push_back(
            compareF32("gen_step_llm_inputs_1", first_input, g.f32("gen_step_llm_inputs_1"), kTolerance));

        // LLM-side guidance against the empty prompt.
        DicodeGenerateOptions guided = greedy;
        guided.record_steps = false;
        guided.cfg_scale = generateKwarg(cfg, "gen_cfg_pred.cfg_scale");
        auto cfg_gen = m.generate(text, guided);
        if (!cfg_gen) return cfg_gen.status();
        report.checks.push_back(
            compareF32("gen_cfg_pred", cfg_gen->tokens, g.f32("gen_cfg_pred"), kTolerance));

        // do_sample=true, replaying the reference's component indices and standard-normal draws.
        DicodeGmmDraws draws{g.i64("gen_sample_components"), g.f32("gen_sample_z")};
        DicodeGenerateOptions sampled;
        sampled.keyframes = keyframes;
        sampled.do_sample = true;
        sampled.var_scale = generateKwarg(cfg, "var_scale");
        sampled.replay = &draws;
        sampled.record_steps = true;
        auto smp = m.generate(text, sampled);
        if (!smp) return smp.status();
        report.checks.push_back(
            compareF32("gen_sample_pred", smp->tokens, g.f32("gen_sample_pred"), kTolerance));
        report.checks.push_back(compareF32("gen_sample_step_gmm_params", smp->step_params,
                                           g.f32("gen_sample_step_gmm_params"), kTolerance));
        return Status();
    } catch (const Error& e) {
        return Status::error(dir + ": " + e.what());
    }
}

} // namespace tessera::verify

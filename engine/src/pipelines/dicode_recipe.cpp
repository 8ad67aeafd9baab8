// DiCoDe recipes (method "dicode"): the request, the model's identity and a digest of the frames, so a
// replay can tell whether it reproduced the video exactly.
#include "tessera/engine/dicode_pipeline.h"
#include "pipelines/recipe_fields.h"
#include "util/encoding.h"

#include <cmath>
#include <stdexcept>

namespace tessera {

std::string dicodeFramesDigest(const DicodeFrames& frames) {
    util::Sha256 sha;
    if (!frames.rgb.empty()) sha.update(frames.rgb.data(), frames.rgb.size());
    return sha.hexDigest();
}

nlohmann::json dicodeRecipe(const DicodeRequest& r, const DicodeResult& res, const DicodeRecipeInfo& info) {
    return {
        {"version", 1},
        {"method", "dicode"},
        {"model", {{"dir", info.model_dir}, {"hash", info.model_hash}}},
        {"backend", info.backend},
        {"threads", info.threads},
        {"prompt", r.prompt},
        {"prompt_ids", r.prompt_ids},
        {"seed", r.seed},
        {"keyframes", r.keyframes},
        {"do_sample", r.do_sample},
        {"var_scale", r.var_scale},
        {"llm_cfg", r.llm_cfg},
        {"ddim_steps", r.ddim_steps},
        {"eta", r.eta},
        {"cfg", r.cfg},
        {"rescale", r.rescale},
        {"fs", r.fs},
        {"fps", res.fps},
        {"frames", res.video.frames},
        {"width", res.video.width},
        {"height", res.video.height},
        {"clips", res.clips},
        {"cancelled", res.cancelled},
        {"frames_sha256", dicodeFramesDigest(res.video)},
    };
}

using recipe_fields::intIn;
using recipe_fields::numberIn;

Expected<DicodeRecipe> parseDicodeRecipe(const nlohmann::json& j) {
    try {
        if (!j.is_object() || j.value("method", "") != "dicode")
            return Status::error("not a DiCoDe recipe (method is not \"dicode\")");
        DicodeRecipe out;
        DicodeRequest& r = out.request;
        if (j.contains("model") && j["model"].is_object()) {
            out.info.model_dir = j["model"].value("dir", "");
            out.info.model_hash = j["model"].value("hash", "");
        }
        out.info.backend = j.value("backend", "cpu");
        out.info.threads = static_cast<int>(intIn(j, "threads", 0, 4096));
        r.prompt = j.value("prompt", "");
        if (j.contains("prompt_ids")) {
            for (const auto& v : j.at("prompt_ids")) {
                if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > INT32_MAX)
                    return Status::error("recipe: prompt_ids must be token ids, got " + v.dump());
                r.prompt_ids.push_back(static_cast<int32_t>(v.get<int64_t>()));
            }
        }
        const auto& seed = j.at("seed");
        if (!seed.is_number_unsigned() && !(seed.is_number_integer() && seed.get<int64_t>() >= 0))
            return Status::error("recipe: 'seed' must be a whole number from 0 to 2^64-1");
        r.seed = seed.get<uint64_t>();
        r.keyframes = intIn(j, "keyframes", 2, 1024);
        r.do_sample = j.value("do_sample", true);
        r.var_scale = static_cast<float>(numberIn(j, "var_scale", 0, 1e4));
        r.llm_cfg = static_cast<float>(numberIn(j, "llm_cfg", 0, 1e4));
        r.ddim_steps = intIn(j, "ddim_steps", 1, 1000);
        r.eta = numberIn(j, "eta", 0, 10);
        r.cfg = static_cast<float>(numberIn(j, "cfg", 0, 1e4));
        r.rescale = static_cast<float>(numberIn(j, "rescale", 0, 1));
        r.fs = intIn(j, "fs", 0, 1000);
        out.frames = intIn(j, "frames", 0, 1 << 20);
        out.width = intIn(j, "width", 0, 1 << 16);
        out.height = intIn(j, "height", 0, 1 << 16);
        out.cancelled = j.value("cancelled", false);
        out.frames_sha256 = j.value("frames_sha256", "");
        return out;
    } catch (const std::exception& e) {
        return Status::error(e.what());
    }
}

} // namespace tessera

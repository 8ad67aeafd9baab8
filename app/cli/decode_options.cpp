#include "cli/decode_options.h"

#include "cli/cli.h"

namespace tessera::cli {

const char* const kDecodeUsage =
    "  --decode D           plain (default; one LM step per token) or sjd: speculative Jacobi decoding,\n"
    "                       several tokens per LM step with the same distribution (docs/SPECULATIVE.md);\n"
    "                       recorded in the recipe\n"
    "  --sjd-window L       SJD: draft tokens verified per step, 1..256 (default 16)\n"
    "  --sjd-init I         SJD: how new drafts start, random (default) or spatial (the left neighbour)\n"
    "  --lantern-k K        SJD: LANTERN relaxed acceptance, LOSSY (images leave plain sampling's\n"
    "                       distribution): a draft also counts the probability of up to K nearest\n"
    "                       codes in latent space (default 0 = off, exact SJD)\n"
    "  --lantern-delta D    SJD: LANTERN's total-variation bound, 0..1 (default 0.1)\n";

void addDecodeOptions(CLI::App& app, DecodeOptions& o, DecodeSettings& settings) {
    app.add_option("--decode", o.decode)->check(CLI::IsMember({"plain", "sjd"}));
    addInt(app, "--sjd-window", settings.window, 1, kMaxSjdWindow);
    app.add_option("--sjd-init", o.init)->check(CLI::IsMember({"random", "spatial"}));
    settings.lantern_delta = 0.1f;
    addInt(app, "--lantern-k", settings.lantern_k, 0, kMaxLanternK);
    addNumber(app, "--lantern-delta", settings.lantern_delta, 0, 1);
}

std::string applyDecodeOptions(const CLI::App& app, const DecodeOptions& o, DecodeSettings& settings) {
    settings.strategy = *decodeStrategyFromName(o.decode);
    settings.init = *sjdInitFromName(o.init);
    if (settings.strategy != DecodeStrategy::Sjd &&
        (app.count("--sjd-window") || app.count("--sjd-init") || app.count("--lantern-k") ||
         app.count("--lantern-delta")))
        return "--sjd-window, --sjd-init, --lantern-k and --lantern-delta need --decode sjd";
    return {};
}

} // namespace tessera::cli

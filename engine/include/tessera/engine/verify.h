// Reference sets: run a folder of checkpoint + goldens through the same code path real checkpoints
// use, and compare. The set's own files decide what runs, so a new set of a supported kind needs no
// code change.
#pragma once

#include <string>
#include <vector>

#include "tessera/engine/backend.h"
#include "tessera/engine/status.h"

namespace tessera {

struct VerifyCheck {
    std::string name;       // golden tensor or check name ("prefill_logits", "greedy_ids", "ids[3]")
    double max_abs_diff = 0; // for exact checks: number of mismatching elements
    double tolerance = 0;
    bool passed = false;
    std::string detail;
};

struct VerifyReport {
    std::string kind; // "causal-lm", "tokenizer", …
    std::vector<VerifyCheck> checks;
    // What the set did not carry, so what was not verified ("no understanding goldens (und_logits, …):
    // the understanding path was not verified"). Informational: a set need not cover every path.
    std::vector<std::string> notes;
    bool passed() const;
};

// Runs the reference set in `dir`. Fails (Status) when the folder is not a set of a supported kind or
// its files are broken; a set that runs but mismatches returns a report with failed checks. Every
// tensor in a set's golden.safetensors must be compared by some check: one that no check of the set's
// kind reads is a failed check ("unknown golden"), never silently ignored.
Expected<VerifyReport> verifyReferenceSet(const std::string& dir, Backend& backend);

} // namespace tessera

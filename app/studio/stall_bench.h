// `tessera --bench-stall`: how long the studio's GUI event loop goes without turning while the real
// engine generates. Writes a random-weight Janus checkpoint of a preset shape (janus-small: 24×24
// tokens, 384², the real VQ-16 decoder), opens the full studio window on it, starts a generation and
// records the gaps between ticks of a 5 ms timer until the generation ends. Gaps are wall-clock time,
// waits for a CPU included (nothing is subtracted). Prints one JSON line.
#pragma once

#include <QString>

namespace tessera::studio {

struct StallBenchOptions {
    QString preset = "janus-small";
    QString reference_dir; // janus_tiny (its tokenizer goes into the random checkpoint)
    int images = 1;
    bool software_gl = false; // the ImGui engine panel on a software OpenGL renderer too
};

// Runs inside an existing QApplication; returns the process exit status (0 when the run completed,
// whatever the figures; 1 on an error).
int runStallBench(const StallBenchOptions& options);

} // namespace tessera::studio

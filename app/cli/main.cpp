// tessera-cli: everything the studio does, headless.
#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "cli/cli.h"
#include "tessera/engine/platform.h"

namespace {

struct Command {
    const char* name;
    const char* summary;
    int (*run)(int argc, char** argv);
};

const Command kCommands[] = {
    {"doctor", "print what this machine offers Tessera (CPU, CUDA, Vulkan, FFmpeg, Qt, versions)",
     tessera::cli::cmdDoctor},
    {"generate", "text->image with a Janus-Pro checkpoint, token by token (generate --help)",
     tessera::cli::cmdGenerate},
    {"generate-video", "text->video, text->image, image->video with a Lumos-1 checkpoint (generate-video --help)",
     tessera::cli::cmdGenerateVideo},
    {"inspect", "print the recipe a Tessera PNG or video carries: inspect FILE.png|VIDEO", tessera::cli::cmdInspect},
    {"replay", "regenerate a PNG from its recipe and check tokens and pixels: replay FILE.png",
     tessera::cli::cmdReplay},
    {"export", "PNG frames -> MP4, WebM, GIF, WebP or a PNG sequence with the recipe (export --help)",
     tessera::cli::cmdExport},
    {"verify", "run a reference set (checkpoint + goldens) and compare: verify DIR [--backend B]",
     tessera::cli::cmdVerify},
    {"bench", "benchmarks printing one JSON line: bench decode|bandwidth|janus|sjd|tokenize|batch|vq|lumos|dicode|dicode-llm|tshuffle|render (bench --help)",
     tessera::cli::cmdBench},
    {"batch", "many generations from a JSONL file, one shard per process (batch --help)",
     tessera::cli::cmdBatch},
    {"project", "project databases: project create|list|show|search|export|recover|merge DIR ...",
     tessera::cli::cmdProject},
    {"render", "draw a scene (JSON or program) to a PNG: render SCENE --out FILE.png [--size WxH] (render --help)",
     tessera::cli::cmdRender},
    {"reconstruct", "image -> scene program (IG-LLM), streamed, then rendered: reconstruct --model DIR --image FILE.png (reconstruct --help)",
     tessera::cli::cmdReconstruct},
    {"eval-scenes", "score predicted scenes against true ones: eval-scenes PRED_DIR TRUTH_DIR (JSON line)",
     tessera::cli::cmdEvalScenes},
    {"train", "next-token training of a Llama checkpoint, resumable after a kill (train --help)",
     tessera::cli::cmdTrain},
    {"erase", "erase a concept from a Janus checkpoint (EAR), loss curve as JSON lines (erase --help)",
     tessera::cli::cmdErase},
    {"train-vq", "train a Janus-layout VQ tokenizer on PNGs, report validation PSNR (train-vq --help)",
     tessera::cli::cmdTrainVq},
    {"train-janus", "train text->image (Janus-Pro layout) over a VQ tokenizer on world folders (train-janus --help)",
     tessera::cli::cmdTrainJanus},
    {"train-igllm", "train an image -> scene program model (IG-LLM, LLaVA layout) on world folders (train-igllm --help)",
     tessera::cli::cmdTrainIgllm},
    {"world", "write scenes of the Shapes world: PNGs, captions, programs: world --out DIR --count N --split S (world --help)",
     tessera::cli::cmdWorld},
    {"eval-shapes", "measure Shapes models on the Shapes world: eval-shapes --igllm DIR [--generator DIR] (JSON)",
     tessera::cli::cmdEvalShapes},
    {"default-job", "the job `./tessera run --headless` runs: a shapes-janus picture, read back and re-rendered",
     tessera::cli::cmdDefaultJob},
};

void printHelp() {
    std::printf("Usage: tessera-cli COMMAND [OPTIONS]\n\nCommands:\n");
    for (const auto& c : kCommands) std::printf("  %-12s %s\n", c.name, c.summary);
    std::printf("\nOptions:\n  --help       this text (COMMAND --help: that command's options)\n"
                "  --version    print the version\n");
}

} // namespace

int main(int argc, char** argv) {
    tessera::tuneBlasForThisCpu(argv);
    // A file-size limit (ulimit -f) makes writes fail with EFBIG, reported as errors, instead of
    // killing the process by SIGXFSZ with files half written.
    std::signal(SIGXFSZ, SIG_IGN);
    if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "help")) {
        printHelp();
        return argc < 2 ? 2 : 0;
    }
    if (!std::strcmp(argv[1], "--version")) {
        std::printf("tessera-cli %s\n", TESSERA_VERSION);
        return 0;
    }
    for (const auto& c : kCommands) {
        if (std::strcmp(argv[1], c.name) != 0) continue;
        try {
            return c.run(argc - 2, argv + 2);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "tessera-cli %s: error: %s\n", c.name, e.what());
            return 1;
        }
    }
    std::fprintf(stderr, "tessera-cli: unknown command '%s' (see --help)\n", argv[1]);
    return 2;
}

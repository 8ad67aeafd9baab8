// tessera-cli: shared command-line plumbing. Each subcommand lives in its own cmd_<name>.cpp, declares
// its options on a CLI::App (CLI11) and is listed once in main.cpp's table; adding a command is a new
// file and one line there.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <vector>
#include <optional>
#include <string>
#include <type_traits>

namespace tessera::cli {

// Parses a command's arguments (argv holds them without the program and command names). `command` is
// its name as typed ("generate", "project show"), `usage` what --help prints. Every declared option
// takes exactly what it declares; anything else is a usage error.
// Returns std::nullopt when the command should run, otherwise the exit status to return at once:
// 0 after --help (usage on stdout); 2 after an unknown option, a stray argument, an option without its
// value or a value that does not parse (one line on stderr naming the command and the problem).
std::optional<int> parseCommandLine(CLI::App& app, const std::string& command, const std::string& usage, int argc,
                                    char** argv);

// Options checked more strictly than CLI11's own conversions (which take "-1" for an unsigned number,
// octal and hexadecimal spellings, and nan/inf): a decimal integer in [min, max]; a seed, a decimal
// integer in [0, 2^64 - 1]; a finite decimal number in [min, max]. A bad value is a usage error naming
// the option, the value and the range.
CLI::Option* addIntOption(CLI::App& app, const std::string& name, std::function<void(long long)> set, long long min,
                          long long max);
CLI::Option* addSeed(CLI::App& app, const std::string& name, uint64_t& target);
CLI::Option* addNumberOption(CLI::App& app, const std::string& name, std::function<void(double)> set, double min,
                             double max);

template <typename T>
CLI::Option* addInt(CLI::App& app, const std::string& name, T& target, long long min, long long max) {
    static_assert(std::is_integral_v<T>);
    return addIntOption(app, name, [&target](long long v) { target = static_cast<T>(v); }, min, max);
}
template <typename T>
CLI::Option* addNumber(CLI::App& app, const std::string& name, T& target, double min, double max) {
    static_assert(std::is_floating_point_v<T>);
    return addNumberOption(app, name, [&target](double v) { target = static_cast<T>(v); }, min, max);
}

// Strict parsers behind the options above (also for positionals such as ids): nullopt when `text`
// is not a plain decimal number in range.
std::optional<long long> parseInt(const std::string& text, long long min, long long max);
std::optional<uint64_t> parseUint64(const std::string& text);
std::optional<double> parseNumber(const std::string& text, double min, double max);
// "WxH" with each side a plain decimal from min_side to max_side; false (width, height untouched)
// otherwise.
bool parseSize(const std::string& text, long long min_side, long long max_side, int& width, int& height);

// Whether `text` is well-formed UTF-8 (no overlong forms, surrogates or code points past U+10FFFF).
bool validUtf8(const std::string& text);

// Where the built-in reference data lives (source tree, or next to an installed binary).
std::string dataDir();

int cmdDoctor(int argc, char** argv);
int cmdVerify(int argc, char** argv);
int cmdBench(int argc, char** argv);
int cmdBenchJanus(int argc, char** argv);
int cmdBenchSjd(int argc, char** argv);     // cmd_bench_sjd.cpp: `bench sjd`
int cmdDefaultJob(int argc, char** argv);
int cmdProject(int argc, char** argv);
int cmdGenerate(int argc, char** argv);
int cmdGenerateVideo(int argc, char** argv); // cmd_generate_video.cpp (Lumos-1)
int cmdInspect(int argc, char** argv);
int cmdReplay(int argc, char** argv);
int cmdBatch(int argc, char** argv);        // cmd_batch.cpp
int cmdProjectMerge(int argc, char** argv); // cmd_batch.cpp: `project merge`
int cmdBenchBatch(int argc, char** argv);   // cmd_batch.cpp: `bench batch`
int cmdEvalScenes(int argc, char** argv);
int cmdRender(int argc, char** argv);      // cmd_render.cpp
int cmdReconstruct(int argc, char** argv); // cmd_reconstruct.cpp
int cmdBenchRender(int argc, char** argv); // bench_render.cpp: `bench render`
int cmdErase(int argc, char** argv);       // cmd_erase.cpp: EAR concept erasure
int cmdExport(int argc, char** argv); // cmd_export.cpp
int cmdTrain(int argc, char** argv);  // cmd_train.cpp
int cmdWorld(int argc, char** argv);  // cmd_world.cpp
int cmdEvalShapes(int argc, char** argv); // cmd_eval_shapes.cpp
int cmdTrainVq(int argc, char** argv);    // cmd_train_vq.cpp
int cmdTrainJanus(int argc, char** argv); // cmd_train_janus.cpp
int cmdTrainIgllm(int argc, char** argv); // cmd_train_igllm.cpp

// Where the built-in Shapes models live (resources/models; TESSERA_MODELS_DIR overrides it).
std::string modelsDir();
// The built-in default text->image model: shapes-janus from modelsDir(), or the untrained smoke-test
// checkpoint janus_tiny of the test data where that folder is missing.
std::string defaultModelDir();
// The built-in IG-LLM model (modelsDir()/shapes-igllm); empty where it is missing.
std::string defaultIgllmDir();

} // namespace tessera::cli

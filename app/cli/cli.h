// tessera-cli: shared command-line plumbing. Each subcommand lives in its own cmd_<name>.cpp and is
// listed once in main.cpp's table.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tessera::cli {

// Parsed arguments: --key value / --key=value options, --flag switches, and positionals.
class Args {
public:
    // `flags` names options that take no value.
    Args(int argc, char** argv, std::vector<std::string> flags = {});

    bool has(const std::string& key) const { return options_.count(key) != 0; }
    std::string get(const std::string& key, const std::string& fallback = "") const;
    long long getInt(const std::string& key, long long fallback) const;
    double getDouble(const std::string& key, double fallback) const;
    const std::vector<std::string>& positional() const { return positional_; }
    // Options that were given but never read: reported as errors so typos don't pass silently.
    std::vector<std::string> unknown(const std::vector<std::string>& known) const;

private:
    std::map<std::string, std::string> options_;
    std::vector<std::string> positional_;
};

// Where the built-in reference data lives (source tree, or next to an installed binary).
std::string dataDir();

int cmdDoctor(int argc, char** argv);
int cmdVerify(int argc, char** argv);
int cmdBench(int argc, char** argv);
int cmdBenchJanus(int argc, char** argv);
int cmdDefaultJob(int argc, char** argv);
int cmdProject(int argc, char** argv);
int cmdGenerate(int argc, char** argv);
int cmdInspect(int argc, char** argv);
int cmdReplay(int argc, char** argv);
int cmdEvalScenes(int argc, char** argv);

// The built-in default model (an untrained smoke-test Janus checkpoint shipped with the tests).
std::string defaultModelDir();

} // namespace tessera::cli

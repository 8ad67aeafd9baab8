// `tessera-cli train` killed with SIGKILL mid-run, then started again with the same arguments: it
// resumes from its last checkpoint and the loss curve continues exactly as an uninterrupted run's.
#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <nlohmann/json.hpp>
#include <spawn.h>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

extern char** environ;

namespace {

namespace fs = std::filesystem;
const std::string kModel = std::string(TESSERA_TEST_DATA_DIR) + "/reference/train_tiny";
const std::string kCli = (fs::path(TESSERA_BINARY_DIR) / "bin" / "tessera-cli").string();
constexpr int kSteps = 300;

struct CliRun {
    std::map<int64_t, std::string> loss; // step -> loss as printed (%.9g round-trips an f32)
    int64_t resumed_from = -1;
};

CliRun parse(const std::string& path) {
    CliRun r;
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
        auto j = nlohmann::json::parse(line, nullptr, false);
        if (j.is_discarded()) continue; // a line cut by the kill
        if (j.contains("event") && j["event"] == "resumed")
            r.resumed_from = j["step"].get<int64_t>();
        else if (j.contains("step") && j.contains("loss"))
            r.loss[j["step"].get<int64_t>()] = j["loss"].dump();
    }
    return r;
}

// Starts the CLI with stdout into `out`; returns its pid.
pid_t start(const std::vector<std::string>& args, const std::string& out) {
    std::vector<std::string> all = {kCli, "train"};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid = -1;
    const int rc = posix_spawn(&pid, kCli.c_str(), &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    return rc == 0 ? pid : -1;
}

int waitExit(pid_t pid, bool* signalled = nullptr) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (signalled) *signalled = WIFSIGNALED(status);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

size_t countLines(const std::string& path) {
    std::ifstream in(path);
    return static_cast<size_t>(
        std::count(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>(), '\n'));
}

TEST(TrainCli, KillNineThenResumeContinuesTheLossCurve) {
    const fs::path dir = fs::temp_directory_path() / ("tessera_train_cli_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    {
        nlohmann::json data;
        data["sequences"] = {
            {1, 5, 9, 13, 17, 21, 25, 29}, {3, 3, 8, 30, 2, 11, 0, 31}, {7, 14, 21, 28, 3, 10, 17, 24}};
        std::ofstream(dir / "data.json") << data.dump();
    }
    auto args = [&](const std::string& ckpt) {
        return std::vector<std::string>{"--model",        kModel,
                                        "--data",         (dir / "data.json").string(),
                                        "--steps",        std::to_string(kSteps),
                                        "--checkpoint",   (dir / ckpt).string(),
                                        "--accumulate",   "2",
                                        "--lr",           "0.003",
                                        "--weight-decay", "0.01"};
    };
    // Uninterrupted.
    pid_t a = start(args("a.safetensors"), (dir / "a.txt").string());
    ASSERT_GT(a, 0);
    ASSERT_EQ(waitExit(a), 0);
    const CliRun full = parse((dir / "a.txt").string());
    ASSERT_EQ(full.loss.size(), static_cast<size_t>(kSteps));

    // Killed once a few steps are out.
    pid_t b = start(args("b.safetensors"), (dir / "b1.txt").string());
    ASSERT_GT(b, 0);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (countLines((dir / "b1.txt").string()) < 5 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    ::kill(b, SIGKILL);
    bool signalled = false;
    waitExit(b, &signalled);
    ASSERT_TRUE(signalled) << "the run finished before it could be killed; raise kSteps";
    const CliRun before = parse((dir / "b1.txt").string());
    ASSERT_GE(before.loss.size(), 5u);
    ASSERT_LT(before.loss.size(), static_cast<size_t>(kSteps));

    // Started again with the same arguments.
    pid_t c = start(args("b.safetensors"), (dir / "b2.txt").string());
    ASSERT_GT(c, 0);
    ASSERT_EQ(waitExit(c), 0);
    const CliRun after = parse((dir / "b2.txt").string());
    // The checkpoint is written before a step is printed, so it holds at least the printed steps.
    ASSERT_GE(after.resumed_from, static_cast<int64_t>(before.loss.rbegin()->first));
    std::printf("killed after %zu printed steps; resumed from step %lld of %d\n", before.loss.size(),
                static_cast<long long>(after.resumed_from), kSteps);
    for (const auto& [step, loss] : before.loss) EXPECT_EQ(loss, full.loss.at(step)) << "step " << step;
    ASSERT_EQ(after.loss.size(), static_cast<size_t>(kSteps - after.resumed_from));
    for (const auto& [step, loss] : after.loss) EXPECT_EQ(loss, full.loss.at(step)) << "step " << step;
    fs::remove_all(dir);
}

TEST(TrainCli, BadInputsAreErrorsNotCrashes) {
    const fs::path dir = fs::temp_directory_path() / ("tessera_train_cli_bad_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    std::ofstream(dir / "bad.json") << "{\"sequences\": [[1, 2], [99999, 3]]}";
    pid_t p = start({"--model", kModel, "--data", (dir / "bad.json").string(), "--steps", "3", "--checkpoint",
                     (dir / "c.safetensors").string()},
                    (dir / "out.txt").string());
    ASSERT_GT(p, 0);
    EXPECT_EQ(waitExit(p), 1); // id 99999 is outside the vocabulary: an error message, exit 1
    std::ofstream(dir / "empty.json") << "{\"sequences\": []}";
    p = start({"--model", kModel, "--data", (dir / "empty.json").string(), "--steps", "3", "--checkpoint",
               (dir / "c.safetensors").string()},
              (dir / "out.txt").string());
    EXPECT_EQ(waitExit(p), 1);
    p = start({"--model", kModel, "--steps", "3"}, (dir / "out.txt").string());
    EXPECT_EQ(waitExit(p), 2); // missing required options
    fs::remove_all(dir);
}

} // namespace

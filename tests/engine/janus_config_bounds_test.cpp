// Sizes in a Janus config.json are bounded before use: a copy of janus_tiny whose vq_config asks for
// 2^32 tokens a side is refused at load with a message, where it used to crash (SIGFPE) while fitting
// the preview colour map.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tessera/engine/engine.h"
#include "tessera/engine/janus.h"

namespace fs = std::filesystem;

namespace tessera {

TEST(JanusConfigBounds, AGridOfTwoToTheThirtySecondIsRefusedNotACrash) {
    const fs::path src = fs::path(TESSERA_TEST_DATA_DIR) / "reference" / "janus_tiny";
    const fs::path dir = fs::temp_directory_path() / ("tessera-janus-bounds-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::copy(src, dir, fs::copy_options::recursive);
    for (int64_t patches : {int64_t(1) << 32, int64_t(1) << 20}) {
        nlohmann::json cfg = nlohmann::json::parse(std::ifstream(src / "config.json"));
        cfg["vq_config"]["num_patches"] = patches;
        std::ofstream(dir / "config.json", std::ios::trunc) << cfg.dump(2);
        auto be = createBackend("cpu", 1);
        ASSERT_TRUE(be.ok());
        auto p = JanusPipeline::load(dir.string(), **be);
        ASSERT_FALSE(p.ok()) << patches;
        EXPECT_NE(p.error().find("Tessera supports up to 1024 tokens"), std::string::npos) << p.error();
    }
    fs::remove_all(dir);
}

} // namespace tessera

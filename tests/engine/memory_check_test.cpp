// A model larger than the free memory is refused before loading, with both numbers; the figure comes
// from /proc/meminfo (and a cgroup limit), and TESSERA_AVAILABLE_MEMORY_BYTES stands in for a small
// machine here.
#include "tessera/engine/engine.h"
#include "tessera/engine/janus.h"
#include "tessera/engine/platform.h"

#include <cstdlib>
#include <gtest/gtest.h>
#include <string>

namespace tessera {

namespace {

const std::string kRef = std::string(TESSERA_TEST_DATA_DIR) + "/reference/";

struct EnvGuard {
    ~EnvGuard() {
        unsetenv("TESSERA_AVAILABLE_MEMORY_BYTES");
        unsetenv("TESSERA_ALLOW_OVERCOMMIT");
    }
};

} // namespace

TEST(MemoryCheck, ThisMachineReportsFreeMemoryAndRefusesAPetabyte) {
    EnvGuard guard;
    const uint64_t free_bytes = availableMemoryBytes();
    EXPECT_GT(free_bytes, uint64_t{64} << 20);
    Status st = requireMemoryFor(uint64_t{1} << 50, "a 1 PiB model");
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.message().find("a 1 PiB model needs 1048576.0 GiB"), std::string::npos) << st.message();
    EXPECT_NE(st.message().find("GiB free"), std::string::npos) << st.message();
    EXPECT_TRUE(requireMemoryFor(1024, "a tiny model").ok());
}

TEST(MemoryCheck, JanusLoadIsRefusedBeforeReadingWhenMemoryIsShort) {
    EnvGuard guard;
    auto be = createBackend("cpu", 1);
    ASSERT_TRUE(be.ok());
    setenv("TESSERA_AVAILABLE_MEMORY_BYTES", "1024", 1);
    auto refused = JanusPipeline::load(kRef + "janus_tiny", **be);
    ASSERT_FALSE(refused.ok());
    EXPECT_NE(refused.error().find("needs"), std::string::npos) << refused.error();
    EXPECT_NE(refused.error().find("1.0 KiB free"), std::string::npos) << refused.error();
    setenv("TESSERA_ALLOW_OVERCOMMIT", "1", 1);
    EXPECT_TRUE(JanusPipeline::load(kRef + "janus_tiny", **be).ok());
    unsetenv("TESSERA_ALLOW_OVERCOMMIT");
    unsetenv("TESSERA_AVAILABLE_MEMORY_BYTES");
    EXPECT_TRUE(JanusPipeline::load(kRef + "janus_tiny", **be).ok());
}

TEST(MemoryCheck, LanguageModelLoadIsRefusedToo) {
    EnvGuard guard;
    auto be = createBackend("cpu", 1);
    ASSERT_TRUE(be.ok());
    auto ckpt = Checkpoint::open(kRef + "llama_tiny");
    ASSERT_TRUE(ckpt.ok()) << ckpt.error();
    setenv("TESSERA_AVAILABLE_MEMORY_BYTES", "1000", 1);
    auto refused = loadCausalLM(*ckpt, **be);
    ASSERT_FALSE(refused.ok());
    EXPECT_NE(refused.error().find("KiB free"), std::string::npos) << refused.error();
}

} // namespace tessera

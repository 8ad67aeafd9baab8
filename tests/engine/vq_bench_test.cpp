// `bench vq` plumbing on small sizes (no timings): the VQ-16 shape, the whole and tiled paths, the
// scratch bound, the scratch folder cleaned up, and bad options refused.
#include "tessera/engine/bench.h"

#include <filesystem>
#include <gtest/gtest.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace tessera::bench {

TEST(VqBench, WholeAndTiledSizesWithinTheScratchBound) {
    const fs::path dir = fs::temp_directory_path() / ("tessera-vq-bench-test-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    VqBenchOptions o;
    o.sizes = {32, 112}; // 2x2 tokens (whole), 7x7 tokens in tiles of 3 (3x3 windows)
    o.tile = 3;
    o.halo = 1;
    o.threads = 2;
    o.scratch_dir = dir.string();
    auto r = runVqBench(o);
    ASSERT_TRUE(r.ok()) << r.error();
    // VQ-16 of Janus-Pro: transformers' JanusVQVAE built with this config counts 71,883,403 parameters
    // (base 128, multipliers 1,1,2,2,4, 2 encoder / 3 decoder res blocks, 16384 x 8 codebook).
    EXPECT_EQ(r->params, 71883403);
    EXPECT_EQ(r->weight_bytes, size_t(r->params) * 4);
    EXPECT_EQ(r->threads, 2);
    ASSERT_EQ(r->sizes.size(), 2u);
    EXPECT_FALSE(r->sizes[0].tiled);
    EXPECT_EQ(r->sizes[0].grid, 2);
    EXPECT_EQ(r->sizes[0].windows, 1);
    EXPECT_TRUE(r->sizes[1].tiled);
    EXPECT_EQ(r->sizes[1].grid, 7);
    EXPECT_EQ(r->sizes[1].windows, 9);
    for (const VqBenchSize& s : r->sizes) {
        EXPECT_GT(s.ms_per_image, 0.0);
        EXPECT_GT(s.peak_scratch_bytes, 0u);
        EXPECT_LE(s.peak_scratch_bytes, r->conv_scratch_bound_bytes);
        EXPECT_GT(s.mean_abs_pixel, 0.0);
    }
    const std::string line = r->toJson().dump();
    EXPECT_NE(line.find("\"peak_resident_bytes\""), std::string::npos);
    EXPECT_TRUE(fs::is_empty(dir)) << "the scratch weights were not removed";
    fs::remove_all(dir);
}

TEST(VqBench, RejectsSizesThatAreNotWholeTokens) {
    VqBenchOptions o;
    o.sizes = {100};
    auto r = runVqBench(o);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().find("multiple of 16"), std::string::npos) << r.error();
    o.sizes = {64};
    o.tile = 0;
    EXPECT_FALSE(runVqBench(o).ok());
}

} // namespace tessera::bench

// The erasure the widget tests run: docs/examples/erase_pairs.json (church -> building) on a model
// (the janus_tiny reference), with the few settings each test varies.
#pragma once

#include "tessera/engine/train_ear.h"
#include "tessera/widgets/erasure.h"

#include <QString>
#include <gtest/gtest.h>
#include <string>

namespace tessera::test {

// Fills `r`; fails, naming the error, when the pairs cannot be read. Use as ASSERT_TRUE(churchErasure(...)).
inline ::testing::AssertionResult churchErasure(widgets::ErasureRequest& r, const QString& model_dir,
                                                int iterations, int window, double threshold,
                                                const QString& out_path) {
    auto pairs =
        train::readEarPairs(std::string(TESSERA_TEST_DATA_DIR) + "/../../docs/examples/erase_pairs.json");
    if (!pairs.ok()) return ::testing::AssertionFailure() << pairs.error();
    r.pairs = *pairs;
    r.model_dir = model_dir;
    r.options.iterations = iterations;
    r.options.window = window;
    r.options.threshold = threshold;
    r.options.lr = 1e-2;
    r.out_path = out_path;
    return ::testing::AssertionSuccess();
}

} // namespace tessera::test

// VQ tokenizer training: a model trained a few steps on the tape, saved, and loaded by the normal Janus VQ
// loader (engine/src/models/janus_vq.cpp, an independent implementation of the same network) must encode
// an image to the same codes and decode those codes to the same pixels as the training forward pass; and
// training must lower the reconstruction loss.
#include "models/janus_parts.h"
#include "tessera/engine/engine.h"
#include "tessera/engine/train_loop.h"
#include "tessera/engine/train_vq.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <gtest/gtest.h>
#include <string>
#include <vector>

namespace tessera {
namespace {

using train::Tape;
using train::VqTrainConfig;
using train::VqTrainModel;

// Smooth coloured blobs on a grey ground, [B, 3, S, S] in [-1, 1].
std::vector<float> blobs(int64_t batch, int64_t side, int shift) {
    std::vector<float> px(static_cast<size_t>(batch * 3 * side * side));
    for (int64_t b = 0; b < batch; ++b)
        for (int64_t c = 0; c < 3; ++c)
            for (int64_t y = 0; y < side; ++y)
                for (int64_t x = 0; x < side; ++x) {
                    const double cx = side * (0.3 + 0.4 * ((b + shift) % 3) / 2.0), cy = side * 0.5;
                    const double r = std::hypot(x - cx, y - cy) / side;
                    const double inside = r < 0.25 ? 1.0 : 0.0;
                    const double colour = c == (b + shift) % 3 ? 0.8 : -0.6;
                    px[static_cast<size_t>(((b * 3 + c) * side + y) * side + x)] =
                        static_cast<float>(inside * colour + (1 - inside) * -0.1);
                }
    return px;
}

VqTrainConfig tinyConfig() {
    VqTrainConfig c;
    c.channels = 32;
    c.z_channels = 32;
    c.levels = 3;
    c.blocks = 1;
    c.codebook = 16;
    c.code_dim = 4;
    return c;
}

TEST(TrainVq, TheJanusLoaderEncodesAndDecodesLikeTheTrainingPass) {
    VqTrainModel model(tinyConfig(), 7);
    const int64_t side = 16, batch = 2;
    const std::vector<float> px = blobs(batch, side, 0);
    train::TrainerOptions opt;
    opt.adam.lr = 2e-3;
    train::Trainer trainer(model.parameters(), opt, [&](Tape<float>& t, int64_t, int) {
        return model.forward(t, px, batch, side, side).loss;
    });
    ASSERT_TRUE(trainer.run(3).ok());

    Tape<float> tape;
    auto fwd = model.forward(tape, px, batch, side, side);
    const std::vector<float> recon = tape.value(fwd.reconstruction);
    const auto dir = std::filesystem::temp_directory_path() / "tessera_train_vq_test";
    std::filesystem::remove_all(dir);
    Status saved = model.save(dir.string());
    ASSERT_TRUE(saved.ok()) << saved.message();

    auto be = createBackend("cpu", 2);
    ASSERT_TRUE(be.ok()) << be.error();
    auto ckpt = Checkpoint::open(dir.string());
    ASSERT_TRUE(ckpt.ok()) << ckpt.error();
    janus::Binder wb(*ckpt, **be, janus::Layout::Transformers);
    janus::VqModel vq;
    vq.load(wb, **be, true);
    Status bound = wb.finish();
    ASSERT_TRUE(bound.ok()) << bound.message();
    vq.setCodebookL2Norm(true);
    ASSERT_EQ(vq.downsample(), 4);
    ASSERT_EQ(vq.codebookSize(), 16);

    const int64_t g = side / 4;
    // Encode: same codes.
    janus::VqEncoding enc = vq.encode(**be, (*be)->fromF32(px, {batch, 3, side, side}));
    const std::vector<int64_t> codes = (*be)->readI64(enc.indices);
    ASSERT_EQ(codes.size(), fwd.codes.size());
    size_t same = 0;
    for (size_t i = 0; i < codes.size(); ++i) same += codes[i] == fwd.codes[i];
    EXPECT_EQ(same, codes.size()) << "codes that differ between the loader's encoder and the training pass";

    // Decode the training pass's codes: same pixels.
    Tensor ids = (*be)->fromI64(fwd.codes, {batch, g * g});
    const std::vector<float> pixels = (*be)->readF32(vq.decodeCodes(**be, vq.codesFor(**be, ids, g, g)));
    ASSERT_EQ(pixels.size(), recon.size());
    double worst = 0;
    for (size_t i = 0; i < pixels.size(); ++i)
        worst = std::max(worst, std::abs(double(pixels[i]) - recon[i]));
    EXPECT_LT(worst, 1e-3) << "largest pixel difference between the loader's decoder and the training pass";
    std::filesystem::remove_all(dir);
}

TEST(TrainVq, TrainingLowersTheReconstructionLoss) {
    VqTrainModel model(tinyConfig(), 3);
    const int64_t side = 16, batch = 3;
    const std::vector<float> px = blobs(batch, side, 1);
    auto pixelLoss = [&] {
        Tape<float> t;
        return t.scalar(model.forward(t, px, batch, side, side).pixel_loss);
    };
    const float before = pixelLoss();
    train::TrainerOptions opt;
    opt.adam.lr = 3e-3;
    train::Trainer trainer(model.parameters(), opt, [&](Tape<float>& t, int64_t, int) {
        return model.forward(t, px, batch, side, side).loss;
    });
    ASSERT_TRUE(trainer.run(40).ok());
    const float after = pixelLoss();
    std::printf("pixel mse %.4f -> %.4f after 40 steps\n", before, after);
    EXPECT_LT(after, 0.5f * before);
}

// --object-weight, against its definition worked out here: the loss of a weighted model minus the loss of
// the same weights unweighted is the weighted MSE minus the plain one (the codebook terms are the same),
// the weights 1 + α·min(1, max(|x_p − median|, |r_p − median|)) scaled to mean 1 per image. The blobs'
// pixels are far from the grey ground (so they weigh 1 + α), the ground's are at it; the untrained
// reconstruction r strays anywhere.
TEST(TrainVq, ObjectWeightWeighsThePixelsAwayFromTheMedianColour) {
    const int64_t side = 16, batch = 2, hw = side * side;
    std::vector<float> px = blobs(batch, side, 0);
    px[5] = -0.05f; // one ground pixel of image 0, red channel, 0.05 from the median: weight 1 + 0.05·α
    VqTrainConfig plain = tinyConfig(), weighted = tinyConfig();
    const float alpha = 4.0f;
    weighted.object_weight = alpha;
    VqTrainModel a(plain, 5), b(weighted, 5);
    Tape<float> ta, tb;
    const auto fa = a.forward(ta, px, batch, side, side);
    const auto fb = b.forward(tb, px, batch, side, side);
    const std::vector<float>& rec = ta.value(fa.reconstruction);
    ASSERT_EQ(rec, tb.value(fb.reconstruction));
    double want_weighted = 0, want_plain = 0;
    for (int64_t n = 0; n < batch; ++n) {
        std::vector<double> w(static_cast<size_t>(hw));
        double sum = 0;
        for (int64_t p = 0; p < hw; ++p) {
            const int64_t y = p / side, x = p % side;
            const double cx = side * (0.3 + 0.4 * (n % 3) / 2.0), cy = side * 0.5;
            const bool inside = std::hypot(x - cx, y - cy) / side < 0.25;
            // Inside: (0.8 or -0.6) against the ground's -0.1, at least 0.5 away in every channel.
            double dist = inside ? 1.0 : 0.0;
            if (n == 0 && p == 5) dist = 0.05;
            double r2 = 0; // the reconstruction's distance from the median, -0.1 in every channel
            for (int64_t c = 0; c < 3; ++c) {
                const double r = rec[static_cast<size_t>((n * 3 + c) * hw + p)] + 0.1;
                r2 += r * r;
            }
            dist = std::max(dist, std::sqrt(r2));
            w[static_cast<size_t>(p)] = 1.0 + alpha * std::min(1.0, dist);
            sum += w[static_cast<size_t>(p)];
        }
        for (int64_t c = 0; c < 3; ++c)
            for (int64_t p = 0; p < hw; ++p) {
                const size_t i = static_cast<size_t>((n * 3 + c) * hw + p);
                const double d2 = (rec[i] - px[i]) * (rec[i] - px[i]);
                want_weighted += w[static_cast<size_t>(p)] / (sum / static_cast<double>(hw)) * d2;
                want_plain += d2;
            }
    }
    const double n_all = static_cast<double>(batch * 3 * hw);
    want_weighted /= n_all;
    want_plain /= n_all;
    EXPECT_NEAR(ta.scalar(fa.pixel_loss), want_plain, 1e-6);
    EXPECT_NEAR(tb.scalar(fb.pixel_loss), want_plain, 1e-6); // pixel_loss stays unweighted
    EXPECT_NEAR(tb.scalar(fb.loss) - ta.scalar(fa.loss), want_weighted - want_plain, 2e-6);
    EXPECT_GT(std::fabs(want_weighted - want_plain), 1e-3); // the weights matter on these pictures
}

// Dead-code restart, checked against its definition: every row no latent chose now holds one of the
// batch's latents (distinct ones, farthest from their codes first); rows in use are untouched; a second
// call on the same batch is deterministic in what it leaves used.
TEST(TrainVq, DeadCodeRestartMovesExactlyTheUnusedRowsOntoLatents) {
    VqTrainModel model(tinyConfig(), 3);
    const int64_t side = 16, batch = 2;
    const std::vector<float> px = blobs(batch, side, 1);
    std::vector<float> before;
    std::vector<int64_t> codes;
    std::vector<float> latents;
    for (auto& p : model.parameters())
        if (p.name.find("quantize.embedding.weight") != std::string::npos) before = p.value;
    {
        Tape<float> t;
        auto fwd = model.forward(t, px, batch, side, side);
        codes = fwd.codes;
        latents = t.value(fwd.latents);
    }
    const int64_t d = tinyConfig().code_dim, k = tinyConfig().codebook;
    std::vector<bool> used(static_cast<size_t>(k), false);
    for (int64_t c : codes) used[static_cast<size_t>(c)] = true;
    int unused = 0;
    for (bool u : used) unused += u ? 0 : 1;
    ASSERT_GT(unused, 0) << "the fixture must leave some rows unused";

    const int moved = model.restartUnusedCodes(px, batch, side, side);
    EXPECT_EQ(moved, std::min<int>(unused, static_cast<int>(codes.size())));
    std::vector<float> after;
    for (auto& p : model.parameters())
        if (p.name.find("quantize.embedding.weight") != std::string::npos) after = p.value;
    std::vector<int64_t> sources;
    for (int64_t c = 0; c < k; ++c) {
        const float* a = &after[static_cast<size_t>(c * d)];
        const float* b = &before[static_cast<size_t>(c * d)];
        if (used[static_cast<size_t>(c)]) {
            EXPECT_TRUE(std::equal(a, a + d, b)) << "row " << c << " was in use and must not move";
            continue;
        }
        int64_t match = -1;
        for (int64_t i = 0; i < static_cast<int64_t>(codes.size()) && match < 0; ++i)
            if (std::equal(a, a + d, &latents[static_cast<size_t>(i * d)])) match = i;
        EXPECT_GE(match, 0) << "unused row " << c << " does not hold a latent of the batch";
        sources.push_back(match);
    }
    std::sort(sources.begin(), sources.end());
    EXPECT_EQ(std::unique(sources.begin(), sources.end()), sources.end()) << "a latent was used twice";
}

TEST(TrainVq, BadShapesAreErrors) {
    VqTrainModel model(tinyConfig(), 1);
    Tape<float> t;
    EXPECT_THROW(model.forward(t, std::vector<float>(3 * 10 * 10), 1, 10, 10),
                 Error); // 10 is not a multiple of 4
    VqTrainConfig bad = tinyConfig();
    bad.channels = 40;
    EXPECT_THROW(VqTrainModel(bad, 1), Error);
}

} // namespace
} // namespace tessera

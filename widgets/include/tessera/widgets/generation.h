// What the studio knows about one generation: its settings, every sampled token with its statistics
// (in decode order), and the latest picture. Plain data, copied freely; GUI thread only.
#pragma once

#include "tessera/engine/events.h"
#include "tessera/engine/scheduler.h"
#include "tessera/engine/speculative.h"

#include <QDateTime>
#include <QImage>
#include <QJsonObject>
#include <QMetaType>
#include <QString>
#include <cstdint>
#include <memory>
#include <vector>

namespace tessera::widgets {

struct GenerationSettings {
    QString model; // checkpoint folder
    QString prompt;
    quint64 seed = 0;
    bool seed_locked = false; // false: a fresh random seed for every run
    double cfg = 5.0;
    double temperature = 1.0;
    int top_k = 0;      // 0 = off
    double top_p = 1.0; // 1 = off
    int images = 1;
    // Decode strategy (speculative.h): "plain" or "sjd" with its window and first-draft initialisation
    // ("random" or "spatial"); lantern_k > 0 turns on LANTERN's relaxed acceptance, which is lossy.
    QString decode = "plain";
    int sjd_window = 16;
    QString sjd_init = "random";
    int lantern_k = 0;
    double lantern_delta = 0.0;
    // The EAR delta applied to the model (its path and sha256; recorded as the CLI's recipe does,
    // {"overlay": {"path", "sha256"}}); empty: the model as it is. A request naming one is generated
    // with the model plus that delta, and refused when the file is gone or its hash changed.
    QString overlay;
    QString overlay_sha256;
    // DiCoDe options (dicode_generator.h), keyed as its recipe names them; empty for other models.
    QJsonObject dicode;

    bool speculative() const { return decode == "sjd"; }
    bool lossy() const { return speculative() && lantern_k > 0; }
    // The engine's DecodeSettings for these fields (plain for anything unknown).
    DecodeSettings decodeSettings() const;

    QJsonObject toJson() const;
    // Missing or malformed fields keep their defaults.
    static GenerationSettings fromJson(const QJsonObject& json);
    bool operator==(const GenerationSettings&) const = default;
};

// One sampled cell of the mosaic.
struct TokenRecord {
    int32_t token = -1; // -1 = not sampled
    float probability = 0;
    float entropy = 0;
    float guidance_kl = 0;
    int rank = 0;
    int step = -1;               // the decode step (forward pass) that made the cell final; -1 = unknown
    bool accepted_draft = false; // speculative decoding: a draft that passed the acceptance test
    std::vector<int32_t> top_ids;
    std::vector<float> top_probs;
};

// The record of one picture of a batch past the first.
struct BatchImage {
    std::vector<TokenRecord> cells;
    std::vector<int> decode_order;
    QImage image;
};

// A video generation's clip (Lumos-1): its pixel frames, latent codes and recipe. Immutable once made;
// shared between the record, the history and exports.
struct VideoClip {
    std::vector<QImage> frames; // pixel frames: Cosmos decodes, or code-digit pictures without a tokenizer
    bool decoded = false;       // frames are Cosmos decodes
    int fps = 0;
    int latent_frames = 0, lat_h = 0, lat_w = 0;
    std::vector<int32_t> codes; // every latent frame's codes, row-major
    QByteArray recipe;          // the "lumos-1" recipe (JSON), stored in exported videos' metadata
};

struct Generation {
    int64_t id = 0;               // the scheduler's job id (a restored one keeps its project id)
    int64_t parent_id = 0;        // 0 = a root
    int64_t stored_id = 0;        // its id in the history source once recorded (0 = not yet)
    int64_t parent_stored_id = 0; // the parent's id in the history source, when known
    int branch_token = 0;         // decode steps shared with the parent
    GenerationSettings settings;
    int rows = 0, cols = 0;
    std::vector<TokenRecord> cells; // by raster position (first image of the batch)
    std::vector<int> decode_order;  // positions in the order they were sampled
    QImage image;                   // latest preview or the final picture
    std::vector<BatchImage> others; // the batch's second, third, … picture ("Images" > 1)
    JobState state = JobState::Queued;
    QString error;
    QDateTime created;
    QString kind = "image";                 // or "video", or "scene" (an image → scene reconstruction)
    QString scene_program;                  // a "scene" record's program (scene_program grammar)
    QImage scene_input;                     // a "scene" record's input image
    std::shared_ptr<const VideoClip> video; // a video's clip once complete (null while it runs)

    int sampled() const { return static_cast<int>(decode_order.size()); }
    // The tokens in raster order; unsampled cells are -1.
    std::vector<int32_t> tokens() const;
    // The first `steps` tokens in decode order, as a branch forces them.
    std::vector<int32_t> prefix(int steps) const;

    // Pictures of the batch: 0 is the first (the fields above). An index out of range reads as 0,
    // so a stale selection never reads past the record.
    int imageCount() const { return 1 + static_cast<int>(others.size()); }
    const std::vector<TokenRecord>& cellsOf(int image) const;
    const std::vector<int>& decodeOrderOf(int image) const;
    const QImage& imageOf(int image) const;
    int sampledOf(int image) const { return static_cast<int>(decodeOrderOf(image).size()); }
    std::vector<int32_t> tokensOf(int image) const;
    std::vector<int32_t> prefixOf(int image, int steps) const;
};

// The recipe written into PNG text chunks and shown on export.
QJsonObject recipeJson(const Generation& g);

} // namespace tessera::widgets

Q_DECLARE_METATYPE(tessera::widgets::GenerationSettings)

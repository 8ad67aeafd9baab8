#include "tessera/widgets/generation.h"

#include <QJsonArray>
#include <algorithm>

namespace tessera::widgets {

QJsonObject GenerationSettings::toJson() const {
    QJsonObject o;
    o["model"] = model;
    o["prompt"] = prompt;
    // As a string: JSON numbers lose 64-bit seeds.
    o["seed"] = QString::number(seed);
    o["seed_locked"] = seed_locked;
    o["cfg"] = cfg;
    o["temperature"] = temperature;
    o["top_k"] = top_k;
    o["top_p"] = top_p;
    o["images"] = images;
    // The engine's recipe layout (recipe.cpp); plain decoding writes nothing, as before SJD existed.
    if (speculative()) {
        QJsonObject d{{"strategy", "sjd"}, {"window", sjd_window}, {"init", sjd_init}};
        if (lantern_k > 0) {
            d["lantern_k"] = lantern_k;
            d["lantern_delta"] = lantern_delta;
            d["lossy"] = true;
        }
        o["decode"] = d;
    }
    if (!overlay.isEmpty()) o["overlay"] = QJsonObject{{"path", overlay}, {"sha256", overlay_sha256}};
    if (!dicode.isEmpty()) o["dicode"] = dicode;
    return o;
}

GenerationSettings GenerationSettings::fromJson(const QJsonObject& o) {
    GenerationSettings s;
    s.model = o.value("model").toString(s.model);
    s.prompt = o.value("prompt").toString(s.prompt);
    const QJsonValue seed = o.value("seed");
    if (seed.isString()) {
        bool ok = false;
        const quint64 v = seed.toString().toULongLong(&ok);
        if (ok) s.seed = v;
    } else if (seed.isDouble() && seed.toDouble() >= 0) {
        s.seed = static_cast<quint64>(seed.toDouble());
    }
    s.seed_locked = o.value("seed_locked").toBool(s.seed_locked);
    s.cfg = std::clamp(o.value("cfg").toDouble(s.cfg), 0.0, 100.0);
    s.temperature = std::clamp(o.value("temperature").toDouble(s.temperature), 0.0, 10.0);
    s.top_k = std::max(0, o.value("top_k").toInt(s.top_k));
    s.top_p = std::clamp(o.value("top_p").toDouble(s.top_p), 0.0, 1.0);
    s.images = std::clamp(o.value("images").toInt(s.images), 1, 64);
    s.dicode = o.value("dicode").toObject();
    const QJsonObject d = o.value("decode").toObject();
    if (d.value("strategy").toString() == "sjd") {
        s.decode = "sjd";
        s.sjd_window = std::clamp(d.value("window").toInt(s.sjd_window), 1, kMaxSjdWindow);
        if (d.value("init").toString() == "spatial") s.sjd_init = "spatial";
        s.lantern_k = std::clamp(d.value("lantern_k").toInt(0), 0, kMaxLanternK);
        s.lantern_delta = std::clamp(d.value("lantern_delta").toDouble(0.0), 0.0, 1.0);
    }
    const QJsonObject overlay = o.value("overlay").toObject();
    s.overlay = overlay.value("path").toString();
    s.overlay_sha256 = overlay.value("sha256").toString();
    return s;
}

DecodeSettings GenerationSettings::decodeSettings() const {
    DecodeSettings d;
    if (!speculative()) return d;
    d.strategy = DecodeStrategy::Sjd;
    d.window = std::clamp(sjd_window, 1, kMaxSjdWindow);
    d.init = sjd_init == "spatial" ? SjdInit::Spatial : SjdInit::Random;
    d.lantern_k = std::clamp(lantern_k, 0, kMaxLanternK);
    d.lantern_delta = d.lantern_k > 0 ? static_cast<float>(std::max(0.0, lantern_delta)) : 0.0f;
    return d;
}

std::vector<int32_t> Generation::tokens() const {
    return tokensOf(0);
}

std::vector<int32_t> Generation::prefix(int steps) const {
    return prefixOf(0, steps);
}

namespace {
bool isOther(const Generation& g, int image) {
    return image >= 1 && image < g.imageCount();
}
} // namespace

const std::vector<TokenRecord>& Generation::cellsOf(int image) const {
    return isOther(*this, image) ? others[static_cast<size_t>(image - 1)].cells : cells;
}

const std::vector<int>& Generation::decodeOrderOf(int image) const {
    return isOther(*this, image) ? others[static_cast<size_t>(image - 1)].decode_order : decode_order;
}

const QImage& Generation::imageOf(int image) const {
    return isOther(*this, image) ? others[static_cast<size_t>(image - 1)].image : this->image;
}

std::vector<int32_t> Generation::tokensOf(int image) const {
    const std::vector<TokenRecord>& c = cellsOf(image);
    std::vector<int32_t> out(c.size(), -1);
    for (size_t i = 0; i < c.size(); ++i) out[i] = c[i].token;
    return out;
}

std::vector<int32_t> Generation::prefixOf(int image, int steps) const {
    const std::vector<TokenRecord>& c = cellsOf(image);
    const std::vector<int>& order = decodeOrderOf(image);
    std::vector<int32_t> out;
    steps = std::clamp(steps, 0, static_cast<int>(order.size()));
    out.reserve(static_cast<size_t>(steps));
    for (int i = 0; i < steps; ++i)
        out.push_back(c[static_cast<size_t>(order[static_cast<size_t>(i)])].token);
    return out;
}

QJsonObject recipeJson(const Generation& g) {
    QJsonObject o = g.settings.toJson();
    o["generator"] = "tessera";
    o["grid"] = QJsonArray{g.rows, g.cols};
    if (g.parent_id > 0) {
        o["parent"] = QString::number(g.parent_id);
        o["branch_token"] = g.branch_token;
    }
    QJsonArray toks;
    for (int32_t t : g.tokens()) toks.append(t);
    o["tokens"] = toks;
    return o;
}

} // namespace tessera::widgets

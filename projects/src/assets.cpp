// Assets (media files with their sha256) and exports (a generation's media copied out of the project
// with its recipe).
#include "project_impl.h"

#include <fstream>

namespace tessera::projects {

namespace fs = std::filesystem;
using detail::Stmt;
using detail::UsageError;

namespace {

constexpr const char* kAssetCols =
    "SELECT id, rel_path, sha256, kind, size_bytes, meta, state, created_at FROM assets";

AssetRecord readAsset(Stmt& s) {
    AssetRecord a;
    a.id = s.i64(0);
    a.rel_path = s.text(1);
    a.sha256 = s.text(2);
    a.kind = s.text(3);
    a.size_bytes = s.i64(4);
    a.meta = detail::parseJson(s.text(5), nlohmann::json::object());
    a.state = s.text(6) == "missing" ? AssetState::kMissing : AssetState::kOk;
    a.created_at_ms = s.i64(7);
    return a;
}

} // namespace

AssetRecord Project::Impl::loadAsset(int64_t id) {
    Stmt s = db->prepare((std::string(kAssetCols) + " WHERE id = ?").c_str());
    s.bind(1, id);
    if (!s.step()) throw UsageError("no asset with id " + std::to_string(id));
    return readAsset(s);
}

int64_t Project::Impl::insertAsset(const detail::WrittenMedia& written, const MediaPayload& media) {
    // Content addressed: identical bytes share one file and one row.
    Stmt s = db->prepare("INSERT INTO assets(rel_path, sha256, kind, size_bytes, meta, state, created_at) "
                         "VALUES (?, ?, ?, ?, ?, 'ok', ?) "
                         "ON CONFLICT(rel_path) DO UPDATE SET state = 'ok' RETURNING id");
    s.bind(1, written.rel_path).bind(2, written.sha256).bind(3, media.kind).bind(4, written.size_bytes);
    s.bind(5, detail::jsonText(media.meta)).bind(6, detail::nowMs());
    if (!s.step()) throw detail::DbError("inserting the asset row returned no id");
    int64_t id = s.i64(0);
    s.run();
    return id;
}

Result<AssetRecord> Project::addAsset(const MediaPayload& media) {
    return detail::guardResult<AssetRecord>("storing media", [&] {
        detail::MediaLock lock(impl_->dir, false);
        auto written = detail::writeMediaDurably(impl_->dir, media);
        return impl_->db->write([&] { return impl_->loadAsset(impl_->insertAsset(written, media)); });
    });
}

Result<AssetRecord> Project::asset(int64_t id) {
    return detail::guardResult<AssetRecord>(
        "reading an asset", [&] { return impl_->db->read([&] { return impl_->loadAsset(id); }); });
}

Result<std::vector<AssetRecord>> Project::listAssets() {
    return detail::guardResult<std::vector<AssetRecord>>("listing assets", [&] {
        return impl_->db->read([&] {
            std::vector<AssetRecord> out;
            Stmt s = impl_->db->prepare((std::string(kAssetCols) + " ORDER BY id").c_str());
            while (s.step()) out.push_back(readAsset(s));
            return out;
        });
    });
}

fs::path Project::assetPath(const AssetRecord& asset) const {
    return impl_->dir / asset.rel_path;
}

Result<fs::path> Project::exportGeneration(int64_t generation_id, const fs::path& out_dir) {
    return detail::guardResult<fs::path>("exporting a generation", [&] {
        Result<GenerationRecord> g = generation(generation_id);
        if (!g) throw UsageError(g.error());
        std::error_code ec;
        fs::create_directories(out_dir, ec);
        if (ec) throw UsageError("cannot create " + out_dir.string() + ": " + ec.message());
        std::string stem = "generation-" + std::to_string(generation_id);

        nlohmann::json recipe = {{"generation", generation_id},
                                 {"prompt", g->prompt},
                                 {"seed", g->seed},
                                 {"params", g->params},
                                 {"token_count", g->tokens.size()},
                                 {"rating", g->rating},
                                 {"notes", g->notes},
                                 {"tags", g->tags},
                                 {"created_at_ms", g->created_at_ms}};
        if (g->model_id) {
            if (auto m = model(*g->model_id))
                recipe["model"] = {
                    {"path", m->path}, {"family", m->family}, {"content_hash", m->content_hash}};
        }
        // Lineage: the chain of parents with the token each branch was cut at.
        nlohmann::json lineage = nlohmann::json::array();
        for (auto cur = *g; cur.parent_id;) {
            lineage.push_back(
                {{"parent", *cur.parent_id}, {"branch_token", cur.branch_token}, {"seed", cur.seed}});
            auto p = generation(*cur.parent_id);
            if (!p) break;
            cur = std::move(*p);
        }
        recipe["lineage"] = lineage;

        std::string format = "recipe";
        if (g->asset_id) {
            AssetRecord a = impl_->db->read([&] { return impl_->loadAsset(*g->asset_id); });
            fs::path src = impl_->dir / a.rel_path;
            if (a.state == AssetState::kMissing || !fs::exists(src, ec))
                throw UsageError("the media of generation " + std::to_string(generation_id) + " (" +
                                 a.rel_path + ") is missing; run `tessera-cli project recover " +
                                 impl_->dir.string() + "`");
            fs::path dst = out_dir / (stem + src.extension().string());
            fs::copy_file(src, dst, fs::copy_options::overwrite_existing, ec);
            if (ec)
                throw UsageError("cannot copy " + src.string() + " to " + dst.string() + ": " + ec.message());
            recipe["media"] = {{"file", dst.filename().string()}, {"sha256", a.sha256}, {"kind", a.kind}};
            format = a.kind;
        }
        fs::path recipe_path = out_dir / (stem + ".recipe.json");
        {
            std::ofstream out(recipe_path);
            out << recipe.dump(2) << "\n";
            if (!out) throw UsageError("cannot write " + recipe_path.string());
        }
        impl_->db->write([&] {
            Stmt s = impl_->db->prepare(
                "INSERT INTO exports(generation_id, target_path, format, created_at) VALUES (?, ?, ?, ?)");
            s.bind(1, generation_id).bind(2, fs::absolute(recipe_path, ec).string()).bind(3, format);
            s.bind(4, detail::nowMs());
            s.run();
        });
        return recipe_path;
    });
}

Result<std::vector<ExportRecord>> Project::listExports() {
    return detail::guardResult<std::vector<ExportRecord>>("listing exports", [&] {
        return impl_->db->read([&] {
            std::vector<ExportRecord> out;
            Stmt s = impl_->db->prepare(
                "SELECT id, generation_id, target_path, format, created_at FROM exports ORDER BY id");
            while (s.step()) out.push_back({s.i64(0), s.i64(1), s.text(2), s.text(3), s.i64(4)});
            return out;
        });
    });
}

} // namespace tessera::projects

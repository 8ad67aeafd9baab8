// Generations: records with their token streams, per-token statistics and media; branches (a child
// sharing its parent's first tokens) and trees; ratings, notes and tags.
//
// Token streams are int32 little-endian BLOBs; statistics are float32 little-endian BLOBs of three
// values per token (probability, entropy, guidance KL).
#include "project_impl.h"

#include <cstring>
#include <functional>
#include <map>

namespace tessera::projects {

using detail::Stmt;
using detail::UsageError;

namespace {

std::vector<uint8_t> encodeTokens(const std::vector<int32_t>& tokens) {
    std::vector<uint8_t> out(tokens.size() * 4);
    for (size_t i = 0; i < tokens.size(); ++i) {
        auto v = static_cast<uint32_t>(tokens[i]);
        for (int b = 0; b < 4; ++b) out[4 * i + b] = uint8_t(v >> (8 * b));
    }
    return out;
}

std::vector<int32_t> decodeTokens(const std::vector<uint8_t>& blob) {
    std::vector<int32_t> out(blob.size() / 4);
    for (size_t i = 0; i < out.size(); ++i) {
        uint32_t v = 0;
        for (int b = 0; b < 4; ++b) v |= uint32_t(blob[4 * i + b]) << (8 * b);
        out[i] = static_cast<int32_t>(v);
    }
    return out;
}

std::vector<uint8_t> encodeStats(const std::vector<TokenStat>& stats) {
    std::vector<uint8_t> out(stats.size() * 12);
    for (size_t i = 0; i < stats.size(); ++i) {
        const float f[3] = {stats[i].probability, stats[i].entropy, stats[i].guidance_kl};
        for (int k = 0; k < 3; ++k) {
            uint32_t bits;
            std::memcpy(&bits, &f[k], 4);
            for (int b = 0; b < 4; ++b) out[12 * i + 4 * k + b] = uint8_t(bits >> (8 * b));
        }
    }
    return out;
}

std::vector<TokenStat> decodeStats(const std::vector<uint8_t>& blob) {
    std::vector<TokenStat> out(blob.size() / 12);
    for (size_t i = 0; i < out.size(); ++i) {
        float f[3];
        for (int k = 0; k < 3; ++k) {
            uint32_t bits = 0;
            for (int b = 0; b < 4; ++b) bits |= uint32_t(blob[12 * i + 4 * k + b]) << (8 * b);
            std::memcpy(&f[k], &bits, 4);
        }
        out[i] = {f[0], f[1], f[2]};
    }
    return out;
}

const char* stateName(GenerationState s) {
    switch (s) {
    case GenerationState::kPending:
        return "pending";
    case GenerationState::kFailed:
        return "failed";
    case GenerationState::kComplete:
        return "complete";
    }
    return "complete";
}

GenerationState parseState(const std::string& s) {
    if (s == "pending") return GenerationState::kPending;
    if (s == "failed") return GenerationState::kFailed;
    return GenerationState::kComplete;
}

// Columns 0..18; `with_tokens` false leaves the BLOBs out (trees, history).
std::string selectGenerations(bool with_tokens) {
    return std::string("SELECT g.id, g.job_id, g.model_id, g.parent_id, g.branch_token, g.seed, g.prompt, "
                       "g.params, ") +
           (with_tokens ? "g.tokens, g.token_stats, g.top_k, " : "NULL, NULL, NULL, ") +
           "g.state, g.rating, g.notes, g.asset_id, g.created_at, length(g.tokens) / 4, g.kind, g.strip_asset_id "
           "FROM generations g";
}

GenerationRecord readGeneration(Stmt& s) {
    GenerationRecord g;
    g.id = s.i64(0);
    g.job_id = s.optI64(1);
    g.model_id = s.optI64(2);
    g.parent_id = s.optI64(3);
    g.branch_token = s.i64(4);
    g.seed = static_cast<uint64_t>(s.i64(5));
    g.prompt = s.text(6);
    g.params = detail::parseJson(s.text(7), nlohmann::json::object());
    g.tokens = decodeTokens(s.blob(8));
    g.stats = decodeStats(s.blob(9));
    g.top_k = s.isNull(10) ? nlohmann::json() : detail::parseJson(s.text(10), nlohmann::json());
    g.state = parseState(s.text(11));
    g.rating = static_cast<int>(s.i64(12));
    g.notes = s.text(13);
    g.asset_id = s.optI64(14);
    g.created_at_ms = s.i64(15);
    g.kind = s.text(17);
    g.strip_asset_id = s.optI64(18);
    return g;
}

void loadTags(detail::Db& db, GenerationRecord& g) {
    Stmt t = db.prepare("SELECT tag FROM tags WHERE generation_id = ? ORDER BY tag");
    t.bind(1, g.id);
    while (t.step()) g.tags.push_back(t.text(0));
}

GenerationRecord loadGeneration(detail::Db& db, int64_t id, bool with_tokens) {
    Stmt s = db.prepare((selectGenerations(with_tokens) + " WHERE g.id = ?").c_str());
    s.bind(1, id);
    if (!s.step()) throw UsageError("no generation with id " + std::to_string(id));
    GenerationRecord g = readGeneration(s);
    loadTags(db, g);
    return g;
}

std::string cleanTag(const std::string& tag) {
    size_t a = tag.find_first_not_of(" \t\n");
    size_t b = tag.find_last_not_of(" \t\n");
    if (a == std::string::npos) throw UsageError("a tag cannot be empty");
    return tag.substr(a, b - a + 1);
}

void insertTag(detail::Db& db, int64_t id, const std::string& tag) {
    Stmt s = db.prepare("INSERT OR IGNORE INTO tags(generation_id, tag) VALUES (?, ?)");
    s.bind(1, id).bind(2, cleanTag(tag));
    s.run();
}

void checkStats(const std::vector<int32_t>& tokens, const std::vector<TokenStat>& stats) {
    if (!stats.empty() && stats.size() != tokens.size())
        throw UsageError("per-token statistics must be empty or one per token (" +
                         std::to_string(stats.size()) + " statistics for " + std::to_string(tokens.size()) +
                         " tokens)");
}

} // namespace

namespace {

void checkKind(const std::string& kind) {
    if (kind != "image" && kind != "video" && kind != "scene")
        throw UsageError("a generation's kind is \"image\", \"video\" or \"scene\", not \"" + kind + "\"");
}

} // namespace

// The row itself, inside a write transaction; asset ids already resolved.
int64_t Project::Impl::insertGeneration(const GenerationRecord& gen, std::optional<int64_t> asset_id,
                                        std::optional<int64_t> strip_asset_id) {
    auto tokens = encodeTokens(gen.tokens);
    auto stats = encodeStats(gen.stats);
    if (gen.parent_id) requireRow("generations", *gen.parent_id, "parent generation");
    if (gen.job_id) requireRow("jobs", *gen.job_id, "job");
    if (gen.model_id) requireRow("models", *gen.model_id, "model");
    if (asset_id) requireRow("assets", *asset_id, "asset");
    if (strip_asset_id) requireRow("assets", *strip_asset_id, "thumbnail strip asset");
    Stmt s = db->prepare("INSERT INTO generations(job_id, model_id, parent_id, branch_token, "
                         "seed, prompt, params, tokens, "
                         "token_stats, top_k, state, rating, notes, asset_id, created_at, kind, strip_asset_id) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    s.bind(1, gen.job_id).bind(2, gen.model_id).bind(3, gen.parent_id).bind(4, gen.branch_token);
    s.bind(5, static_cast<int64_t>(gen.seed)).bind(6, gen.prompt).bind(7, detail::jsonText(gen.params));
    s.bindBlob(8, tokens.data(), tokens.size()).bindBlob(9, stats.data(), stats.size());
    if (gen.top_k.is_null())
        s.bindNull(10);
    else
        s.bind(10, detail::jsonText(gen.top_k));
    s.bind(11, stateName(gen.state)).bind(12, gen.rating).bind(13, gen.notes).bind(14, asset_id);
    s.bind(15, gen.created_at_ms ? gen.created_at_ms : detail::nowMs());
    s.bind(16, gen.kind).bind(17, strip_asset_id);
    s.run();
    int64_t id = db->lastInsertId();
    for (const auto& t : gen.tags) insertTag(*db, id, t);
    return id;
}

Result<int64_t> Project::addGeneration(const GenerationRecord& gen, const MediaPayload* media) {
    return detail::guardResult<int64_t>("adding a generation", [&] {
        checkStats(gen.tokens, gen.stats);
        checkKind(gen.kind);
        if (gen.rating < 0 || gen.rating > 5) throw UsageError("a rating is 0 (none) to 5");
        // The file is complete and durable before any row names it (see project.h).
        std::optional<detail::MediaLock> lock;
        std::optional<detail::WrittenMedia> written;
        if (media) {
            lock.emplace(impl_->dir, false);
            written = detail::writeMediaDurably(impl_->dir, *media);
        }
        return impl_->db->write([&] {
            std::optional<int64_t> asset_id = gen.asset_id;
            if (written) asset_id = impl_->insertAsset(*written, *media);
            return impl_->insertGeneration(gen, asset_id, gen.strip_asset_id);
        });
    });
}

Result<int64_t> Project::addVideoGeneration(const GenerationRecord& gen, const MediaPayload& video,
                                            const MediaPayload& strip) {
    return detail::guardResult<int64_t>("adding a video generation", [&] {
        checkStats(gen.tokens, gen.stats);
        if (gen.rating < 0 || gen.rating > 5) throw UsageError("a rating is 0 (none) to 5");
        detail::MediaLock lock(impl_->dir, false);
        // Both files are durable before the row; a failure in between leaves an unnamed file that
        // recover() removes (it was written under its own sha256).
        detail::WrittenMedia v = detail::writeMediaDurably(impl_->dir, video);
        detail::WrittenMedia t = detail::writeMediaDurably(impl_->dir, strip);
        GenerationRecord g = gen;
        g.kind = "video";
        return impl_->db->write([&] {
            const int64_t video_id = impl_->insertAsset(v, video);
            const int64_t strip_id = impl_->insertAsset(t, strip);
            return impl_->insertGeneration(g, video_id, strip_id);
        });
    });
}

Result<GenerationRecord> Project::generation(int64_t id) {
    return detail::guardResult<GenerationRecord>("reading a generation", [&] {
        return impl_->db->read([&] { return loadGeneration(*impl_->db, id, true); });
    });
}

Result<int64_t> Project::branch(int64_t parent_id, int64_t token_index, const BranchSpec& spec) {
    return detail::guardResult<int64_t>("branching a generation", [&] {
        return impl_->db->write([&] {
            GenerationRecord parent = loadGeneration(*impl_->db, parent_id, true);
            auto n = static_cast<int64_t>(parent.tokens.size());
            if (token_index < 0 || token_index > n)
                throw UsageError("cannot branch generation " + std::to_string(parent_id) + " at token " +
                                 std::to_string(token_index) + ": it has " + std::to_string(n) + " tokens");
            GenerationRecord child;
            child.parent_id = parent_id;
            child.branch_token = token_index;
            child.model_id = parent.model_id;
            child.job_id = spec.job_id;
            child.seed = spec.seed;
            child.prompt = spec.prompt.value_or(parent.prompt);
            child.params = parent.params.is_object() ? parent.params : nlohmann::json::object();
            if (spec.params.is_object()) child.params.merge_patch(spec.params);
            child.tokens.assign(parent.tokens.begin(), parent.tokens.begin() + token_index);
            if (parent.stats.size() == parent.tokens.size())
                child.stats.assign(parent.stats.begin(), parent.stats.begin() + token_index);
            child.state = GenerationState::kPending;
            Result<int64_t> id = addGeneration(child, nullptr);
            if (!id) throw UsageError(id.error());
            return *id;
        });
    });
}

Status Project::finishGeneration(int64_t id, const std::vector<int32_t>& tokens,
                                 const std::vector<TokenStat>& stats, const MediaPayload* media,
                                 const nlohmann::json& top_k) {
    return detail::guardStatus("finishing a generation", [&] {
        checkStats(tokens, stats);
        std::optional<detail::MediaLock> lock;
        std::optional<detail::WrittenMedia> written;
        if (media) {
            lock.emplace(impl_->dir, false);
            written = detail::writeMediaDurably(impl_->dir, *media);
        }
        auto t = encodeTokens(tokens);
        auto st = encodeStats(stats);
        impl_->db->write([&] {
            GenerationRecord g = loadGeneration(*impl_->db, id, true);
            if (g.state != GenerationState::kPending)
                throw UsageError("generation " + std::to_string(id) + " is " + stateName(g.state) +
                                 ", not pending");
            // A branch keeps the prefix it was cut from.
            if (g.parent_id && (tokens.size() < g.tokens.size() ||
                                !std::equal(g.tokens.begin(), g.tokens.end(), tokens.begin())))
                throw UsageError("generation " + std::to_string(id) + " branches at token " +
                                 std::to_string(g.branch_token) +
                                 "; its tokens must start with the parent's prefix");
            std::optional<int64_t> asset_id = g.asset_id;
            if (written) asset_id = impl_->insertAsset(*written, *media);
            Stmt s = impl_->db->prepare(
                "UPDATE generations SET tokens = ?, token_stats = ?, top_k = ?, asset_id = ?, "
                "state = 'complete' WHERE id = ?");
            s.bindBlob(1, t.data(), t.size()).bindBlob(2, st.data(), st.size());
            if (top_k.is_null())
                s.bindNull(3);
            else
                s.bind(3, detail::jsonText(top_k));
            s.bind(4, asset_id).bind(5, id);
            s.run();
        });
    });
}

Status Project::failGeneration(int64_t id, const std::string& why) {
    return detail::guardStatus("marking a generation failed", [&] {
        impl_->db->write([&] {
            impl_->requireRow("generations", id, "generation");
            Stmt s = impl_->db->prepare("UPDATE generations SET state = 'failed', notes = CASE WHEN notes = "
                                        "'' THEN ? ELSE notes || char(10) || ? "
                                        "END WHERE id = ?");
            s.bind(1, why).bind(2, why).bind(3, id);
            s.run();
        });
    });
}

Result<std::vector<TreeNode>> Project::tree(int64_t root_id) {
    return detail::guardResult<std::vector<TreeNode>>("listing a generation tree", [&] {
        return impl_->db->read([&] {
            impl_->requireRow("generations", root_id, "generation");
            // One recursive query fetches the subtree; the depth-first order is built here.
            Stmt s = impl_->db->prepare(("WITH RECURSIVE sub(id) AS (SELECT ? UNION SELECT g.id FROM "
                                         "generations g JOIN sub ON g.parent_id = "
                                         "sub.id) " +
                                         selectGenerations(false) +
                                         " WHERE g.id IN (SELECT id FROM sub) ORDER BY g.id")
                                            .c_str());
            s.bind(1, root_id);
            std::map<int64_t, std::pair<GenerationRecord, int64_t>> nodes;
            std::map<int64_t, std::vector<int64_t>> children;
            while (s.step()) {
                GenerationRecord g = readGeneration(s);
                int64_t count = s.i64(16);
                if (g.id != root_id && g.parent_id) children[*g.parent_id].push_back(g.id);
                nodes.emplace(g.id, std::make_pair(std::move(g), count));
            }
            std::vector<TreeNode> out;
            std::function<void(int64_t, int)> visit = [&](int64_t id, int depth) {
                auto& [g, count] = nodes.at(id);
                loadTags(*impl_->db, g);
                out.push_back({g, depth, count});
                for (int64_t c : children[id]) visit(c, depth + 1);
            };
            visit(root_id, 0);
            return out;
        });
    });
}

Status Project::setRating(int64_t generation_id, int rating) {
    return detail::guardStatus("rating a generation", [&] {
        if (rating < 0 || rating > 5)
            throw UsageError("a rating is 0 (none) to 5, got " + std::to_string(rating));
        impl_->db->write([&] {
            impl_->requireRow("generations", generation_id, "generation");
            Stmt s = impl_->db->prepare("UPDATE generations SET rating = ? WHERE id = ?");
            s.bind(1, rating).bind(2, generation_id);
            s.run();
        });
    });
}

Status Project::setNotes(int64_t generation_id, const std::string& notes) {
    return detail::guardStatus("writing notes", [&] {
        impl_->db->write([&] {
            impl_->requireRow("generations", generation_id, "generation");
            Stmt s = impl_->db->prepare("UPDATE generations SET notes = ? WHERE id = ?");
            s.bind(1, notes).bind(2, generation_id);
            s.run();
        });
    });
}

Status Project::addTag(int64_t generation_id, const std::string& tag) {
    return detail::guardStatus("tagging a generation", [&] {
        impl_->db->write([&] {
            impl_->requireRow("generations", generation_id, "generation");
            insertTag(*impl_->db, generation_id, tag);
        });
    });
}

Status Project::removeTag(int64_t generation_id, const std::string& tag) {
    return detail::guardStatus("removing a tag", [&] {
        impl_->db->write([&] {
            Stmt s = impl_->db->prepare("DELETE FROM tags WHERE generation_id = ? AND tag = ?");
            s.bind(1, generation_id).bind(2, cleanTag(tag));
            s.run();
        });
    });
}

// history() lives here because it reads generations with the same column list.
Result<std::vector<GenerationRecord>> Project::history(const HistoryFilter& f) {
    return detail::guardResult<std::vector<GenerationRecord>>("reading the history", [&] {
        return impl_->db->read([&] {
            std::string sql = selectGenerations(false) + " WHERE 1";
            if (f.model_id) sql += " AND g.model_id = :model";
            if (f.since_ms) sql += " AND g.created_at >= :since";
            if (f.until_ms) sql += " AND g.created_at < :until";
            if (f.min_rating) sql += " AND g.rating >= :rating";
            if (f.tag)
                sql += " AND EXISTS (SELECT 1 FROM tags t WHERE t.generation_id = g.id AND t.tag = :tag)";
            if (f.batch) sql += " AND g.batch_id = :batch";
            if (f.shard) sql += " AND g.batch_shard = :shard";
            if (f.kind) sql += " AND g.kind = :kind";
            sql += " ORDER BY g.created_at DESC, g.id DESC LIMIT :limit OFFSET :offset";
            Stmt s = impl_->db->prepare(sql.c_str());
            int i = 1;
            if (f.model_id) s.bind(i++, *f.model_id);
            if (f.since_ms) s.bind(i++, *f.since_ms);
            if (f.until_ms) s.bind(i++, *f.until_ms);
            if (f.min_rating) s.bind(i++, *f.min_rating);
            if (f.tag) s.bind(i++, *f.tag);
            if (f.batch) s.bind(i++, *f.batch);
            if (f.shard) s.bind(i++, *f.shard);
            if (f.kind) s.bind(i++, *f.kind);
            s.bind(i, f.limit);
            s.bind(i + 1, f.offset);
            std::vector<GenerationRecord> out;
            while (s.step()) out.push_back(readGeneration(s));
            for (auto& g : out) loadTags(*impl_->db, g);
            return out;
        });
    });
}

} // namespace tessera::projects

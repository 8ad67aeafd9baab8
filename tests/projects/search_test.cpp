#include "projects/test_util.h"
#include "tessera/projects/project.h"

#include <gtest/gtest.h>

using namespace tessera::projects;
using tessera::projects::testing::TempDir;

namespace {

std::vector<int64_t> ids(const std::vector<SearchHit>& hits) {
    std::vector<int64_t> out;
    for (const auto& h : hits) out.push_back(h.generation_id);
    std::sort(out.begin(), out.end());
    return out;
}

int64_t add(Project& p, const std::string& prompt, int64_t created_at, std::optional<int64_t> model = {},
            std::vector<std::string> tags = {}, int rating = 0, std::string notes = {}) {
    GenerationRecord g;
    g.prompt = prompt;
    g.created_at_ms = created_at;
    g.model_id = model;
    g.tags = std::move(tags);
    g.rating = rating;
    g.notes = std::move(notes);
    auto id = p.addGeneration(g);
    EXPECT_TRUE(id.ok()) << id.error();
    return id.ok() ? *id : 0;
}

} // namespace

TEST(Search, FindsPromptsTagsAndNotes) {
    TempDir dir;
    auto p = Project::create(dir.path());
    ASSERT_TRUE(p.ok());
    int64_t fox = add(*p, "a red fox in the snow", 1000, {}, {"animals"});
    int64_t city = add(*p, "a neon city at night", 2000, {}, {"urban", "night"});
    int64_t cafe = add(*p, "a quiet café", 3000, {}, {}, 0, "try a warmer palette with foxes");

    EXPECT_EQ(ids(*p->search("fox")), (std::vector<int64_t>{fox}));
    EXPECT_EQ(ids(*p->search("night")), (std::vector<int64_t>{city}));     // prompt and tag
    EXPECT_EQ(ids(*p->search("urban")), (std::vector<int64_t>{city}));     // tag only
    EXPECT_EQ(ids(*p->search("palette")), (std::vector<int64_t>{cafe}));   // notes only
    EXPECT_EQ(ids(*p->search("cafe")), (std::vector<int64_t>{cafe}));      // diacritics folded
    EXPECT_EQ(ids(*p->search("fox*")), (std::vector<int64_t>{fox, cafe})); // prefix: fox, foxes
    EXPECT_EQ(ids(*p->search("fox OR city")), (std::vector<int64_t>{fox, city}));
    EXPECT_TRUE(p->search("dragon")->empty());
    EXPECT_TRUE(p->search("")->empty());

    // Not FTS5 syntax: searched word by word rather than failing.
    auto odd = p->search("\"red fox");
    ASSERT_TRUE(odd.ok()) << odd.error();
    EXPECT_EQ(ids(*odd), (std::vector<int64_t>{fox}));
    ASSERT_TRUE(p->search("red-fox AND (").ok());

    // Tags and notes edited later are searchable; removed ones are not.
    ASSERT_TRUE(p->addTag(fox, "winter").ok());
    EXPECT_EQ(ids(*p->search("winter")), (std::vector<int64_t>{fox}));
    ASSERT_TRUE(p->removeTag(fox, "winter").ok());
    EXPECT_TRUE(p->search("winter")->empty());
    ASSERT_TRUE(p->setNotes(city, "rain reflections").ok());
    EXPECT_EQ(ids(*p->search("reflections")), (std::vector<int64_t>{city}));
    auto hit = p->search("reflections");
    EXPECT_NE((*hit)[0].snippet.find("[reflections]"), std::string::npos) << (*hit)[0].snippet;
}

TEST(History, FiltersByModelDateRatingAndTag) {
    TempDir dir;
    auto p = Project::create(dir.path());
    ASSERT_TRUE(p.ok());
    int64_t m1 = *p->addModel({0, "/m/a", "janus", "1", 0, 0});
    int64_t m2 = *p->addModel({0, "/m/b", "llama", "2", 0, 0});
    int64_t a = add(*p, "a", 1000, m1, {"keep"}, 5);
    int64_t b = add(*p, "b", 2000, m2, {}, 3);
    int64_t c = add(*p, "c", 3000, m1, {"keep"}, 1);
    int64_t d = add(*p, "d", 4000, {}, {}, 0);

    auto collect = [&](const HistoryFilter& f) {
        std::vector<int64_t> out;
        auto h = p->history(f);
        EXPECT_TRUE(h.ok()) << h.error();
        for (const auto& g : *h) out.push_back(g.id);
        return out;
    };
    EXPECT_EQ(collect({}), (std::vector<int64_t>{d, c, b, a})); // newest first
    HistoryFilter f;
    f.model_id = m1;
    EXPECT_EQ(collect(f), (std::vector<int64_t>{c, a}));
    f = {};
    f.since_ms = 2000;
    f.until_ms = 4000;
    EXPECT_EQ(collect(f), (std::vector<int64_t>{c, b}));
    f = {};
    f.min_rating = 3;
    EXPECT_EQ(collect(f), (std::vector<int64_t>{b, a}));
    f = {};
    f.tag = "keep";
    f.min_rating = 2;
    EXPECT_EQ(collect(f), (std::vector<int64_t>{a}));
    f = {};
    f.limit = 2;
    f.offset = 1;
    EXPECT_EQ(collect(f), (std::vector<int64_t>{c, b}));
    ASSERT_TRUE(p->setRating(d, 4).ok());
    f = {};
    f.min_rating = 4;
    EXPECT_EQ(collect(f), (std::vector<int64_t>{d, a}));
}

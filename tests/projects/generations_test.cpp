#include "projects/test_util.h"
#include "tessera/projects/project.h"

#include <gtest/gtest.h>

using namespace tessera::projects;
using tessera::projects::testing::TempDir;

namespace {

GenerationRecord sample(const std::string& prompt, int n_tokens, uint64_t seed) {
    GenerationRecord g;
    g.prompt = prompt;
    g.seed = seed;
    g.params = {{"cfg", 5.0}, {"temperature", 1.0}};
    for (int i = 0; i < n_tokens; ++i) {
        g.tokens.push_back(i * 1000 - 7);
        g.stats.push_back({0.5f + 0.001f * i, 2.0f, 0.125f});
    }
    return g;
}

} // namespace

TEST(Generations, RoundTripKeepsTokensAndStatistics) {
    TempDir dir;
    auto p = Project::create(dir.path());
    ASSERT_TRUE(p.ok());
    GenerationRecord g = sample("a red fox", 300, 0xFFFFFFFFFFFFFFF0ull);
    g.tokens.push_back(-2147483647 - 1); // extremes survive the BLOB encoding
    g.tokens.push_back(2147483647);
    g.stats.push_back({1.0f, 0.0f, 0.0f});
    g.stats.push_back({0.0f, 1e-30f, -3.5f});
    g.top_k = nlohmann::json::array({{{"token", 5}, {"p", 0.5}}});
    g.tags = {"fox", "animals"};
    g.notes = "first try";
    auto id = p->addGeneration(g);
    ASSERT_TRUE(id.ok()) << id.error();
    auto back = p->generation(*id);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(back->tokens, g.tokens);
    ASSERT_EQ(back->stats.size(), g.stats.size());
    for (size_t i = 0; i < g.stats.size(); ++i) {
        EXPECT_EQ(back->stats[i].probability, g.stats[i].probability);
        EXPECT_EQ(back->stats[i].entropy, g.stats[i].entropy);
        EXPECT_EQ(back->stats[i].guidance_kl, g.stats[i].guidance_kl);
    }
    EXPECT_EQ(back->seed, g.seed);
    EXPECT_EQ(back->params, g.params);
    EXPECT_EQ(back->top_k, g.top_k);
    EXPECT_EQ(back->tags, (std::vector<std::string>{"animals", "fox"}));
    EXPECT_EQ(back->notes, "first try");
    EXPECT_EQ(back->state, GenerationState::kComplete);
}

TEST(Generations, RejectsBadInput) {
    TempDir dir;
    auto p = Project::create(dir.path());
    GenerationRecord g = sample("x", 3, 1);
    g.stats.pop_back();
    EXPECT_FALSE(p->addGeneration(g).ok()) << "stats must match tokens";
    g = sample("x", 3, 1);
    g.parent_id = 77;
    auto r = p->addGeneration(g);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().find("77"), std::string::npos) << r.error();
    EXPECT_FALSE(p->setRating(1, 9).ok());
    EXPECT_FALSE(p->generation(5).ok());
}

TEST(Generations, BranchSharesThePrefixAndFormsATree) {
    TempDir dir;
    auto p = Project::create(dir.path());
    ASSERT_TRUE(p.ok());
    auto root = p->addGeneration(sample("a castle", 10, 1));
    ASSERT_TRUE(root.ok());
    BranchSpec spec;
    spec.seed = 2;
    spec.params = {{"temperature", 0.7}};
    auto child = p->branch(*root, 4, spec);
    ASSERT_TRUE(child.ok()) << child.error();
    auto c = p->generation(*child);
    EXPECT_EQ(c->state, GenerationState::kPending);
    EXPECT_EQ(c->parent_id, *root);
    EXPECT_EQ(c->branch_token, 4);
    auto root_rec = p->generation(*root);
    ASSERT_EQ(c->tokens.size(), 4u);
    EXPECT_TRUE(std::equal(c->tokens.begin(), c->tokens.end(), root_rec->tokens.begin()));
    EXPECT_EQ(c->params["temperature"], 0.7); // overridden
    EXPECT_EQ(c->params["cfg"], 5.0);         // inherited
    EXPECT_EQ(c->seed, 2u);
    EXPECT_EQ(c->prompt, "a castle");

    // Finishing must keep the prefix.
    std::vector<int32_t> wrong = {42, 42, 42, 42, 42};
    EXPECT_FALSE(p->finishGeneration(*child, wrong, {}).ok());
    std::vector<int32_t> done = c->tokens;
    done.insert(done.end(), {11, 12, 13});
    MediaPayload m;
    m.kind = "image/png";
    m.extension = "png";
    m.bytes = {1, 2, 3, 4};
    ASSERT_TRUE(p->finishGeneration(*child, done, {}, &m).ok());
    EXPECT_EQ(p->generation(*child)->state, GenerationState::kComplete);
    EXPECT_TRUE(p->generation(*child)->asset_id.has_value());
    EXPECT_FALSE(p->finishGeneration(*child, done, {}).ok()) << "already complete";

    auto grandchild = p->branch(*child, 6, BranchSpec{3});
    auto sibling = p->branch(*root, 0, BranchSpec{4});
    ASSERT_TRUE(grandchild.ok() && sibling.ok());
    EXPECT_FALSE(p->branch(*root, 11, BranchSpec{5}).ok()) << "past the end";
    EXPECT_FALSE(p->branch(*root, -1, BranchSpec{5}).ok());

    auto tree = p->tree(*root);
    ASSERT_TRUE(tree.ok()) << tree.error();
    ASSERT_EQ(tree->size(), 4u);
    // Depth-first, children by id: root, child, grandchild, sibling.
    EXPECT_EQ((*tree)[0].generation.id, *root);
    EXPECT_EQ((*tree)[0].depth, 0);
    EXPECT_EQ((*tree)[0].token_count, 10);
    EXPECT_EQ((*tree)[1].generation.id, *child);
    EXPECT_EQ((*tree)[1].depth, 1);
    EXPECT_EQ((*tree)[1].token_count, 7);
    EXPECT_EQ((*tree)[2].generation.id, *grandchild);
    EXPECT_EQ((*tree)[2].depth, 2);
    EXPECT_EQ((*tree)[3].generation.id, *sibling);
    EXPECT_EQ((*tree)[3].depth, 1);
    EXPECT_EQ((*tree)[3].token_count, 0);

    auto sub = p->tree(*child);
    ASSERT_EQ(sub->size(), 2u);
    EXPECT_EQ((*sub)[1].generation.id, *grandchild);
    ASSERT_TRUE(p->failGeneration(*sibling, "out of memory").ok());
    EXPECT_EQ(p->generation(*sibling)->state, GenerationState::kFailed);
}

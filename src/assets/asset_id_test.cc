#include "assets/asset_id.h"

#include <gtest/gtest.h>

#include "assets/catalog.h"
#include "common/strings.h"

namespace weir::assets {
namespace {

AssetVersionId Example() {
  return {"jar", "scala-workflow", "user", "stranger-data", "master", "39206ee8", 11};
}

TEST(AssetIdTest, FormatsTheSpecExample) {
  EXPECT_EQ(FormatUuid(Example()),
            "dataflow.jar.scala-workflow.user.stranger-data.master.39206ee8.11");
}

TEST(AssetIdTest, ParseIsTheInverseOfFormat) {
  for (std::string branch : {"master", "feature/x", "a.b", "100%", "ünïcode", "x#1@y", "%2F"}) {
    AssetVersionId id = Example();
    id.branch = branch;
    std::string uuid = FormatUuid(id);
    auto parsed = ParseUuid(uuid);
    ASSERT_TRUE(parsed.ok()) << uuid << ": " << parsed.status();
    EXPECT_EQ(*parsed, id) << uuid;
    EXPECT_EQ(Split(uuid, '.').size(), 8u) << uuid;
  }
}

TEST(AssetIdTest, EncodesSlashInBranch) {
  AssetVersionId id = Example();
  id.branch = "feature/x";
  EXPECT_EQ(FormatUuid(id),
            "dataflow.jar.scala-workflow.user.stranger-data.feature%2Fx.39206ee8.11");
  EXPECT_EQ(LayoutPath(id, "jar"),
            "assets/jar/scala-workflow/user/stranger-data/feature%2Fx/39206ee8/11.jar");
}

TEST(AssetIdTest, ParseRefusesNonCanonicalOrBrokenUuids) {
  for (std::string bad : {
           "dataflow.jar.ns.user.repo.master.39206ee8",         // 7 fields
           "dataflow.jar.ns.user.repo.master.39206ee8.0",       // build 0
           "dataflow.jar.ns.user.repo.master.39206ee8.01",      // leading zero
           "dataflow.jar.ns.user.repo.master.39206EE8.1",       // upper-case commit
           "dataflow.jar.ns.user.repo.master.39206e.1",         // short commit
           "dataflow.jar.ns.user.repo.feature%2fx.39206ee8.1",  // lower-case escape
           "dataflow.jar.ns.user.repo.m%61ster.39206ee8.1",     // encoded safe char
           "dataflow.jar.ns.user.repo.feat/x.39206ee8.1",       // raw slash
           "dataflow.jar.ns.user.repo.x%2.39206ee8.1",          // truncated escape
           "dataflow.jar..user.repo.master.39206ee8.1",         // empty namespace
           "flow.jar.ns.user.repo.master.39206ee8.1",
           "dataflow.jar.ns.user.repo.master.39206ee8.1x",
       }) {
    EXPECT_FALSE(ParseUuid(bad).ok()) << bad;
  }
  auto s = ParseUuid("dataflow.jar.ns.user.repo.master.39206ee8.0").status();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("build"), std::string::npos) << s;
}

TEST(AssetIdTest, ComponentsRefusePathTricks) {
  EXPECT_TRUE(ValidateComponent("namespace", "scala-workflow_2").ok());
  for (std::string bad :
       std::vector<std::string>{"..", "../etc", "a/b", "a.b", "", std::string(101, 'a'), "a b"}) {
    Status s = ValidateComponent("namespace", bad);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_TRUE(StartsWith(s.message(), "namespace: ")) << s;
  }
}

TEST(AssetIdTest, ShortCommit) {
  EXPECT_EQ(ShortCommit("39206EE8aabbccdd").value(), "39206ee8");
  EXPECT_FALSE(ShortCommit("3920").ok());
  EXPECT_FALSE(ShortCommit("zzzzzzzz").ok());
}

TEST(AssetRefTest, ParsesTheFourForms) {
  auto latest = ParseRef("dataflow.jar.scala-workflow");
  ASSERT_TRUE(latest.ok()) << latest.status();
  EXPECT_EQ(latest->form, RefForm::kLatest);
  EXPECT_EQ(latest->type, "jar");
  EXPECT_EQ(latest->ns, "scala-workflow");

  auto on_branch = ParseRef("dataflow.jar.scala-workflow@feature/x");
  ASSERT_TRUE(on_branch.ok()) << on_branch.status();
  EXPECT_EQ(on_branch->form, RefForm::kLatestOnBranch);
  EXPECT_EQ(on_branch->branch, "feature/x");
  EXPECT_EQ(ParseRef("dataflow.jar.scala-workflow@feature%2Fx")->branch, "feature/x");

  auto build = ParseRef("dataflow.jar.scala-workflow@main#12");
  ASSERT_TRUE(build.ok()) << build.status();
  EXPECT_EQ(build->form, RefForm::kBuildOnBranch);
  EXPECT_EQ(build->branch, "main");
  EXPECT_EQ(build->build, 12);

  auto exact = ParseRef("dataflow.jar.scala-workflow.user.stranger-data.master.39206ee8.11");
  ASSERT_TRUE(exact.ok()) << exact.status();
  EXPECT_EQ(exact->form, RefForm::kExact);
  EXPECT_EQ(exact->exact, Example());

  for (const auto& r : {*latest, *on_branch, *build, *exact}) {
    EXPECT_EQ(ParseRef(r.ToString()).value(), r) << r.ToString();
  }
}

TEST(AssetRefTest, RefusesMalformedReferences) {
  for (std::string bad :
       {"dataflow.jar", "dataflow.jar.a.b", "dataflow.jar.ns@", "dataflow.jar.ns@main#",
        "dataflow.jar.ns@main#0", "dataflow.jar.n/s", "dataflow.file:x.sql", "other.jar.ns",
        "dataflow.jar.ns.user.repo.main.zzzzzzzz.1"}) {
    EXPECT_EQ(ParseRef(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_TRUE(IsFileRef("dataflow.file:sql/x.sql"));
  EXPECT_FALSE(LooksLikeAssetRef("dataflow.file:sql/x.sql"));
  EXPECT_TRUE(LooksLikeAssetRef("dataflow.jar.x"));
  EXPECT_FALSE(LooksLikeAssetRef("EXECUTION_DATE"));
}

AssetRecord Rec(std::string ns, std::string branch, int64_t build, int64_t created_ms) {
  AssetRecord r;
  r.id = {"jar", ns, "user", "repo", branch, "0123abcd", build};
  r.uuid = FormatUuid(r.id);
  r.created = FromEpochMillis(created_ms);
  return r;
}

TEST(MemoryCatalogTest, ResolvesEachFormAndSuggests) {
  MemoryCatalog c({Rec("etl", "main", 1, 100), Rec("etl", "main", 2, 200),
                   Rec("etl", "dev", 1, 300), Rec("etl-jobs", "main", 1, 50)});
  EXPECT_EQ(c.Resolve(*ParseRef("dataflow.jar.etl"))->id.branch, "dev");
  EXPECT_EQ(c.Resolve(*ParseRef("dataflow.jar.etl@main"))->id.build, 2);
  EXPECT_EQ(c.Resolve(*ParseRef("dataflow.jar.etl@main#1"))->created, FromEpochMillis(100));
  EXPECT_EQ(c.Resolve(*ParseRef(Rec("etl", "dev", 1, 0).uuid))->id.branch, "dev");

  auto missing = c.Resolve(*ParseRef("dataflow.jar.etl@main#7"));
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("no build 7 on branch 'main'"), std::string::npos)
      << missing.status();
  auto sugg = c.Suggestions(*ParseRef("dataflow.jar.etl@main#7"));
  ASSERT_FALSE(sugg.empty());
  EXPECT_EQ(sugg[0], "branch 'main' (builds 1..2)");

  auto ns_sugg = c.Suggestions(*ParseRef("dataflow.jar.etl-job"));
  ASSERT_FALSE(ns_sugg.empty());
  EXPECT_EQ(ns_sugg[0], "namespace 'etl-jobs' (jar)");
  auto branch_sugg = c.Suggestions(*ParseRef("dataflow.jar.etl@mian"));
  ASSERT_FALSE(branch_sugg.empty());
  EXPECT_EQ(branch_sugg[0], "branch 'main' (builds 1..2)");
}

}  // namespace
}  // namespace weir::assets

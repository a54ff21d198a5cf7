// The operations behind `weir project`: the local overlay catalog, project-wide checks, asset
// commands and built files, on a real git repository in a temporary folder.
#include "workflow/project_ops.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "blob/local_blob_store.h"
#include "blob/sha256.h"
#include "common/fs.h"
#include "common/ids.h"

namespace weir::workflow {
namespace {

namespace fs = std::filesystem;
using testing::HasSubstr;

class ProjectDir {
 public:
  ProjectDir() : root_(fs::temp_directory_path() / ("weir-project-ops-" + NewUuid())) {
    fs::create_directories(root_);
  }
  ~ProjectDir() {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  void Write(const std::string& rel, const std::string& text) {
    fs::create_directories((root_ / rel).parent_path());
    ASSERT_TRUE(WriteFileAtomic(root_ / rel, text).ok());
  }
  void Commit() {
    for (std::vector<std::string> args :
         {std::vector<std::string>{"git", "init", "-q", "-b", "main"},
          {"git", "add", "-A"},
          {"git", "-c", "user.name=T", "-c", "user.email=t@weir.local", "commit", "-q", "-m",
           "x"}}) {
      Result<ProcessResult> r = RunCapture(args, root_);
      ASSERT_TRUE(r.ok() && r->exit_code == 0) << args[1];
    }
  }
  Project Load() {
    Result<Project> p = LoadProject(root_);
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? *p : Project{};
  }
  const fs::path& root() const { return root_; }

 private:
  fs::path root_;
};

constexpr char kProject[] = R"(project: {owner: acme, repo: pipes}
assets:
  - {name: etl, type: python, namespace: etl, build: "mkdir -p dist && echo built > dist/etl.zip", file: dist/etl.zip, test: "test \"$WEIR_ASSET_NAMESPACE\" = etl"}
  - {name: broken, type: sql, namespace: q, build: "exit 3", file: q.sql}
environments:
  prod: {params: {TARGET_DB: warehouse}}
)";

assets::AssetRecord Published(const std::string& uuid) {
  assets::AssetRecord r;
  r.id = *assets::ParseUuid(uuid);
  r.uuid = uuid;
  r.sha256 = blob::Sha256Hex(uuid);
  r.uri = "s3://bucket/" + uuid;
  return r;
}

TEST(ProjectOpsTest, OwnAssetsResolveLocallyOthersAskTheServer) {
  ProjectDir d;
  d.Write("dataflow.yaml", kProject);
  d.Commit();
  Project p = d.Load();
  assets::MemoryCatalog server({Published("dataflow.python.etl.acme.pipes.main.0a1b2c3d.4"),
                                Published("dataflow.jar.other.x.y.main.0a1b2c3d.1")});
  ProjectCatalog catalog(p, &server);

  Result<assets::AssetRecord> local = catalog.Resolve(*assets::ParseRef("dataflow.python.etl"));
  ASSERT_TRUE(local.ok()) << local.status();
  EXPECT_EQ(local->uuid, "local:etl");
  EXPECT_EQ(local->uri, blob::FileUri(p.root / "dist/etl.zip"));
  EXPECT_EQ(catalog.Resolve(*assets::ParseRef("dataflow.python.etl@main"))->uuid, "local:etl");
  // A pinned build and other projects' assets come from the server.
  EXPECT_EQ(catalog.Resolve(*assets::ParseRef("dataflow.python.etl@main#4"))->uri,
            "s3://bucket/dataflow.python.etl.acme.pipes.main.0a1b2c3d.4");
  EXPECT_TRUE(catalog.Resolve(*assets::ParseRef("dataflow.jar.other")).ok());

  ProjectCatalog offline(p, nullptr);
  EXPECT_EQ(offline.Resolve(*assets::ParseRef("dataflow.jar.other")).status().code(),
            StatusCode::kUnavailable);
  EXPECT_TRUE(offline.Resolve(*assets::ParseRef("dataflow.python.etl")).ok());
}

TEST(ProjectOpsTest, CheckProjectValidatesEveryFileAndRefusesDuplicateIds) {
  ProjectDir d;
  d.Write("dataflow.yaml", kProject);
  const std::string flow =
      "id: same\njobs:\n  a:\n    command: x\n    cluster: y\n"
      "    dependencies: [\"${dataflow.python.etl}\"]\n    args: [\"${TARGET_DB}\"]\n";
  d.Write("flows/a.sch.yaml", flow);
  d.Write("flows/b.sch.yaml", flow);
  d.Commit();
  Project p = d.Load();
  ProjectCatalog catalog(p, nullptr);
  std::vector<std::string> files = *FindWorkflows(p.root, p.spec);
  ASSERT_EQ(files.size(), 2u);

  std::vector<WorkflowCheck> checks = CheckProject(p, files, catalog, "prod");
  ASSERT_EQ(checks.size(), 2u);
  EXPECT_TRUE(checks[0].ok()) << FormatDiagnostics(checks[0].checked.validation.problems);
  EXPECT_EQ(checks[0].id, "same");
  EXPECT_EQ(RenderedPath(p, checks[0]), p.root / ".workflows/same.rendered.yaml");
  ASSERT_FALSE(checks[1].ok());
  EXPECT_THAT(FormatDiagnostics(checks[1].checked.validation.problems),
              HasSubstr("flows/b.sch.yaml:1:5: id 'same': also the id of flows/a.sch.yaml"));
  EXPECT_EQ(checks[1].id, "b");

  // In staging TARGET_DB is not defined.
  checks = CheckProject(p, {files[0]}, catalog, "staging");
  EXPECT_THAT(FormatDiagnostics(checks[0].checked.validation.problems),
              HasSubstr("parameter '${TARGET_DB}': not defined"));
}

TEST(ProjectOpsTest, AfterMustNameWorkflowsOfTheProjectWithoutACycleAndDeploysUpstreamFirst) {
  ProjectDir d;
  d.Write("dataflow.yaml", kProject);
  auto flow = [](const std::string& id, const std::string& after) {
    return "id: " + id + "\n" + after + "jobs:\n  a: {command: x, cluster: y}\n";
  };
  d.Write("flows/a.sch.yaml", flow("down", "after: [up, loader]\n"));
  d.Write("flows/b.sch.yaml", flow("up", ""));
  d.Write("flows/c.sch.yaml", flow("x", "after: y\nafter_timeout: 6h\n"));
  d.Write("flows/d.sch.yaml", flow("y", "after: [x]\n"));
  d.Write("flows/e.sch.yaml", flow("both", "schedule: \"@daily\"\nafter: [up]\n"));
  d.Commit();
  Project p = d.Load();
  ProjectCatalog catalog(p, nullptr);
  std::vector<std::string> files = *FindWorkflows(p.root, p.spec);
  std::vector<WorkflowCheck> checks = CheckProject(p, files, catalog, "prod");
  ASSERT_EQ(checks.size(), 5u);
  ASSERT_TRUE(checks[2].ok());
  EXPECT_EQ(checks[2].checked.validation.workflow->after_timeout_seconds, 6 * 3600);
  EXPECT_EQ(checks[1].checked.validation.workflow->after_timeout_seconds,
            kDefaultAfterTimeoutSeconds);
  EXPECT_THAT(FormatDiagnostics(checks[4].checked.validation.problems),
              HasSubstr("after: a workflow runs on its `schedule` or after other workflows"));
  std::vector<const WorkflowCheck*> order = DeployOrder(checks);
  ASSERT_EQ(order.size(), 5u);
  EXPECT_EQ(order[0]->id, "up");  // before down, which runs after it
  EXPECT_EQ(order[1]->id, "down");

  CheckUpstreams(checks);
  EXPECT_THAT(FormatDiagnostics(checks[0].checked.validation.problems),
              HasSubstr("flows/a.sch.yaml:2:13: after: unknown workflow 'loader'"));
  EXPECT_FALSE(checks[0].ok());
  EXPECT_TRUE(checks[1].ok());
  EXPECT_THAT(FormatDiagnostics(checks[2].checked.validation.problems),
              HasSubstr("after: workflow 'y' runs after 'x' itself (a cycle)"));
  EXPECT_FALSE(checks[3].ok());
}

TEST(ProjectOpsTest, AssetCommandsRunInTheProjectWithTheirEnvironment) {
  ProjectDir d;
  d.Write("dataflow.yaml", kProject);
  d.Commit();
  Project p = d.Load();
  const AssetSpec& etl = *p.spec.FindAsset("etl");
  const AssetSpec& broken = *p.spec.FindAsset("broken");

  EXPECT_EQ(BuiltFile(p, etl).status().code(), StatusCode::kNotFound);
  EXPECT_THAT(BuiltFile(p, etl).status().message(), HasSubstr("check the build command"));
  EXPECT_EQ(*RunAssetCommand(p, etl, etl.build), 0);
  Result<fs::path> built = BuiltFile(p, etl);
  ASSERT_TRUE(built.ok()) << built.status();
  EXPECT_EQ(*ReadFile(*built), "built\n");
  EXPECT_EQ(*RunAssetCommand(p, etl, etl.test), 0);
  EXPECT_EQ(*RunAssetCommand(p, broken, broken.build), 3);
}

// Main has build 3 of greet; feature/x has a newer build 5. The "latest" form follows the
// environment: a deploy to prod never picks feature/x's build, a branch environment prefers its
// own branch and falls back to main, `any` is the newest anywhere; the pinned forms keep their
// exact meaning in every environment.
constexpr char kResolveProject[] = R"(project: {owner: acme, repo: pipes}
assets:
  - {name: greet, type: bash, namespace: greet, file: greet.sh}
environments:
  staging: {resolve_latest_from: any}
  "branch:*": {resolve_latest_from: [release, main]}
  "branch:solo": {resolve_latest_from: [solo]}
)";

class ResolutionPerEnvironment : public ::testing::Test {
 protected:
  void SetUp() override {
    d_.Write("dataflow.yaml", kResolveProject);
    d_.Write("greet.sh", "echo hi\n");
    d_.Commit();
    project_ = d_.Load();
    assets::AssetRecord main3 = Published("dataflow.bash.greet.acme.pipes.main.0a1b2c3d.3");
    main3.created = FromEpochMillis(1000);
    assets::AssetRecord feature5 =
        Published("dataflow.bash.greet.acme.pipes.feature%2Fx.0a1b2c3d.5");
    feature5.created = FromEpochMillis(2000);  // newer than main's build
    assets::AssetRecord release1 = Published("dataflow.bash.greet.acme.pipes.release.0a1b2c3d.1");
    release1.created = FromEpochMillis(500);
    server_.Add(main3);
    server_.Add(feature5);
    server_.Add(release1);
  }

  // The UUID `ref` becomes in `env`, as the server alone answers it (deploy), or the error.
  std::string Deployed(const std::string& env, const std::string& ref) {
    ResolvingCatalog catalog(project_, &server_, env, /*local_builds=*/false);
    Result<assets::AssetRecord> r = catalog.Resolve(*assets::ParseRef(ref));
    return r.ok() ? r->uuid : r.status().message();
  }

  ProjectDir d_;
  Project project_;
  assets::MemoryCatalog server_;
};

TEST_F(ResolutionPerEnvironment, ProdTakesTheMainBranchNeverANewerFeatureBuild) {
  EXPECT_EQ(Deployed("prod", "dataflow.bash.greet"),
            "dataflow.bash.greet.acme.pipes.main.0a1b2c3d.3");
  // Without a policy, sandboxes also stay on the main branch.
  EXPECT_EQ(Deployed("sandbox:alice", "dataflow.bash.greet"),
            "dataflow.bash.greet.acme.pipes.main.0a1b2c3d.3");
  // `any`: the newest on any branch (the catalog's plain rule).
  EXPECT_EQ(Deployed("staging", "dataflow.bash.greet"),
            "dataflow.bash.greet.acme.pipes.feature%2Fx.0a1b2c3d.5");
}

TEST_F(ResolutionPerEnvironment, BranchEnvironmentsFollowTheirListInOrder) {
  // "branch:*" says [release, main]: release has a build, so it wins over main's newer one.
  EXPECT_EQ(Deployed("branch:feature/x", "dataflow.bash.greet"),
            "dataflow.bash.greet.acme.pipes.release.0a1b2c3d.1");
  // Its own entry wins over the pattern; no build on 'solo' is an error naming what was tried.
  EXPECT_THAT(Deployed("branch:solo", "dataflow.bash.greet"),
              HasSubstr("no version on branch 'solo' (in environment branch:solo"));
  // Another failure (here: offline) stops the search and says which branch was asked.
  ResolvingCatalog offline(project_, nullptr, "branch:feature/x", false);
  Result<assets::AssetRecord> r = offline.Resolve(*assets::ParseRef("dataflow.bash.greet"));
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(r.status().message(), HasSubstr("means the newest build on branch 'release' first"));
}

TEST_F(ResolutionPerEnvironment, DefaultBranchPolicyIsTheBranchThenMain) {
  ProjectSpec spec;  // no environments: the defaults
  EXPECT_EQ(LatestPolicyFor(spec, "prod").branches, (std::vector<std::string>{"main"}));
  EXPECT_EQ(LatestPolicyFor(spec, "branch:feature/x").branches,
            (std::vector<std::string>{"feature/x", "main"}));
  EXPECT_EQ(LatestPolicyFor(spec, "branch:main").branches, (std::vector<std::string>{"main"}));
  EXPECT_FALSE(LatestPolicyFor(spec, "prod").any);

  Project plain = project_;
  plain.spec.environments.clear();
  ResolvingCatalog on_feature(plain, &server_, "branch:feature/x", false);
  EXPECT_EQ(on_feature.Resolve(*assets::ParseRef("dataflow.bash.greet"))->uuid,
            "dataflow.bash.greet.acme.pipes.feature%2Fx.0a1b2c3d.5");
  ResolvingCatalog on_other(plain, &server_, "branch:other", false);
  EXPECT_EQ(on_other.Resolve(*assets::ParseRef("dataflow.bash.greet"))->uuid,
            "dataflow.bash.greet.acme.pipes.main.0a1b2c3d.3");
}

TEST_F(ResolutionPerEnvironment, PinnedFormsKeepTheirExactMeaning) {
  for (const std::string env : {"prod", "branch:solo", "staging"}) {
    EXPECT_EQ(Deployed(env, "dataflow.bash.greet@feature/x"),
              "dataflow.bash.greet.acme.pipes.feature%2Fx.0a1b2c3d.5")
        << env;
    EXPECT_EQ(Deployed(env, "dataflow.bash.greet@main#3"),
              "dataflow.bash.greet.acme.pipes.main.0a1b2c3d.3")
        << env;
    EXPECT_EQ(Deployed(env, "dataflow.bash.greet.acme.pipes.feature%2Fx.0a1b2c3d.5"),
              "dataflow.bash.greet.acme.pipes.feature%2Fx.0a1b2c3d.5")
        << env;
  }
}

TEST_F(ResolutionPerEnvironment, TestAndRenderResolveLikeDeployAndReportTheTable) {
  // The checkout is on main: for prod, the local build is main's next build (what deploy
  // publishes and then renders); for a branch environment whose list does not include main
  // first, the server's build of that branch.
  d_.Write("flows/a.sch.yaml",
           "id: a\njobs:\n  s:\n    command: x\n    cluster: y\n"
           "    dependencies: [\"${dataflow.bash.greet}\", \"${dataflow.bash.greet@main#3}\"]\n");
  std::vector<std::string> files = {"flows/a.sch.yaml"};

  ResolvingCatalog test_prod(project_, &server_, "prod", /*local_builds=*/true);
  std::vector<ResolvedReference> rows =
      ResolvedReferences(CheckProject(project_, files, test_prod, "prod"));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].reference, "dataflow.bash.greet");
  EXPECT_EQ(rows[0].uuid, "local:greet");
  EXPECT_EQ(BranchBuild(rows[0]), "main#next");
  EXPECT_EQ(rows[1].uuid, "dataflow.bash.greet.acme.pipes.main.0a1b2c3d.3");
  EXPECT_EQ(BranchBuild(rows[1]), "main#3");
  EXPECT_EQ(rows[1].file, "flows/a.sch.yaml");

  ResolvingCatalog test_branch(project_, &server_, "branch:feature/x", true);
  rows = ResolvedReferences(CheckProject(project_, files, test_branch, "branch:feature/x"));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].uuid, "dataflow.bash.greet.acme.pipes.release.0a1b2c3d.1");
  EXPECT_EQ(BranchBuild(rows[0]), "release#1");
}

}  // namespace
}  // namespace weir::workflow

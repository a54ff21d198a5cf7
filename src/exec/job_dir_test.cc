#include "exec/job_dir.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "common/strings.h"
#include "exec/exec_test_util.h"
#include "exec/setup_step.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace weir::exec {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::Entity;
using testing::ReadText;
using testing::SimpleSpec;
using testing::TempDir;
using testing::WriteText;

// Runs `bash <job dir>/run` as a user would and returns its exit code.
int RunScriptDirectly(const fs::path& job_dir) {
  std::string cmd = "bash " + ShellQuote(paths::RunScript(job_dir).string()) + " </dev/null";
  int st = std::system(cmd.c_str());
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

std::string FileUri(const fs::path& p) { return "file://" + p.string(); }

// ---------- layout ----------

TEST(PathsTest, FollowTheDrawnLayout) {
  fs::path d = paths::JobDir("/data/jobs", "j1");
  EXPECT_EQ(d, fs::path("/data/jobs/j1"));
  EXPECT_EQ(paths::RunScript(d), fs::path("/data/jobs/j1/run"));
  EXPECT_EQ(paths::Stdout(d), fs::path("/data/jobs/j1/stdout"));
  EXPECT_EQ(paths::Stderr(d), fs::path("/data/jobs/j1/stderr"));
  EXPECT_EQ(paths::DoneFile(d), fs::path("/data/jobs/j1/genie/genie.done"));
  EXPECT_EQ(paths::KillReasonFile(d), fs::path("/data/jobs/j1/genie/kill-reason"));
  EXPECT_EQ(paths::PidFile(d), fs::path("/data/jobs/j1/genie/pid"));
  EXPECT_EQ(paths::GenieLog(d), fs::path("/data/jobs/j1/genie/logs/genie.log"));
  EXPECT_EQ(paths::EnvLog(d), fs::path("/data/jobs/j1/genie/logs/env.log"));
  EXPECT_EQ(paths::InitFailureFile(d), fs::path("/data/jobs/j1/initFailureDetails.txt"));
  EXPECT_EQ(paths::EntityDir(d, model::Kind::kCluster, "c"), fs::path("/data/jobs/j1/genie/cluster/c"));
  EXPECT_EQ(paths::EntityDir(d, model::Kind::kCommand, "x"), fs::path("/data/jobs/j1/genie/command/x"));
  EXPECT_EQ(paths::EntityDir(d, model::Kind::kApplication, "a"),
            fs::path("/data/jobs/j1/genie/applications/a"));
}

TEST(LocalFileNameTest, TakesTheLastSegmentDecoded) {
  EXPECT_EQ(*LocalFileName("file:///opt/x/setup.sh"), "setup.sh");
  EXPECT_EQ(*LocalFileName("/opt/x/my%20conf.xml"), "my conf.xml");
  EXPECT_EQ(*LocalFileName("https://h/a/b.jar?version=3#frag"), "b.jar");
  EXPECT_EQ(*LocalFileName("s3://bucket/key/data.csv"), "data.csv");
  EXPECT_FALSE(LocalFileName("file:///opt/x/").ok());
  EXPECT_FALSE(LocalFileName("file:///opt/..").ok());
  EXPECT_FALSE(LocalFileName("/opt/a%2Fb").ok());
  EXPECT_EQ(LocalFileName("https://h/").status().code(), StatusCode::kInvalidArgument);
}

// ---------- fetcher ----------

TEST(LocalFileFetcherTest, CopiesFileUrisAndAbsolutePathsKeepingModes) {
  TempDir tmp;
  WriteText(tmp.path() / "src" / "tool.sh", "#!/bin/sh\necho hi\n");
  ::chmod((tmp.path() / "src" / "tool.sh").c_str(), 0750);
  auto fetcher = NewLocalFileFetcher();
  ASSERT_TRUE(fetcher->Fetch(FileUri(tmp.path() / "src" / "tool.sh"), tmp.path() / "a").ok());
  ASSERT_TRUE(fetcher->Fetch((tmp.path() / "src" / "tool.sh").string(), tmp.path() / "b").ok());
  ASSERT_TRUE(fetcher->Fetch("file://localhost" + (tmp.path() / "src/tool.sh").string(),
                             tmp.path() / "c").ok());
  EXPECT_EQ(ReadText(tmp.path() / "a"), "#!/bin/sh\necho hi\n");
  EXPECT_EQ(ReadText(tmp.path() / "b"), "#!/bin/sh\necho hi\n");
  EXPECT_EQ(ReadText(tmp.path() / "c"), "#!/bin/sh\necho hi\n");
  struct stat st;
  ASSERT_EQ(::stat((tmp.path() / "a").c_str(), &st), 0);
  EXPECT_TRUE(st.st_mode & S_IXUSR);
}

TEST(LocalFileFetcherTest, DecodesPercentEscapes) {
  TempDir tmp;
  WriteText(tmp.path() / "with space.txt", "x");
  auto fetcher = NewLocalFileFetcher();
  ASSERT_TRUE(
      fetcher->Fetch("file://" + tmp.path().string() + "/with%20space.txt", tmp.path() / "o").ok());
  EXPECT_EQ(ReadText(tmp.path() / "o"), "x");
}

TEST(LocalFileFetcherTest, ErrorsNameTheUriAndTheCause) {
  TempDir tmp;
  auto fetcher = NewLocalFileFetcher();
  std::string missing = FileUri(tmp.path() / "nope.jar");
  Status s = fetcher->Fetch(missing, tmp.path() / "o");
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "fetch '" + missing + "': No such file or directory");

  s = fetcher->Fetch("https://example.com/a.jar", tmp.path() / "o");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "fetch 'https://example.com/a.jar': unsupported scheme 'https' (supported: file)");

  s = fetcher->Fetch("relative/a.jar", tmp.path() / "o");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("fetch 'relative/a.jar': relative paths"));

  s = fetcher->Fetch("file://otherhost/a.jar", tmp.path() / "o");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);

  s = fetcher->Fetch(FileUri(tmp.path()), tmp.path() / "o");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("not a regular file"));
}

// ---------- genie.done, kill-reason, pid ----------

TEST(JobFilesTest, DoneFileParsesAndRejectsJunk) {
  TempDir tmp;
  fs::create_directories(paths::GenieDir(tmp.path()));
  EXPECT_EQ(ReadDoneExitCode(tmp.path()), std::nullopt);
  WriteText(paths::DoneFile(tmp.path()), "{\"exitCode\": \"3\"}\n");
  EXPECT_EQ(ReadDoneExitCode(tmp.path()), 3);
  WriteText(paths::DoneFile(tmp.path()), "{\"exitCode\":0}");
  EXPECT_EQ(ReadDoneExitCode(tmp.path()), 0);
  WriteText(paths::DoneFile(tmp.path()), "");
  EXPECT_EQ(ReadDoneExitCode(tmp.path()), std::nullopt);
  WriteText(paths::DoneFile(tmp.path()), "{\"exitCode\": \"x\"}");
  EXPECT_EQ(ReadDoneExitCode(tmp.path()), std::nullopt);
}

TEST(JobFilesTest, KillReasonRoundTripsAnyText) {
  TempDir tmp;
  fs::create_directories(paths::GenieDir(tmp.path()));
  EXPECT_EQ(ReadKillReason(tmp.path()), std::nullopt);
  std::string reason = "Killed by \"ops\"\\ at\n3am \x01 caf\xc3\xa9";
  ASSERT_TRUE(WriteKillReason(tmp.path(), reason).ok());
  EXPECT_EQ(ReadKillReason(tmp.path()), reason);
  EXPECT_THAT(ReadText(paths::KillReasonFile(tmp.path())), HasSubstr("{\"killReason\": \""));
}

TEST(JobFilesTest, PidFileRoundTrips) {
  TempDir tmp;
  fs::create_directories(paths::GenieDir(tmp.path()));
  EXPECT_EQ(ReadPidFile(tmp.path()), std::nullopt);
  ASSERT_TRUE(WritePidFile(tmp.path(), PidRecord{1234, 987654}).ok());
  EXPECT_EQ(ReadText(paths::PidFile(tmp.path())), "1234 987654\n");
  std::optional<PidRecord> r = ReadPidFile(tmp.path());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->pid, 1234);
  EXPECT_EQ(r->start_time, 987654);
  WriteText(paths::PidFile(tmp.path()), "12x 5\n");
  EXPECT_EQ(ReadPidFile(tmp.path()), std::nullopt);
}

// ---------- run script ----------

// A spec exercising everything the run script contains: set-up files on every level, an
// application without one, tags to sort, several cluster criteria, quoting hazards.
JobSpec FullSpec() {
  JobSpec spec = SimpleSpec("job-1", "spark-submit --master yarn");
  spec.cluster = Entity(model::Kind::kCluster, "c1", "yarn prod", {"sched:adhoc", "env:prod"});
  spec.cluster.setup_file = "file:///etc/weir/cluster/setup.sh";
  model::ConfigEntity spark = Entity(model::Kind::kApplication, "spark", "spark", {"type:spark"});
  spark.setup_file = "s3://bucket/apps/spark/spark-env.sh";
  model::ConfigEntity hadoop = Entity(model::Kind::kApplication, "hadoop", "hadoop");
  spec.applications = {spark, hadoop};
  spec.command = Entity(model::Kind::kCommand, "spark-submit", "spark-submit", {"type:spark"});
  spec.command.executable = "spark-submit --master yarn";
  spec.command.setup_file = "file:///etc/weir/command/it's%20setup.sh";
  spec.command.memory = 2048;
  model::JobRequest& r = spec.record.request;
  r.name = "nightly $HOME `report`";
  r.tags = {"team:data", "prio:high", "team:data"};
  r.setup_file = "file:///home/me/job-setup.sh";
  r.command_args = "--class Main app.jar";
  r.command_arguments = {"it's a $value", "--flag"};
  r.cluster_criterias = {model::ClusterCriteria{{"sched:adhoc", "env:prod"}},
                         model::ClusterCriteria{{"sched:sla"}}};
  r.command_criteria = {"type:spark"};
  r.grouping = "daily";
  r.grouping_instance = "2024-01-01";
  spec.record.execution.memory = 4096;
  spec.weir_version = "0.1.0";
  return spec;
}

void ExpectGolden(const std::string& name, const std::string& actual) {
  fs::path golden = fs::path(WEIR_SOURCE_DIR) / "src/exec/testdata" / name;
  if (const char* update = std::getenv("WEIR_UPDATE_GOLDEN"); update && std::string(update) == "1") {
    WriteText(golden, actual);
    GTEST_SKIP() << "rewrote " << golden;
  }
  ASSERT_TRUE(fs::exists(golden)) << golden << " missing: run with WEIR_UPDATE_GOLDEN=1";
  EXPECT_EQ(actual, ReadText(golden))
      << "the run script changed: if intended, run the test with WEIR_UPDATE_GOLDEN=1 and review "
         "the diff of "
      << golden;
}

TEST(RunScriptTest, MatchesGoldenFull) {
  std::string script = GenerateRunScript(FullSpec(), "/var/lib/weir/jobs/job-1");
  EXPECT_EQ(script, GenerateRunScript(FullSpec(), "/var/lib/weir/jobs/job-1"));
  ExpectGolden("run_full.golden", script);
}

TEST(RunScriptTest, MatchesGoldenMinimal) {
  ExpectGolden("run_minimal.golden",
               GenerateRunScript(SimpleSpec("j-2", "echo"), "/var/lib/weir/jobs/j-2"));
}

TEST(RunScriptTest, IsValidBash) {
  TempDir tmp;
  WriteText(tmp.path() / "run", GenerateRunScript(FullSpec(), tmp.path()));
  std::string cmd = "bash -n " + ShellQuote((tmp.path() / "run").string());
  EXPECT_EQ(std::system(cmd.c_str()), 0);
}

TEST(RunScriptTest, ExportsTheGenieVariables) {
  std::string s = GenerateRunScript(FullSpec(), "/j");
  EXPECT_THAT(s, HasSubstr("export GENIE_JOB_DIR='/j'\n"));
  EXPECT_THAT(s, HasSubstr("export GENIE_APPLICATION_DIR='/j/genie/applications'\n"));
  EXPECT_THAT(s, HasSubstr("export GENIE_COMMAND_DIR='/j/genie/command/spark-submit'\n"));
  EXPECT_THAT(s, HasSubstr("export GENIE_CLUSTER_DIR='/j/genie/cluster/c1'\n"));
  EXPECT_THAT(s, HasSubstr("export GENIE_CLUSTER_TAGS='env:prod,genie.id:c1,genie.name:yarn "
                           "prod,sched:adhoc'\n"));
  EXPECT_THAT(s, HasSubstr("export GENIE_JOB_TAGS='prio:high,team:data'\n"));
  EXPECT_THAT(s, HasSubstr("export GENIE_JOB_MEMORY='4096'\n"));
  EXPECT_THAT(s, HasSubstr("export GENIE_REQUESTED_CLUSTER_TAGS='[[env:prod,sched:adhoc],"
                           "[sched:sla]]'\n"));
  EXPECT_THAT(s, HasSubstr("export GENIE_REQUESTED_CLUSTER_TAGS_0='env:prod,sched:adhoc'\n"));
  EXPECT_THAT(s, HasSubstr("export GENIE_REQUESTED_CLUSTER_TAGS_1='sched:sla'\n"));
  EXPECT_THAT(s, HasSubstr("export GENIE_REQUESTED_COMMAND_TAGS='type:spark'\n"));
  EXPECT_THAT(s, HasSubstr("export GENIE_JOB_NAME='nightly $HOME `report`'\n"));
  EXPECT_THAT(s, HasSubstr("export GENIE_VERSION='0.1.0'\n"));
  EXPECT_THAT(s, HasSubstr("spark-submit --master yarn --class Main app.jar 'it'\\''s a $value' "
                           "'--flag'\n"));
}

// Local mode: a relocatable script names no absolute path of the folder it was made in, and
// run from a copy elsewhere it sets up, exports and writes everything in that copy.
TEST(RunScriptTest, RelocatableScriptRunsWhereverTheFolderIs) {
  JobSpec spec = FullSpec();
  spec.relocatable = true;
  const std::string s = GenerateRunScript(spec, "/var/lib/weir/jobs/job-1");
  EXPECT_THAT(s, ::testing::Not(HasSubstr("/var/lib/weir/jobs/job-1")));
  EXPECT_THAT(s, HasSubstr("export GENIE_JOB_DIR=\"${__weir_dir}\"\n"));
  EXPECT_THAT(s, HasSubstr("export GENIE_CLUSTER_DIR=\"${__weir_dir}\"/'genie/cluster/c1'\n"));

  TempDir tmp;
  JobSpec simple = SimpleSpec("moved-job", "printf '%s|%s\\n'", "\"$GENIE_JOB_DIR\" \"$PWD\"");
  simple.relocatable = true;
  const fs::path made = tmp.path() / "made";
  ASSERT_TRUE(PrepareJobDirectory(simple, made, *NewLocalFileFetcher()).ok());
  const fs::path moved = tmp.path() / "other place" / "moved";
  fs::create_directories(moved.parent_path());
  fs::rename(made, moved);
  std::string cmd = "bash " + ShellQuote((moved / "run").string());
  EXPECT_EQ(std::system(cmd.c_str()), 0);
  const std::string real = fs::canonical(moved).string();
  EXPECT_EQ(ReadText(moved / "stdout"), real + "|" + real + "\n");
  EXPECT_EQ(ReadDoneExitCode(moved), 0);
  EXPECT_FALSE(fs::exists(made));
}

// The generated script, run for real: set-up order, environment, output, genie.done.
TEST(RunScriptTest, RunsSetupInOrderThenTheCommand) {
  TempDir tmp;
  fs::path files = tmp.path() / "files";
  auto setup = [&](const std::string& name, const std::string& word) {
    WriteText(files / name, "echo " + word + " >> \"$GENIE_JOB_DIR/order\"\nexport FROM_" + word +
                                "=yes\n");
    return FileUri(files / name);
  };
  JobSpec spec = SimpleSpec("order-job", "printf '%s|%s|%s|%s\\n'",
                            "\"$GENIE_JOB_ID\" \"$FROM_cluster$FROM_app1$FROM_command$FROM_job\" "
                            "\"$GENIE_JOB_MEMORY\" \"$GENIE_REQUESTED_CLUSTER_TAGS\"");
  spec.cluster.setup_file = setup("cluster.sh", "cluster");
  model::ConfigEntity app1 = Entity(model::Kind::kApplication, "app1", "a1");
  app1.setup_file = setup("app1.sh", "app1");
  model::ConfigEntity app2 = Entity(model::Kind::kApplication, "app2", "a2");
  spec.applications = {app1, app2};
  spec.command.setup_file = setup("command.sh", "command");
  spec.command.memory = 512;
  spec.record.request.setup_file = setup("job.sh", "job");
  fs::path job_dir = tmp.path() / "jobs" / "order-job";
  auto fetcher = NewLocalFileFetcher();
  ASSERT_TRUE(PrepareJobDirectory(spec, job_dir, *fetcher).ok());

  EXPECT_EQ(RunScriptDirectly(job_dir), 0);
  EXPECT_EQ(ReadText(job_dir / "order"), "cluster\napp1\ncommand\njob\n");
  EXPECT_EQ(ReadText(paths::Stdout(job_dir)), "order-job|yesyesyesyes|512|[[sched:adhoc]]\n");
  EXPECT_EQ(ReadText(paths::Stderr(job_dir)), "");
  EXPECT_EQ(ReadDoneExitCode(job_dir), 0);
  std::string env = ReadText(paths::EnvLog(job_dir));
  EXPECT_THAT(env, HasSubstr("GENIE_JOB_ID=order-job\n"));
  EXPECT_THAT(env, HasSubstr("FROM_job=yes\n"));
  std::string log = ReadText(paths::GenieLog(job_dir));
  EXPECT_THAT(log, HasSubstr("Sourcing the set-up file of cluster c1"));
  EXPECT_THAT(log, HasSubstr("Run script ends with exit code 0"));
}

TEST(RunScriptTest, CommandExitCodeIsRecordedAndReturned) {
  TempDir tmp;
  fs::path job_dir = tmp.path() / "j";
  auto fetcher = NewLocalFileFetcher();
  ASSERT_TRUE(PrepareJobDirectory(SimpleSpec("j", "sh -c", "'echo out; echo err >&2; exit 7'"),
                                  job_dir, *fetcher)
                  .ok());
  EXPECT_EQ(RunScriptDirectly(job_dir), 7);
  EXPECT_EQ(ReadDoneExitCode(job_dir), 7);
  EXPECT_EQ(ReadText(paths::Stdout(job_dir)), "out\n");
  EXPECT_EQ(ReadText(paths::Stderr(job_dir)), "err\n");
}

TEST(RunScriptTest, FailingSetupStopsTheJobWithItsExitCode) {
  TempDir tmp;
  WriteText(tmp.path() / "bad.sh", "echo preparing\n(exit 4)\n");
  JobSpec spec = SimpleSpec("j", "touch", "ran");
  spec.command.setup_file = FileUri(tmp.path() / "bad.sh");
  fs::path job_dir = tmp.path() / "j";
  auto fetcher = NewLocalFileFetcher();
  ASSERT_TRUE(PrepareJobDirectory(spec, job_dir, *fetcher).ok());
  EXPECT_EQ(RunScriptDirectly(job_dir), 4);
  EXPECT_EQ(ReadDoneExitCode(job_dir), 4);
  EXPECT_FALSE(fs::exists(job_dir / "ran"));
  std::string log = ReadText(paths::GenieLog(job_dir));
  EXPECT_THAT(log, HasSubstr("preparing"));
  EXPECT_THAT(log, HasSubstr("Set-up of command cmd1 failed with exit code 4"));
}

// genie.done is not written then (the script traps nothing): the executor takes the code from
// the wait status.
TEST(RunScriptTest, ExitInsideASetupFileEndsTheScriptWithItsCode) {
  TempDir tmp;
  WriteText(tmp.path() / "exits.sh", "exit 9\n");
  JobSpec spec = SimpleSpec("j", "true");
  spec.record.request.setup_file = FileUri(tmp.path() / "exits.sh");
  fs::path job_dir = tmp.path() / "j";
  auto fetcher = NewLocalFileFetcher();
  ASSERT_TRUE(PrepareJobDirectory(spec, job_dir, *fetcher).ok());
  EXPECT_EQ(RunScriptDirectly(job_dir), 9);
  EXPECT_EQ(ReadDoneExitCode(job_dir), std::nullopt);
}

TEST(RunScriptTest, TrailingCommentInArgumentsDoesNotEatTheRedirections) {
  TempDir tmp;
  fs::path job_dir = tmp.path() / "j";
  auto fetcher = NewLocalFileFetcher();
  ASSERT_TRUE(
      PrepareJobDirectory(SimpleSpec("j", "echo", "hello # a comment"), job_dir, *fetcher).ok());
  EXPECT_EQ(RunScriptDirectly(job_dir), 0);
  EXPECT_EQ(ReadText(paths::Stdout(job_dir)), "hello\n");
}

// ---------- PrepareJobDirectory ----------

TEST(PrepareJobDirectoryTest, PlacesEveryFile) {
  TempDir tmp;
  fs::path src = tmp.path() / "src";
  WriteText(src / "cluster-setup.sh", "true\n");
  WriteText(src / "core-site.xml", "<c/>");
  WriteText(src / "cluster-dep.tar", "tar");
  WriteText(src / "app-setup.sh", "true\n");
  WriteText(src / "spark.jar", "jar");
  WriteText(src / "cmd-setup.sh", "true\n");
  WriteText(src / "cmd.conf", "conf");
  WriteText(src / "job-setup.sh", "true\n");
  WriteText(src / "job.conf", "jc");
  WriteText(src / "data.csv", "1,2");
  WriteText(tmp.path() / "staged" / "upload-1", "attached bytes");

  JobSpec spec = SimpleSpec("job-7", "true");
  spec.cluster.setup_file = FileUri(src / "cluster-setup.sh");
  spec.cluster.configs = {FileUri(src / "core-site.xml")};
  spec.cluster.dependencies = {(src / "cluster-dep.tar").string()};
  model::ConfigEntity app = Entity(model::Kind::kApplication, "spark", "spark");
  app.setup_file = FileUri(src / "app-setup.sh");
  app.dependencies = {FileUri(src / "spark.jar")};
  spec.applications = {app};
  spec.command.setup_file = FileUri(src / "cmd-setup.sh");
  spec.command.configs = {FileUri(src / "cmd.conf")};
  spec.record.request.setup_file = FileUri(src / "job-setup.sh");
  spec.record.request.configs = {FileUri(src / "job.conf")};
  spec.record.request.dependencies = {FileUri(src / "data.csv"), FileUri(src / "job.conf")};
  spec.attachments = {Attachment{"query.sql", tmp.path() / "staged" / "upload-1", 14}};

  fs::path job = tmp.path() / "jobs" / "job-7";
  auto fetcher = NewLocalFileFetcher();
  Status s = PrepareJobDirectory(spec, job, *fetcher);
  ASSERT_TRUE(s.ok()) << s;

  EXPECT_EQ(ReadText(job / "genie/cluster/c1/cluster-setup.sh"), "true\n");
  EXPECT_EQ(ReadText(job / "genie/cluster/c1/config/core-site.xml"), "<c/>");
  EXPECT_EQ(ReadText(job / "genie/cluster/c1/dependencies/cluster-dep.tar"), "tar");
  EXPECT_EQ(ReadText(job / "genie/applications/spark/app-setup.sh"), "true\n");
  EXPECT_EQ(ReadText(job / "genie/applications/spark/dependencies/spark.jar"), "jar");
  EXPECT_FALSE(fs::exists(job / "genie/applications/spark/config"));  // made only when used
  EXPECT_EQ(ReadText(job / "genie/command/cmd1/cmd-setup.sh"), "true\n");
  EXPECT_EQ(ReadText(job / "genie/command/cmd1/config/cmd.conf"), "conf");
  EXPECT_EQ(ReadText(job / "job-setup.sh"), "true\n");
  EXPECT_EQ(ReadText(job / "job.conf"), "jc");
  EXPECT_EQ(ReadText(job / "data.csv"), "1,2");
  EXPECT_EQ(ReadText(job / "query.sql"), "attached bytes");
  // Linked, not moved: a set-up interrupted by a crash is done again from the staged file.
  EXPECT_EQ(ReadText(tmp.path() / "staged" / "upload-1"), "attached bytes");
  EXPECT_TRUE(fs::is_directory(job / "genie/logs"));
  EXPECT_FALSE(fs::exists(paths::InitFailureFile(job)));
  struct stat st;
  ASSERT_EQ(::stat(paths::RunScript(job).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0755u);
  EXPECT_EQ(ReadText(paths::RunScript(job)), GenerateRunScript(spec, job));
}

TEST(PrepareJobDirectoryTest, MissingDependencyFailsNamingStepAndUri) {
  TempDir tmp;
  JobSpec spec = SimpleSpec("job-8", "true");
  std::string missing = FileUri(tmp.path() / "missing" / "lib.jar");
  spec.command.dependencies = {missing};
  fs::path job = tmp.path() / "job-8";
  auto fetcher = NewLocalFileFetcher();
  Status s = PrepareJobDirectory(spec, job, *fetcher);
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_THAT(s.message(), HasSubstr("set-up step 'command files'"));
  EXPECT_THAT(s.message(), HasSubstr("fetch '" + missing + "': No such file or directory"));
  std::string details = ReadText(paths::InitFailureFile(job));
  EXPECT_THAT(details, HasSubstr("command files"));
  EXPECT_THAT(details, HasSubstr(missing));
  EXPECT_FALSE(fs::exists(paths::RunScript(job)));
}

TEST(PrepareJobDirectoryTest, RefusesAttachmentsThatWouldReplaceLayoutFiles) {
  TempDir tmp;
  WriteText(tmp.path() / "staged", "#!/bin/bash\nrm -rf /\n");
  JobSpec spec = SimpleSpec("job-9", "true");
  spec.attachments = {Attachment{"run", tmp.path() / "staged", 20}};
  fs::path job = tmp.path() / "job-9";
  auto fetcher = NewLocalFileFetcher();
  Status s = PrepareJobDirectory(spec, job, *fetcher);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("set-up step 'attachments': attachment 'run'"));
  EXPECT_THAT(ReadText(paths::InitFailureFile(job)), HasSubstr("attachments"));

  spec.attachments = {Attachment{"../escape", tmp.path() / "staged", 20}};
  TempDir tmp2;
  s = PrepareJobDirectory(spec, tmp2.path() / "j", *fetcher);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(fs::exists(tmp2.path() / "escape"));
}

TEST(PrepareJobDirectoryTest, RefusesTwoFilesWithTheSameName) {
  TempDir tmp;
  WriteText(tmp.path() / "a" / "x.conf", "a");
  WriteText(tmp.path() / "b" / "x.conf", "b");
  JobSpec spec = SimpleSpec("j", "true");
  spec.record.request.configs = {FileUri(tmp.path() / "a/x.conf"),
                                 FileUri(tmp.path() / "b/x.conf")};
  auto fetcher = NewLocalFileFetcher();
  Status s = PrepareJobDirectory(spec, tmp.path() / "j", *fetcher);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("'x.conf'"));
}

TEST(PrepareJobDirectoryTest, RefusesADirectoryAlreadySetUp) {
  TempDir tmp;
  auto fetcher = NewLocalFileFetcher();
  fs::path job = tmp.path() / "j";
  ASSERT_TRUE(PrepareJobDirectory(SimpleSpec("j", "true"), job, *fetcher).ok());
  Status s = PrepareJobDirectory(SimpleSpec("j", "false"), job, *fetcher);
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists);
  EXPECT_FALSE(fs::exists(paths::InitFailureFile(job)));
  EXPECT_THAT(ReadText(paths::RunScript(job)), HasSubstr("\ntrue\n"));
}

TEST(PrepareJobDirectoryTest, EntitiesWithoutFilesGetNoFolder) {
  TempDir tmp;
  auto fetcher = NewLocalFileFetcher();
  fs::path job = tmp.path() / "j";
  ASSERT_TRUE(PrepareJobDirectory(SimpleSpec("j", "true"), job, *fetcher).ok());
  EXPECT_FALSE(fs::exists(job / "genie/cluster"));
  EXPECT_FALSE(fs::exists(job / "genie/command"));
  EXPECT_TRUE(fs::exists(paths::RunScript(job)));
  EXPECT_EQ(RunScriptDirectly(job), 0);
}

TEST(SetupStepsTest, DefaultPipelineOrder) {
  std::vector<std::string> names;
  for (const auto& step : DefaultSetupSteps()) names.emplace_back(step->Name());
  EXPECT_THAT(names, ::testing::ElementsAre("create layout", "cluster files", "application files",
                                            "command files", "job files", "attachments",
                                            "run script"));
}

}  // namespace
}  // namespace weir::exec

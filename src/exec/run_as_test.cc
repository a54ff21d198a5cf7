#include "exec/run_as.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "exec/job_dir.h"

namespace weir::exec {
namespace {

namespace fs = std::filesystem;

TEST(RunAsMapTest, StripDomainDropsTheDomainAndLowerCases) {
  EXPECT_EQ(MapJobUser("Ana@Corp.Example.com", UserMapRule::kStripDomain).value(), "ana");
  EXPECT_EQ(MapJobUser("bob", UserMapRule::kStripDomain).value(), "bob");
  EXPECT_EQ(MapJobUser("Svc_Batch-2", UserMapRule::kStripDomain).value(), "svc_batch-2");
  EXPECT_EQ(MapJobUser("_x@a@b", UserMapRule::kStripDomain).value(), "_x");
}

TEST(RunAsMapTest, ExactKeepsTheUserAsIs) {
  EXPECT_EQ(MapJobUser("carol", UserMapRule::kExact).value(), "carol");
  // Upper case and a domain are not account names.
  EXPECT_EQ(MapJobUser("Carol", UserMapRule::kExact).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(MapJobUser("carol@corp", UserMapRule::kExact).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(RunAsMapTest, NamesOutsideThePatternAreRefused) {
  for (const char* user : {"", "@corp", "1abc", "-rf", "a b", "../etc", "a/b", "a;id", "a$b", "é",
                           "a.b", "abcdefghijklmnopqrstuvwxyz0123456"}) {
    Result<std::string> r = MapJobUser(user, UserMapRule::kStripDomain);
    EXPECT_FALSE(r.ok()) << "'" << user << "' mapped to '" << r.value_or("") << "'";
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
      EXPECT_NE(r.status().message().find("not a valid Unix account name"), std::string::npos);
    }
  }
  EXPECT_TRUE(MapJobUser("abcdefghijklmnopqrstuvwxyz012345", UserMapRule::kExact).ok());  // 32
  EXPECT_TRUE(IsValidAccountName("_"));
  EXPECT_FALSE(IsValidAccountName("A"));
}

TEST(RunAsMapTest, ParsesTheRuleNames) {
  EXPECT_EQ(ParseUserMapRule("strip-domain").value(), UserMapRule::kStripDomain);
  EXPECT_EQ(ParseUserMapRule("exact").value(), UserMapRule::kExact);
  EXPECT_FALSE(ParseUserMapRule("lower").ok());
}

RunAsAccount Account(uid_t uid, gid_t gid, std::vector<gid_t> groups = {}) {
  RunAsAccount a;
  a.name = "someone";
  a.uid = uid;
  a.gid = gid;
  a.groups = groups.empty() ? std::vector<gid_t>{gid} : groups;
  return a;
}

TEST(RunAsEnvTest, OnlyAllowedVariablesPassAndTheAccountNamesItself) {
  const char* server_env[] = {"PATH=/usr/bin",
                              "AWS_SECRET_ACCESS_KEY=s3cr3t",
                              "WEIR_TOKEN=t",
                              "LC_ALL=C.UTF-8",
                              "LC_TIME=de_DE",
                              "HOME=/root",
                              "USER=root",
                              "PATHOLOGY=x",  // a name that only starts like an allowed one
                              "garbage-without-equals",
                              nullptr};
  RunAsAccount ana;
  ana.name = "ana";
  ana.home = "/home/ana";
  std::vector<std::string> env = RunAsEnvironment(server_env, {"PATH", "LC_*", "HOME"}, ana);
  EXPECT_EQ(env, (std::vector<std::string>{"PATH=/usr/bin", "LC_ALL=C.UTF-8", "LC_TIME=de_DE",
                                           "HOME=/home/ana", "USER=ana", "LOGNAME=ana"}));
  // The default list keeps credentials out.
  std::vector<std::string> by_default = RunAsEnvironment(server_env, DefaultRunAsEnv(), ana);
  for (const std::string& e : by_default) {
    EXPECT_FALSE(e.starts_with("AWS_")) << e;
    EXPECT_FALSE(e.starts_with("WEIR_")) << e;
  }
  EXPECT_EQ(by_default.front(), "PATH=/usr/bin");
}

TEST(RunAsAccountTest, RootAndSystemAccountsAreRefused) {
  EXPECT_EQ(CheckAccountAllowed(Account(0, 1000), 1000).code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(CheckAccountAllowed(Account(999, 999), 1000).code(), StatusCode::kPermissionDenied);
  EXPECT_TRUE(CheckAccountAllowed(Account(1000, 1000), 1000).ok());
  EXPECT_EQ(CheckAccountAllowed(Account(65534, 65534), 1000).code(), StatusCode::kPermissionDenied);
  // The floor is a setting.
  EXPECT_TRUE(CheckAccountAllowed(Account(999, 999), 500).ok());
  EXPECT_EQ(CheckAccountAllowed(Account(1500, 1500), 2000).code(), StatusCode::kPermissionDenied);
  EXPECT_NE(CheckAccountAllowed(Account(999, 999), 1000).message().find("jobs.run_as_min_uid"),
            std::string::npos);
}

TEST(RunAsAccountTest, MembersOfTheRootGroupAreRefused) {
  EXPECT_EQ(CheckAccountAllowed(Account(1000, 0), 1000).code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(CheckAccountAllowed(Account(1000, 1000, {1000, 27, 0}), 1000).code(),
            StatusCode::kPermissionDenied);
  EXPECT_TRUE(CheckAccountAllowed(Account(1000, 1000, {1000, 27}), 1000).ok());
}

TEST(RunAsAccountTest, ResolvesRealAccountsByTheRules) {
  RunAsOptions o;
  o.enabled = true;
  Result<RunAsAccount> root = ResolveRunAsAccount("root@corp", o);
  ASSERT_FALSE(root.ok());
  EXPECT_EQ(root.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(root.status().message().find("user 'root@corp'"), std::string::npos);
  Result<RunAsAccount> daemon = ResolveRunAsAccount("daemon", o);  // uid 1 everywhere
  EXPECT_EQ(daemon.status().code(), StatusCode::kPermissionDenied);
  Result<RunAsAccount> missing = ResolveRunAsAccount("weir_no_such_account_x", o);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(missing.status().message().find("jobs.create_missing_users"), std::string::npos);
}

struct stat StatOf(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
  return st;
}

TEST(RunAsHandOverTest, FoldersGoToTheAccountFilesStayRootsAndReadOnly) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (chown)";
  fs::path dir = fs::temp_directory_path() / ("weir_handover_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "genie" / "logs");
  fs::create_directories(dir / "genie" / "command" / "c1" / "dependencies");
  std::ofstream(dir / "run") << "#!/bin/bash\n";
  fs::permissions(dir / "run", fs::perms(0755));
  fs::path dep = dir / "genie" / "command" / "c1" / "dependencies" / "tool.sh";
  std::ofstream(dep) << "echo\n";
  fs::permissions(dep, fs::perms(06775));
  std::ofstream(dir / "data.csv") << "1\n";
  fs::permissions(dir / "data.csv", fs::perms(0600));

  ASSERT_TRUE(HandOverJobDirectory(dir, Account(54321, 54322)).ok());

  for (const fs::path& d : {dir, dir / "genie", dir / "genie" / "logs",
                            dir / "genie" / "command" / "c1" / "dependencies"}) {
    struct stat st = StatOf(d);
    EXPECT_EQ(st.st_uid, 54321u) << d;
    EXPECT_EQ(st.st_gid, 54322u) << d;
    EXPECT_EQ(st.st_mode & 07777, 0700u) << d;
  }
  struct stat run = StatOf(dir / "run");
  EXPECT_EQ(run.st_uid, 0u);
  EXPECT_EQ(run.st_mode & 07777, 0555u);
  struct stat tool = StatOf(dep);
  EXPECT_EQ(tool.st_uid, 0u);
  EXPECT_EQ(tool.st_mode & 07777, 0555u);  // no write bits, no set-id bits
  struct stat data = StatOf(dir / "data.csv");
  EXPECT_EQ(data.st_mode & 07777, 0444u);  // readable by the account through "other"
  fs::remove_all(dir);
}

}  // namespace
}  // namespace weir::exec

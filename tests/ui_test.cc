// The web UI in a real browser against the real binary: each test starts `weir server` (port 0,
// its own data folder, the demo configuration), then runs one scenario of tests/ui/ui_test.mjs,
// which drives Debian's Chromium through playwright-core (build/web/node_modules, installed by the
// build's `npm ci`) and submits jobs with the real CLI. Screenshots go to build/ui-screenshots/.
// Chromium or the UI's node_modules missing: WEIR_MISSING_SERVICE (a skip, a failure under
// WEIR_REQUIRE_SERVICES=1; `make test` installs chromium).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "blob/sha256.h"
#include "common/testing/required_services.h"
#include "weir_process.h"

namespace weir::testing {
namespace {

namespace fs = std::filesystem;

const std::string kDemo = std::string(WEIR_SOURCE_DIR) + "/examples/demo.yaml";
const fs::path kScript = fs::path(WEIR_SOURCE_DIR) / "tests" / "ui" / "ui_test.mjs";
const fs::path kModules = fs::path(WEIR_BINARY_DIR) / "web" / "node_modules";
const fs::path kShots = fs::path(WEIR_BINARY_DIR) / "ui-screenshots";
constexpr const char* kToken = "ui-test-token-6f1d2c";
constexpr const char* kUserToken = "ui-test-user-token-93ab7e";

std::string Chromium() {
  if (const char* c = std::getenv("WEIR_CHROMIUM")) return c;
  return "/usr/bin/chromium";
}

class UiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(Chromium())) WEIR_MISSING_SERVICE("chromium", Chromium() + " not found");
    if (!fs::exists(kModules / "playwright-core")) {
      WEIR_MISSING_SERVICE("playwright-core", "no " + (kModules / "playwright-core").string() +
                                                  " (the build's npm ci; WEIR_BUILD_UI=ON)");
    }
  }
  void TearDown() override {
    ::unsetenv("WEIR_TOKEN");
    ::unsetenv("WEIR_USER_TOKEN");
    ::unsetenv("WEIR_OIDC_URL");
    if (provider_pid_ > 0) {
      ::kill(provider_pid_, SIGTERM);
      ::waitpid(provider_pid_, nullptr, 0);
      provider_pid_ = -1;
    }
  }

  // Starts tests/ui/fake_oidc.mjs (an OpenID provider on a free loopback port); its issuer URL,
  // or "" after a failed assertion. Stopped by TearDown.
  std::string StartProvider() {
    const fs::path url_file = dir_.path() / "oidc-url";
    const fs::path log = dir_.path() / "oidc.log";
    const std::string script = (kScript.parent_path() / "fake_oidc.mjs").string();
    provider_pid_ = ::fork();
    if (provider_pid_ == 0) {
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
      ::execlp("node", "node", script.c_str(), url_file.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    EXPECT_GT(provider_pid_, 0);
    // Generating its RSA key takes a moment on a busy machine.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
    while (!fs::exists(url_file)) {
      int status = 0;
      if (::waitpid(provider_pid_, &status, WNOHANG) == provider_pid_) {
        provider_pid_ = -1;
        ADD_FAILURE() << "fake_oidc.mjs exited: " << Slurp(log);
        return "";
      }
      if (std::chrono::steady_clock::now() > deadline) {
        ADD_FAILURE() << "fake_oidc.mjs wrote no URL within 90 s: " << Slurp(log);
        return "";
      }
      ::usleep(50 * 1000);
    }
    return Slurp(url_file);
  }

  void StartServer(std::string config = "jobs:\n  kill_grace_ms: 500\n") {
    server_ = std::make_unique<WeirServer>(dir_.path() / "data", std::move(config));
    ASSERT_EQ(server_->Start(), "");
    auto applied = RunWeir(server_->url(), {"apply", "-f", kDemo});
    ASSERT_EQ(applied.exit_code, 0) << applied.err;
  }

  // Runs one scenario; returns its exit code, its output in `log`.
  int RunScenario(const std::string& name, std::string& log) {
    ::setenv("WEIR_URL", server_->url().c_str(), 1);
    ::setenv("WEIR_BIN", WeirBinary().c_str(), 1);
    ::setenv("WEIR_UI_MODULES", kModules.c_str(), 1);
    ::setenv("WEIR_CHROMIUM", Chromium().c_str(), 1);
    ::setenv("WEIR_UI_SHOTS", kShots.c_str(), 1);
    const fs::path out = dir_.path() / (name + ".log");
    const std::string cmd = "node " + ShellQuote(kScript.string()) + " " + ShellQuote(name) +
                            " > " + ShellQuote(out.string()) + " 2>&1";
    int rc = std::system(cmd.c_str());
    log = Slurp(out);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
  }

  void Run(const std::string& name) {
    std::string log;
    int rc = RunScenario(name, log);
    EXPECT_EQ(rc, 0) << "scenario " << name << " failed:\n" << log;
    std::printf("%s", log.c_str());
  }

  TempDir dir_;
  std::unique_ptr<WeirServer> server_;
  pid_t provider_pid_ = -1;
};

TEST_F(UiTest, SubmittedJobAppearsAndSucceedsLiveWithItsStdout) {
  StartServer();
  Run("jobs_live");
}

TEST_F(UiTest, RunningJobIsTailedAndKilledFromTheUi) {
  StartServer();
  Run("kill");
}

TEST_F(UiTest, ConfigurationShowsClusterTagsAndLinks) {
  StartServer();
  Run("config");
}

TEST_F(UiTest, WorkflowInstanceDagFollowsItsSteps) {
  StartServer();
  Run("workflows");
}

TEST_F(UiTest, DarkThemeAndPhoneWidth) {
  StartServer();
  Run("themes");
}

TEST_F(UiTest, RollbackAndActivateFromTheVersionsChangeTheActiveVersion) {
  StartServer();
  Run("versions");
}

TEST_F(UiTest, InstanceStopRestartLiveDagGanttFailedStepLogAndAssetReferences) {
  StartServer();
  Run("instance");
}

TEST_F(UiTest, AdminFormShowsTheServersValidationErrorOnTheField) {
  StartServer();
  Run("forms");
}

TEST_F(UiTest, NodesPageShowsThisNodeItsTasksAndCounters) {
  StartServer();
  Run("nodes");
}

TEST_F(UiTest, KeyboardNavigationAndTimeRangeAndGroupingFilters) {
  StartServer();
  Run("keys");
}

TEST_F(UiTest, NonAdminSeesNoEditControls) {
  const fs::path tokens = dir_.path() / "tokens";
  WriteFile(tokens, blob::Sha256Hex(kToken) + " ui-admin admin\n" + blob::Sha256Hex(kUserToken) +
                        " ui-user user\n");
  ASSERT_EQ(::chmod(tokens.c_str(), 0600), 0);
  ::setenv("WEIR_TOKEN", kToken, 1);
  ::setenv("WEIR_USER_TOKEN", kUserToken, 1);
  StartServer("auth:\n  mode: required\n  static_tokens_file: " + tokens.string() + "\n");
  Run("roles");
}

TEST_F(UiTest, AsksForTheTokenOnceWhenTheServerRequiresOne) {
  const fs::path tokens = dir_.path() / "tokens";
  WriteFile(tokens, blob::Sha256Hex(kToken) + " ui-admin admin\n");
  ASSERT_EQ(::chmod(tokens.c_str(), 0600), 0);
  ::setenv("WEIR_TOKEN", kToken, 1);  // for the CLI's apply and the scenario's API checks
  StartServer("auth:\n  mode: required\n  static_tokens_file: " + tokens.string() + "\n");
  Run("auth");
}

// auth.oidc: the prompt offers the provider's sign-in; the code flow with PKCE brings the user
// back to the page signed in as the provider's subject. The provider checks the S256 challenge
// against the verifier (a tampered verifier is refused), and its refusals (access_denied, a
// wrong state or nonce) are shown with a way to try again. The CLI uses a static admin token.
TEST_F(UiTest, SignsInWithTheOpenIdProviderUsingPkce) {
  const std::string issuer = StartProvider();
  ASSERT_FALSE(issuer.empty());
  const fs::path tokens = dir_.path() / "tokens";
  WriteFile(tokens, blob::Sha256Hex(kToken) + " ui-admin admin\n");
  ASSERT_EQ(::chmod(tokens.c_str(), 0600), 0);
  ::setenv("WEIR_TOKEN", kToken, 1);
  ::setenv("WEIR_OIDC_URL", issuer.c_str(), 1);
  StartServer("auth:\n  mode: required\n  static_tokens_file: " + tokens.string() +
              "\n  jwt:\n    jwks_uri: " + issuer + "/jwks\n    issuers: [" + issuer +
              "]\n    audiences: [weir-ui]\n    roles_claim: groups\n"
              "  oidc:\n    issuer: " +
              issuer + "\n    client_id: weir-ui\n    scopes: openid profile\n");
  Run("oidc");
}

}  // namespace
}  // namespace weir::testing

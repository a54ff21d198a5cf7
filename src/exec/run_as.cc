#include "exec/run_as.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <optional>

#include "common/strings.h"

namespace weir::exec {

namespace fs = std::filesystem;

namespace {

constexpr uid_t kOverflowUid = 65534;  // nobody: shared by daemons, never a job's own account

// The account named `name`, or nullopt when there is none; errors of the lookup itself.
Result<std::optional<RunAsAccount>> LookUp(const std::string& name) {
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  int rc;
  while ((rc = ::getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found)) == ERANGE &&
         buf.size() < (1u << 20)) {
    buf.resize(buf.size() * 2);
  }
  if (rc != 0 && rc != ENOENT && rc != ESRCH) return ErrnoStatus("getpwnam " + name, rc);
  if (found == nullptr) return std::optional<RunAsAccount>();
  RunAsAccount a;
  a.name = pw.pw_name;
  a.uid = pw.pw_uid;
  a.gid = pw.pw_gid;
  a.home = pw.pw_dir != nullptr ? pw.pw_dir : "/";
  int n = 64;
  a.groups.resize(static_cast<size_t>(n));
  while (::getgrouplist(a.name.c_str(), a.gid, a.groups.data(), &n) < 0) {
    if (n <= static_cast<int>(a.groups.size())) n = static_cast<int>(a.groups.size()) * 2;
    if (n > 65536) return Internal("getgrouplist " + name + ": too many groups");
    a.groups.resize(static_cast<size_t>(n));
  }
  a.groups.resize(static_cast<size_t>(n));
  return std::optional<RunAsAccount>(std::move(a));
}

// useradd for `name` (already validated); its stderr on failure.
Status CreateAccount(const std::string& name) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return ErrnoStatus("useradd: pipe", errno);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, out[1], 2);
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  const char* argv[] = {"useradd",      "--no-create-home", "--shell", "/usr/sbin/nologin",
                        "--user-group", name.c_str(),       nullptr};
  char path_env[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
  char* envp[] = {path_env, nullptr};
  pid_t pid = 0;
  int rc = ::posix_spawn(&pid, "/usr/sbin/useradd", &fa, nullptr, const_cast<char**>(argv), envp);
  posix_spawn_file_actions_destroy(&fa);
  ::close(out[1]);
  if (rc != 0) {
    ::close(out[0]);
    return ErrnoStatus("useradd " + name, rc);
  }
  std::string text;
  char buf[1024];
  ssize_t n;
  while ((n = ::read(out[0], buf, sizeof buf)) != 0) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    if (text.size() < 4096) text.append(buf, static_cast<size_t>(n));
  }
  ::close(out[0]);
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return Status::Ok();
  return Internal(
      "useradd " + name + ": " +
      (WIFEXITED(st) ? "exit code " + std::to_string(WEXITSTATUS(st)) : std::string("killed")) +
      (text.empty() ? "" : ": " + std::string(Trim(text))));
}

std::mutex& CreationMutex() {
  static std::mutex mu;
  return mu;
}

// Removes the write bits of a file set-up placed and makes it readable (root keeps it).
Status MakeReadOnly(const fs::path& path, const struct stat& st) {
  mode_t mode = (st.st_mode & 07555 & ~static_cast<mode_t>(S_ISUID | S_ISGID)) | 0444;
  if (::chmod(path.c_str(), mode) != 0) return ErrnoStatus("chmod " + path.string(), errno);
  return Status::Ok();
}

Status GiveFolder(const fs::path& path, const RunAsAccount& a) {
  if (::lchown(path.c_str(), a.uid, a.gid) != 0)
    return ErrnoStatus("chown " + path.string(), errno);
  if (::chmod(path.c_str(), 0700) != 0) return ErrnoStatus("chmod " + path.string(), errno);
  return Status::Ok();
}

}  // namespace

Result<UserMapRule> ParseUserMapRule(std::string_view text) {
  if (text == "strip-domain") return UserMapRule::kStripDomain;
  if (text == "exact") return UserMapRule::kExact;
  return InvalidArgument("'" + std::string(text) + "': expected strip-domain or exact");
}

bool IsValidAccountName(std::string_view name) {
  if (name.empty() || name.size() > 32) return false;
  auto lower = [](char c) { return c >= 'a' && c <= 'z'; };
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (!lower(name[0]) && name[0] != '_') return false;
  for (char c : name.substr(1)) {
    if (!lower(c) && !digit(c) && c != '_' && c != '-') return false;
  }
  return true;
}

Result<std::string> MapJobUser(std::string_view user, UserMapRule rule) {
  std::string name(user);
  if (rule == UserMapRule::kStripDomain) {
    size_t at = name.find('@');
    if (at != std::string::npos) name.resize(at);
    name = ToLower(name);
  }
  if (!IsValidAccountName(name)) {
    return InvalidArgument("user '" + std::string(user) + "': maps to '" + name +
                           "', not a valid Unix account name (^[a-z_][a-z0-9_-]{0,31}$)");
  }
  return name;
}

Status CheckAccountAllowed(const RunAsAccount& a, uint32_t min_uid) {
  std::string what = "account '" + a.name + "' (uid " + std::to_string(a.uid) + ")";
  if (a.uid == 0) return PermissionDenied(what + ": jobs never run as root");
  if (a.uid < min_uid) {
    return PermissionDenied(what + ": a system account; jobs run only as accounts with uid ≥ " +
                            std::to_string(min_uid) + " (jobs.run_as_min_uid)");
  }
  if (a.uid == kOverflowUid) return PermissionDenied(what + ": the shared account nobody");
  if (a.gid == 0) return PermissionDenied(what + ": its primary group is root");
  for (gid_t g : a.groups) {
    if (g == 0) return PermissionDenied(what + ": a member of the group root");
  }
  return Status::Ok();
}

Result<RunAsAccount> ResolveRunAsAccount(std::string_view user, const RunAsOptions& options) {
  WEIR_ASSIGN_OR_RETURN(std::string name, MapJobUser(user, options.map_rule));
  std::string context = "user '" + std::string(user) + "'";
  WEIR_ASSIGN_OR_RETURN(std::optional<RunAsAccount> found, LookUp(name));
  if (!found && options.create_missing_users) {
    std::lock_guard<std::mutex> lock(CreationMutex());
    WEIR_ASSIGN_OR_RETURN(found, LookUp(name));  // another submission may have made it
    if (!found) {
      WEIR_RETURN_IF_ERROR(CreateAccount(name).WithContext(context));
      WEIR_ASSIGN_OR_RETURN(found, LookUp(name));
      if (!found) return Internal(context + ": useradd succeeded but '" + name + "' is not found");
    }
  }
  if (!found) {
    return FailedPrecondition(context + ": no Unix account '" + name +
                              "' on this node; create it, or set jobs.create_missing_users");
  }
  WEIR_RETURN_IF_ERROR(CheckAccountAllowed(*found, options.min_uid).WithContext(context));
  return std::move(*found);
}

const std::vector<std::string>& DefaultRunAsEnv() {
  static const std::vector<std::string> kDefault = {
      "PATH",          "LANG",       "LANGUAGE",       "LC_*",        "TZ",
      "TERM",          "TMPDIR",     "JAVA_HOME",      "HADOOP_HOME", "HADOOP_CONF_DIR",
      "YARN_CONF_DIR", "SPARK_HOME", "SPARK_CONF_DIR", "HIVE_HOME",   "HIVE_CONF_DIR"};
  return kDefault;
}

std::vector<std::string> RunAsEnvironment(const char* const* server_env,
                                          const std::vector<std::string>& allow,
                                          const RunAsAccount& account) {
  auto allowed = [&allow](std::string_view name) {
    for (const std::string& a : allow) {
      if (!a.empty() && a.back() == '*') {
        if (name.starts_with(std::string_view(a).substr(0, a.size() - 1))) return true;
      } else if (name == a) {
        return true;
      }
    }
    return false;
  };
  std::vector<std::string> env;
  for (const char* const* e = server_env; e != nullptr && *e != nullptr; ++e) {
    const std::string_view v(*e);
    const size_t eq = v.find('=');
    if (eq == std::string_view::npos || eq == 0) continue;
    const std::string_view name = v.substr(0, eq);
    if (name == "HOME" || name == "USER" || name == "LOGNAME" || !allowed(name)) continue;
    env.emplace_back(v);
  }
  env.push_back("HOME=" + account.home);
  env.push_back("USER=" + account.name);
  env.push_back("LOGNAME=" + account.name);
  return env;
}

Status HandOverJobDirectory(const fs::path& job_dir, const RunAsAccount& account) {
  std::string context = "hand the job directory to '" + account.name + "'";
  std::error_code ec;
  // Not following links: set-up makes none, and a link must not carry a chown elsewhere.
  fs::recursive_directory_iterator it(job_dir, fs::directory_options::none, ec);
  if (ec) return ErrnoStatus(context + ": " + job_dir.string(), ec.value());
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) return ErrnoStatus(context, ec.value());
    const fs::path& p = it->path();
    struct stat st;
    if (::lstat(p.c_str(), &st) != 0) return ErrnoStatus(context + ": " + p.string(), errno);
    Status s = Status::Ok();
    if (S_ISDIR(st.st_mode))
      s = GiveFolder(p, account);
    else if (S_ISREG(st.st_mode))
      s = MakeReadOnly(p, st);
    if (!s.ok()) return s.WithContext(context);
  }
  if (ec) return ErrnoStatus(context, ec.value());
  // The root last: while it is still root's the job cannot be in it.
  return GiveFolder(job_dir, account).WithContext(context);
}

}  // namespace weir::exec

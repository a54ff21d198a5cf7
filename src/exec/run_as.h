// Run-as-user: the Unix account a job's run script runs under (server setting
// jobs.run_as_user), and the hand-over of a job directory to that account.
//
// Mapping (jobs.run_as_user_map): the job's `user` becomes an account name by one of two rules,
//   "strip-domain" (default)  drop an "@domain" suffix, then lower-case: "Ana@Corp.com" → "ana"
//   "exact"                   the user as is
// and the result must match ^[a-z_][a-z0-9_-]{0,31}$ (kInvalidArgument otherwise: no shell
// metacharacters, no path, no option-like name reaches getpwnam or useradd).
//
// Refusals: the account must exist (kFailedPrecondition, unless creation is on) and must not be
// a system account: uid 0, uid below min_uid (jobs.run_as_min_uid, default 1000), the overflow
// account nobody (65534), or an account whose primary or supplementary groups include gid 0
// (kPermissionDenied). Creation (jobs.create_missing_users, as Genie's creationEnabled) runs
// `useradd --no-create-home --shell /usr/sbin/nologin --user-group <name>` and checks the new
// account by the same rules.
//
// Hand-over (HandOverJobDirectory), done after set-up and before the launch: every folder of
// the job directory (the job dir itself, genie/, genie/logs/, entity folders) becomes
// <account>:<primary group> mode 0700, so the run script can write stdout, stderr, genie.done and
// its logs and no other user can look in; every file set-up placed (run script, set-up files,
// configs, dependencies, attachments) stays root's with its write bits removed (read-only to
// the job; readable through its "other" bits, only inside the 0700 folder).
// The job owns its folder, so the server trusts nothing in it for a privileged act: it writes
// genie/pid and genie/kill-reason through a descriptor of genie/ opened without following links
// and with exclusive temp files, reads the genie/ files without following links or blocking,
// and Recover() re-adopts a process only if it belongs to the job directory's owner.
// Thread-safety: all functions are thread-safe; creations of accounts are serialised.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace weir::exec {

enum class UserMapRule { kStripDomain, kExact };

// "strip-domain" or "exact"; kInvalidArgument naming both otherwise.
Result<UserMapRule> ParseUserMapRule(std::string_view text);

// Whether `name` matches ^[a-z_][a-z0-9_-]{0,31}$.
bool IsValidAccountName(std::string_view name);

// The account name for a job's `user` by `rule`, validated (see above).
Result<std::string> MapJobUser(std::string_view user, UserMapRule rule);

struct RunAsAccount {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary groups, with the primary one (initgroups order)
  std::string home;
};

// The server's environment variables a run-as job receives (jobs.run_as_env) unless configured
// otherwise: the search path, locale, time zone, temporary folder and the homes and config
// folders of Java, Hadoop, YARN, Spark and Hive. Everything else the server was started with
// (cloud credentials such as AWS_*, tokens, database passwords) stays out of other users' jobs.
const std::vector<std::string>& DefaultRunAsEnv();

struct RunAsOptions {
  bool enabled = false;  // jobs.run_as_user
  UserMapRule map_rule = UserMapRule::kStripDomain;
  uint32_t min_uid = 1000;            // jobs.run_as_min_uid
  bool create_missing_users = false;  // jobs.create_missing_users
  // jobs.run_as_env: variable names, or prefixes ending in '*' ("LC_*").
  std::vector<std::string> env_allow = DefaultRunAsEnv();
};

// The environment a run-as job starts with: the entries of `server_env` (a NULL-terminated
// "NAME=value" array such as `environ`) whose names `allow` lists, then HOME, USER and LOGNAME
// of `account` (whatever the server's were).
std::vector<std::string> RunAsEnvironment(const char* const* server_env,
                                          const std::vector<std::string>& allow,
                                          const RunAsAccount& account);

// OK, or kPermissionDenied when `account` is a system account by the rules above.
Status CheckAccountAllowed(const RunAsAccount& account, uint32_t min_uid);

// The account a job of `user` runs as: mapped, looked up (created when allowed), checked.
// Messages name the job's user and the setting to change.
Result<RunAsAccount> ResolveRunAsAccount(std::string_view user, const RunAsOptions& options);

// See "Hand-over" above. REQUIRES: runs as root, before the job's first process exists.
Status HandOverJobDirectory(const std::filesystem::path& job_dir, const RunAsAccount& account);

}  // namespace weir::exec

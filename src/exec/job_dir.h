// The job directory: its layout (one function per path, as drawn below) and the set-up pipeline
// that fills it and generates the run script.
//
//   <jobs dir>/<job id>/
//     run                      generated bash script, the job's entry point
//     stdout  stderr           the command's output
//     <job setup file, configs, dependencies, attachments>   flat in the job dir
//     initFailureDetails.txt   only when set-up failed
//     genie/
//       genie.done             {"exitCode": "N"}, written when the run script ends
//       kill-reason            {"killReason": "..."} when the service killed it
//       pid                    "<pid> <start time in clock ticks>" written at launch
//       launched               empty, made by the job service just before it launches the job:
//                              a job dir holding it may have a process and is never set up again
//       logs/genie.log         output of the run script itself (set-up messages)
//       logs/env.log           the environment just before the command starts
//       cluster/<id>/          setup file, config/, dependencies/ (each made only if used)
//       command/<id>/          same
//       applications/<id>/     same, one folder per application in setup order
//
// genie.done is written by the run script's builtin printf in one write() when the command (or
// a failing set-up file) ends. Not through temp file + mv: an `mv` fork costs ~1.6 ms of CPU per
// job, half of bash's own start-up, measured on the 2-core target machine. A reader can see it
// missing, empty or complete, never a wrong code; ReadDoneExitCode treats empty or malformed as
// absent, and the executor reads it only after the run script has exited. The script traps no
// signal (see GenerateRunScript), so it is not written when the script is killed, nor when a
// set-up file calls `exit`: the executor then uses the kill reason or the wait status.
#pragma once

#include <filesystem>
#include <optional>
#include <string_view>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "model/config.h"
#include "model/job.h"

namespace weir::exec {

namespace paths {
// `jobs_root / IdFileName(job_id)` (common/ids.h): a stored id that breaks the id rule never
// names a path outside jobs_root.
std::filesystem::path JobDir(const std::filesystem::path& jobs_root, const std::string& job_id);
std::filesystem::path RunScript(const std::filesystem::path& job_dir);
std::filesystem::path Stdout(const std::filesystem::path& job_dir);
std::filesystem::path Stderr(const std::filesystem::path& job_dir);
std::filesystem::path GenieDir(const std::filesystem::path& job_dir);
std::filesystem::path DoneFile(const std::filesystem::path& job_dir);
std::filesystem::path KillReasonFile(const std::filesystem::path& job_dir);
std::filesystem::path PidFile(const std::filesystem::path& job_dir);
std::filesystem::path LaunchMarker(const std::filesystem::path& job_dir);
std::filesystem::path GenieLog(const std::filesystem::path& job_dir);
std::filesystem::path EnvLog(const std::filesystem::path& job_dir);
std::filesystem::path InitFailureFile(const std::filesystem::path& job_dir);
std::filesystem::path EntityDir(const std::filesystem::path& job_dir, model::Kind kind,
                                const std::string& id);
}  // namespace paths

// A file the client attached to the submission, already stored on local disk.
struct Attachment {
  std::string name;                  // sanitised file name, no path components
  std::filesystem::path staged_path; // where the bytes are now
  int64_t size = 0;
};

// Everything set-up needs to build one job's directory.
struct JobSpec {
  model::JobRecord record;                         // request + resolution
  model::ConfigEntity cluster;
  model::ConfigEntity command;
  std::vector<model::ConfigEntity> applications;   // setup order
  std::vector<Attachment> attachments;
  std::string weir_version;                        // exported as GENIE_VERSION
  // Local mode: the run script finds the job directory from its own location when it runs
  // (every path in it is relative to that folder), so the folder may be moved or copied to
  // another machine. False: the paths are the absolute ones of `job_dir` (golden-tested).
  bool relocatable = false;
};

// Copies a resource named by URI into a destination file. file:// and plain absolute paths here;
// http(s):// and s3:// come with the fetch module. The message names the URI and the cause.
//
// Trust. Fetch() takes URIs of admin-made configuration (cluster, command and application
// files): trusted, never restricted. FetchForJob() takes URIs a job request named (its setup
// file, configs and dependencies): a fetcher with a perimeter (fetch::UriFetcher, see
// fetch/perimeter.h) refuses those that reach outside it, with kPermissionDenied naming the
// setting. CheckJobUri() is the same rule at submission, on the URI as written and the file
// system as it is then, without network I/O: OK, or kPermissionDenied / kInvalidArgument with
// the reason (callers add the field). The defaults apply no perimeter (fetchers of tests).
class Fetcher {
 public:
  virtual ~Fetcher() = default;
  virtual Status Fetch(const std::string& uri, const std::filesystem::path& dest) = 0;
  virtual Status FetchForJob(const std::string& uri, const std::filesystem::path& dest) {
    return Fetch(uri, dest);
  }
  virtual Status CheckJobUri(const std::string& uri) const { return Status::Ok(); }
};
std::unique_ptr<Fetcher> NewLocalFileFetcher();

// The bash run script for `spec`, with the job directory at `job_dir` (golden-tested: the same
// spec gives the same bytes). It exports the GENIE_* variables, sources set-up files in order
// cluster, applications, command, job, logs the environment to genie/logs/env.log, runs
// `<executable> <args>` with stdout/stderr redirected, and writes genie/genie.done (see above).
// It traps no signal: a bash trap stays installed in a forked child until that child execs, and
// a SIGTERM landing in between would be swallowed, so the command would run on unsignalled. A
// kill ends the script at once; the executor gives the rest of the group its grace period.
std::string GenerateRunScript(const JobSpec& spec, const std::filesystem::path& job_dir);

// Builds the job directory: folders, set-up files, configs and dependencies fetched into their
// places, attachments moved in, the run script written (mode 0755). On failure, writes
// initFailureDetails.txt naming the step and the cause, and returns that error.
// Runs the ordered pipeline of SetupSteps (see setup_step.h), each adding to the directory.
Status PrepareJobDirectory(const JobSpec& spec, const std::filesystem::path& job_dir,
                           Fetcher& fetcher);

// The file name a URI gets in the job directory: its last path segment, without query or
// fragment, percent-decoded. kInvalidArgument when that is empty, ".", "..", or holds a '/' or
// a NUL.
Result<std::string> LocalFileName(std::string_view uri);

// The genie/ files below are read and written through genie/ opened without following a link,
// never following one at the file either, and reads open nothing but regular files without
// blocking: with run-as-user (run_as.h) the job owns its folder and may have replaced them.
//
// The exit code recorded in genie/genie.done; nullopt when the file is missing, empty or
// malformed.
std::optional<int> ReadDoneExitCode(const std::filesystem::path& job_dir);
// Writes genie/kill-reason ({"killReason": "..."}) by a new temp file + rename, without fsync (it
// matters only while the job's processes exist, which a machine crash ends anyway).
Status WriteKillReason(const std::filesystem::path& job_dir, std::string_view reason);
// The reason in genie/kill-reason; nullopt when missing or malformed.
std::optional<std::string> ReadKillReason(const std::filesystem::path& job_dir);

// genie/pid: the run script's pid and start time (field 22 of /proc/<pid>/stat, clock ticks
// since boot), which tells a live run script from an unrelated process that reuses its pid.
struct PidRecord {
  int pid = 0;
  long long start_time = 0;
};
// Temp file + rename, without fsync (after a machine crash the pid means nothing anyway).
Status WritePidFile(const std::filesystem::path& job_dir, PidRecord record);
// nullopt when missing or malformed.
std::optional<PidRecord> ReadPidFile(const std::filesystem::path& job_dir);

}  // namespace weir::exec

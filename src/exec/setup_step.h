// SetupStep: one stage of building a job directory. PrepareJobDirectory (job_dir.h) runs the
// default pipeline in order; each step adds to the directory and either succeeds or returns the
// cause of the failure. The pipeline stops at the first failure and writes
// initFailureDetails.txt naming the step and the cause.
//
// Default steps, in order:
//   "create layout"       the job dir, genie/, genie/logs/ (refuses a dir already set up)
//   "cluster files"       genie/cluster/<id>/: setup file, config/, dependencies/
//   "application files"   genie/applications/<id>/ for each application, in setup order
//   "command files"       genie/command/<id>/
//   "job files"           the job's setup file, configs and dependencies, flat in the job dir,
//                         fetched with Fetcher::FetchForJob (the request's URIs, untrusted)
//   "attachments"         hard-linked (copied across file systems) flat into the job dir; the
//                         staged file stays where it is, so a set-up interrupted by a crash can
//                         be done again from it (its owner removes it once the job launched)
//   "run script"          `run`, mode 0755 (GenerateRunScript)
//
// A folder is made only when it receives files (an entity with no setup file, configs or
// dependencies has none, though GENIE_<KIND>_DIR still names it): every create costs ~0.6 ms of
// kernel CPU on the target machine's ext4, for every job.
//
// File names in the job dir come from the last path segment of each URI (percent-decoded); a
// name that is empty, "." or "..", contains '/', or is reserved by the layout (run, stdout,
// stderr, genie, initFailureDetails.txt; config and dependencies inside an entity folder) is
// refused, as are two different URIs landing on the same name (kInvalidArgument).
//
// Thread-safety: steps keep no state; one pipeline may run per job directory at a time, any
// number of job directories in parallel.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "exec/job_dir.h"

namespace weir::exec {

struct SetupContext {
  const JobSpec& spec;
  const std::filesystem::path& job_dir;
  Fetcher& fetcher;
};

class SetupStep {
 public:
  virtual ~SetupStep() = default;
  // Short lower-case name used in initFailureDetails.txt and error messages ("cluster files").
  virtual std::string_view Name() const = 0;
  virtual Status Run(SetupContext& context) = 0;
};

// The pipeline PrepareJobDirectory runs, in order (see above).
std::vector<std::unique_ptr<SetupStep>> DefaultSetupSteps();

// The URIs a job request names, in fetch order, with the request field each came from:
// ("setupFile", uri), ("configs[0]", uri)..., ("dependencies[0]", uri)...
std::vector<std::pair<std::string, std::string>> JobUris(const model::JobRequest& request);

// Submission-time check of every URI the request names (Fetcher::CheckJobUri): the first
// refusal as kInvalidArgument "dependencies[0]: file:///etc/passwd is outside
// fetch.allowed_file_roots; ...". The "job files" step fetches these with FetchForJob, so the
// rule holds again at set-up (a refusal there fails the job).
Status CheckJobRequestUris(const model::JobRequest& request, const Fetcher& fetcher);

// Runs `steps` in order. On the first failure writes initFailureDetails.txt and returns the
// step's error with the code kept and the message "set-up step '<name>': <cause>".
Status RunSetupSteps(const std::vector<std::unique_ptr<SetupStep>>& steps, SetupContext& context);

}  // namespace weir::exec

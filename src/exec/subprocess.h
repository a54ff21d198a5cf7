// RunTool: runs a short-lived command-line tool (Slurm's sbatch, squeue, scontrol, scancel) and
// collects its output, with a deadline. Used by the Slurm executor and its test fixture.
//
// Contract: the tool is started with posix_spawnp (PATH lookup), stdin /dev/null, stdout and
// stderr each into a pipe read until both close or the deadline passes. At the deadline the tool
// is SIGKILLed and the result is kDeadlineExceeded naming it. `env` entries ("NAME=value") are
// added to (or replace the same names in) the caller's environment, or, with
// `inherit_environment` false, are the tool's whole environment (PATH lookup still uses the
// caller's PATH). A tool that cannot be
// started is kFailedPrecondition ("sbatch: not found"). Otherwise the result holds the exit code
// (128+N for a signal N) and both outputs, whatever the code: the caller decides what is an error.
// Thread-safe (no shared state; descriptors are close-on-exec).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/result.h"

namespace weir::exec {

struct ToolOutput {
  int exit_code = 0;
  std::string out;
  std::string err;
};

Result<ToolOutput> RunTool(const std::vector<std::string>& argv,
                           const std::vector<std::string>& env, std::chrono::milliseconds timeout,
                           bool inherit_environment = true);

}  // namespace weir::exec

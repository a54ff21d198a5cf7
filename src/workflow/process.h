// Running external programs (git, build and test commands) without a shell in between.
//
// Programs start with posix_spawnp (argv[0] looked up in PATH), in the given working folder,
// with stdin from /dev/null and the caller's environment plus `env` overrides. RunCapture
// collects stdout and stderr (each capped at `max_output` bytes; the rest is read and dropped);
// RunInherit lets the child write to the caller's stdout/stderr (build and test output).
// Errors: kNotFound when the program does not exist, kInternal when it cannot be started.
// The exit code is the program's, or 128 + signal number when a signal ended it.
// Thread-safe (no shared state; SIGCHLD is not touched, children are waited for by pid).
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"

namespace weir::workflow {

struct ProcessResult {
  int exit_code = 0;
  std::string out;
  std::string err;
};

using EnvOverrides = std::vector<std::pair<std::string, std::string>>;

Result<ProcessResult> RunCapture(const std::vector<std::string>& argv,
                                 const std::filesystem::path& cwd, const EnvOverrides& env = {},
                                 size_t max_output = 4 << 20);

Result<int> RunInherit(const std::vector<std::string>& argv, const std::filesystem::path& cwd,
                       const EnvOverrides& env = {});

}  // namespace weir::workflow

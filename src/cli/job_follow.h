// Live job output for the CLI: `weir job output ID PATH --follow/--tail N` and the streaming,
// reconnecting wait of `weir job submit --wait` and `weir job wait`.
//
// Both read a job file with ranged GETs of the output API (`Range: bytes=OFFSET-`) from the last
// offset read, so a file is never read twice and a large one is never held in memory at once.
#pragma once

#include <chrono>
#include <iosfwd>
#include <string>

#include "client/http_client.h"
#include "common/result.h"

namespace weir::cli {

struct FollowOptions {
  // Print only the last `tail_lines` lines already written (-1: the whole file).
  int tail_lines = -1;
  // Keep reading while the job runs; return once it is finished and the file fully read.
  bool follow = false;
  // Pause between two reads that found nothing new.
  std::chrono::milliseconds poll = std::chrono::milliseconds(100);
};

// Prints file `path` (relative to the job directory) of job `id` to `out` under `options`, and
// returns the command's exit code (a failure is reported on stderr). With `follow`, a file that
// does not exist yet is waited for while the job is not finished, and lost connections are
// retried as in WaitForJob.
int FollowOutput(client::HttpClient& http, const std::string& id, const std::string& path,
                 const FollowOptions& options, std::ostream& out);

struct WaitOptions {
  // Print the job's stdout to std::cout and stderr to std::cerr while it runs; otherwise both are
  // printed once the job has finished (when `print_output`).
  bool stream = false;
  // Print stdout and stderr at all (submit --wait does; job wait only when streaming).
  bool print_output = true;
  // Print each status change but the final one (with the queue/status message while
  // ACCEPTED/INIT) on stderr.
  bool progress = true;
  // Give up (kDeadlineExceeded) when the job has not finished after this long; 0: never.
  double timeout_seconds = 0;
  // Give up (kUnavailable) after this long of consecutive lost connections or 503 answers;
  // retries start at 0.2 s and double up to 5 s, so a restarted server is found again.
  std::chrono::milliseconds reconnect_limit = std::chrono::minutes(5);
};

// True when `--stream`/`--no-stream` were not given and stdout is a terminal.
bool StreamByDefault();

// Waits until job `id` is finished under `options` and returns its final status (SUCCEEDED,
// FAILED, KILLED, INVALID). A missing stdout/stderr (a job that failed during set-up) is not an
// error: nothing is printed for it. While waiting, Ctrl-C (SIGINT) ends the process with exit code
// 130 after saying on stderr that the job keeps running and how to kill it.
Result<std::string> WaitForJob(client::HttpClient& http, const std::string& id,
                               const WaitOptions& options);

}  // namespace weir::cli

// Shared pieces of the benchmarks that drive the real `weir server` binary (crash_loop,
// soak_bench): starting a server with the demo configuration, building job requests, reading a
// job's outcome, and sampling the server process from /proc. Benchmarks print `name: value`
// lines (docs/performance.md); nothing here asserts a figure.
//
// Thread-safety: free functions are thread-safe; an HttpClient passed in must be used by one
// thread only (as HttpClient requires).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client/http_client.h"
#include "weir_process.h"

namespace weir::bench {

using Clock = std::chrono::steady_clock;

// Seconds elapsed since `t0`.
double SecondsSince(Clock::time_point t0);

// Prints `name: value` (three decimals) and flushes, so a run cut short keeps its figures.
void Print(const std::string& name, double value);
void PrintText(const std::string& name, const std::string& value);

// p in [0, 1]; 0 for an empty vector.
double Percentile(std::vector<double> v, double p);

// A server config for benchmarks: no per-user limit and a node capacity no load here reaches,
// so a submission is refused only when something is wrong.
extern const char* const kBenchConfig;

// Starts `weir server` on `data_dir` with kBenchConfig plus `extra_config` (more YAML sections)
// and applies examples/demo.yaml (bash command on the local cluster, tags sched:sla /
// type:bash). Exits the process with a message when either fails: a benchmark without its
// server has nothing to report.
std::unique_ptr<testing::WeirServer> StartDemoServer(const std::filesystem::path& data_dir,
                                                     const std::string& extra_config = "");

// A Genie job request running `bash -c SCRIPT` on the demo cluster (the script is shell-quoted
// into commandArgs, which the command line takes as words); `memory_mb` 0 leaves the default.
std::string BashJobJson(const std::string& script, int memory_mb = 0);

// The id at the end of a 202 answer's Location header; "" when absent.
std::string IdFromLocation(const client::Response& r);

// A job's outcome as the server reports it.
struct JobOutcome {
  int http_status = 0;  // of GET /api/v3/jobs/{id}; 0: no answer (transport error)
  std::string status;   // e.g. "SUCCEEDED"
  std::string status_msg;
  bool started = false;                 // the record has a `started` time (the job was launched)
  std::optional<int64_t> exit_code;     // from /execution
  std::optional<int64_t> stdout_bytes;  // from /metadata (recorded when the job ends)
};
// Reads /jobs/{id}, and for a final job /execution and /metadata too.
JobOutcome FetchOutcome(client::HttpClient& http, const std::string& id);
bool IsFinal(const std::string& status);

// totalElements of GET /api/v3/jobs?status=S (-1 when the server does not answer).
int64_t CountWithStatus(client::HttpClient& http, const std::string& status);

// The server process as /proc shows it; -1 fields when it could not be read.
struct ProcSample {
  long rss_kb = -1;
  long hwm_kb = -1;
  long threads = -1;
  long fds = -1;
};
ProcSample SampleProcess(pid_t pid);
// Bytes of <data_dir>/weir.db plus its -wal file.
int64_t DatabaseBytes(const std::filesystem::path& data_dir);
// The 1-minute load average, for the record beside the figures.
double LoadAverage1();

}  // namespace weir::bench

// The server log's story of each job: one line per accepted, rejected, started, finished and
// killed job, in the format of `server.log_format`.
//
// text (default): spdlog's usual lines; a job event reads
//   "job <event>: id=<id> user=<user> cluster=<cluster> command=<command> status=<STATUS>
//    [exitCode=N] [duration=PT1.5S] message=\"...\""
// json: EVERY line of the log (job events and all other messages) is one JSON object:
//   {"time":"2026-12-06T13:00:00.000Z","level":"info","msg":"..."} for messages, and
//   {"time":...,"level":"info","event":"job.finished","id":...,"user":...,"cluster":...,
//    "command":...,"status":"SUCCEEDED","exitCode":0,"durationMs":1500,"message":"..."} for job
//   events (fields that do not apply are left out: a rejected job has no id, a job that never
//   ran no duration).
// Thread-safe; SetLogFormat() is called once at start, before the log is used.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace weir::service {

enum class LogFormat { kText, kJson };

// Parses "text" / "json" (kInvalidArgument otherwise is the config's job; here: nullopt).
std::optional<LogFormat> ParseLogFormat(std::string_view s);
// Makes spdlog's default logger write to stderr (keeping its level) in `format`. The server's
// stdout then holds only its "listening" line.
void SetLogFormat(LogFormat format);
LogFormat CurrentLogFormat();

struct JobEvent {
  std::string
      event;  // accepted, rejected, prepared, launched (waits in Slurm), started, finished, killed
  std::string id;  // empty for a rejected submission without a record
  std::string user;
  std::string cluster;  // names; empty when not resolved
  std::string command;
  std::string status;  // INIT, RUNNING, SUCCEEDED, ... or the HTTP-ish reason of a rejection
  std::optional<int> exit_code;
  std::optional<int64_t> duration_ms;  // started → finished; unset when it never ran
  std::string message;                 // the status message / why rejected
};

// Writes the event at info level (rejected: warn).
void LogJobEvent(const JobEvent& e);
// The event's line as LogJobEvent writes it in text mode (the message part), for tests.
std::string JobEventText(const JobEvent& e);

}  // namespace weir::service

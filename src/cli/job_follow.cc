#include "cli/job_follow.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <iostream>
#include <thread>

#include "api/http.h"
#include "cli/cli_util.h"
#include "cli/event_watch.h"
#include "common/strings.h"

namespace weir::cli {

namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// Largest ranged read: a 50 MB output is read in pieces, never held at once.
constexpr uint64_t kChunkBytes = 4 << 20;

bool IsFinal(const std::string& status) {
  return status == "SUCCEEDED" || status == "FAILED" || status == "KILLED" || status == "INVALID";
}

std::string JobPath(const std::string& id) { return "/api/v3/jobs/" + client::UrlEncode(id); }

// A lost connection or a server that is (re)starting: worth asking again. kAborted is how
// cli_util reports a server that cannot be reached (Unreachable, exit code 5).
bool Transient(const Status& s) {
  return s.code() == StatusCode::kUnavailable || s.code() == StatusCode::kDeadlineExceeded ||
         s.code() == StatusCode::kAborted;
}

// Consecutive transient failures: waits 0.2 s, doubling to 5 s, until `limit` has passed since the
// first failure of the run; says once on stderr that it retries, and when it got through again.
class Retrier {
 public:
  explicit Retrier(milliseconds limit) : limit_(limit) {}
  // OK after waiting (ask again), or the Status to give up with.
  Status Failed(const Status& s) {
    if (!Transient(s)) return s;
    auto now = Clock::now();
    if (!failing_) {
      failing_ = true;
      first_ = now;
      delay_ = milliseconds(200);
      std::cerr << "weir: " << s.message() << "; retrying for up to "
                << std::chrono::duration_cast<std::chrono::seconds>(limit_).count() << " s\n";
    } else if (now - first_ > limit_) {
      return Unavailable(
          s.message() + " (gave up after " +
          std::to_string(std::chrono::duration_cast<std::chrono::seconds>(limit_).count()) +
          " s of retries)");
    }
    std::this_thread::sleep_for(delay_);
    delay_ = std::min(delay_ * 2, milliseconds(5000));
    return Status::Ok();
  }
  void Succeeded() {
    if (failing_) std::cerr << "weir: connected again\n";
    failing_ = false;
  }

 private:
  milliseconds limit_;
  bool failing_ = false;
  Clock::time_point first_;
  milliseconds delay_{200};
};

// One ranged read from `offset`: the bytes read (empty at the end of the file), or `missing` with
// the server's reason when the file does not exist (yet).
struct Chunk {
  std::string data;
  bool missing = false;
  Status why_missing;
};

Result<Chunk> ReadChunk(client::HttpClient& http, const std::string& id, const std::string& path,
                        uint64_t offset) {
  auto r = http.Get(JobPath(id) + "/output/" + path,
                    {{"Accept", "*/*"},
                     {"Range", "bytes=" + std::to_string(offset) + "-" +
                                   std::to_string(offset + kChunkBytes - 1)}});
  if (!r.ok()) return r.status();
  Chunk c;
  if (r->status == 416) return c;  // nothing past `offset` yet
  if (r->status == 404) {
    c.missing = true;
    c.why_missing = client::ToStatus(*r);
    return c;
  }
  if (Status s = client::ToStatus(*r); !s.ok()) return s;
  if (r->status == 206) {
    c.data = std::move(r->body);
  } else if (offset < r->body.size()) {  // a 200 carries the whole file
    c.data = r->body.substr(offset);
  }
  return c;
}

// Reads `path` from `*offset` to its current end into `out`, advancing `*offset`. Sets `*missing`
// (with the reason) when the file does not exist.
Status Drain(client::HttpClient& http, const std::string& id, const std::string& path,
             uint64_t* offset, std::ostream& out, Status* missing) {
  *missing = Status::Ok();
  while (true) {
    auto c = ReadChunk(http, id, path, *offset);
    if (!c.ok()) return c.status();
    if (c->missing) {
      *missing = c->why_missing;
      return Status::Ok();
    }
    if (c->data.empty()) return Status::Ok();
    out.write(c->data.data(), static_cast<std::streamsize>(c->data.size()));
    out.flush();
    *offset += c->data.size();
    if (c->data.size() < kChunkBytes) return Status::Ok();
  }
}

// The offset where the last `lines` lines of `path` begin (0 for a missing or empty file).
Result<uint64_t> TailOffset(client::HttpClient& http, const std::string& id,
                            const std::string& path, int lines) {
  for (uint64_t want = 64 << 10;; want *= 2) {
    auto r = http.Get(JobPath(id) + "/output/" + path,
                      {{"Accept", "*/*"}, {"Range", "bytes=-" + std::to_string(want)}});
    if (!r.ok()) return r.status();
    if (r->status == 416 || r->status == 404) return 0;
    if (Status s = client::ToStatus(*r); !s.ok()) return s;
    uint64_t start = 0;
    if (r->status == 206) {
      // Content-Range: bytes START-END/SIZE
      std::string range = r->Header("content-range").value_or("");
      size_t space = range.find(' ');
      if (space != std::string::npos) start = std::strtoull(range.c_str() + space + 1, nullptr, 10);
    }
    const std::string& body = r->body;
    if (lines == 0) return start + body.size();
    size_t end = body.size();
    if (end > 0 && body[end - 1] == '\n') --end;  // the last line's own newline
    int found = 0;
    for (size_t i = end; i > 0; --i) {
      if (body[i - 1] == '\n' && ++found == lines) return start + i;
    }
    if (start == 0) return 0;  // fewer lines than asked: the whole file
  }
}

// SIGINT while waiting: the job goes on; say so and how to stop it. Only write(2) and _exit(2)
// in the handler (async-signal-safe); the message is composed before the handler is installed.
char g_interrupt_message[1024];
size_t g_interrupt_length = 0;

void OnInterrupt(int) {
  ssize_t ignored = ::write(STDERR_FILENO, g_interrupt_message, g_interrupt_length);
  (void)ignored;
  ::_exit(130);
}

class InterruptNotice {
 public:
  explicit InterruptNotice(const std::string& id) {
    std::string m = "\nweir: stopped waiting; job " + id +
                    " keeps running on the server. To stop it: weir job kill " + id + "\n";
    g_interrupt_length = std::min(m.size(), sizeof(g_interrupt_message));
    std::memcpy(g_interrupt_message, m.data(), g_interrupt_length);
    struct sigaction sa {};
    sa.sa_handler = OnInterrupt;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, &old_);
  }
  ~InterruptNotice() { ::sigaction(SIGINT, &old_, nullptr); }
  InterruptNotice(const InterruptNotice&) = delete;
  InterruptNotice& operator=(const InterruptNotice&) = delete;

 private:
  struct sigaction old_ {};
};

}  // namespace

bool StreamByDefault() { return ::isatty(STDOUT_FILENO) == 1; }

int FollowOutput(client::HttpClient& http, const std::string& id, const std::string& path,
                 const FollowOptions& options, std::ostream& out) {
  Retrier retry(std::chrono::minutes(5));
  uint64_t offset = 0;
  if (options.tail_lines >= 0) {
    while (true) {
      auto start = TailOffset(http, id, path, options.tail_lines);
      if (start.ok()) {
        offset = *start;
        break;
      }
      if (!options.follow) return Fail(start.status());
      if (Status s = retry.Failed(start.status()); !s.ok()) return Fail(s);
    }
  }
  while (true) {
    bool final = true;
    if (options.follow) {
      auto job = GetJson(http, JobPath(id));
      if (!job.ok()) {
        if (Status s = retry.Failed(job.status()); !s.ok()) return Fail(s);
        continue;
      }
      final = IsFinal(Str(*job, "status"));
    }
    Status missing;
    if (Status s = Drain(http, id, path, &offset, out, &missing); !s.ok()) {
      if (!options.follow) return Fail(s);
      if (Status r = retry.Failed(s); !r.ok()) return Fail(r);
      continue;
    }
    retry.Succeeded();
    if (final) return missing.ok() ? 0 : Fail(missing);
    std::this_thread::sleep_for(options.poll);
  }
}

Result<std::string> WaitForJob(client::HttpClient& http, const std::string& id,
                               const WaitOptions& options) {
  InterruptNotice notice(id);
  Retrier retry(options.reconnect_limit);
  // Changes of the job wake the loop at once; it polls on a timer only when the server's event
  // stream cannot be followed.
  EventWatcher watcher(http, "jobId=" + api::PercentEncode(id));
  const auto start = Clock::now();
  std::string last_status, last_message;
  uint64_t out_offset = 0, err_offset = 0;
  milliseconds delay(20);
  while (true) {
    auto job = GetJson(http, JobPath(id));
    if (!job.ok()) {
      if (Status s = retry.Failed(job.status()); !s.ok()) return s;
      continue;
    }
    std::string status = Str(*job, "status");
    std::string message = Str(*job, "statusMsg");
    const bool final = IsFinal(status);
    const bool queued = status == "ACCEPTED" || status == "INIT";
    // The final status is the caller's to print (with its reason).
    if (options.progress && !final &&
        (status != last_status || (queued && !message.empty() && message != last_message))) {
      std::cerr << "job " << id << ": " << status;
      if (queued && !message.empty()) std::cerr << " (" << message << ")";
      std::cerr << "\n";
    }
    last_status = status;
    last_message = message;
    if (options.print_output && (options.stream || final)) {
      // A file that is missing (not created yet, or never: a set-up failure) prints nothing.
      Status missing;
      Status s = Drain(http, id, "stdout", &out_offset, std::cout, &missing);
      if (s.ok()) s = Drain(http, id, "stderr", &err_offset, std::cerr, &missing);
      if (!s.ok()) {
        if (Status r = retry.Failed(s); !r.ok()) return r;
        continue;
      }
    }
    retry.Succeeded();
    if (final) return status;
    if (options.timeout_seconds > 0 &&
        Clock::now() - start > std::chrono::duration<double>(options.timeout_seconds)) {
      return DeadlineExceeded("job " + id + ": still " + status + " after " +
                              std::to_string(static_cast<int>(options.timeout_seconds)) + " s");
    }
    if (!watcher.failed()) {
      // The output is read every 100 ms while streaming; otherwise only an event (or, should
      // one be lost, a check every 5 s) brings the next GET.
      watcher.WaitForEvent(options.stream ? milliseconds(100) : milliseconds(5000));
      continue;
    }
    std::this_thread::sleep_for(options.stream ? milliseconds(100) : delay);
    delay = std::min(delay * 2, milliseconds(500));
  }
}

}  // namespace weir::cli

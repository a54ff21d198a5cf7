// ArchivedOutputs: a job's output read back from its archive once the node-local job directory
// is gone (removed after its retention, or the job ran on a node that is lost).
//
// Open(job id, archive URI) returns a local folder holding the job directory as archived. On the
// first access the whole archive is downloaded (S3) or read in place (file://) and extracted into
// <dir>/<job id>/ (extracted into a temp folder and renamed, so a half extraction is never
// served); later accesses reuse the folder. The whole archive is extracted rather than one member
// at a time because a tar.gz cannot be read from the middle: listing a folder or reaching any
// member already means decompressing everything before it, and a job's output is usually read
// several times (listing, stdout, stderr, Range requests as a UI pages through a log). Serving
// plain files also keeps the API's existing file handling (Range, listings, path checks).
//
// Bound: extracted folders are evicted least-recently-used when their total size passes
// max_bytes, never one used less than min_idle ago (a response may still be streaming from it).
// <dir> is emptied when the object is created (what it held is only a cache).
//
// Concurrent Opens of one job share one extraction. Errors: those of JobArchiver::Download
// (kNotFound: no archive at the URI) and ExtractTarGz, prefixed with the job. Thread-safe.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "archive/job_archive.h"
#include "common/clock.h"
#include "common/result.h"

namespace weir::archive {

struct ArchivedOutputsOptions {
  std::filesystem::path dir;      // e.g. <data dir>/archive-cache
  int64_t max_bytes = 2LL << 30;  // extracted bytes kept
  Millis min_idle{60'000};        // never evict a folder used more recently than this
};

class ArchivedOutputs {
 public:
  // `archiver` downloads s3:// archives (it may be null when only file:// archives exist).
  static Result<std::unique_ptr<ArchivedOutputs>> Create(
      ArchivedOutputsOptions options, std::shared_ptr<const JobArchiver> archiver, Clock& clock);

  // The folder holding job `job_id`'s archived directory, extracting it on first use.
  Result<std::filesystem::path> Open(const std::string& job_id, const std::string& archive_uri);

  struct Stats {
    int64_t extractions = 0;  // archives extracted
    int64_t reuses = 0;       // Opens served by a folder already there
    int64_t evictions = 0;
    int64_t entries = 0;
    int64_t bytes = 0;
  };
  Stats GetStats() const;

 private:
  struct Entry {
    int64_t bytes = 0;
    TimePoint last_use{};
    uint64_t seq = 0;
  };
  struct Flight {
    bool done = false;
    Status status;
    std::condition_variable cv;
  };

  ArchivedOutputs(ArchivedOutputsOptions options, std::shared_ptr<const JobArchiver> archiver,
                  Clock& clock)
      : options_(std::move(options)), archiver_(std::move(archiver)), clock_(clock) {}

  Status Extract(const std::string& job_id, const std::string& archive_uri, int64_t* bytes);
  void EvictLocked(const std::string& keep);

  const ArchivedOutputsOptions options_;
  const std::shared_ptr<const JobArchiver> archiver_;
  Clock& clock_;

  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;                    // GUARDED_BY(mu_)
  std::map<std::string, std::shared_ptr<Flight>> flights_;  // GUARDED_BY(mu_)
  int64_t total_bytes_ = 0;                                 // GUARDED_BY(mu_)
  uint64_t next_seq_ = 1;                                   // GUARDED_BY(mu_)
  Stats stats_;                                             // GUARDED_BY(mu_)
};

}  // namespace weir::archive

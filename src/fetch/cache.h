// DependencyCache: the per-node cache of remote dependencies (http, https, s3), shared by every
// job of the node. It is an exec::Fetcher: Fetch(uri, dest) makes sure an up-to-date copy of
// `uri` is in the cache, then hard-links it to `dest` (or copies it, across file systems).
//
// Layout (one function per path in cache.cc):
//   <dir>/data/<sha256(uri)>   the bytes, mode 0444
//   <dir>/meta/<sha256(uri)>   uri, ETag, Last-Modified, size, fetch/validation times, data mtime;
//                              the file's own mtime is the entry's last use (for LRU on restart)
//   <dir>/tmp/                 downloads in progress, emptied when the cache opens
// <dir> is made 0700: metadata holds URIs (possibly with credentials), and jobs need no access
// to it, only to the links and copies placed in their own folders.
//
// Freshness. An entry validated less than `fresh_for` ago is used as is. Otherwise the server is
// asked, never downloading an unchanged body when it sent validators:
//   - ETag and/or Last-Modified known: a conditional GET (If-None-Match / If-Modified-Since);
//     304 keeps the entry, 200 replaces it.
//   - The server sent neither: within `unvalidated_max_age` of the download, a HEAD whose
//     Content-Length equals the entry's size (and still no validators) keeps the entry; a size
//     change, a HEAD failure or an older entry downloads again. Genie re-downloads every time
//     here; weir bounds the staleness instead.
// Single flight: concurrent Fetch calls for one URI share one check or download; the others wait
// for it and get its result (a failed download fails them all with the same message).
// Size bound: after each placement and each release, least-recently-used entries are evicted
// until the total is at most max_bytes. An entry that a Fetch is using (checking, downloading or
// linking) is pinned and never evicted; so an entry larger than the bound is served once, then
// evicted. max_bytes bounds the cache's own entries: an evicted or replaced file stays on disk
// while job folders still hold hard links to it, until those jobs' folders are deleted.
// Atomicity: downloads land in tmp/ and are renamed into data/; a cut or failed download leaves
// no entry (and any previous entry as it was). The job's file appears at `dest` by rename too.
// Protection: data files are 0444, so a job cannot write through its hard link by accident. A job
// running as the service's own user could still chmod the shared inode, so each use checks that
// the data file's size, mtime, mode and owner are still what the cache wrote, and downloads it
// again otherwise. Set hard_links = false to give each job a private copy instead (needed when
// job folders are chowned to other users: a chown would reach the cache's inode).
// Job requests: FetchForJob passes Conditions::from_job_request to the source for every check
// and download (the source applies its perimeter), never joins a flight started for admin
// configuration (nor the other way round), and skips the HEAD shortcut above (a HEAD carries no
// conditions), so an entry that admin configuration brought in is served to a job request only
// after the source, under the perimeter, confirmed it. An entry still within fresh_for is served
// without asking: the caller checks the URI's host before (UriFetcher does).
// Errors: those of the RemoteSource ("fetch '<uri>': HTTP 404 Not Found", ...), or
// "fetch '<uri>': place into '<dest>': <errno text>". Thread-safe.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/result.h"
#include "exec/job_dir.h"
#include "fetch/source.h"

namespace weir::fetch {

struct CacheOptions {
  std::filesystem::path dir;       // created when missing; same file system as the jobs for links
  int64_t max_bytes = 10LL << 30;  // size bound over all entries
  Millis fresh_for{0};             // 0: ask the server on every use not joined to a flight
  Millis unvalidated_max_age{3'600'000};
  bool hard_links = true;
};

struct CacheStats {
  int64_t hits = 0;              // fetches served from an entry, no body downloaded
  int64_t misses = 0;            // fetches that downloaded a body (absent, changed, unverifiable)
  int64_t revalidations = 0;     // conditional GETs and HEADs sent to check an entry
  int64_t bytes_downloaded = 0;  // body bytes received
  int64_t evictions = 0;         // entries removed to respect max_bytes
  int64_t entries = 0;           // entries now in the cache
  int64_t bytes = 0;             // their total size
};

class DependencyCache final : public exec::Fetcher {
 public:
  // Opens (creating) the cache folder, empties tmp/, loads the entries that are intact and drops
  // the rest, then evicts down to max_bytes. kInvalidArgument for an empty dir or a non-positive
  // max_bytes; I/O errors as ErrnoStatus.
  static Result<std::unique_ptr<DependencyCache>> Open(CacheOptions options,
                                                       std::shared_ptr<RemoteSource> source,
                                                       Clock& clock);

  // REQUIRES: `uri` is one the source handles (http, https or s3 for the node's source).
  Status Fetch(const std::string& uri, const std::filesystem::path& dest) override;
  Status FetchForJob(const std::string& uri, const std::filesystem::path& dest) override;

  CacheStats Stats() const;
  // Where the bytes of `uri` live when cached (whether or not they are there now).
  std::filesystem::path DataPath(const std::string& uri) const;
  const CacheOptions& options() const { return options_; }

 private:
  struct Entry {
    std::string uri;
    std::string etag;
    std::string last_modified;
    int64_t size = 0;
    int64_t fetched_ms = 0;    // when the body was downloaded
    int64_t validated_ms = 0;  // when the server last confirmed it
    int64_t mtime_ns = 0;      // of the data file as the cache wrote it
    uint64_t use_seq = 0;      // LRU order: higher is more recent
  };
  struct Flight {
    bool done = false;
    Status status;
    std::condition_variable cv;
  };
  // What one check or download did, applied to the maps and stats under the lock.
  struct Refreshed {
    Entry entry;
    bool downloaded = false;
    int64_t revalidations = 0;
    int64_t bytes_downloaded = 0;
  };

  DependencyCache(CacheOptions options, std::shared_ptr<RemoteSource> source, Clock& clock)
      : options_(std::move(options)), source_(std::move(source)), clock_(clock) {}

  Status Load();
  Status FetchFrom(const std::string& uri, const std::filesystem::path& dest, bool job_request);
  Status EnsureFresh(std::unique_lock<std::mutex>& lock, const std::string& uri,
                     const std::string& key, bool job_request);
  Refreshed DoRefresh(const std::string& uri, const std::string& key,
                      const std::optional<Entry>& old, bool job_request, Status* status);
  Status PlaceEntry(const std::string& key, const std::filesystem::path& downloaded,
                    Entry* entry);
  Status Materialize(const std::string& uri, const std::filesystem::path& data,
                     const std::filesystem::path& dest) const;
  bool Intact(const Entry& entry, const std::string& key) const;
  void EvictLocked();
  void RemoveFilesLocked(const std::string& key);

  std::filesystem::path DataFile(const std::string& key) const;
  std::filesystem::path MetaFile(const std::string& key) const;
  std::filesystem::path TmpDir() const;

  const CacheOptions options_;
  const std::shared_ptr<RemoteSource> source_;
  Clock& clock_;

  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;                    // GUARDED_BY(mu_), by key
  std::map<std::string, int> pins_;                         // GUARDED_BY(mu_)
  // By key, with a "job:" prefix for flights of job requests.
  std::map<std::string, std::shared_ptr<Flight>> flights_;  // GUARDED_BY(mu_)
  uint64_t next_seq_ = 1;                                   // GUARDED_BY(mu_)
  int64_t total_bytes_ = 0;                                 // GUARDED_BY(mu_)
  CacheStats stats_;                                        // GUARDED_BY(mu_)
};

}  // namespace weir::fetch

#include "fetch/cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <set>
#include <vector>

#include "common/fs.h"
#include "common/ids.h"
#include "common/strings.h"
#include "fetch/digest.h"
#include "fetch/uri.h"

namespace weir::fetch {

namespace fs = std::filesystem;

namespace {

std::string Context(const std::string& uri) { return "fetch '" + RedactUri(uri) + "'"; }

int64_t MtimeNs(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

// Writes `data` to a uniquely named temp file and renames it over `path` (no fsync: the metadata
// is checked against the data file on load, so a torn write only costs a download).
Status WriteSmallFileAtomic(const fs::path& path, const std::string& data) {
  fs::path tmp = path;
  tmp += ".tmp." + NewUuid().substr(0, 8);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus("write '" + tmp.string() + "'", errno);
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return ErrnoStatus("write '" + tmp.string() + "'", err);
    }
    off += static_cast<size_t>(n);
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return ErrnoStatus("rename '" + path.string() + "'", err);
  }
  return Status::Ok();
}

// Sets a file's mtime to `t` (how a use is recorded on the meta file).
void SetMtime(const fs::path& path, TimePoint t) {
  int64_t ms = ToEpochMillis(t);
  struct timespec times[2];
  times[0].tv_sec = 0;
  times[0].tv_nsec = UTIME_OMIT;
  times[1].tv_sec = ms / 1000;
  times[1].tv_nsec = (ms % 1000) * 1'000'000;
  ::utimensat(AT_FDCWD, path.c_str(), times, 0);
}

Status CopyFile(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
  if (ec) return ErrnoStatus("copy '" + from.string() + "'", ec.value());
  if (::chmod(to.c_str(), 0644) != 0) return ErrnoStatus("chmod '" + to.string() + "'", errno);
  return Status::Ok();
}

}  // namespace

fs::path DependencyCache::DataFile(const std::string& key) const {
  return options_.dir / "data" / key;
}
fs::path DependencyCache::MetaFile(const std::string& key) const {
  return options_.dir / "meta" / key;
}
fs::path DependencyCache::TmpDir() const { return options_.dir / "tmp"; }

fs::path DependencyCache::DataPath(const std::string& uri) const {
  return DataFile(Sha256Hex(uri));
}

Result<std::unique_ptr<DependencyCache>> DependencyCache::Open(
    CacheOptions options, std::shared_ptr<RemoteSource> source, Clock& clock) {
  if (options.dir.empty()) return InvalidArgument("dependency cache dir: must not be empty");
  if (options.max_bytes <= 0) {
    return InvalidArgument("dependency cache max_bytes: must be positive");
  }
  if (source == nullptr) return InvalidArgument("dependency cache: no remote source");
  std::unique_ptr<DependencyCache> cache(
      new DependencyCache(std::move(options), std::move(source), clock));
  WEIR_RETURN_IF_ERROR(cache->Load());
  return cache;
}

Status DependencyCache::Load() {
  for (const char* sub : {"data", "meta", "tmp"}) {
    WEIR_RETURN_IF_ERROR(MakeDirs(options_.dir / sub));
  }
  // Metadata holds URIs, which may carry credentials; jobs reach entries only through the links
  // and copies placed in their own folders.
  if (::chmod(options_.dir.c_str(), 0700) != 0) {
    return ErrnoStatus("dependency cache dir '" + options_.dir.string() + "'", errno);
  }
  std::error_code ec;
  for (const auto& item : fs::directory_iterator(TmpDir(), ec)) fs::remove_all(item.path(), ec);

  struct Loaded {
    std::string key;
    Entry entry;
    int64_t last_use_ns;
  };
  std::vector<Loaded> loaded;
  for (const auto& item : fs::directory_iterator(options_.dir / "meta", ec)) {
    std::string key = item.path().filename().string();
    if (key.size() != 64 || key.find('.') != std::string::npos) {
      fs::remove(item.path(), ec);  // a temp file from an interrupted write
      continue;
    }
    Result<std::string> text = ReadFile(item.path());
    Entry e;
    bool ok = text.ok();
    if (ok) {
      for (const std::string& line : Split(*text, '\n')) {
        size_t eq = line.find('=');
        if (eq == std::string::npos) continue;
        std::string name = line.substr(0, eq);
        std::string value = line.substr(eq + 1);
        long long n = 0;
        if (name == "uri") e.uri = value;
        else if (name == "etag") e.etag = value;
        else if (name == "last_modified") e.last_modified = value;
        else if (name == "size" && ParseInt64(value, &n)) e.size = n;
        else if (name == "fetched_ms" && ParseInt64(value, &n)) e.fetched_ms = n;
        else if (name == "validated_ms" && ParseInt64(value, &n)) e.validated_ms = n;
        else if (name == "mtime_ns" && ParseInt64(value, &n)) e.mtime_ns = n;
      }
      ok = !e.uri.empty() && Sha256Hex(e.uri) == key && Intact(e, key);
    }
    struct stat st{};
    if (!ok || ::stat(item.path().c_str(), &st) != 0) {
      ::unlink(DataFile(key).c_str());
      ::unlink(item.path().c_str());
      continue;
    }
    loaded.push_back({key, e, MtimeNs(st)});
  }
  // Data without metadata cannot be revalidated: drop it.
  std::set<std::string> known;
  for (const Loaded& l : loaded) known.insert(l.key);
  for (const auto& item : fs::directory_iterator(options_.dir / "data", ec)) {
    if (known.count(item.path().filename().string()) == 0) fs::remove(item.path(), ec);
  }
  std::sort(loaded.begin(), loaded.end(),
            [](const Loaded& a, const Loaded& b) { return a.last_use_ns < b.last_use_ns; });
  std::lock_guard<std::mutex> lock(mu_);
  for (Loaded& l : loaded) {
    l.entry.use_seq = next_seq_++;
    total_bytes_ += l.entry.size;
    entries_.emplace(l.key, std::move(l.entry));
  }
  EvictLocked();
  return Status::Ok();
}

bool DependencyCache::Intact(const Entry& entry, const std::string& key) const {
  struct stat st{};
  if (::stat(DataFile(key).c_str(), &st) != 0) return false;
  return S_ISREG(st.st_mode) && st.st_size == entry.size && MtimeNs(st) == entry.mtime_ns &&
         (st.st_mode & 07777) == 0444 && st.st_uid == ::geteuid();
}

Status DependencyCache::Fetch(const std::string& uri, const fs::path& dest) {
  return FetchFrom(uri, dest, /*job_request=*/false);
}

Status DependencyCache::FetchForJob(const std::string& uri, const fs::path& dest) {
  return FetchFrom(uri, dest, /*job_request=*/true);
}

Status DependencyCache::FetchFrom(const std::string& uri, const fs::path& dest, bool job_request) {
  if (uri.find_first_of("\r\n") != std::string::npos) {
    return InvalidArgument(Context(uri) + ": line breaks are not allowed in a URI");
  }
  const std::string key = Sha256Hex(uri);
  std::unique_lock<std::mutex> lock(mu_);
  ++pins_[key];
  Status status = EnsureFresh(lock, uri, key, job_request);
  if (status.ok()) {
    Entry& e = entries_.at(key);
    e.use_seq = next_seq_++;
    lock.unlock();
    SetMtime(MetaFile(key), clock_.Now());
    status = Materialize(uri, DataFile(key), dest);
    lock.lock();
  }
  if (--pins_[key] == 0) pins_.erase(key);
  EvictLocked();
  return status;
}

Status DependencyCache::EnsureFresh(std::unique_lock<std::mutex>& lock, const std::string& uri,
                                    const std::string& key, bool job_request) {
  const std::string flight_key = job_request ? "job:" + key : key;
  if (auto f = flights_.find(flight_key); f != flights_.end()) {
    std::shared_ptr<Flight> flight = f->second;
    flight->cv.wait(lock, [&] { return flight->done; });
    if (flight->status.ok()) ++stats_.hits;
    return flight->status;
  }
  std::optional<Entry> old;
  if (auto it = entries_.find(key); it != entries_.end() && Intact(it->second, key)) {
    int64_t age = ToEpochMillis(clock_.Now()) - it->second.validated_ms;
    if (age >= 0 && age < options_.fresh_for.count()) {
      ++stats_.hits;
      return Status::Ok();
    }
    old = it->second;
  }
  auto flight = std::make_shared<Flight>();
  flights_[flight_key] = flight;
  lock.unlock();
  Status status;
  Refreshed r = DoRefresh(uri, key, old, job_request, &status);
  lock.lock();
  stats_.revalidations += r.revalidations;
  stats_.bytes_downloaded += r.bytes_downloaded;
  if (status.ok()) {
    auto it = entries_.find(key);
    if (it != entries_.end()) {
      total_bytes_ -= it->second.size;
      r.entry.use_seq = it->second.use_seq;
    }
    total_bytes_ += r.entry.size;
    entries_[key] = r.entry;
    if (r.downloaded) ++stats_.misses; else ++stats_.hits;
  }
  flight->done = true;
  flight->status = status;
  flights_.erase(flight_key);
  flight->cv.notify_all();
  return status;
}

DependencyCache::Refreshed DependencyCache::DoRefresh(const std::string& uri,
                                                      const std::string& key,
                                                      const std::optional<Entry>& old,
                                                      bool job_request, Status* status) {
  Refreshed r;
  const int64_t now = ToEpochMillis(clock_.Now());
  const fs::path download = TmpDir() / (key + "." + NewUuid().substr(0, 8));
  Conditions conditions;
  conditions.from_job_request = job_request;
  if (old.has_value()) {
    if (!old->etag.empty() || !old->last_modified.empty()) {
      conditions.if_none_match = old->etag;
      conditions.if_modified_since = old->last_modified;
      ++r.revalidations;
    } else if (!job_request && now - old->fetched_ms < options_.unvalidated_max_age.count()) {
      ++r.revalidations;
      Result<RemoteMeta> head = source_->Head(uri);
      if (head.ok() && head->size == old->size && head->etag.empty() &&
          head->last_modified.empty()) {
        r.entry = *old;
        r.entry.validated_ms = now;
        return r;
      }
    }
  }
  Result<GetOutcome> got = source_->Get(uri, download, conditions);
  if (!got.ok()) {
    *status = got.status();
    return r;
  }
  r.bytes_downloaded = got->bytes_downloaded;
  if (got->not_modified) {
    if (!old.has_value()) {  // sources refuse this; a test fake might not
      *status = Unavailable(Context(uri) + ": HTTP 304 Not Modified to a request without "
                            "validators");
      return r;
    }
    r.entry = *old;
    r.entry.validated_ms = now;
    // A 304 may restate newer validators; keep what the server says now.
    if (!got->meta.etag.empty()) r.entry.etag = got->meta.etag;
    if (!got->meta.last_modified.empty()) r.entry.last_modified = got->meta.last_modified;
    if (r.entry.etag != old->etag || r.entry.last_modified != old->last_modified) {
      *status = PlaceEntry(key, {}, &r.entry);
    }
    return r;
  }
  r.downloaded = true;
  r.entry.uri = uri;
  r.entry.etag = got->meta.etag;
  r.entry.last_modified = got->meta.last_modified;
  r.entry.fetched_ms = now;
  r.entry.validated_ms = now;
  *status = PlaceEntry(key, download, &r.entry);
  if (!status->ok()) ::unlink(download.c_str());
  return r;
}

// Moves a downloaded file (when `downloaded` is not empty) into data/ read-only, records its
// size and mtime in `entry`, and writes the metadata.
Status DependencyCache::PlaceEntry(const std::string& key, const fs::path& downloaded,
                                   Entry* entry) {
  if (!downloaded.empty()) {
    if (::chmod(downloaded.c_str(), 0444) != 0) {
      return ErrnoStatus(Context(entry->uri) + ": cache chmod", errno);
    }
    struct stat st{};
    if (::stat(downloaded.c_str(), &st) != 0) {
      return ErrnoStatus(Context(entry->uri) + ": cache stat", errno);
    }
    entry->size = st.st_size;
    entry->mtime_ns = MtimeNs(st);
    if (::rename(downloaded.c_str(), DataFile(key).c_str()) != 0) {
      return ErrnoStatus(Context(entry->uri) + ": cache place", errno);
    }
  }
  std::string meta = "uri=" + entry->uri + "\netag=" + entry->etag +
                     "\nlast_modified=" + entry->last_modified +
                     "\nsize=" + std::to_string(entry->size) +
                     "\nfetched_ms=" + std::to_string(entry->fetched_ms) +
                     "\nvalidated_ms=" + std::to_string(entry->validated_ms) +
                     "\nmtime_ns=" + std::to_string(entry->mtime_ns) + "\n";
  return WriteSmallFileAtomic(MetaFile(key), meta).WithContext(Context(entry->uri) + ": cache");
}

Status DependencyCache::Materialize(const std::string& uri, const fs::path& data,
                                    const fs::path& dest) const {
  const std::string ctx = Context(uri) + ": place into '" + dest.string() + "'";
  if (!dest.parent_path().empty()) WEIR_RETURN_IF_ERROR(MakeDirs(dest.parent_path()).WithContext(ctx));
  fs::path tmp = TempPathBeside(dest);
  bool linked = false;
  if (options_.hard_links) {
    if (::link(data.c_str(), tmp.c_str()) == 0) {
      linked = true;
    } else if (errno != EXDEV && errno != EPERM && errno != EMLINK && errno != ENOTSUP &&
               errno != EACCES) {
      return ErrnoStatus(ctx, errno);
    }
  }
  if (!linked) {
    Status copied = CopyFile(data, tmp);
    if (!copied.ok()) {
      ::unlink(tmp.c_str());
      return copied.WithContext(ctx);
    }
  }
  return PlaceAtomically(tmp, dest).WithContext(Context(uri));
}

void DependencyCache::RemoveFilesLocked(const std::string& key) {
  ::unlink(MetaFile(key).c_str());
  ::unlink(DataFile(key).c_str());
}

void DependencyCache::EvictLocked() {
  while (total_bytes_ > options_.max_bytes) {
    auto victim = entries_.end();
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      if (pins_.count(it->first) != 0) continue;
      if (victim == entries_.end() || it->second.use_seq < victim->second.use_seq) victim = it;
    }
    if (victim == entries_.end()) return;  // everything left is in use
    RemoveFilesLocked(victim->first);
    total_bytes_ -= victim->second.size;
    entries_.erase(victim);
    ++stats_.evictions;
  }
}

CacheStats DependencyCache::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  CacheStats s = stats_;
  s.entries = static_cast<int64_t>(entries_.size());
  s.bytes = total_bytes_;
  return s;
}

}  // namespace weir::fetch

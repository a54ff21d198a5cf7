#include "archive/archived_outputs.h"

#include <system_error>
#include <vector>

#include "common/fs.h"
#include "common/ids.h"
#include "common/strings.h"

namespace weir::archive {

namespace fs = std::filesystem;

namespace {

int64_t TreeBytes(const fs::path& dir) {
  int64_t total = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code fec;
    if (it->is_regular_file(fec) && !it->is_symlink(fec)) {
      total += static_cast<int64_t>(it->file_size(fec));
    }
  }
  return total;
}

void RemoveTree(const fs::path& p) {
  std::error_code ec;
  fs::remove_all(p, ec);
}

}  // namespace

Result<std::unique_ptr<ArchivedOutputs>> ArchivedOutputs::Create(
    ArchivedOutputsOptions options, std::shared_ptr<const JobArchiver> archiver, Clock& clock) {
  if (options.dir.empty()) {
    return InvalidArgument("archived outputs: the cache folder is not set");
  }
  if (options.max_bytes <= 0) {
    return InvalidArgument("archived outputs: max_bytes must be positive");
  }
  // Whatever a previous process extracted is only a cache: start empty.
  std::error_code ec;
  if (fs::exists(options.dir, ec)) {
    for (const auto& entry : fs::directory_iterator(options.dir, ec)) RemoveTree(entry.path());
  }
  WEIR_RETURN_IF_ERROR(MakeDirs(options.dir).WithContext("archived outputs"));
  return std::unique_ptr<ArchivedOutputs>(
      new ArchivedOutputs(std::move(options), std::move(archiver), clock));
}

Result<fs::path> ArchivedOutputs::Open(const std::string& job_id, const std::string& archive_uri) {
  WEIR_RETURN_IF_ERROR(ValidateId("job id", job_id));
  const fs::path folder = options_.dir / IdFileName(job_id);
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    auto it = entries_.find(job_id);
    if (it != entries_.end()) {
      it->second.last_use = clock_.Now();
      it->second.seq = next_seq_++;
      ++stats_.reuses;
      return folder;
    }
    auto fit = flights_.find(job_id);
    if (fit == flights_.end()) break;
    std::shared_ptr<Flight> flight = fit->second;
    flight->cv.wait(lock, [&] { return flight->done; });
    if (!flight->status.ok()) return flight->status;
  }
  auto flight = std::make_shared<Flight>();
  flights_[job_id] = flight;
  lock.unlock();
  int64_t bytes = 0;
  Status st = Extract(job_id, archive_uri, &bytes);
  lock.lock();
  flights_.erase(job_id);
  flight->done = true;
  flight->status = st;
  flight->cv.notify_all();
  if (!st.ok()) return st;
  Entry& e = entries_[job_id];
  e.bytes = bytes;
  e.last_use = clock_.Now();
  e.seq = next_seq_++;
  total_bytes_ += bytes;
  ++stats_.extractions;
  EvictLocked(job_id);
  return folder;
}

Status ArchivedOutputs::Extract(const std::string& job_id, const std::string& archive_uri,
                                int64_t* bytes) {
  const std::string ctx = "job '" + job_id + "': read its archive";
  const fs::path tmp = options_.dir / (".tmp-" + job_id + "-" + NewUuid());
  struct Cleanup {
    fs::path p;
    ~Cleanup() { RemoveTree(p); }
  } cleanup{tmp};
  WEIR_RETURN_IF_ERROR(MakeDirs(tmp).WithContext(ctx));
  fs::path archive_file;
  if (StartsWith(archive_uri, "s3://")) {
    if (archiver_ == nullptr) {
      return FailedPrecondition(ctx + ": '" + archive_uri + "' is on S3 and no S3 is configured");
    }
    archive_file = tmp / "archive.tar.gz";
    WEIR_RETURN_IF_ERROR(archiver_->Download(archive_uri, archive_file).WithContext(ctx));
  } else {
    Result<fs::path> local = LocalPathOf(archive_uri);
    if (!local.ok()) return local.status().WithContext(ctx);
    archive_file = *local;
    std::error_code ec;
    if (!fs::is_regular_file(archive_file, ec)) {
      return NotFound(ctx + ": no archive at '" + archive_uri + "'");
    }
  }
  const fs::path extracted = tmp / "job";
  WEIR_RETURN_IF_ERROR(ExtractTarGz(archive_file, extracted).WithContext(ctx));
  *bytes = TreeBytes(extracted);
  const fs::path folder = options_.dir / IdFileName(job_id);
  RemoveTree(folder);  // a leftover of an earlier, evicted extraction
  std::error_code ec;
  fs::rename(extracted, folder, ec);
  if (ec) return ErrnoStatus(ctx + ": place " + folder.string(), ec.value());
  return Status::Ok();
}

void ArchivedOutputs::EvictLocked(const std::string& keep) {
  const TimePoint now = clock_.Now();
  while (total_bytes_ > options_.max_bytes) {
    auto victim = entries_.end();
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      if (it->first == keep || now - it->second.last_use < options_.min_idle) continue;
      if (victim == entries_.end() || it->second.seq < victim->second.seq) victim = it;
    }
    if (victim == entries_.end()) return;  // everything is in use: over the bound for now
    RemoveTree(options_.dir / victim->first);
    total_bytes_ -= victim->second.bytes;
    entries_.erase(victim);
    ++stats_.evictions;
  }
}

ArchivedOutputs::Stats ArchivedOutputs::GetStats() const {
  std::lock_guard<std::mutex> lock(mu_);
  Stats s = stats_;
  s.entries = static_cast<int64_t>(entries_.size());
  s.bytes = total_bytes_;
  return s;
}

}  // namespace weir::archive

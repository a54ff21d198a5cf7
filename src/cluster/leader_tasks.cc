#include "cluster/leader_tasks.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace weir::cluster {

namespace {

using Settings = std::vector<std::pair<std::string, std::string>>;

// A setting whose 0 turns the task's work off, as admin/tasks shows it: "0 (<zero_means>)".
std::string ZeroMeans(int64_t value, const char* zero_means) {
  return value == 0 ? "0 (" + std::string(zero_means) + ")" : std::to_string(value);
}

// What the cleanup tasks share: run every cleanup.interval_minutes, shown after `settings`.
LeaderTask CleanupTask(const char* name, Millis interval, Settings settings) {
  LeaderTask t;
  t.name = name;
  t.interval = interval;
  t.settings = std::move(settings);
  t.settings.emplace_back(
      "cleanup.interval_minutes",
      std::to_string(std::chrono::duration_cast<std::chrono::minutes>(interval).count()));
  return t;
}

}  // namespace

LeaderTask DatabaseCleanupTask(CleanupOptions options, std::shared_ptr<store::JobStore> jobs,
                               ArchiveRemover remove_archive, Clock& clock) {
  LeaderTask t = CleanupTask(
      kTaskDatabaseCleanup, options.interval,
      {{"cleanup.job_retention_days", ZeroMeans(options.job_retention_days, "keep every job")},
       {"cleanup.batch_size", std::to_string(options.batch_size)}});
  t.run = [options, jobs = std::move(jobs), remove_archive = std::move(remove_archive),
           &clock](const LeaderTask::Context& ctx) -> Status {
    if (options.job_retention_days <= 0) return Status::Ok();
    const TimePoint cutoff = clock.Now() - std::chrono::hours(24 * options.job_retention_days);
    int64_t total = 0;
    while (ctx.keep_going()) {
      Result<std::vector<model::JobRecord>> batch =
          jobs->DeleteFinishedJobs(cutoff, options.batch_size);
      if (!batch.ok()) return batch.status().WithContext("deleting old jobs");
      ctx.count("batches", 1);
      ctx.count("jobsDeleted", static_cast<int64_t>(batch->size()));
      total += static_cast<int64_t>(batch->size());
      for (const model::JobRecord& r : *batch) {
        if (!remove_archive) continue;
        Result<bool> removed = remove_archive(r);
        if (!removed.ok()) {
          ctx.count("archiveErrors", 1);
          spdlog::warn("database cleanup: job {}: its archive stays: {}", r.id,
                       removed.status().ToString());
        } else if (*removed) {
          ctx.count("archivesDeleted", 1);
        }
      }
      if (static_cast<int>(batch->size()) < options.batch_size) break;
    }
    if (total > 0) {
      spdlog::info("database cleanup: deleted {} jobs finished more than {} days ago", total,
                   options.job_retention_days);
    }
    return Status::Ok();
  };
  return t;
}

LeaderTask OrphanBlobCleanupTask(OrphanBlobOptions options, std::shared_ptr<blob::BlobStore> blobs,
                                 std::vector<BlobReferences> references, Clock& clock) {
  LeaderTask t = CleanupTask(
      kTaskOrphanBlobCleanup, options.interval,
      {{"cleanup.orphan_blob_grace_hours", ZeroMeans(options.grace_hours, "delete no blob")}});
  t.settings.emplace_back("blob backend", std::string(blobs->backend()));
  t.run = [options, blobs = std::move(blobs), references = std::move(references),
           &clock](const LeaderTask::Context& ctx) -> Status {
    if (options.grace_hours <= 0) return Status::Ok();
    const TimePoint cutoff = clock.Now() - std::chrono::hours(options.grace_hours);
    // 1. Every blob, page by page; only those written before the cutoff may go.
    const size_t kPage = std::max<size_t>(1, options.page_size);
    std::vector<blob::ListedBlob> old;
    int64_t listed = 0;
    std::string after;
    while (true) {
      if (!ctx.keep_going()) return Status::Ok();
      Result<std::vector<blob::ListedBlob>> page = blobs->List("", kPage, after);
      if (!page.ok()) return page.status().WithContext("listing blobs");
      listed += static_cast<int64_t>(page->size());
      for (blob::ListedBlob& b : *page) {
        if (b.modified < cutoff) old.push_back(b);
      }
      if (page->size() < kPage) break;
      after = page->back().key;
    }
    ctx.set("blobsListed", listed);
    // 2. What is referenced, read after the listing: a version committed before this read
    // protects its blob even if the blob was listed as old.
    std::set<std::string, std::less<>> referenced;
    for (const BlobReferences& source : references) {
      Result<std::vector<std::string>> keys = source.keys();
      if (!keys.ok()) return keys.status().WithContext("reading the blobs of " + source.what);
      referenced.insert(keys->begin(), keys->end());
    }
    ctx.set("blobsReferenced", static_cast<int64_t>(referenced.size()));
    // 3. Delete the old unreferenced ones, one by one while this node leads.
    int64_t deleted = 0, freed = 0, errors = 0;
    Status last_error;
    for (const blob::ListedBlob& b : old) {
      if (referenced.count(b.key)) continue;
      if (!ctx.keep_going()) break;
      // Read its time again: a Put of the same bytes since the listing makes it young.
      Result<std::vector<blob::ListedBlob>> again = blobs->List(b.key, 1);
      if (again.ok() && (again->empty() || again->front().modified >= cutoff)) continue;
      Status s = again.ok() ? blobs->Delete(b.key) : again.status();
      if (!s.ok()) {
        ++errors;
        ctx.count("deleteErrors", 1);
        last_error = s.WithContext("deleting orphan blob " + b.key);
        spdlog::warn("orphan blob cleanup: {}", last_error.ToString());
        continue;
      }
      ++deleted;
      freed += b.size;
      ctx.count("blobsDeleted", 1);
      ctx.count("bytesFreed", b.size);
    }
    spdlog::info(
        "orphan blob cleanup: {} blobs listed, {} referenced; deleted {} unreferenced blobs "
        "older than {} hours ({} bytes), {} errors",
        listed, referenced.size(), deleted, options.grace_hours, freed, errors);
    return last_error;
  };
  return t;
}

LeaderTask UserMetricsTask(UserMetricsOptions options, std::shared_ptr<store::JobStore> jobs,
                           metrics::GaugeFamily& active_jobs, metrics::GaugeFamily& memory_bytes) {
  LeaderTask t;
  t.name = kTaskUserMetrics;
  t.interval = options.interval;
  t.settings = {
      {"metrics.user_interval_seconds",
       std::to_string(std::chrono::duration_cast<std::chrono::seconds>(options.interval).count())},
      {"metrics.user_max_series", std::to_string(options.max_series)},
  };
  t.not_leading = [&active_jobs, &memory_bytes] {
    active_jobs.Clear();
    memory_bytes.Clear();
  };
  t.run = [options, jobs = std::move(jobs), &active_jobs,
           &memory_bytes](const LeaderTask::Context& ctx) -> Status {
    Result<std::vector<model::JobRecord>> active =
        jobs->JobsWithStatus({model::JobStatus::kInit, model::JobStatus::kRunning});
    if (!active.ok()) return active.status().WithContext("reading active jobs");
    struct Usage {
      int64_t jobs = 0;
      int64_t memory_mb = 0;
    };
    std::map<std::string, Usage> by_user;
    for (const model::JobRecord& r : *active) {
      Usage& u = by_user[r.request.user];
      ++u.jobs;
      u.memory_mb += r.execution.memory.value_or(0);
    }
    // The users with most active jobs keep their own series; ties by name, so the choice is
    // stable from one pass to the next.
    std::vector<std::pair<std::string, Usage>> ranked(by_user.begin(), by_user.end());
    std::stable_sort(ranked.begin(), ranked.end(),
                     [](const auto& a, const auto& b) { return a.second.jobs > b.second.jobs; });
    std::map<std::string, Usage> shown;
    int64_t others = 0;
    for (size_t i = 0; i < ranked.size(); ++i) {
      if (i < static_cast<size_t>(std::max(0, options.max_series))) {
        shown[ranked[i].first] = ranked[i].second;
      } else {
        Usage& o = shown[kOtherUsers];
        o.jobs += ranked[i].second.jobs;
        o.memory_mb += ranked[i].second.memory_mb;
        ++others;
      }
    }
    // Set the new values, then drop the series of users gone since the last pass (a scrape in
    // between sees every current user).
    for (const auto& [user, u] : shown) {
      active_jobs.With({user}).Set(static_cast<double>(u.jobs));
      memory_bytes.With({user}).Set(static_cast<double>(u.memory_mb) * 1024 * 1024);
    }
    std::vector<std::vector<std::string>> gone;
    active_jobs.ForEach([&](const std::vector<std::string>& labels, const metrics::Gauge&) {
      if (!shown.count(labels[0])) gone.push_back(labels);
    });
    for (const auto& labels : gone) {
      active_jobs.Remove(labels);
      memory_bytes.Remove(labels);
    }
    ctx.set("users", static_cast<int64_t>(by_user.size()));
    ctx.set("activeJobs", static_cast<int64_t>(active->size()));
    ctx.set("otherUsers", others);
    return Status::Ok();
  };
  return t;
}

}  // namespace weir::cluster

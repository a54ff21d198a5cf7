// Leadership tasks over the shared database (docs/scaling.md), added to a Node with
// Node::AddLeaderTask; they run on the leader only, so N servers do the work once.
//
// Database cleanup (Genie's DatabaseCleanupTask), every cleanup.interval_minutes: jobs in a final
// status whose finished time is older than cleanup.job_retention_days (0: keep every job) are
// deleted in batches of cleanup.batch_size, one transaction per batch
// (JobStore::DeleteFinishedJobs: the row, its tags, queue entry and search document), and then
// each deleted job's archive (ArchiveRemover). Jobs in INIT or RUNNING, or finished within the
// retention, are never touched. A pass goes on batch after batch until a batch comes back short
// or this node stops leading. Counters: jobsDeleted, batches, archivesDeleted, archiveErrors
// (an archive that could not be removed stays where it is and is logged; its job is gone).
// Events keep their own pruning (events.retention); workflow steps keep their job ids as history.
//
// Orphan blob cleanup, every cleanup.interval_minutes: blobs in the blob store that nothing
// durable references and that were last written more than cleanup.orphan_blob_grace_hours ago
// (0: never delete a blob) are deleted — the bytes of failed publishes and refused deploys. A
// pass lists every blob (page after page), keeps only those older than the grace period, THEN
// reads the reference set from every BlobReferences source (asset versions, workflow bundles),
// so a row committed before that read protects its blob; a publish still in progress wrote its
// blob within the grace period, or refreshed an old one's time (local backend), so it is young.
// Just before deleting, a blob's time is read again (a Put of the same bytes may have refreshed
// it). A source that fails ends the pass with its error and nothing deleted. The pass stops
// between deletions once this node stops leading. Counters: blobsDeleted, bytesFreed,
// deleteErrors (a blob that could not be deleted stays; the last such error is the task's
// lastError), and as of the last pass blobsListed and blobsReferenced. One log line per pass.
// With the local backend only the leader's blob folder is swept (shared by every node when it is
// on shared storage, as a cluster needs).
//
// User metrics (Genie's UserMetricsTask), every metrics.user_interval_seconds: the active (INIT
// or RUNNING) jobs of the whole cluster, read from the database, counted per user with the
// memory they asked for, set as the gauges weir_user_active_jobs{user} and
// weir_user_active_memory_bytes{user}. Each pass replaces the whole set: a user with no active
// job left has no series (it is removed, not set to 0). At most metrics.user_max_series users get
// their own series (those with the most active jobs, then by name); the others are summed under
// user="_other". A node that does not lead exposes none of these series, so summing them over
// the nodes counts each job once. Counters (as of the last pass): users, activeJobs, otherUsers.
//
// Time: the cutoff comes from the injected Clock. Thread-safety: a task's run is called from one
// thread at a time (its Node's task thread, or a test).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "blob/blob_store.h"
#include "cluster/cluster.h"
#include "common/clock.h"
#include "common/result.h"
#include "metrics/metrics.h"
#include "model/job.h"
#include "store/store.h"

namespace weir::cluster {

inline constexpr const char* kTaskDatabaseCleanup = "database-cleanup";
inline constexpr const char* kTaskUserMetrics = "user-metrics";
inline constexpr const char* kTaskOrphanBlobCleanup = "orphan-blob-cleanup";
// The user label of the users past metrics.user_max_series.
inline constexpr const char* kOtherUsers = "_other";

struct CleanupOptions {
  int64_t job_retention_days = 90;  // cleanup.job_retention_days; 0 keeps every job
  int batch_size = 1000;            // cleanup.batch_size
  Millis interval{60 * 60 * 1000};  // cleanup.interval_minutes
};

// Removes the archive of a deleted job: true when one was removed, false when there was none
// (archive::JobArchiver::RemoveJobArchive). Empty: archives are left alone.
using ArchiveRemover = std::function<Result<bool>(const model::JobRecord& deleted)>;

LeaderTask DatabaseCleanupTask(CleanupOptions options, std::shared_ptr<store::JobStore> jobs,
                               ArchiveRemover remove_archive, Clock& clock);

struct OrphanBlobOptions {
  int64_t grace_hours = 24;         // cleanup.orphan_blob_grace_hours; 0 deletes no blob
  Millis interval{60 * 60 * 1000};  // cleanup.interval_minutes
  size_t page_size = 1000;          // blobs per List call
};

// One kind of durable reference to blobs: `keys` returns every blob key it points at (all of
// them, or an error). The server's sources: "asset versions" (store::AssetStore::ReferencedBlobs)
// and "workflow bundles" (scheduler::Scheduler::ReferencedBlobs).
struct BlobReferences {
  std::string what;  // names the source in errors and logs
  std::function<Result<std::vector<std::string>>()> keys;
};

LeaderTask OrphanBlobCleanupTask(OrphanBlobOptions options, std::shared_ptr<blob::BlobStore> blobs,
                                 std::vector<BlobReferences> references, Clock& clock);

struct UserMetricsOptions {
  Millis interval{30 * 1000};  // metrics.user_interval_seconds
  int max_series = 1000;       // metrics.user_max_series
};

// `active_jobs` and `memory_bytes` are gauge families with the one label "user" (WeirMetrics's
// user_active_jobs and user_active_memory_bytes in the server; a test's own registry).
LeaderTask UserMetricsTask(UserMetricsOptions options, std::shared_ptr<store::JobStore> jobs,
                           metrics::GaugeFamily& active_jobs, metrics::GaugeFamily& memory_bytes);

}  // namespace weir::cluster

// This server as one node of a cluster of weir servers sharing one database (docs/scaling.md).
//
// A Node heartbeats into the NodeStore every heartbeat_interval (its advertised URL, running
// jobs, capacity and free memory), takes part in leader election, and runs the leadership tasks
// while it leads. Leadership is either static (leader.mode static: leader.static says whether
// this node leads; a single server leads by default) or a database lease (leader.mode database):
// the node renews the lease "leader" every third of lease_ttl; when it expires another node takes
// it over with the fencing token incremented. IsLeader() is false as soon as the lease this node
// last saw has expired by its clock, even if a renewal is overdue (a paused node never acts on a
// lease it may have lost); work done for the leader should carry FencingToken() so that a write
// of an old leader can be refused.
//
// The lost-node check (leader only, every lost_check_interval): a node that holds active jobs
// (execution.host_name; a host with no node row is not a node and is left alone) whose
// heartbeat is older than lost_stale_after is probed on its
// health endpoint; after lost_failures failed probes in a row (counted per distinct node, one per
// pass) its INIT and RUNNING jobs are recorded FAILED with kExitNodeLost ("node lost"). A fresh
// heartbeat or a good probe resets the count, so a node restarted within the threshold never
// loses its jobs.
//
// Time: decisions use the injected Clock; the loop thread waits in real time. Thread-safe.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "service/job_service.h"
#include "store/store.h"

namespace weir::cluster {

struct ClusterOptions {
  std::string node_id;        // server.node_id
  std::string advertise_url;  // server.advertise_url
  Millis heartbeat_interval{5000};
  std::string leader_mode = "static";  // "static" or "database"
  bool leader_static = true;           // leader.static (mode static)
  Millis lease_ttl{15000};             // leader.lease_ttl_ms (mode database)
  Millis lost_check_interval{10000};   // leader.lost_node.check_interval_ms
  Millis lost_stale_after{15000};      // leader.lost_node.stale_after_ms
  int lost_failures = 3;               // leader.lost_node.failures
  Millis health_timeout{2000};         // one health probe
  // false: no loop thread (tests call the passes themselves).
  bool background = true;
};

// What the rest of the server may ask about leadership (the scheduler runs only on the leader).
class Leadership {
 public:
  virtual ~Leadership() = default;
  virtual bool IsLeader() const = 0;
  // Grows with every change of leader (database mode); 0 while this node does not lead.
  virtual int64_t FencingToken() const = 0;
};

// True when the node at `base_url` answers its health endpoint (GET /admin/health) with 200.
using HealthProbe = std::function<bool(const std::string& base_url)>;
HealthProbe HttpHealthProbe(Millis timeout);

// The node's load, read for each heartbeat (JobService::Load()).
using LoadFn = std::function<service::ServiceLoad()>;

struct NodeView {
  store::NodeRecord node;
  bool leader = false;
  bool self = false;
  bool stale = false;  // heartbeat older than lost_stale_after
};

struct LeaderView {
  std::string mode;    // "static" or "database"
  std::string holder;  // the leading node ("" unknown: static mode on a non-leader)
  int64_t token = 0;
  std::optional<TimePoint> expires;  // database mode
  bool self = false;
};

struct TaskView {
  std::string name;
  bool leader_only = false;
  std::vector<std::pair<std::string, std::string>> settings;
  std::optional<TimePoint> last_run;
  int64_t runs = 0;
  std::map<std::string, int64_t> counters;
  std::string last_error;
};

// A leadership task another module provides (leader_tasks.h: the database cleanup, user
// metrics), added with Node::AddLeaderTask. It shows in Tasks() like the built-in ones.
struct LeaderTask {
  // What one pass may use.
  struct Context {
    // Adds `n` to the task's counter `counter` (shown in GET /api/weir/v1/admin/tasks).
    std::function<void(const std::string& counter, int64_t n)> count;
    // Sets the counter `counter` to `n` (a figure of the last pass rather than a running total).
    std::function<void(const std::string& counter, int64_t n)> set;
    // False once this node no longer leads or is stopping: a long pass stops between batches.
    std::function<bool()> keep_going;
  };
  std::string name;
  std::vector<std::pair<std::string, std::string>> settings;  // shown as given
  Millis interval{60000};
  // One pass, run only while this node leads. Its Status is the run's outcome (last_error).
  std::function<Status(const Context&)> run;
  // Optional: called at each interval while this node does not lead (user metrics drops the
  // gauges it set as leader, so only the leader exposes them).
  std::function<void()> not_leading;
};

class Node final : public Leadership {
 public:
  // kInvalidArgument for a bad leader mode or empty node id. Does one heartbeat and one election
  // before returning (a store failure there is returned), then starts the loop thread.
  static Result<std::unique_ptr<Node>> Start(ClusterOptions options,
                                             std::shared_ptr<store::NodeStore> nodes,
                                             std::shared_ptr<store::JobStore> jobs, LoadFn load,
                                             HealthProbe probe, Clock& clock);
  ~Node() override;
  void Stop();

  bool IsLeader() const override;
  int64_t FencingToken() const override;

  const ClusterOptions& options() const { return options_; }
  // The URL the next heartbeats advertise (the server knows its port only once it listens).
  void SetAdvertiseUrl(std::string url);
  Result<std::vector<NodeView>> Nodes();
  LeaderView Leader() const;
  std::vector<TaskView> Tasks() const;

  // The lease whose fencing token guards the leader's writes (SchedulerStore::CheckFence):
  // "leader" in database mode, "" in static mode (nothing to fence against).
  std::string FenceLease() const;

  // A leadership task run elsewhere (the scheduler) shown by Tasks(): AddTask once (a second
  // call for the same name is a no-op), then TaskRan after each run (last run, runs, errors)
  // and TaskCount to add to one of its counters.
  void AddTask(const std::string& name, bool leader_only,
               std::vector<std::pair<std::string, std::string>> settings);
  void TaskRan(const std::string& name, const Status& s) { Ran(name, s); }
  void TaskCount(const std::string& name, const std::string& counter, int64_t n) {
    Count(name, counter, n);
  }

  // One pass of each task (the loop runs them; tests call them).
  Status Heartbeat();
  Status Elect();
  // Leader only (a no-op returning 0 otherwise): returns how many jobs were recorded lost.
  Result<int> CheckLostNodes();

  // Adds a leadership task. With options().background it runs on a thread of its own (a long
  // cleanup never delays heartbeats or the lease renewal): the first pass right away, then every
  // task.interval. Stop() ends it. REQUIRES: task.name not taken, task.run set.
  void AddLeaderTask(LeaderTask task);
  // One pass of an added task: run when this node leads (true), else its not_leading hook
  // (false). kNotFound for an unknown name; the pass's own error otherwise.
  Result<bool> RunLeaderTask(const std::string& name);

 private:
  struct Task {
    TaskView view;
    std::shared_ptr<const LeaderTask> added;  // null for the built-in tasks
  };
  Node(ClusterOptions options, std::shared_ptr<store::NodeStore> nodes,
       std::shared_ptr<store::JobStore> jobs, LoadFn load, HealthProbe probe, Clock& clock);
  void Loop();
  void TaskLoop(std::shared_ptr<const LeaderTask> task);
  void Ran(const std::string& task, const Status& s);
  void Count(const std::string& task, const std::string& counter, int64_t n);

  ClusterOptions options_;
  std::shared_ptr<store::NodeStore> nodes_;
  std::shared_ptr<store::JobStore> jobs_;
  LoadFn load_;
  HealthProbe probe_;
  Clock& clock_;
  TimePoint started_;

  mutable std::mutex mu_;
  store::LeaseRecord lease_;             // GUARDED_BY(mu_) as last seen (database mode)
  bool leading_ = false;                 // GUARDED_BY(mu_) as logged
  std::map<std::string, int> failures_;  // GUARDED_BY(mu_) failed probes in a row, per node
  std::map<std::string, Task> tasks_;    // GUARDED_BY(mu_)
  std::string advertise_url_;            // GUARDED_BY(mu_)

  std::mutex loop_mu_;
  std::condition_variable loop_cv_;
  bool stopping_ = false;  // GUARDED_BY(loop_mu_)
  std::thread loop_;
  std::vector<std::thread> task_threads_;  // GUARDED_BY(loop_mu_) one per added task
};

}  // namespace weir::cluster

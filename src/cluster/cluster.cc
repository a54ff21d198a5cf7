#include "cluster/cluster.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <set>

#include "client/http_client.h"
#include "common/time_format.h"
#include "model/job.h"

namespace weir::cluster {

namespace {

constexpr const char* kLeaseName = "leader";
constexpr const char* kTaskHeartbeat = "heartbeat";
constexpr const char* kTaskElection = "leader-election";
constexpr const char* kTaskLostNodes = "lost-node-check";

std::string MillisSetting(Millis m) { return std::to_string(m.count()) + " ms"; }

}  // namespace

HealthProbe HttpHealthProbe(Millis timeout) {
  return [timeout](const std::string& base_url) {
    if (base_url.empty()) return false;
    client::HttpClient c(base_url, timeout);
    auto r = c.Get("/admin/health");
    return r.ok() && r->status == 200;
  };
}

Node::Node(ClusterOptions options, std::shared_ptr<store::NodeStore> nodes,
           std::shared_ptr<store::JobStore> jobs, LoadFn load, HealthProbe probe, Clock& clock)
    : options_(std::move(options)),
      nodes_(std::move(nodes)),
      jobs_(std::move(jobs)),
      load_(std::move(load)),
      probe_(std::move(probe)),
      clock_(clock),
      started_(clock.Now()),
      advertise_url_(options_.advertise_url) {
  auto add = [this](const char* name, bool leader_only,
                    std::vector<std::pair<std::string, std::string>> settings) {
    Task t;
    t.view.name = name;
    t.view.leader_only = leader_only;
    t.view.settings = std::move(settings);
    tasks_.emplace(name, std::move(t));
  };
  add(kTaskHeartbeat, false,
      {{"node.heartbeat_interval_ms", MillisSetting(options_.heartbeat_interval)}});
  if (options_.leader_mode == "database") {
    add(kTaskElection, false,
        {{"leader.mode", "database"}, {"leader.lease_ttl_ms", MillisSetting(options_.lease_ttl)}});
  } else {
    add(kTaskElection, false,
        {{"leader.mode", "static"}, {"leader.static", options_.leader_static ? "true" : "false"}});
  }
  add(kTaskLostNodes, true,
      {{"leader.lost_node.check_interval_ms", MillisSetting(options_.lost_check_interval)},
       {"leader.lost_node.stale_after_ms", MillisSetting(options_.lost_stale_after)},
       {"leader.lost_node.failures", std::to_string(options_.lost_failures)}});
}

Result<std::unique_ptr<Node>> Node::Start(ClusterOptions options,
                                          std::shared_ptr<store::NodeStore> nodes,
                                          std::shared_ptr<store::JobStore> jobs, LoadFn load,
                                          HealthProbe probe, Clock& clock) {
  if (options.node_id.empty()) return InvalidArgument("server.node_id: must not be empty");
  if (options.leader_mode != "static" && options.leader_mode != "database") {
    return InvalidArgument("leader.mode: '" + options.leader_mode + "' is not static or database");
  }
  if (options.leader_mode == "database" && options.lease_ttl.count() <= 0) {
    return InvalidArgument("leader.lease_ttl_ms: must be positive");
  }
  std::unique_ptr<Node> n(new Node(std::move(options), std::move(nodes), std::move(jobs),
                                   std::move(load), std::move(probe), clock));
  WEIR_RETURN_IF_ERROR(n->Heartbeat().WithContext("node heartbeat"));
  WEIR_RETURN_IF_ERROR(n->Elect().WithContext("leader election"));
  if (n->options_.background) n->loop_ = std::thread([p = n.get()] { p->Loop(); });
  return n;
}

Node::~Node() { Stop(); }

void Node::Stop() {
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(loop_mu_);
    stopping_ = true;
    threads.swap(task_threads_);
  }
  loop_cv_.notify_all();
  if (loop_.joinable()) loop_.join();
  for (std::thread& t : threads) t.join();
}

void Node::AddLeaderTask(LeaderTask task) {
  auto shared = std::make_shared<const LeaderTask>(std::move(task));
  {
    std::lock_guard lock(mu_);
    Task t;
    t.view.name = shared->name;
    t.view.leader_only = true;
    t.view.settings = shared->settings;
    t.added = shared;
    const bool inserted = tasks_.emplace(shared->name, std::move(t)).second;
    if (!inserted) {
      spdlog::critical("cluster: leadership task '{}' added twice", shared->name);
      std::abort();
    }
  }
  if (!options_.background) return;
  std::lock_guard lock(loop_mu_);
  if (stopping_) return;
  task_threads_.emplace_back([this, shared] { TaskLoop(shared); });
}

Result<bool> Node::RunLeaderTask(const std::string& name) {
  std::shared_ptr<const LeaderTask> task;
  {
    std::lock_guard lock(mu_);
    auto it = tasks_.find(name);
    if (it == tasks_.end() || it->second.added == nullptr) {
      return NotFound("leadership task '" + name + "': not found");
    }
    task = it->second.added;
  }
  if (!IsLeader()) {
    if (task->not_leading) task->not_leading();
    return false;
  }
  LeaderTask::Context ctx;
  ctx.count = [this, name](const std::string& counter, int64_t n) { Count(name, counter, n); };
  ctx.set = [this, name](const std::string& counter, int64_t n) {
    std::lock_guard lock(mu_);
    auto it = tasks_.find(name);
    if (it != tasks_.end()) it->second.view.counters[counter] = n;
  };
  ctx.keep_going = [this] {
    {
      std::lock_guard lock(loop_mu_);
      if (stopping_) return false;
    }
    return IsLeader();
  };
  Status s = task->run(ctx);
  Ran(name, s);
  if (!s.ok()) return s;
  return true;
}

void Node::TaskLoop(std::shared_ptr<const LeaderTask> task) {
  using Steady = std::chrono::steady_clock;
  const Millis every = std::max(Millis(1), task->interval);
  Steady::time_point next = Steady::now();
  std::unique_lock lock(loop_mu_);
  while (!stopping_) {
    if (loop_cv_.wait_until(lock, next, [this] { return stopping_; })) break;
    lock.unlock();
    auto r = RunLeaderTask(task->name);
    if (!r.ok()) spdlog::warn("{}: {}", task->name, r.status().ToString());
    next = Steady::now() + every;
    lock.lock();
  }
}

bool Node::IsLeader() const {
  if (options_.leader_mode == "static") return options_.leader_static;
  std::lock_guard lock(mu_);
  return lease_.holder == options_.node_id && clock_.Now() < lease_.expires;
}

int64_t Node::FencingToken() const {
  if (options_.leader_mode == "static") return options_.leader_static ? 1 : 0;
  std::lock_guard lock(mu_);
  return lease_.holder == options_.node_id && clock_.Now() < lease_.expires ? lease_.token : 0;
}

void Node::Ran(const std::string& task, const Status& s) {
  std::lock_guard lock(mu_);
  auto it = tasks_.find(task);
  if (it == tasks_.end()) return;
  it->second.view.last_run = clock_.Now();
  ++it->second.view.runs;
  if (!s.ok()) {
    it->second.view.last_error = s.ToString();
    ++it->second.view.counters["errors"];
  }
}

void Node::Count(const std::string& task, const std::string& counter, int64_t n) {
  std::lock_guard lock(mu_);
  auto it = tasks_.find(task);
  if (it != tasks_.end()) it->second.view.counters[counter] += n;
}

std::string Node::FenceLease() const {
  return options_.leader_mode == "database" ? kLeaseName : "";
}

void Node::AddTask(const std::string& name, bool leader_only,
                   std::vector<std::pair<std::string, std::string>> settings) {
  std::lock_guard lock(mu_);
  if (tasks_.count(name)) return;
  Task t;
  t.view.name = name;
  t.view.leader_only = leader_only;
  t.view.settings = std::move(settings);
  tasks_.emplace(name, std::move(t));
}

void Node::SetAdvertiseUrl(std::string url) {
  std::lock_guard lock(mu_);
  advertise_url_ = std::move(url);
}

Status Node::Heartbeat() {
  store::NodeRecord r;
  r.id = options_.node_id;
  {
    std::lock_guard lock(mu_);
    r.url = advertise_url_;
  }
  r.started = started_;
  r.heartbeat = clock_.Now();
  const service::ServiceLoad load = load_ ? load_() : service::ServiceLoad{};
  r.running_jobs = load.running;
  r.capacity_mb = load.capacity_mb;
  r.free_memory_mb =
      load.capacity_mb <= 0 ? -1 : std::max<int64_t>(0, load.capacity_mb - load.used_memory_mb);
  Status s = nodes_->PutNode(r);
  Ran(kTaskHeartbeat, s);
  if (!s.ok()) spdlog::warn("node {}: heartbeat failed: {}", options_.node_id, s.ToString());
  return s;
}

Status Node::Elect() {
  if (options_.leader_mode == "static") {
    // The configured leader publishes itself in the lease row (for admin/nodes on every node);
    // the others only read it.
    Result<store::LeaseRecord> l =
        options_.leader_static ? nodes_->AcquireLease(kLeaseName, options_.node_id, clock_.Now(),
                                                      3 * options_.heartbeat_interval)
                               : nodes_->GetLease(kLeaseName);
    Ran(kTaskElection, l.status());
    if (!l.ok()) return l.status();
    bool first;
    {
      std::lock_guard lock(mu_);
      lease_ = *l;
      first = !leading_ && options_.leader_static;
      leading_ = options_.leader_static;
    }
    if (first) spdlog::info("leadership: node {} leads (leader.mode static)", options_.node_id);
    if (options_.leader_static && l->holder != options_.node_id) {
      spdlog::warn(
          "leadership: node {} is configured to lead (leader.static) but node {} "
          "leads too; give leader.static true to one node only",
          options_.node_id, l->holder);
    }
    return Status::Ok();
  }
  auto l = nodes_->AcquireLease(kLeaseName, options_.node_id, clock_.Now(), options_.lease_ttl);
  Ran(kTaskElection, l.status());
  if (!l.ok()) {
    spdlog::warn("leadership: node {}: renewing the lease failed: {}", options_.node_id,
                 l.status().ToString());
    return l.status();
  }
  bool was, is;
  {
    std::lock_guard lock(mu_);
    lease_ = *l;
    was = leading_;
    is = l->holder == options_.node_id;
    leading_ = is;
  }
  if (is && !was) {
    Count(kTaskElection, "takeovers", 1);
    spdlog::info("leadership: node {} now leads (fencing token {}, lease until {})",
                 options_.node_id, l->token, FormatIso8601(l->expires));
  } else if (!is && was) {
    spdlog::warn("leadership: node {} lost the lead to node {} (fencing token {})",
                 options_.node_id, l->holder, l->token);
  }
  return Status::Ok();
}

Result<int> Node::CheckLostNodes() {
  if (!IsLeader()) return 0;
  const TimePoint now = clock_.Now();
  auto finish = [this](const Status& s) {
    Ran(kTaskLostNodes, s);
    return s;
  };
  auto active = jobs_->JobsWithStatus({model::JobStatus::kInit, model::JobStatus::kRunning});
  if (!active.ok()) return finish(active.status());
  auto all = nodes_->ListNodes();
  if (!all.ok()) return finish(all.status());
  std::map<std::string, store::NodeRecord> by_id;
  for (auto& n : *all) by_id.emplace(n.id, n);
  // Distinct nodes holding active jobs (each counted once per pass: Genie's #1065).
  std::map<std::string, std::vector<model::JobRecord*>> held;
  for (auto& r : *active) {
    const std::string& owner = r.execution.host_name;
    if (owner.empty() || owner == options_.node_id) continue;
    held[owner].push_back(&r);
  }
  int lost_jobs = 0;
  int64_t probes = 0;
  std::vector<std::string> lost;
  for (const auto& [owner, jobs] : held) {
    // A host that never heartbeated is no node of this cluster (a local-mode runner's machine, a
    // record of an older weir): not ours to declare lost.
    auto it = by_id.find(owner);
    if (it == by_id.end()) continue;
    const bool fresh = now - it->second.heartbeat <= options_.lost_stale_after;
    bool healthy = fresh;
    if (!fresh && probe_) {
      ++probes;
      healthy = probe_(it->second.url);
    }
    int failures;
    {
      std::lock_guard lock(mu_);
      failures = healthy ? 0 : ++failures_[owner];
      if (healthy) failures_.erase(owner);
    }
    if (healthy) continue;
    spdlog::warn(
        "lost-node check: node {} has no heartbeat since {} and failed its health check "
        "({} of {})",
        owner, FormatIso8601(it->second.heartbeat), failures, options_.lost_failures);
    if (failures < options_.lost_failures) continue;
    for (model::JobRecord* r : jobs) {
      model::JobRecord rec = *r;
      rec.job.status = model::JobStatus::kFailed;
      rec.job.status_msg = "Job failed: node lost ('" + owner +
                           "' stopped heartbeating and failed " + std::to_string(failures) +
                           " health checks in a row)";
      rec.job.finished = now;
      rec.updated = now;
      rec.execution.exit_code = model::kExitNodeLost;
      Status s = jobs_->UpdateJob(rec);
      if (s.ok()) {
        ++lost_jobs;
        spdlog::warn("job {}: FAILED, its node {} was lost", rec.id, owner);
      } else if (s.code() != StatusCode::kFailedPrecondition) {  // ended meanwhile: fine
        spdlog::error("job {}: recording the loss of node {} failed: {}", rec.id, owner,
                      s.ToString());
      }
    }
    lost.push_back(owner);
  }
  {
    std::lock_guard lock(mu_);
    for (const auto& owner : lost) failures_.erase(owner);
    // Nodes without active jobs are not watched.
    for (auto it = failures_.begin(); it != failures_.end();) {
      it = held.count(it->first) ? std::next(it) : failures_.erase(it);
    }
  }
  Count(kTaskLostNodes, "probes", probes);
  Count(kTaskLostNodes, "lostNodes", static_cast<int64_t>(lost.size()));
  Count(kTaskLostNodes, "lostJobs", lost_jobs);
  finish(Status::Ok());
  return lost_jobs;
}

Result<std::vector<NodeView>> Node::Nodes() {
  WEIR_ASSIGN_OR_RETURN(std::vector<store::NodeRecord> all, nodes_->ListNodes());
  const LeaderView leader = Leader();
  const TimePoint now = clock_.Now();
  std::vector<NodeView> out;
  for (auto& n : all) {
    NodeView v;
    v.self = n.id == options_.node_id;
    v.leader = !leader.holder.empty() && n.id == leader.holder;
    v.stale = now - n.heartbeat > options_.lost_stale_after;
    v.node = std::move(n);
    out.push_back(std::move(v));
  }
  return out;
}

LeaderView Node::Leader() const {
  LeaderView v;
  v.mode = options_.leader_mode;
  v.self = IsLeader();
  if (options_.leader_mode == "static" && options_.leader_static) {
    v.holder = options_.node_id;
    v.token = 1;
    return v;
  }
  std::lock_guard lock(mu_);
  if (clock_.Now() < lease_.expires) v.holder = lease_.holder;
  v.token = lease_.token;
  if (!lease_.holder.empty()) v.expires = lease_.expires;
  return v;
}

std::vector<TaskView> Node::Tasks() const {
  std::lock_guard lock(mu_);
  std::vector<TaskView> out;
  for (const auto& [name, t] : tasks_) out.push_back(t.view);
  return out;
}

void Node::Loop() {
  using Steady = std::chrono::steady_clock;
  // Static mode re-reads (or, leading, re-publishes) the lease row at the heartbeat's pace.
  const Millis elect_every = options_.leader_mode == "database"
                                 ? std::max(Millis(50), options_.lease_ttl / 3)
                                 : options_.heartbeat_interval;
  Steady::time_point next_beat = Steady::now() + options_.heartbeat_interval;
  Steady::time_point next_elect = Steady::now() + elect_every;
  Steady::time_point next_check = Steady::now() + options_.lost_check_interval;
  std::unique_lock lock(loop_mu_);
  while (!stopping_) {
    Steady::time_point next = std::min(next_beat, next_check);
    next = std::min(next, next_elect);
    if (loop_cv_.wait_until(lock, next, [this] { return stopping_; })) break;
    lock.unlock();
    const Steady::time_point now = Steady::now();
    if (now >= next_elect) {
      (void)Elect();
      next_elect = Steady::now() + elect_every;
    }
    if (now >= next_beat) {
      (void)Heartbeat();
      next_beat = Steady::now() + options_.heartbeat_interval;
    }
    if (now >= next_check) {
      auto r = CheckLostNodes();
      if (!r.ok()) spdlog::warn("lost-node check: {}", r.status().ToString());
      next_check = Steady::now() + options_.lost_check_interval;
    }
    lock.lock();
  }
}

}  // namespace weir::cluster

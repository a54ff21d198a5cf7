#include "service/event_hub.h"

#include <boost/json.hpp>
#include <utility>

#include "common/time_format.h"

namespace weir::service {

namespace json = boost::json;

namespace {

json::value OptString(const std::optional<std::string>& s) {
  return s ? json::value(*s) : json::value(nullptr);
}

json::value OptTime(const std::optional<TimePoint>& t) {
  return t ? json::value(FormatIso8601(*t)) : json::value(nullptr);
}

json::array Strings(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.emplace_back(s);
  return a;
}

// The request fields Genie 4's JOB_FINISHED notification carries.
json::object RequestJson(const model::JobRecord& r) {
  const model::JobRequest& q = r.request;
  json::object o;
  o["name"] = q.name;
  o["user"] = q.user;
  o["version"] = q.version;
  o["description"] = OptString(q.description);
  o["tags"] = Strings(q.tags);
  o["commandArgs"] = model::EffectiveCommandArgs(q);
  json::array clusters;
  for (const auto& c : q.cluster_criterias) {
    json::object cc;
    cc["tags"] = Strings(c.tags);
    clusters.push_back(std::move(cc));
  }
  o["clusterCriterias"] = std::move(clusters);
  o["commandCriteria"] = Strings(q.command_criteria);
  o["grouping"] = OptString(q.grouping);
  o["groupingInstance"] = OptString(q.grouping_instance);
  o["timeout"] = q.timeout ? json::value(*q.timeout) : json::value(nullptr);
  return o;
}

store::EventRecord Base(std::string_view type, const model::JobRecord& r, TimePoint now) {
  store::EventRecord e;
  e.type = std::string(type);
  e.time = now;
  e.job_id = r.id;
  e.user = r.request.user;
  e.grouping = r.request.grouping.value_or("");
  return e;
}

}  // namespace

store::JobEventsFn JobEvents(Clock& clock) {
  return [&clock](std::optional<model::JobStatus> from, const model::JobRecord& r) {
    const TimePoint now = clock.Now();
    std::vector<store::EventRecord> out;
    {
      store::EventRecord e = Base(kJobStatusChange, r, now);
      json::object o;
      o["type"] = e.type;
      o["timestamp"] = FormatIso8601(now);
      o["jobId"] = r.id;
      o["fromState"] = from ? json::value(model::JobStatusName(*from)) : json::value(nullptr);
      o["toState"] = model::JobStatusName(r.job.status);
      o["statusMessage"] = r.job.status_msg;
      o["user"] = r.request.user;
      o["grouping"] = OptString(r.request.grouping);
      o["groupingInstance"] = OptString(r.request.grouping_instance);
      e.data = json::serialize(o);
      out.push_back(std::move(e));
    }
    if (!model::IsActive(r.job.status)) {
      store::EventRecord e = Base(kJobFinished, r, now);
      json::object o;
      o["type"] = e.type;
      o["timestamp"] = FormatIso8601(now);
      o["jobId"] = r.id;
      o["status"] = model::JobStatusName(r.job.status);
      o["statusMessage"] = r.job.status_msg;
      o["request"] = RequestJson(r);
      o["created"] = FormatIso8601(r.created);
      o["started"] = OptTime(r.job.started);
      o["finished"] = OptTime(r.job.finished);
      o["exitCode"] =
          r.execution.exit_code ? json::value(*r.execution.exit_code) : json::value(nullptr);
      o["archiveLocation"] = OptString(r.job.archive_location);
      json::object cluster;
      cluster["id"] = r.job.cluster_id;
      cluster["name"] = r.job.cluster_name;
      o["cluster"] = r.job.cluster_id.empty() ? json::value(nullptr) : json::value(cluster);
      json::object command;
      command["id"] = r.job.command_id;
      command["name"] = r.job.command_name;
      o["command"] = r.job.command_id.empty() ? json::value(nullptr) : json::value(command);
      o["applications"] = Strings(r.job.application_ids);
      e.data = json::serialize(o);
      out.push_back(std::move(e));
    }
    return out;
  };
}

std::string EventJson(const store::EventRecord& e) {
  std::string out = "{\"id\":" + std::to_string(e.id);
  if (e.data.size() > 2 && e.data.front() == '{') {
    out += ",";
    out.append(e.data, 1);
  } else {
    out += "}";
  }
  return out;
}

// ---- subscriptions ----

std::vector<store::EventRecord> EventHub::Subscription::Take() {
  std::lock_guard lock(mu_);
  std::vector<store::EventRecord> out(std::make_move_iterator(buffer_.begin()),
                                      std::make_move_iterator(buffer_.end()));
  buffer_.clear();
  return out;
}

bool EventHub::Subscription::overflowed() {
  std::lock_guard lock(mu_);
  return overflowed_;
}

void EventHub::Subscription::SetWakeup(std::function<void()> wake) {
  std::function<void()> now;
  {
    std::lock_guard lock(mu_);
    wake_ = std::move(wake);
    if (!buffer_.empty() || overflowed_) now = wake_;
  }
  if (now) now();
}

void EventHub::Subscription::Offer(const store::EventRecord& e) {
  if (e.id <= start_id_ || !filter_.Matches(e)) return;
  std::function<void()> wake;
  {
    std::lock_guard lock(mu_);
    if (overflowed_) return;
    if (buffer_.size() >= cap_) {
      overflowed_ = true;
    } else {
      buffer_.push_back(e);
    }
    wake = wake_;
  }
  if (wake) wake();
}

// ---- the hub ----

Result<std::shared_ptr<EventHub>> EventHub::Create(std::shared_ptr<store::EventStore> store,
                                                   EventHubOptions options) {
  if (options.subscriber_buffer < 1) options.subscriber_buffer = 1;
  std::shared_ptr<EventHub> hub(new EventHub(store, options));
  std::weak_ptr<EventHub> weak = hub;
  WEIR_ASSIGN_OR_RETURN(int64_t last, store->SetEventListener([weak](const store::EventRecord& e) {
    if (auto h = weak.lock()) h->OnEvent(e);
  }));
  std::lock_guard lock(hub->mu_);
  hub->last_id_ = std::max(hub->last_id_, last);
  return hub;
}

void EventHub::OnEvent(const store::EventRecord& e) {
  std::vector<std::shared_ptr<Subscription>> live;
  {
    std::lock_guard lock(mu_);
    last_id_ = std::max(last_id_, e.id);
    live.reserve(subscribers_.size());
    std::erase_if(subscribers_, [&](const std::weak_ptr<Subscription>& w) {
      auto s = w.lock();
      if (!s) return true;
      live.push_back(std::move(s));
      return false;
    });
  }
  // Outside mu_, but still under the store's lock: events reach each subscriber in id order.
  for (auto& s : live) s->Offer(e);
}

std::shared_ptr<EventHub::Subscription> EventHub::Subscribe(store::EventFilter filter) {
  std::lock_guard lock(mu_);
  std::shared_ptr<Subscription> s(
      new Subscription(std::move(filter), last_id_, options_.subscriber_buffer));
  subscribers_.push_back(s);
  return s;
}

Result<int64_t> EventHub::Append(store::EventRecord e) { return store_->AppendEvent(e); }

int64_t EventHub::last_id() {
  std::lock_guard lock(mu_);
  return last_id_;
}

}  // namespace weir::service

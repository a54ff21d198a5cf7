// The event hub: the store's event log (store.h EventStore) told live to its subscribers.
//
// Job events are written by the JobStore in the transaction of the job write that causes them
// (JobEvents() below builds them); other modules append theirs through Append(). Once an event
// is durable the store hands it to the hub, which copies it into the bounded buffer of every
// subscriber whose filter it matches and wakes that subscriber. Nothing here ever waits for a
// subscriber: a subscriber whose buffer is full is marked overflowed and gets no more events
// (its reader tells the client to resume from its last id), so slow readers never hold up a
// job's status change.
//
// Thread-safe. Subscriptions may be taken and dropped from any thread.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "store/store.h"

namespace weir::service {

// Event type names (docs/api.md, "Events").
inline constexpr std::string_view kJobStatusChange = "JOB_STATUS_CHANGE";
inline constexpr std::string_view kJobFinished = "JOB_FINISHED";
// Written by the scheduler (scheduler/events.cc) and, for assets, by the server from the
// registry's publish callback.
inline constexpr std::string_view kWorkflowInstanceChange = "WORKFLOW_INSTANCE_CHANGE";
inline constexpr std::string_view kWorkflowStepChange = "WORKFLOW_STEP_CHANGE";
inline constexpr std::string_view kWorkflowDeployed = "WORKFLOW_DEPLOYED";
inline constexpr std::string_view kWorkflowActivated = "WORKFLOW_ACTIVATED";
inline constexpr std::string_view kAssetPublished = "ASSET_PUBLISHED";

// The JobEventsFn the server gives the JobStore: JOB_STATUS_CHANGE for every status change
// (fromState null when the job is created), and JOB_FINISHED with the job's request, times,
// exit code, archive location, cluster, command and applications when it becomes final.
store::JobEventsFn JobEvents(Clock& clock);

// The data of an event as a client receives it: `e.data` with "id" first.
std::string EventJson(const store::EventRecord& e);

struct EventHubOptions {
  // Events buffered per subscriber; one more and it is overflowed (events.subscriber_buffer).
  size_t subscriber_buffer = 10000;
};

class EventHub {
 public:
  // A live feed of the events after start_id() that match its filter.
  class Subscription {
   public:
    // Events before or at start_id() are in the store; every later match comes through Take().
    int64_t start_id() const { return start_id_; }
    // Takes the buffered events (id ascending).
    std::vector<store::EventRecord> Take();
    // True once the buffer was full when an event came: events after the buffered ones were
    // dropped; the reader must end and have its client resume from the last id it sent.
    bool overflowed();
    // `wake` is called (from any thread, possibly under the store's lock: it must only post or
    // notify) whenever events were added or the subscription overflowed. Calls it at once
    // when events are already waiting.
    void SetWakeup(std::function<void()> wake);
    const store::EventFilter& filter() const { return filter_; }

   private:
    friend class EventHub;
    Subscription(store::EventFilter f, int64_t start, size_t cap)
        : filter_(std::move(f)), start_id_(start), cap_(cap) {}
    void Offer(const store::EventRecord& e);

    const store::EventFilter filter_;
    const int64_t start_id_;
    const size_t cap_;
    std::mutex mu_;
    std::deque<store::EventRecord> buffer_;  // GUARDED_BY(mu_)
    bool overflowed_ = false;                // GUARDED_BY(mu_)
    std::function<void()> wake_;             // GUARDED_BY(mu_)
  };

  // Becomes the store's event listener.
  static Result<std::shared_ptr<EventHub>> Create(std::shared_ptr<store::EventStore> store,
                                                  EventHubOptions options);

  // A new subscription; it ends when the last reference is dropped.
  std::shared_ptr<Subscription> Subscribe(store::EventFilter filter);
  // Appends an event that is not a job's (workflow, deployment, asset...) to the log.
  Result<int64_t> Append(store::EventRecord e);
  store::EventStore& store() { return *store_; }
  int64_t last_id();

 private:
  explicit EventHub(std::shared_ptr<store::EventStore> store, EventHubOptions options)
      : store_(std::move(store)), options_(options) {}
  void OnEvent(const store::EventRecord& e);

  std::shared_ptr<store::EventStore> store_;
  const EventHubOptions options_;
  std::mutex mu_;
  int64_t last_id_ = 0;                                   // GUARDED_BY(mu_)
  std::vector<std::weak_ptr<Subscription>> subscribers_;  // GUARDED_BY(mu_)
};

}  // namespace weir::service

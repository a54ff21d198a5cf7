// A small Prometheus exposition layer: counters, gauges and histograms with labels, kept in a
// Registry and rendered in the text format 0.0.4 (what `GET /metrics` answers).
//
// A family is one metric name with fixed label names; each distinct tuple of label values is a
// child (a Counter, Gauge or Histogram) made on first use by With() and kept for the life of the
// family (never removed, except by Clear() or Remove() of a gauge family that a collector
// refills). Label
// values must come from bounded sets (route patterns, statuses, user names): every tuple ever
// used stays in the output.
//
// Threading: everything is thread-safe. Updating a child is lock-free (atomics); With() takes
// one of 16 shard mutexes picked by the labels' hash, never a lock over the whole registry, so a
// hot path may call it per event or keep the returned reference (valid until Clear()).
// Render() runs the collectors and writes a snapshot; concurrent updates land in it or in the
// next one (a histogram's _count always equals its +Inf bucket).
//
// Misuse (a bad metric or label name, the wrong number of label values, one name registered with
// two types or label sets) is a programming error and aborts with a message.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace weir::metrics {

// A value that only goes up (requests served, jobs finished).
class Counter {
 public:
  // `v` must be ≥ 0 (a negative one is ignored).
  void Inc(double v = 1) {
    if (v >= 0) value_.fetch_add(v, std::memory_order_relaxed);
  }
  double Value() const { return value_.load(std::memory_order_relaxed); }
  // For a total kept elsewhere (the dependency cache's hit count): a collector copies it here
  // before each render. Never lower it.
  void SetTotal(double v) { value_.store(v, std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// A value that goes up and down (queue length, memory in use).
class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double v) { value_.fetch_add(v, std::memory_order_relaxed); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Observations counted into buckets with upper bounds (inclusive: an observation equal to a
// bound is counted in that bound's bucket, `le` = "less or equal"), plus their sum and count.
class Histogram {
 public:
  // `bounds` strictly increasing and finite; the +Inf bucket is implicit.
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);

  struct Snapshot {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative;  // per bound, then +Inf (so bounds.size() + 1 entries)
    double sum = 0;
    uint64_t count = 0;  // == cumulative.back()
  };
  Snapshot Read() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_.size() + 1, not cumulative
  std::atomic<double> sum_{0};
};

// Bucket bounds in seconds for request and operation latencies: 1 ms … 10 s.
std::vector<double> LatencyBuckets();

enum class Type { kCounter, kGauge, kHistogram };

// What every family shares: the name, help, label names, and rendering.
class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, std::vector<std::string> label_names, Type type);
  virtual ~FamilyBase() = default;
  const std::string& name() const { return name_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  Type type() const { return type_; }
  // Appends the HELP and TYPE lines and every child's samples, children in label-value order.
  void Render(std::string& out) const;

 protected:
  static constexpr size_t kShards = 16;
  size_t ShardOf(const std::vector<std::string>& values) const;
  void CheckArity(size_t n) const;
  // Appends the samples of every child of one shard as (label values, child) pairs.
  virtual void RenderChildren(std::string& out) const = 0;

  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
  Type type_;
};

// One metric name and its children of type T.
template <typename T>
class Family : public FamilyBase {
 public:
  Family(std::string name, std::string help, std::vector<std::string> label_names, Type type,
         std::vector<double> bounds = {})
      : FamilyBase(std::move(name), std::move(help), std::move(label_names), type),
        bounds_(std::move(bounds)) {
    if (label_names_.empty()) With({});  // an unlabelled metric shows 0 from the start
  }

  // The child for these label values (as many as label names, in their order), made on first
  // use. The reference stays valid until Clear().
  T& With(const std::vector<std::string>& values) {
    CheckArity(values.size());
    Shard& s = shards_[ShardOf(values)];
    std::lock_guard lock(s.mu);
    auto it = s.children.find(values);
    if (it == s.children.end()) it = s.children.emplace(values, Make()).first;
    return *it->second;
  }

  // Drops every child (for gauges a collector sets afresh before each render: users who have
  // no running job disappear). References from With() are invalid afterwards.
  void Clear() {
    for (Shard& s : shards_) {
      std::lock_guard lock(s.mu);
      s.children.clear();
    }
    if (label_names_.empty()) With({});
  }

  // Drops the child of these label values, if any (a collector's series that has no value any
  // more). References from With() to it are invalid afterwards.
  void Remove(const std::vector<std::string>& values) {
    CheckArity(values.size());
    Shard& s = shards_[ShardOf(values)];
    std::lock_guard lock(s.mu);
    s.children.erase(values);
  }

  // (label values, child) in label-value order; for rendering and tests.
  template <typename F>
  void ForEach(F&& f) const {
    std::map<std::vector<std::string>, const T*> sorted;
    for (const Shard& s : shards_) {
      std::lock_guard lock(s.mu);
      for (const auto& [k, v] : s.children) sorted.emplace(k, v.get());
    }
    for (const auto& [k, v] : sorted) f(k, *v);
  }

 protected:
  void RenderChildren(std::string& out) const override;

 private:
  std::unique_ptr<T> Make() const {
    if constexpr (std::is_same_v<T, Histogram>) {
      return std::make_unique<T>(bounds_);
    } else {
      return std::make_unique<T>();
    }
  }
  struct Shard {
    mutable std::mutex mu;
    std::map<std::vector<std::string>, std::unique_ptr<T>> children;  // GUARDED_BY(mu)
  };
  std::vector<double> bounds_;
  std::array<Shard, kShards> shards_;
};

template <>
void Family<Counter>::RenderChildren(std::string& out) const;
template <>
void Family<Gauge>::RenderChildren(std::string& out) const;
template <>
void Family<Histogram>::RenderChildren(std::string& out) const;

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

// A set of families rendered together. Families live as long as the registry.
class Registry {
 public:
  // Registers a family, or returns the one already registered under `name` (it must have the
  // same type and label names). Names: [a-zA-Z_:][a-zA-Z0-9_:]*; label names
  // [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__"; a histogram may not use the label "le".
  CounterFamily& AddCounter(std::string name, std::string help,
                            std::vector<std::string> label_names = {});
  GaugeFamily& AddGauge(std::string name, std::string help,
                        std::vector<std::string> label_names = {});
  HistogramFamily& AddHistogram(std::string name, std::string help,
                                std::vector<std::string> label_names, std::vector<double> bounds);

  // A function Render() calls first, each time (it sets gauges read from elsewhere: queue length,
  // cache statistics, process figures). Returns an id for RemoveCollector.
  int AddCollector(std::function<void()> collect);
  // After it returns, the collector is not running and never runs again.
  void RemoveCollector(int id);

  // The text exposition format 0.0.4, families in name order. Renders run one at a time.
  std::string Render();

 private:
  template <typename T>
  Family<T>& Add(std::string name, std::string help, std::vector<std::string> label_names,
                 Type type, std::vector<double> bounds);

  std::mutex families_mu_;
  std::map<std::string, std::unique_ptr<FamilyBase>> families_;  // GUARDED_BY(families_mu_)
  std::mutex render_mu_;                             // one render (and collector change) at a time
  std::map<int, std::function<void()>> collectors_;  // GUARDED_BY(render_mu_)
  int next_collector_ = 1;                           // GUARDED_BY(render_mu_)
};

// The process's registry, which weir's modules record into (metrics/weir_metrics.h names them).
Registry& DefaultRegistry();

// The Content-Type of Render()'s output.
inline constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

// Text format escaping: a label value escapes \, " and newline; HELP text escapes \ and newline.
std::string EscapeLabelValue(std::string_view v);
std::string EscapeHelp(std::string_view v);
// A sample value: integers without a fraction, others in the shortest form that reads back
// exactly, "+Inf", "-Inf", "NaN".
std::string FormatValue(double v);

}  // namespace weir::metrics

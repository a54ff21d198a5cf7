#include "metrics/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>

namespace weir::metrics {

namespace {

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "metrics: %s\n", message.c_str());
  std::abort();
}

bool ValidName(std::string_view n, bool colon_allowed) {
  if (n.empty()) return false;
  for (size_t i = 0; i < n.size(); ++i) {
    const char c = n[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                    (colon_allowed && c == ':') || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

// Appends `{a="x",b="y"}` (or nothing without labels); `extra` is one more pair (the le of a
// histogram bucket) when its name is not empty.
void AppendLabels(std::string& out, const std::vector<std::string>& names,
                  const std::vector<std::string>& values, std::string_view extra_name = {},
                  std::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) return;
  out += '{';
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ',';
    out += names[i];
    out += "=\"";
    out += EscapeLabelValue(values[i]);
    out += '"';
  }
  if (!extra_name.empty()) {
    if (!names.empty()) out += ',';
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out += '"';
  }
  out += '}';
}

void AppendSample(std::string& out, std::string_view name, std::string_view suffix,
                  const std::vector<std::string>& names, const std::vector<std::string>& values,
                  double value, std::string_view extra_name = {},
                  std::string_view extra_value = {}) {
  out += name;
  out += suffix;
  AppendLabels(out, names, values, extra_name, extra_value);
  out += ' ';
  out += FormatValue(value);
  out += '\n';
}

}  // namespace

std::string EscapeLabelValue(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string EscapeHelp(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  if (v == std::floor(v) && std::fabs(v) < 9007199254740992.0) {  // 2^53: exact as an integer
    auto r = std::to_chars(buf, buf + sizeof buf, static_cast<int64_t>(v));
    return std::string(buf, r.ptr);
  }
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

std::vector<double> LatencyBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

// ---- Histogram ----

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i < bounds_.size(); ++i) {
    if (!std::isfinite(bounds_[i]) || (i > 0 && bounds_[i] <= bounds_[i - 1])) {
      Die("histogram bounds must be finite and strictly increasing");
    }
  }
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(double v) {
  // The first bound ≥ v: its bucket counts v (le is inclusive); past the last bound, +Inf.
  const size_t i =
      static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot s;
  s.bounds = bounds_;
  s.cumulative.resize(bounds_.size() + 1);
  uint64_t total = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    total += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative[i] = total;
  }
  s.count = total;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

// ---- families ----

FamilyBase::FamilyBase(std::string name, std::string help, std::vector<std::string> label_names,
                       Type type)
    : name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)),
      type_(type) {
  if (!ValidName(name_, true)) Die("invalid metric name '" + name_ + "'");
  for (const std::string& l : label_names_) {
    if (!ValidName(l, false) || l.rfind("__", 0) == 0 || (type_ == Type::kHistogram && l == "le")) {
      Die("metric " + name_ + ": invalid label name '" + l + "'");
    }
  }
}

size_t FamilyBase::ShardOf(const std::vector<std::string>& values) const {
  size_t h = 0;
  for (const std::string& v : values) h = h * 31 + std::hash<std::string>{}(v);
  return h % kShards;
}

void FamilyBase::CheckArity(size_t n) const {
  if (n != label_names_.size()) {
    Die("metric " + name_ + ": " + std::to_string(n) + " label values for " +
        std::to_string(label_names_.size()) + " label names");
  }
}

void FamilyBase::Render(std::string& out) const {
  out += "# HELP ";
  out += name_;
  out += ' ';
  out += EscapeHelp(help_);
  out += "\n# TYPE ";
  out += name_;
  out += type_ == Type::kCounter ? " counter\n"
         : type_ == Type::kGauge ? " gauge\n"
                                 : " histogram\n";
  RenderChildren(out);
}

template <>
void Family<Counter>::RenderChildren(std::string& out) const {
  ForEach([&](const std::vector<std::string>& values, const Counter& c) {
    AppendSample(out, name_, "", label_names_, values, c.Value());
  });
}

template <>
void Family<Gauge>::RenderChildren(std::string& out) const {
  ForEach([&](const std::vector<std::string>& values, const Gauge& g) {
    AppendSample(out, name_, "", label_names_, values, g.Value());
  });
}

template <>
void Family<Histogram>::RenderChildren(std::string& out) const {
  ForEach([&](const std::vector<std::string>& values, const Histogram& h) {
    const Histogram::Snapshot s = h.Read();
    for (size_t i = 0; i < s.bounds.size(); ++i) {
      AppendSample(out, name_, "_bucket", label_names_, values,
                   static_cast<double>(s.cumulative[i]), "le", FormatValue(s.bounds[i]));
    }
    AppendSample(out, name_, "_bucket", label_names_, values,
                 static_cast<double>(s.cumulative.back()), "le", "+Inf");
    AppendSample(out, name_, "_sum", label_names_, values, s.sum);
    AppendSample(out, name_, "_count", label_names_, values, static_cast<double>(s.count));
  });
}

// ---- Registry ----

template <typename T>
Family<T>& Registry::Add(std::string name, std::string help, std::vector<std::string> label_names,
                         Type type, std::vector<double> bounds) {
  std::lock_guard lock(families_mu_);
  auto it = families_.find(name);
  if (it != families_.end()) {
    if (it->second->type() != type || it->second->label_names() != label_names) {
      Die("metric " + name + " registered twice with different types or labels");
    }
    return static_cast<Family<T>&>(*it->second);
  }
  auto family = std::make_unique<Family<T>>(name, std::move(help), std::move(label_names), type,
                                            std::move(bounds));
  Family<T>& ref = *family;
  families_.emplace(std::move(name), std::move(family));
  return ref;
}

CounterFamily& Registry::AddCounter(std::string name, std::string help,
                                    std::vector<std::string> label_names) {
  return Add<Counter>(std::move(name), std::move(help), std::move(label_names), Type::kCounter, {});
}

GaugeFamily& Registry::AddGauge(std::string name, std::string help,
                                std::vector<std::string> label_names) {
  return Add<Gauge>(std::move(name), std::move(help), std::move(label_names), Type::kGauge, {});
}

HistogramFamily& Registry::AddHistogram(std::string name, std::string help,
                                        std::vector<std::string> label_names,
                                        std::vector<double> bounds) {
  return Add<Histogram>(std::move(name), std::move(help), std::move(label_names), Type::kHistogram,
                        std::move(bounds));
}

int Registry::AddCollector(std::function<void()> collect) {
  std::lock_guard lock(render_mu_);
  const int id = next_collector_++;
  collectors_.emplace(id, std::move(collect));
  return id;
}

void Registry::RemoveCollector(int id) {
  std::lock_guard lock(render_mu_);
  collectors_.erase(id);
}

std::string Registry::Render() {
  std::lock_guard render(render_mu_);
  for (auto& [id, collect] : collectors_) collect();
  std::vector<const FamilyBase*> families;
  {
    std::lock_guard lock(families_mu_);
    families.reserve(families_.size());
    for (const auto& [name, f] : families_) families.push_back(f.get());
  }
  std::string out;
  out.reserve(16 * 1024);
  for (const FamilyBase* f : families) f->Render(out);
  return out;
}

Registry& DefaultRegistry() {
  static Registry* registry = new Registry();  // never destroyed: threads may record at exit
  return *registry;
}

}  // namespace weir::metrics

#include "resolve/resolve.h"

#include <mutex>
#include <utility>

namespace weir::resolve {

namespace {

class RandomSelector final : public ClusterSelector {
 public:
  explicit RandomSelector(uint64_t seed) : rng_(seed) {}
  std::string_view Name() const override { return "random"; }
  std::optional<size_t> Select(const std::vector<Choice>& choices,
                               const model::JobRequest&) override {
    if (choices.empty()) return std::nullopt;
    std::lock_guard<std::mutex> lock(mu_);
    std::uniform_int_distribution<size_t> dist(0, choices.size() - 1);
    return dist(rng_);
  }

 private:
  std::mutex mu_;
  std::mt19937_64 rng_;
};

// The pick used when every selector of the chain passed.
size_t FallbackRandomIndex(size_t n) {
  thread_local std::mt19937_64 rng(std::random_device{}());
  std::uniform_int_distribution<size_t> dist(0, n - 1);
  return dist(rng);
}

}  // namespace

std::unique_ptr<ClusterSelector> NewRandomSelector(uint64_t seed) {
  return std::make_unique<RandomSelector>(seed);
}

Result<Resolution> Resolve(
    const model::JobRequest& request, const CandidateFinder& find,
    const std::function<Result<std::vector<std::string>>(const std::string&)>& command_applications,
    const std::vector<ClusterSelector*>& selectors) {
  std::vector<Choice> choices;
  for (const model::ClusterCriteria& criteria : request.cluster_criterias) {
    auto candidates = find(criteria.tags, request.command_criteria);
    if (!candidates) return candidates.status().WithContext("resolve");
    for (auto& candidate : *candidates) {
      // The store lists each cluster's matching commands in the cluster's priority order.
      if (candidate.commands.empty()) continue;
      choices.push_back(
          Choice{std::move(candidate.cluster), std::move(candidate.commands.front())});
    }
    if (!choices.empty()) break;  // the first criteria entry with a match wins
  }
  if (choices.empty()) return FailedPrecondition(std::string(model::kMsgNoMatch));

  size_t picked = 0;
  if (choices.size() > 1) {
    std::optional<size_t> pick;
    for (ClusterSelector* selector : selectors) {
      if (selector == nullptr) continue;
      pick = selector->Select(choices, request);
      if (pick && *pick < choices.size()) break;
      pick.reset();  // an out-of-range answer counts as a pass
    }
    picked = pick ? *pick : FallbackRandomIndex(choices.size());
  }

  Resolution out;
  out.cluster = std::move(choices[picked].cluster);
  out.command = std::move(choices[picked].command);
  if (!request.applications.empty()) {
    out.application_ids = request.applications;
  } else {
    auto apps = command_applications(out.command.id);
    if (!apps) return apps.status().WithContext("resolve: applications of command '" +
                                                out.command.id + "'");
    out.application_ids = std::move(*apps);
  }
  return out;
}

}  // namespace weir::resolve

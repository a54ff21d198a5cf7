#include "assets/catalog.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <set>
#include <utility>

namespace weir::assets {
namespace {

std::string Quote(std::string_view s) { return "'" + std::string(s) + "'"; }

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string BuildRange(const std::set<int64_t>& builds) {
  if (builds.empty()) return "no builds";
  if (builds.size() == 1) return "build " + std::to_string(*builds.begin());
  return "builds " + std::to_string(*builds.begin()) + ".." + std::to_string(*builds.rbegin());
}

constexpr size_t kMaxSuggestions = 12;

}  // namespace

Result<AssetRecord> ResolveInList(const std::vector<AssetRecord>& records, const AssetRef& ref) {
  const std::string context = "asset " + Quote(ref.ToString());
  const AssetRecord* best = nullptr;
  bool any_namespace = false;
  bool any_branch = false;
  for (const AssetRecord& r : records) {
    if (r.id.type != ref.type || r.id.ns != ref.ns) continue;
    any_namespace = true;
    switch (ref.form) {
      case RefForm::kLatest:
        // Later entries are newer on equal creation time.
        if (best == nullptr || r.created >= best->created) best = &r;
        break;
      case RefForm::kLatestOnBranch:
        if (r.id.branch != ref.branch) break;
        any_branch = true;
        if (best == nullptr || r.id.build > best->id.build) best = &r;
        break;
      case RefForm::kBuildOnBranch:
        if (r.id.branch != ref.branch) break;
        any_branch = true;
        if (r.id.build == ref.build) best = &r;
        break;
      case RefForm::kExact:
        if (r.id.branch == ref.exact.branch) any_branch = true;
        if (r.id == ref.exact) best = &r;
        break;
    }
  }
  if (best != nullptr) return *best;
  if (!any_namespace) {
    return NotFound(context + ": no namespace " + Quote(ref.ns) + " of type " + Quote(ref.type));
  }
  switch (ref.form) {
    case RefForm::kLatest:
      break;
    case RefForm::kLatestOnBranch:
      return NotFound(context + ": no version on branch " + Quote(ref.branch));
    case RefForm::kBuildOnBranch:
      if (!any_branch) return NotFound(context + ": no version on branch " + Quote(ref.branch));
      return NotFound(context + ": no build " + std::to_string(ref.build) + " on branch " +
                      Quote(ref.branch));
    case RefForm::kExact:
      if (!any_branch) return NotFound(context + ": no version on branch " + Quote(ref.branch));
      return NotFound(context + ": no such version");
  }
  return NotFound(context + ": not found");
}

std::vector<std::string> SuggestInList(const std::vector<AssetRecord>& records,
                                       const AssetRef& ref) {
  std::vector<std::string> out;
  // Branch -> builds of the referenced namespace.
  std::map<std::string, std::set<int64_t>> branches;
  std::map<std::pair<std::string, int64_t>, std::string> uuids;
  // Other namespaces of the same type, and the same namespace under other types.
  std::set<std::string> same_type_namespaces;
  std::set<std::string> other_types;
  for (const AssetRecord& r : records) {
    if (r.id.type == ref.type && r.id.ns == ref.ns) {
      branches[r.id.branch].insert(r.id.build);
      uuids[{r.id.branch, r.id.build}] = r.uuid;
    } else if (r.id.type == ref.type) {
      same_type_namespaces.insert(r.id.ns);
    } else if (r.id.ns == ref.ns) {
      other_types.insert(r.id.type);
    }
  }
  if (branches.empty()) {
    std::vector<std::pair<size_t, std::string>> close;
    std::string want = ref.ns;
    for (const std::string& ns : same_type_namespaces) {
      size_t d = EditDistance(ns, want);
      bool contains = ns.find(want) != std::string::npos || want.find(ns) != std::string::npos;
      if (d <= std::max<size_t>(2, want.size() / 3) || contains) close.emplace_back(d, ns);
    }
    std::sort(close.begin(), close.end());
    for (const std::string& t : other_types) {
      out.push_back("namespace " + Quote(ref.ns) + " (" + t + ")");
    }
    for (const auto& [d, ns] : close)
      out.push_back("namespace " + Quote(ns) + " (" + ref.type + ")");
    if (out.size() > kMaxSuggestions) out.resize(kMaxSuggestions);
    return out;
  }
  auto branch_it = branches.find(ref.branch);
  bool branch_known = ref.form != RefForm::kLatest && branch_it != branches.end();
  if (branch_known) {
    // The branch exists: the wrong part is the build (or commit).
    const std::set<int64_t>& builds = branch_it->second;
    if (ref.form == RefForm::kExact) {
      auto u = uuids.find({ref.branch, ref.exact.build});
      if (u != uuids.end()) out.push_back(u->second);
    }
    out.push_back("branch " + Quote(ref.branch) + " (" + BuildRange(builds) + ")");
  }
  // Branches, closest name first.
  std::vector<std::pair<size_t, std::string>> ordered;
  for (const auto& [name, builds] : branches) {
    if (branch_known && name == ref.branch) continue;
    ordered.emplace_back(ref.branch.empty() ? 0 : EditDistance(name, ref.branch), name);
  }
  std::sort(ordered.begin(), ordered.end());
  for (const auto& [d, name] : ordered) {
    out.push_back("branch " + Quote(name) + " (" + BuildRange(branches[name]) + ")");
  }
  if (out.size() > kMaxSuggestions) out.resize(kMaxSuggestions);
  return out;
}

Result<AssetRecord> ReusableVersion(AssetCatalog& catalog, const AssetVersionId& where,
                                    std::string_view sha256, bool dirty) {
  AssetRef ref;
  ref.form = RefForm::kLatestOnBranch;
  ref.type = where.type;
  ref.ns = where.ns;
  ref.branch = where.branch;
  WEIR_ASSIGN_OR_RETURN(AssetRecord newest, catalog.Resolve(ref));
  if (newest.id.owner != where.owner || newest.id.repo != where.repo) {
    return NotFound("asset " + Quote(ref.ToString()) +
                    ": newest build belongs to another repository");
  }
  if (newest.sha256 != sha256)
    return NotFound("asset " + Quote(ref.ToString()) + ": bytes changed");
  if (newest.dirty != dirty) {
    return NotFound("asset " + Quote(ref.ToString()) + ": newest build differs in dirty state");
  }
  return newest;
}

struct MemoryCatalog::State {
  std::mutex mu;
  std::vector<AssetRecord> records;
};

MemoryCatalog::MemoryCatalog() : state_(std::make_shared<State>()) {}

MemoryCatalog::MemoryCatalog(std::vector<AssetRecord> records) : state_(std::make_shared<State>()) {
  state_->records = std::move(records);
}

void MemoryCatalog::Add(AssetRecord record) {
  if (!state_) state_ = std::make_shared<State>();
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->records.push_back(std::move(record));
}

Result<AssetRecord> MemoryCatalog::Resolve(const AssetRef& ref) {
  if (!state_) return ResolveInList({}, ref);
  std::lock_guard<std::mutex> lock(state_->mu);
  return ResolveInList(state_->records, ref);
}

std::vector<std::string> MemoryCatalog::Suggestions(const AssetRef& ref) {
  if (!state_) return {};
  std::lock_guard<std::mutex> lock(state_->mu);
  return SuggestInList(state_->records, ref);
}

}  // namespace weir::assets

#include "workflow/validate.h"

#include <algorithm>
#include <functional>
#include <map>

#include "common/strings.h"
#include "cron/cron.h"

namespace weir::workflow {
namespace {

const std::vector<std::string> kTopKeys = {
    "id",     "description",  "schedule",        "timezone", "after", "after_timeout",
    "params", "run_strategy", "max_concurrency", "jobs",     "dag"};
const std::vector<std::string> kJobKeys = {
    "name",    "command", "cluster", "args",       "dependencies", "configs",     "setup_file",
    "timeout", "memory",  "retries", "depends_on", "tags",         "trigger_rule"};
const std::vector<std::string> kRetryKeys = {"count", "backoff", "multiplier", "max_backoff"};
const std::vector<std::string> kStrategies = {"sequential", "parallel", "first_only", "last_only"};

// One dependency edge and where it was written.
struct Edge {
  std::string from;  // upstream
  std::string to;    // downstream
  int line;
  int column;
  bool from_dag;  // unknown ids of dag lines are reported once, with the line
};

// True for "scheme:..." (a URI) or a value that is a runtime parameter to be filled in later.
bool LooksLikeUri(std::string_view s) {
  if (StartsWith(s, "${")) return true;
  size_t colon = s.find(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  for (size_t i = 0; i < colon; ++i) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (i > 0 && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'));
    if (!ok) return false;
  }
  return true;
}

class Validator {
 public:
  Validator(std::string_view text, const ValidateOptions& options)
      : text_(text), options_(options), check_(options.file, &problems_) {}

  Validation Run() {
    Validation v;
    LoadedYaml y = LoadYaml(text_, options_.file, options_.limits);
    if (!y.ok()) {
      problems_ = std::move(y.errors);
    } else {
      ValidateRoot(y.root);
    }
    Finish(v);
    return v;
  }

 private:
  void ValidateRoot(const YAML::Node& root) {
    if (root.IsNull()) {
      check_.ErrorAt(0, 0, "workflow: file is empty; a workflow needs `id:` and `jobs:`");
      return;
    }
    if (!check_.CheckMap(root, "workflow", kTopKeys)) return;

    if (const YAML::Node id = root["id"]) {
      if (auto s = check_.Scalar(id, "id")) {
        wf_.id = *s;
        if (!IsWorkflowIdent(*s)) check_.Error(id, "id '" + *s + "': use 1..100 of [A-Za-z0-9_-]");
      }
    } else {
      check_.Error(root, "workflow: 'id' is required");
    }
    if (const YAML::Node d = root["description"]) {
      if (auto s = check_.Scalar(d, "description", true)) wf_.description = *s;
    }
    if (const YAML::Node s = root["schedule"]; s && !s.IsNull()) {
      if (auto text = check_.Scalar(s, "schedule")) {
        if (Result<cron::CronExpr> c = cron::ParseCron(*text); !c.ok()) {
          check_.Error(s, c.status().message());
        }
        wf_.schedule = *text;
      }
    }
    if (const YAML::Node tz = root["timezone"]) {
      if (auto name = check_.Scalar(tz, "timezone")) {
        if (Status st = CheckTimeZone(*name); !st.ok()) {
          check_.Error(tz, st.message());
        }
        wf_.timezone = *name;
      }
    }
    ValidateAfter(root);
    if (const YAML::Node p = root["params"]; p && !p.IsNull()) ValidateParams(p);
    if (const YAML::Node rs = root["run_strategy"]) {
      if (auto s = check_.Scalar(rs, "run_strategy")) {
        auto it = std::find(kStrategies.begin(), kStrategies.end(), *s);
        if (it == kStrategies.end()) {
          check_.Error(rs,
                       "run_strategy '" + *s +
                           "': use sequential, parallel, first_only or "
                           "last_only",
                       ClosestNames(*s, kStrategies));
        } else {
          wf_.run_strategy = static_cast<RunStrategy>(it - kStrategies.begin());
        }
      }
    }
    if (const YAML::Node mc = root["max_concurrency"]) {
      if (auto n = check_.Int(mc, "max_concurrency", 1, 1000)) {
        wf_.max_concurrency = static_cast<int>(*n);
        if (wf_.run_strategy != RunStrategy::kParallel) {
          check_.Error(mc,
                       "max_concurrency: only applies to run_strategy parallel; set "
                       "run_strategy: parallel or remove it");
        }
      }
    } else if (wf_.run_strategy == RunStrategy::kParallel) {
      wf_.max_concurrency = 4;
    }

    const YAML::Node jobs = root["jobs"];
    if (!jobs || jobs.IsNull()) {
      check_.Error(root, "workflow: 'jobs' is required (a mapping of job id to job)");
    } else if (!jobs.IsMap()) {
      check_.Error(jobs, "jobs: must be a mapping of job id to job (extract: {command: ...})");
    } else {
      for (const auto& kv : jobs) ValidateJob(kv.first, kv.second);
      if (wf_.jobs.empty() && jobs.size() == 0) check_.Error(jobs, "jobs: at least one job");
    }
    if (const YAML::Node dag = root["dag"]; dag && !dag.IsNull()) ValidateDag(dag);
    CheckGraph();
  }

  // `after: [id, ...]` (or one id) and `after_timeout: 6h`. Whether the ids name workflows of
  // the project is checked project-wide (CheckProject) and again by the scheduler at deploy.
  void ValidateAfter(const YAML::Node& root) {
    const YAML::Node after = root["after"];
    if (after && !after.IsNull()) {
      std::vector<YAML::Node> items;
      if (after.IsSequence()) {
        for (const YAML::Node& item : after) items.push_back(item);
        if (items.empty()) check_.Error(after, "after: list at least one workflow id");
      } else {
        items.push_back(after);
      }
      for (const YAML::Node& item : items) {
        std::optional<std::string> id = check_.Scalar(item, "after");
        if (!id) continue;
        if (!IsWorkflowIdent(*id)) {
          check_.Error(item, "after: '" + *id + "' is not a workflow id ([A-Za-z0-9_-]{1,100})");
        } else if (std::any_of(wf_.after.begin(), wf_.after.end(),
                               [&](const Upstream& u) { return u.id == *id; })) {
          check_.Error(item, "after: workflow '" + *id + "' is listed twice");
        } else if (*id == wf_.id) {
          check_.Error(item, "after: a workflow cannot run after itself");
        } else {
          wf_.after.push_back({*id, LineOf(item), ColumnOf(item)});
        }
      }
      if (wf_.schedule) {
        check_.Error(after,
                     "after: a workflow runs on its `schedule` or after other workflows, not "
                     "both; remove `schedule` or `after`");
      }
    }
    if (const YAML::Node t = root["after_timeout"]; t && !t.IsNull()) {
      if (auto v = check_.Scalar(t, "after_timeout")) {
        int64_t secs = 0;
        if (!ParseDurationSeconds(*v, &secs) || secs < 1 || secs > 30 * 86400) {
          check_.Error(t, "after_timeout: '" + *v +
                              "' must be a duration such as 90s, 30m, 6h or 1d (at most 30d)");
        } else {
          wf_.after_timeout_seconds = secs;
        }
        if (!after || after.IsNull()) {
          check_.Error(t, "after_timeout: only applies with `after:`; add `after:` or remove it");
        }
      }
    }
  }

  void ValidateParams(const YAML::Node& node) {
    if (!check_.CheckMap(node, "params", {})) return;
    for (const auto& kv : node) {
      if (!kv.first.IsScalar()) continue;
      const std::string& name = kv.first.Scalar();
      if (!IsParamName(name)) {
        check_.Error(kv.first, "params: name '" + name + "' must match [A-Za-z_][A-Za-z0-9_]*");
        continue;
      }
      if (IsBuiltinParam(name)) {
        check_.Error(kv.first, "params: '" + name + "' is built in and cannot be set");
        continue;
      }
      if (auto v = check_.Scalar(kv.second, "params." + name, true)) wf_.params[name] = *v;
    }
  }

  std::optional<std::vector<std::string>> UriList(const YAML::Node& node,
                                                  const std::string& field) {
    auto list = check_.StringList(node, field, true);
    if (!list) return std::nullopt;
    for (size_t i = 0; i < list->size(); ++i) {
      if (!LooksLikeUri((*list)[i])) {
        check_.Error(node.IsSequence() ? node[i] : node,
                     field + ": '" + (*list)[i] + "' is not a URI; write ${dataflow.file:" +
                         (*list)[i] + "} for a repository file or an asset variable");
      }
    }
    return list;
  }

  void ValidateJob(const YAML::Node& key, const YAML::Node& body) {
    if (!key.IsScalar()) {
      check_.Error(key, "jobs: job ids must be plain names");
      return;
    }
    JobTemplate job;
    job.id = key.Scalar();
    job.line = LineOf(key);
    const std::string ctx = "jobs." + job.id;
    if (!IsWorkflowIdent(job.id)) {
      check_.Error(key, ctx + ": id must be 1..100 of [A-Za-z0-9_-]");
    }
    if (job_lines_.count(job.id)) {
      check_.Error(key, "jobs: duplicate job id '" + job.id + "' (first defined on line " +
                            std::to_string(job_lines_[job.id]) + ")");
      return;
    }
    job_lines_[job.id] = job.line;
    if (!check_.CheckMap(body, ctx, kJobKeys)) {
      wf_.jobs.push_back(std::move(job));
      return;
    }
    if (const YAML::Node n = body["name"]) {
      if (auto s = check_.Scalar(n, ctx + ".name")) job.name = *s;
    }
    if (const YAML::Node c = body["command"]) {
      if (auto tags = check_.StringList(c, ctx + ".command", true)) {
        if (tags->empty()) check_.Error(c, ctx + ".command: at least one command tag");
        job.command = *tags;
      }
    } else {
      check_.Error(key, ctx + ": 'command' is required (the command tags, e.g. [type:bash])");
    }
    if (const YAML::Node c = body["cluster"]) {
      ValidateCluster(c, ctx, job);
    } else {
      check_.Error(key, ctx + ": 'cluster' is required (cluster tags, e.g. [sched:adhoc])");
    }
    if (const YAML::Node a = body["args"]) {
      if (a.IsScalar()) {
        job.command_args = a.Scalar();
      } else if (auto list = check_.StringList(a, ctx + ".args", false)) {
        job.args = *list;
      }
    }
    if (const YAML::Node d = body["dependencies"]) {
      if (auto l = UriList(d, ctx + ".dependencies")) job.dependencies = *l;
    }
    if (const YAML::Node d = body["configs"]) {
      if (auto l = UriList(d, ctx + ".configs")) job.configs = *l;
    }
    if (const YAML::Node s = body["setup_file"]) {
      if (auto v = check_.Scalar(s, ctx + ".setup_file")) {
        if (!LooksLikeUri(*v)) {
          check_.Error(s, ctx + ".setup_file: '" + *v + "' is not a URI; write ${dataflow.file:" +
                              *v + "} for a repository file");
        }
        job.setup_file = *v;
      }
    }
    if (const YAML::Node t = body["timeout"]) {
      if (auto v = check_.Scalar(t, ctx + ".timeout")) {
        int64_t secs = 0;
        if (!ParseDurationSeconds(*v, &secs) || secs < 1 || secs > 366 * 86400) {
          check_.Error(
              t, ctx + ".timeout: '" + *v +
                     "' must be a duration such as 3600, 90s, 30m, 2h or 1d (at most a year)");
        } else {
          job.timeout_seconds = secs;
        }
      }
    }
    if (const YAML::Node m = body["memory"]) {
      if (auto v = check_.Scalar(m, ctx + ".memory")) {
        std::string s = *v;
        int64_t factor = 1;
        if (EndsWith(s, "M") || EndsWith(s, "m")) {
          s.pop_back();
        } else if (EndsWith(s, "G") || EndsWith(s, "g")) {
          s.pop_back();
          factor = 1024;
        }
        long long n = 0;
        if (!ParseInt64(s, &n) || n < 1 || n > 16 * 1024 * 1024 / factor) {
          check_.Error(m, ctx + ".memory: '" + *v +
                              "' must be megabytes (512, 512M) or "
                              "gigabytes (4G)");
        } else {
          job.memory_mb = n * factor;
        }
      }
    }
    if (const YAML::Node r = body["retries"]) ValidateRetries(r, ctx, job);
    if (const YAML::Node d = body["depends_on"]) {
      if (auto ids = check_.StringList(d, ctx + ".depends_on", true)) {
        for (size_t i = 0; i < ids->size(); ++i) {
          const YAML::Node at = d.IsSequence() ? d[i] : d;
          edges_.push_back({(*ids)[i], job.id, LineOf(at), ColumnOf(at), false});
        }
      }
    }
    if (const YAML::Node t = body["tags"]) {
      if (auto tags = check_.StringList(t, ctx + ".tags", true)) job.tags = *tags;
    }
    if (const YAML::Node t = body["trigger_rule"]) {
      if (auto v = check_.Scalar(t, ctx + ".trigger_rule")) {
        if (std::optional<TriggerRule> rule = ParseTriggerRule(*v)) {
          job.trigger_rule = *rule;
        } else {
          check_.Error(t, ctx + ".trigger_rule: '" + *v +
                              "' is not a rule; use all_success (default), all_done, one_failed "
                              "or one_success");
        }
      }
    }
    wf_.jobs.push_back(std::move(job));
  }

  void ValidateCluster(const YAML::Node& c, const std::string& ctx, JobTemplate& job) {
    const std::string field = ctx + ".cluster";
    if (c.IsScalar()) {
      job.cluster.push_back({c.Scalar()});
      return;
    }
    if (!c.IsSequence() || c.size() == 0) {
      check_.Error(c, field +
                          ": give the cluster tags as a list, or a list of lists tried in "
                          "order");
      return;
    }
    bool nested = c[0].IsSequence();
    if (!nested) {
      if (auto tags = check_.StringList(c, field, false)) job.cluster.push_back(*tags);
      return;
    }
    for (const YAML::Node& item : c) {
      if (!item.IsSequence()) {
        check_.Error(item, field + ": mixes tags and lists of tags; use a list of lists");
        continue;
      }
      if (auto tags = check_.StringList(item, field, false)) {
        if (tags->empty()) check_.Error(item, field + ": empty criterion");
        job.cluster.push_back(*tags);
      }
    }
  }

  void ValidateRetries(const YAML::Node& r, const std::string& ctx, JobTemplate& job) {
    const std::string field = ctx + ".retries";
    if (r.IsScalar()) {
      if (auto n = check_.Int(r, field, 0, 100)) job.retries = static_cast<int>(*n);
      return;
    }
    if (!check_.CheckMap(r, field, kRetryKeys)) return;
    if (const YAML::Node n = r["count"]) {
      if (auto v = check_.Int(n, field + ".count", 0, 100)) job.retries = static_cast<int>(*v);
    } else {
      check_.Error(r, field + ": 'count' is required");
    }
    auto duration = [&](const char* key, int64_t* out) {
      if (const YAML::Node n = r[key]) {
        if (auto v = check_.Scalar(n, field + "." + key)) {
          int64_t secs = 0;
          if (!ParseDurationSeconds(*v, &secs) || secs > 86400) {
            check_.Error(n, field + "." + key + ": '" + *v +
                                "' must be a duration such as 30, 30s, 5m or 1h (at most 1d)");
          } else {
            *out = secs;
          }
        }
      }
    };
    duration("backoff", &job.backoff.initial_seconds);
    duration("max_backoff", &job.backoff.max_seconds);
    if (const YAML::Node m = r["multiplier"]) {
      if (auto v = check_.Scalar(m, field + ".multiplier")) {
        char* end = nullptr;
        double d = std::strtod(v->c_str(), &end);
        if (v->empty() || *end != '\0' || !(d >= 1.0 && d <= 10.0)) {
          check_.Error(m, field + ".multiplier: '" + *v + "' must be a number from 1 to 10");
        } else {
          job.backoff.multiplier = d;
        }
      }
    }
    if (job.backoff.max_seconds < job.backoff.initial_seconds) {
      check_.Error(r, field + ": max_backoff is shorter than backoff");
    }
  }

  // "a -> b, c -> d": every job of one group precedes every job of the next.
  void ValidateDag(const YAML::Node& dag) {
    std::vector<YAML::Node> lines;
    if (dag.IsScalar()) {
      lines.push_back(dag);
    } else if (dag.IsSequence()) {
      for (const YAML::Node& l : dag) lines.push_back(l);
    } else {
      check_.Error(dag, "dag: must be a list of lines such as 'extract -> transform, audit'");
      return;
    }
    for (const YAML::Node& l : lines) {
      if (!l.IsScalar()) {
        check_.Error(l, "dag: each line must be text such as 'extract -> transform'");
        continue;
      }
      const std::string& s = l.Scalar();
      // Column of character k of the scalar, when it is written on one line as is.
      YAML::Mark mark = l.Mark();
      int base = ColumnOf(l);
      if (!mark.is_null() && mark.pos >= 0 && static_cast<size_t>(mark.pos) < text_.size() &&
          (text_[mark.pos] == '"' || text_[mark.pos] == '\'')) {
        ++base;
      }
      std::vector<std::vector<std::pair<std::string, int>>> groups;  // (id, column)
      size_t start = 0;
      bool bad = false;
      while (true) {
        size_t arrow = s.find("->", start);
        std::string_view seg = std::string_view(s).substr(
            start, arrow == std::string::npos ? std::string::npos : arrow - start);
        std::vector<std::pair<std::string, int>> group;
        size_t off = start;
        for (const std::string& part : Split(seg, ',')) {
          std::string_view id = Trim(part);
          size_t lead = part.find_first_not_of(" \t");
          int col = base + static_cast<int>(off + (lead == std::string::npos ? 0 : lead));
          if (id.empty()) {
            check_.ErrorAt(LineOf(l), col, "dag: '" + s + "' has an empty job name");
            bad = true;
          } else {
            group.emplace_back(std::string(id), col);
          }
          off += part.size() + 1;
        }
        groups.push_back(std::move(group));
        if (arrow == std::string::npos) break;
        start = arrow + 2;
      }
      if (bad) continue;
      if (groups.size() < 2) {
        check_.Error(l, "dag: '" + s + "' has no '->'; write 'upstream -> downstream'");
        continue;
      }
      for (const auto& group : groups) {
        for (const auto& [id, col] : group) dag_ids_.push_back({id, LineOf(l), col});
      }
      for (size_t g = 0; g + 1 < groups.size(); ++g) {
        for (const auto& [from, from_col] : groups[g]) {
          for (const auto& [to, to_col] : groups[g + 1]) {
            edges_.push_back({from, to, LineOf(l), from_col, true});
          }
        }
      }
    }
  }

  std::vector<std::string> JobIds() const {
    std::vector<std::string> ids;
    for (const JobTemplate& j : wf_.jobs) ids.push_back(j.id);
    return ids;
  }

  void CheckGraph() {
    std::vector<std::string> ids = JobIds();
    auto known = [&](const std::string& id) { return job_lines_.count(id) > 0; };
    for (const auto& ref : dag_ids_) {
      if (!known(ref.id)) {
        check_.ErrorAt(ref.line, ref.column, "dag: unknown job '" + ref.id + "'",
                       ClosestNames(ref.id, ids));
      }
    }
    std::map<std::string, std::vector<const Edge*>> out;  // upstream → edges
    std::set<std::pair<std::string, std::string>> seen;
    for (const Edge& e : edges_) {
      if (!known(e.from)) {
        if (!e.from_dag) {
          check_.ErrorAt(e.line, e.column,
                         "jobs." + e.to + ".depends_on: unknown job '" + e.from + "'",
                         ClosestNames(e.from, ids));
        }
        continue;
      }
      if (!known(e.to)) continue;
      if (!seen.insert({e.from, e.to}).second) continue;
      out[e.from].push_back(&e);
      for (JobTemplate& j : wf_.jobs) {
        if (j.id == e.to) j.depends_on.push_back(e.from);
      }
    }
    // Depth-first search in file order; a back edge closes a cycle through the stack.
    std::map<std::string, int> state;  // 0 new, 1 on stack, 2 done
    std::vector<std::string> stack;
    std::function<void(const std::string&)> visit = [&](const std::string& id) {
      state[id] = 1;
      stack.push_back(id);
      for (const Edge* e : out[id]) {
        if (state[e->to] == 1) {
          auto it = std::find(stack.begin(), stack.end(), e->to);
          std::vector<std::string> cycle(it, stack.end());
          cycle.push_back(e->to);
          check_.ErrorAt(
              e->line, e->column,
              "dependency cycle: " + Join(cycle, " -> ") + "; remove one of these dependencies");
        } else if (state[e->to] == 0) {
          visit(e->to);
        }
      }
      stack.pop_back();
      state[id] = 2;
    };
    for (const JobTemplate& j : wf_.jobs) {
      if (state[j.id] == 0) visit(j.id);
    }
  }

  void CheckParams() {
    if (options_.render == nullptr) return;
    std::vector<std::string> defined(kBuiltinParams.begin(), kBuiltinParams.end());
    for (const auto& [k, v] : wf_.params) defined.push_back(k);
    for (const std::string& k : options_.environment_params) defined.push_back(k);
    for (const ParamRef& p : options_.render->params) {
      if (std::find(defined.begin(), defined.end(), p.name) != defined.end()) continue;
      Diagnostic d;
      d.file = options_.file;
      d.line = p.line;
      d.column = p.column;
      d.reference = p.name;
      d.message = "parameter '${" + p.name +
                  "}': not defined; add it to the workflow's params "
                  "or to the environment's params in dataflow.yaml (or write $${" +
                  p.name + "} for a literal ${)";
      d.suggestions = ClosestNames(p.name, defined);
      param_problems_.push_back(std::move(d));
    }
  }

  void Finish(Validation& v) {
    if (options_.render != nullptr) {
      for (Diagnostic& d : problems_) {
        if (d.line > 0 && d.column > 0) d.column = options_.render->SourceColumn(d.line, d.column);
      }
      CheckParams();
      for (Diagnostic& d : param_problems_) problems_.push_back(std::move(d));
      for (const Diagnostic& d : options_.render->errors) problems_.push_back(d);
    }
    SortDiagnostics(problems_);
    v.problems = std::move(problems_);
    if (v.problems.empty()) v.workflow = std::move(wf_);
  }

  struct DagId {
    std::string id;
    int line;
    int column;
  };

  std::string_view text_;
  const ValidateOptions& options_;
  std::vector<Diagnostic> problems_;
  std::vector<Diagnostic> param_problems_;
  YamlChecker check_;
  Workflow wf_;
  std::map<std::string, int> job_lines_;
  std::vector<Edge> edges_;
  std::vector<DagId> dag_ids_;
};

}  // namespace

Status CheckTimeZone(std::string_view name) {
  if (name.empty() || name.size() > 100) {
    return InvalidArgument("timezone '" + std::string(name) + "': not an IANA time zone name");
  }
  Result<const date::time_zone*> zone = cron::LocateZone(name);
  if (zone.ok()) return Status::Ok();
  if (zone.status().code() != StatusCode::kInvalidArgument) return zone.status();
  return InvalidArgument("timezone '" + std::string(name) +
                         "': unknown; use an IANA name such as UTC or Europe/Amsterdam");
}

bool ParseDurationSeconds(std::string_view text, int64_t* seconds) {
  if (text.empty()) return false;
  int64_t unit = 1;
  switch (text.back()) {
    case 's':
      unit = 1;
      text.remove_suffix(1);
      break;
    case 'm':
      unit = 60;
      text.remove_suffix(1);
      break;
    case 'h':
      unit = 3600;
      text.remove_suffix(1);
      break;
    case 'd':
      unit = 86400;
      text.remove_suffix(1);
      break;
    default:
      break;
  }
  long long n = 0;
  if (text.empty() || text[0] == '-' || text[0] == '+' || !ParseInt64(text, &n)) return false;
  if (n > 100LL * 365 * 86400) return false;
  *seconds = n * unit;
  return true;
}

Validation ValidateWorkflow(std::string_view rendered_text, const ValidateOptions& options) {
  return Validator(rendered_text, options).Run();
}

CheckedWorkflow RenderAndValidate(std::string_view source, const std::string& file,
                                  assets::AssetCatalog& catalog, const FileHasher& hash_file,
                                  const std::set<std::string>& environment_params) {
  CheckedWorkflow out;
  out.render = Render(source, file, catalog, hash_file);
  ValidateOptions options;
  options.file = file;
  options.render = &out.render;
  options.environment_params = environment_params;
  out.validation = ValidateWorkflow(out.render.text, options);
  return out;
}

}  // namespace weir::workflow

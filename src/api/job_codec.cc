#include "api/job_codec.h"

#include <cmath>
#include <limits>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "common/time_format.h"

namespace weir::api {

namespace json = boost::json;

namespace {

// Reads the fields of one JSON object with type checks that name the field.
class Reader {
 public:
  explicit Reader(const json::object& o) : o_(o) {}

  // nullptr when absent or null.
  const json::value* Find(std::string_view key) const {
    auto it = o_.find(key);
    if (it == o_.end() || it->value().is_null()) return nullptr;
    return &it->value();
  }

  Status String(std::string_view key, std::string* out) const {
    std::optional<std::string> v;
    WEIR_RETURN_IF_ERROR(OptString(key, &v));
    if (v) *out = std::move(*v);
    return Status::Ok();
  }
  Status OptString(std::string_view key, std::optional<std::string>* out) const {
    const json::value* v = Find(key);
    if (!v) return Status::Ok();
    if (!v->is_string()) return InvalidArgument(std::string(key) + ": must be a string");
    *out = std::string(v->get_string());
    return Status::Ok();
  }
  Status StringList(std::string_view key, std::vector<std::string>* out, bool unique) const {
    const json::value* v = Find(key);
    if (!v) return Status::Ok();
    return ParseStringList(key, *v, out, unique);
  }
  static Status ParseStringList(std::string_view key, const json::value& v,
                                std::vector<std::string>* out, bool unique) {
    if (!v.is_array()) return InvalidArgument(std::string(key) + ": must be an array of strings");
    std::set<std::string> seen;
    for (const json::value& item : v.get_array()) {
      if (!item.is_string()) {
        return InvalidArgument(std::string(key) + ": must be an array of strings");
      }
      std::string s(item.get_string());
      if (unique && !seen.insert(s).second) continue;
      out->push_back(std::move(s));
    }
    return Status::Ok();
  }
  Status Bool(std::string_view key, bool* out) const {
    const json::value* v = Find(key);
    if (!v) return Status::Ok();
    if (!v->is_bool()) return InvalidArgument(std::string(key) + ": must be true or false");
    *out = v->get_bool();
    return Status::Ok();
  }
  Status Int64(std::string_view key, std::optional<int64_t>* out) const {
    const json::value* v = Find(key);
    if (!v) return Status::Ok();
    if (v->is_int64()) {
      *out = v->get_int64();
    } else if (v->is_uint64() &&
               v->get_uint64() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      *out = static_cast<int64_t>(v->get_uint64());
    } else if (v->is_double() && std::isfinite(v->get_double()) &&
               std::trunc(v->get_double()) == v->get_double() &&
               std::fabs(v->get_double()) < 9.0e15) {
      *out = static_cast<int64_t>(v->get_double());  // 3600.0 from a client that sends floats
    } else if (v->is_number()) {
      return InvalidArgument(std::string(key) + ": must be an integer from " +
                             std::to_string(std::numeric_limits<int64_t>::min()) + " to " +
                             std::to_string(std::numeric_limits<int64_t>::max()) +
                             " without a fraction");
    } else {
      return InvalidArgument(std::string(key) + ": must be an integer");
    }
    return Status::Ok();
  }
  Status Int(std::string_view key, std::optional<int>* out) const {
    std::optional<int64_t> v;
    WEIR_RETURN_IF_ERROR(Int64(key, &v));
    if (!v) return Status::Ok();
    if (*v < std::numeric_limits<int>::min() || *v > std::numeric_limits<int>::max()) {
      return InvalidArgument(std::string(key) + ": " + std::to_string(*v) +
                             " is out of range; must be below 2^31");
    }
    *out = static_cast<int>(*v);
    return Status::Ok();
  }

 private:
  const json::object& o_;
};

json::value OptString(const std::optional<std::string>& s) {
  return s ? json::value(*s) : json::value(nullptr);
}
json::value NonEmpty(const std::string& s) {
  return s.empty() ? json::value(nullptr) : json::value(s);
}
json::value OptTime(const std::optional<TimePoint>& t) {
  return t ? json::value(FormatIso8601(*t)) : json::value(nullptr);
}
json::array StringArray(const std::vector<std::string>& v) {
  json::array a;
  a.reserve(v.size());
  for (const auto& s : v) a.emplace_back(s);
  return a;
}
json::value Metadata(const std::string& text) {
  if (text.empty()) return nullptr;
  std::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return json::value(text);  // stored text that is not JSON: show it as it is
  return v;
}

// False when a number in `v` overflowed to infinity while parsing (e.g. 1e400): serialized, it
// would no longer be JSON, and the stored metadata would come back as a string.
bool AllNumbersFinite(const json::value& v) {
  if (v.is_double()) return std::isfinite(v.get_double());
  if (const json::array* a = v.if_array()) {
    for (const json::value& item : *a) {
      if (!AllNumbersFinite(item)) return false;
    }
  } else if (const json::object* o = v.if_object()) {
    for (const auto& member : *o) {
      if (!AllNumbersFinite(member.value())) return false;
    }
  }
  return true;
}

// started + timeout_seconds as ISO-8601; null when that is past 9999-12-31 (or overflows), so
// that a huge timeout never shows as a wrapped or five-digit-year date.
json::value KillDate(TimePoint started, int64_t timeout_seconds) {
  constexpr int64_t kMaxMillis = 253402300799999;  // 9999-12-31T23:59:59.999Z
  int64_t ms = 0;
  if (__builtin_mul_overflow(timeout_seconds, int64_t{1000}, &ms) ||
      __builtin_add_overflow(ToEpochMillis(started), ms, &ms) || ms > kMaxMillis) {
    return nullptr;
  }
  return json::value(FormatIso8601(FromEpochMillis(ms)));
}

void Common(const model::JobRecord& r, json::object& o) {
  o["id"] = r.id;
  o["created"] = FormatIso8601(r.created);
  o["updated"] = FormatIso8601(r.updated);
}

}  // namespace

Result<model::JobRequest> ParseJobRequest(std::string_view text) {
  std::error_code ec;
  json::value doc = json::parse(text, ec);
  if (ec) return InvalidArgument("request: malformed JSON (" + ec.message() + ")");
  if (!doc.is_object()) return InvalidArgument("request: must be a JSON object");
  const json::object& o = doc.get_object();
  Reader rd(o);
  model::JobRequest r;
  WEIR_RETURN_IF_ERROR(rd.String("id", &r.id));
  WEIR_RETURN_IF_ERROR(rd.String("name", &r.name));
  WEIR_RETURN_IF_ERROR(rd.String("user", &r.user));
  WEIR_RETURN_IF_ERROR(rd.String("version", &r.version));
  WEIR_RETURN_IF_ERROR(rd.OptString("description", &r.description));
  if (const json::value* m = rd.Find("metadata")) {
    if (!m->is_object()) return InvalidArgument("metadata: must be a JSON object");
    if (!AllNumbersFinite(*m)) {
      return InvalidArgument("metadata: a number is out of range (beyond ±1.8e308)");
    }
    r.metadata_json = json::serialize(*m);
  }
  WEIR_RETURN_IF_ERROR(rd.StringList("tags", &r.tags, /*unique=*/true));
  WEIR_RETURN_IF_ERROR(rd.OptString("setupFile", &r.setup_file));
  WEIR_RETURN_IF_ERROR(rd.StringList("configs", &r.configs, false));
  WEIR_RETURN_IF_ERROR(rd.StringList("dependencies", &r.dependencies, false));
  WEIR_RETURN_IF_ERROR(rd.OptString("commandArgs", &r.command_args));
  WEIR_RETURN_IF_ERROR(rd.StringList("commandArguments", &r.command_arguments, false));
  if (const json::value* env = rd.Find("environmentVariables"); env && !env->is_null()) {
    const std::string shape =
        "environmentVariables: must be an object of NAME: \"value\" strings, e.g. "
        "{\"TARGET_DB\": \"warehouse\"}";
    if (!env->is_object()) return InvalidArgument(shape);
    for (const auto& [k, v] : env->get_object()) {
      if (!v.is_string()) return InvalidArgument(shape);
      r.environment[std::string(k)] = std::string(v.get_string());
    }
  }
  if (const json::value* cc = rd.Find("clusterCriterias")) {
    if (!cc->is_array()) {
      return InvalidArgument("clusterCriterias: must be an array of {\"tags\": [...]} objects");
    }
    for (const json::value& item : cc->get_array()) {
      if (!item.is_object()) {
        return InvalidArgument("clusterCriterias: must be an array of {\"tags\": [...]} objects");
      }
      model::ClusterCriteria criteria;
      auto it = item.get_object().find("tags");
      if (it != item.get_object().end() && !it->value().is_null()) {
        WEIR_RETURN_IF_ERROR(
            Reader::ParseStringList("clusterCriterias.tags", it->value(), &criteria.tags, true));
      }
      r.cluster_criterias.push_back(std::move(criteria));
    }
  }
  WEIR_RETURN_IF_ERROR(rd.StringList("commandCriteria", &r.command_criteria, true));
  WEIR_RETURN_IF_ERROR(rd.OptString("group", &r.group));
  WEIR_RETURN_IF_ERROR(rd.Bool("disableLogArchival", &r.disable_log_archival));
  WEIR_RETURN_IF_ERROR(rd.OptString("email", &r.email));
  WEIR_RETURN_IF_ERROR(rd.Int("cpu", &r.cpu));
  WEIR_RETURN_IF_ERROR(rd.Int("memory", &r.memory));
  WEIR_RETURN_IF_ERROR(rd.Int64("timeout", &r.timeout));
  WEIR_RETURN_IF_ERROR(rd.StringList("applications", &r.applications, false));
  WEIR_RETURN_IF_ERROR(rd.OptString("grouping", &r.grouping));
  WEIR_RETURN_IF_ERROR(rd.OptString("groupingInstance", &r.grouping_instance));
  return r;
}

std::string JobRuntime(const model::Job& job, TimePoint now) {
  if (!job.started) return FormatIsoDuration(Millis(0));
  TimePoint end = job.finished.value_or(now);
  Millis d =
      end > *job.started ? std::chrono::duration_cast<Millis>(end - *job.started) : Millis(0);
  return FormatIsoDuration(d);
}

json::object JobRequestToJson(const model::JobRecord& r) {
  const model::JobRequest& q = r.request;
  json::object o;
  Common(r, o);
  o["version"] = q.version;
  o["user"] = q.user;
  o["name"] = q.name;
  o["description"] = OptString(q.description);
  o["metadata"] = Metadata(q.metadata_json);
  o["tags"] = StringArray(q.tags);
  o["configs"] = StringArray(q.configs);
  o["dependencies"] = StringArray(q.dependencies);
  o["setupFile"] = OptString(q.setup_file);
  o["commandArgs"] = OptString(q.command_args);
  o["commandArguments"] = StringArray(q.command_arguments);
  json::object env;
  for (const auto& [k, v] : q.environment) env[k] = v;
  o["environmentVariables"] = std::move(env);
  json::array criterias;
  for (const auto& c : q.cluster_criterias) {
    criterias.push_back(json::object{{"tags", StringArray(c.tags)}});
  }
  o["clusterCriterias"] = std::move(criterias);
  o["commandCriteria"] = StringArray(q.command_criteria);
  o["group"] = OptString(q.group);
  o["disableLogArchival"] = q.disable_log_archival;
  o["email"] = OptString(q.email);
  o["cpu"] = q.cpu ? json::value(*q.cpu) : json::value(nullptr);
  o["memory"] = q.memory ? json::value(*q.memory) : json::value(nullptr);
  o["timeout"] = q.timeout ? json::value(*q.timeout) : json::value(nullptr);
  o["applications"] = StringArray(q.applications);
  o["grouping"] = OptString(q.grouping);
  o["groupingInstance"] = OptString(q.grouping_instance);
  return o;
}

json::object JobToJson(const model::JobRecord& r, TimePoint now) {
  const model::JobRequest& q = r.request;
  json::object o;
  Common(r, o);
  o["version"] = q.version;
  o["user"] = q.user;
  o["name"] = q.name;
  o["description"] = OptString(q.description);
  o["metadata"] = Metadata(q.metadata_json);
  o["tags"] = StringArray(q.tags);
  o["status"] = std::string(model::JobStatusName(r.job.status));
  o["statusMsg"] = NonEmpty(r.job.status_msg);
  o["started"] = OptTime(r.job.started);
  o["finished"] = OptTime(r.job.finished);
  o["archiveLocation"] = OptString(r.job.archive_location);
  o["clusterName"] = NonEmpty(r.job.cluster_name);
  o["commandName"] = NonEmpty(r.job.command_name);
  o["runtime"] = JobRuntime(r.job, now);
  o["commandArgs"] = NonEmpty(model::EffectiveCommandArgs(q));
  o["grouping"] = OptString(q.grouping);
  o["groupingInstance"] = OptString(q.grouping_instance);
  return o;
}

json::object JobExecutionToJson(const model::JobRecord& r) {
  const model::JobExecution& e = r.execution;
  json::object o;
  Common(r, o);
  o["hostName"] = e.host_name;
  o["processId"] = e.process_id ? json::value(*e.process_id) : json::value(nullptr);
  o["checkDelay"] = e.check_delay;
  o["timeout"] =
      e.timeout && r.job.started ? KillDate(*r.job.started, *e.timeout) : json::value(nullptr);
  o["exitCode"] = e.exit_code ? json::value(*e.exit_code) : json::value(nullptr);
  o["memory"] = e.memory ? json::value(*e.memory) : json::value(nullptr);
  // weir's extension: the Slurm job id of a job that runs on Slurm.
  if (!e.slurm_job_id.empty()) o["slurmJobId"] = e.slurm_job_id;
  return o;
}

json::object JobMetadataToJson(const model::JobRecord& r) {
  const model::JobMetadata& m = r.metadata;
  json::object o;
  Common(r, o);
  o["clientHost"] = NonEmpty(m.client_host);
  o["userAgent"] = NonEmpty(m.user_agent);
  o["numAttachments"] = m.num_attachments;
  o["totalSizeOfAttachments"] = m.total_size_of_attachments;
  o["stdOutSize"] = m.std_out_size ? json::value(*m.std_out_size) : json::value(nullptr);
  o["stdErrSize"] = m.std_err_size ? json::value(*m.std_err_size) : json::value(nullptr);
  return o;
}

json::object JobSearchResultToJson(const model::JobRecord& r, TimePoint now) {
  json::object o;
  o["id"] = r.id;
  o["name"] = r.request.name;
  o["user"] = r.request.user;
  o["status"] = std::string(model::JobStatusName(r.job.status));
  o["started"] = OptTime(r.job.started);
  o["finished"] = OptTime(r.job.finished);
  o["clusterName"] = NonEmpty(r.job.cluster_name);
  o["commandName"] = NonEmpty(r.job.command_name);
  o["runtime"] = JobRuntime(r.job, now);
  return o;
}

}  // namespace weir::api

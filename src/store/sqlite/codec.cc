#include "store/sqlite/codec.h"

#include <boost/json.hpp>
#include <optional>
#include <vector>

namespace weir::store::sqlite {
namespace json = boost::json;
namespace {

// ---- writing: absent optionals and empty values are left out to keep rows small ------------

void PutStr(json::object& o, std::string_view k, const std::string& v) {
  if (!v.empty()) o[k] = v;
}
void PutOpt(json::object& o, std::string_view k, const std::optional<std::string>& v) {
  if (v) o[k] = *v;
}
template <typename I>
void PutOptInt(json::object& o, std::string_view k, const std::optional<I>& v) {
  if (v) o[k] = static_cast<int64_t>(*v);
}
void PutList(json::object& o, std::string_view k, const std::vector<std::string>& v) {
  if (v.empty()) return;
  json::array a;
  a.reserve(v.size());
  for (const auto& s : v) a.emplace_back(s);
  o[k] = std::move(a);
}

// ---- reading: lenient about absent keys (defaults), strict about the document itself -------

const json::value* Find(const json::object& o, std::string_view k) {
  auto it = o.find(k);
  return it == o.end() ? nullptr : &it->value();
}
std::string Str(const json::object& o, std::string_view k) {
  const json::value* v = Find(o, k);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}
std::optional<std::string> OptStr(const json::object& o, std::string_view k) {
  const json::value* v = Find(o, k);
  if (v && v->is_string()) return std::string(v->get_string());
  return std::nullopt;
}
std::optional<int64_t> OptInt(const json::object& o, std::string_view k) {
  const json::value* v = Find(o, k);
  if (v && v->is_int64()) return v->get_int64();
  if (v && v->is_uint64()) return static_cast<int64_t>(v->get_uint64());
  return std::nullopt;
}
std::optional<int> OptInt32(const json::object& o, std::string_view k) {
  auto v = OptInt(o, k);
  if (!v) return std::nullopt;
  return static_cast<int>(*v);
}
int64_t Int(const json::object& o, std::string_view k, int64_t fallback) {
  return OptInt(o, k).value_or(fallback);
}
std::vector<std::string> List(const json::value* v) {
  std::vector<std::string> out;
  if (v == nullptr || !v->is_array()) return out;
  out.reserve(v->get_array().size());
  for (const auto& item : v->get_array()) {
    if (item.is_string()) out.emplace_back(item.get_string());
  }
  return out;
}
std::vector<std::string> List(const json::object& o, std::string_view k) {
  return List(Find(o, k));
}

// A parsed document whose nodes live in a stack buffer first (one row's JSON is a few hundred
// bytes), so decoding a record costs no heap allocation for the DOM itself.
class Document {
 public:
  // kInternal naming `kind 'id'` unless `text` is a JSON object.
  Status Parse(std::string_view text, std::string_view kind, std::string_view id) {
    boost::system::error_code ec;
    value_ = json::parse(text, ec, json::storage_ptr(&resource_));
    std::string problem;
    if (ec) {
      problem = "stored JSON is unreadable (" + ec.message() + ")";
    } else if (!value_.is_object()) {
      problem = "stored JSON is not an object";
    } else {
      return Status::Ok();
    }
    return Internal(std::string(kind) + " '" + std::string(id) + "': " + problem);
  }
  const json::object& object() const { return value_.get_object(); }

 private:
  unsigned char buffer_[2048];
  json::monotonic_resource resource_{buffer_, sizeof buffer_};
  json::value value_;
};

}  // namespace

std::string EncodeConfigBody(const model::ConfigEntity& e) {
  json::object o;
  PutOpt(o, "description", e.description);
  PutStr(o, "metadata", e.metadata_json);
  PutList(o, "tags", e.tags);
  PutOpt(o, "setupFile", e.setup_file);
  PutList(o, "configs", e.configs);
  PutList(o, "dependencies", e.dependencies);
  PutStr(o, "executable", e.executable);
  o["checkDelay"] = e.check_delay;
  PutOptInt(o, "memory", e.memory);
  return json::serialize(o);
}

Status DecodeConfigBody(std::string_view text, model::ConfigEntity* e) {
  Document doc;
  WEIR_RETURN_IF_ERROR(doc.Parse(text, model::KindName(e->kind), e->id));
  const json::object& o = doc.object();
  e->description = OptStr(o, "description");
  e->metadata_json = Str(o, "metadata");
  e->tags = List(o, "tags");
  e->setup_file = OptStr(o, "setupFile");
  e->configs = List(o, "configs");
  e->dependencies = List(o, "dependencies");
  e->executable = Str(o, "executable");
  e->check_delay = Int(o, "checkDelay", 10000);
  e->memory = OptInt32(o, "memory");
  return Status::Ok();
}

std::string EncodeJobRequest(const model::JobRequest& r) {
  json::object o;
  PutStr(o, "id", r.id);
  PutStr(o, "name", r.name);
  PutStr(o, "user", r.user);
  PutStr(o, "version", r.version);
  PutOpt(o, "description", r.description);
  PutStr(o, "metadata", r.metadata_json);
  PutList(o, "tags", r.tags);
  PutOpt(o, "setupFile", r.setup_file);
  PutList(o, "configs", r.configs);
  PutList(o, "dependencies", r.dependencies);
  PutOpt(o, "commandArgs", r.command_args);
  PutList(o, "commandArguments", r.command_arguments);
  if (!r.cluster_criterias.empty()) {
    json::array a;
    for (const auto& c : r.cluster_criterias) {
      json::object crit;
      json::array tags;
      for (const auto& t : c.tags) tags.emplace_back(t);
      crit["tags"] = std::move(tags);
      a.emplace_back(std::move(crit));
    }
    o["clusterCriterias"] = std::move(a);
  }
  PutList(o, "commandCriteria", r.command_criteria);
  PutOpt(o, "group", r.group);
  if (r.disable_log_archival) o["disableLogArchival"] = true;
  PutOpt(o, "email", r.email);
  PutOptInt(o, "cpu", r.cpu);
  PutOptInt(o, "memory", r.memory);
  PutOptInt(o, "timeout", r.timeout);
  PutList(o, "applications", r.applications);
  PutOpt(o, "grouping", r.grouping);
  PutOpt(o, "groupingInstance", r.grouping_instance);
  if (!r.environment.empty()) {
    json::object env;
    for (const auto& [k, v] : r.environment) env[k] = v;
    o["environmentVariables"] = std::move(env);
  }
  return json::serialize(o);
}

Status DecodeJobRequest(std::string_view text, std::string_view job_id, model::JobRequest* r) {
  Document doc;
  WEIR_RETURN_IF_ERROR(doc.Parse(text, "job", job_id));
  const json::object& o = doc.object();
  r->id = Str(o, "id");
  r->name = Str(o, "name");
  r->user = Str(o, "user");
  r->version = Str(o, "version");
  r->description = OptStr(o, "description");
  r->metadata_json = Str(o, "metadata");
  r->tags = List(o, "tags");
  r->setup_file = OptStr(o, "setupFile");
  r->configs = List(o, "configs");
  r->dependencies = List(o, "dependencies");
  r->command_args = OptStr(o, "commandArgs");
  r->command_arguments = List(o, "commandArguments");
  r->cluster_criterias.clear();
  if (const json::value* a = Find(o, "clusterCriterias"); a && a->is_array()) {
    for (const auto& item : a->get_array()) {
      model::ClusterCriteria c;
      if (item.is_object()) c.tags = List(item.get_object(), "tags");
      r->cluster_criterias.push_back(std::move(c));
    }
  }
  r->command_criteria = List(o, "commandCriteria");
  r->group = OptStr(o, "group");
  const json::value* dla = Find(o, "disableLogArchival");
  r->disable_log_archival = dla && dla->is_bool() && dla->get_bool();
  r->email = OptStr(o, "email");
  r->cpu = OptInt32(o, "cpu");
  r->memory = OptInt32(o, "memory");
  r->timeout = OptInt(o, "timeout");
  r->applications = List(o, "applications");
  r->grouping = OptStr(o, "grouping");
  r->grouping_instance = OptStr(o, "groupingInstance");
  r->environment.clear();
  if (const json::value* env = Find(o, "environmentVariables"); env && env->is_object()) {
    for (const auto& [k, v] : env->get_object()) {
      if (v.is_string()) r->environment[std::string(k)] = std::string(v.get_string());
    }
  }
  return Status::Ok();
}

std::string EncodeJobState(const model::JobRecord& r) {
  json::object o;
  PutStr(o, "statusMsg", r.job.status_msg);
  PutOpt(o, "archiveLocation", r.job.archive_location);
  PutList(o, "applicationIds", r.job.application_ids);
  PutStr(o, "hostName", r.execution.host_name);
  PutOptInt(o, "processId", r.execution.process_id);
  o["checkDelay"] = r.execution.check_delay;
  PutOptInt(o, "timeout", r.execution.timeout);
  PutOptInt(o, "exitCode", r.execution.exit_code);
  PutOptInt(o, "memory", r.execution.memory);
  PutStr(o, "slurmJobId", r.execution.slurm_job_id);
  PutStr(o, "clientHost", r.metadata.client_host);
  PutStr(o, "userAgent", r.metadata.user_agent);
  if (r.metadata.num_attachments != 0) o["numAttachments"] = r.metadata.num_attachments;
  if (r.metadata.total_size_of_attachments != 0) {
    o["totalSizeOfAttachments"] = r.metadata.total_size_of_attachments;
  }
  PutOptInt(o, "stdOutSize", r.metadata.std_out_size);
  PutOptInt(o, "stdErrSize", r.metadata.std_err_size);
  return json::serialize(o);
}

Status DecodeJobState(std::string_view text, model::JobRecord* r) {
  Document doc;
  WEIR_RETURN_IF_ERROR(doc.Parse(text, "job", r->id));
  const json::object& o = doc.object();
  r->job.status_msg = Str(o, "statusMsg");
  r->job.archive_location = OptStr(o, "archiveLocation");
  r->job.application_ids = List(o, "applicationIds");
  r->execution.host_name = Str(o, "hostName");
  r->execution.process_id = OptInt32(o, "processId");
  r->execution.check_delay = Int(o, "checkDelay", 10000);
  r->execution.timeout = OptInt(o, "timeout");
  r->execution.exit_code = OptInt32(o, "exitCode");
  r->execution.memory = OptInt32(o, "memory");
  r->execution.slurm_job_id = Str(o, "slurmJobId");
  r->metadata.client_host = Str(o, "clientHost");
  r->metadata.user_agent = Str(o, "userAgent");
  r->metadata.num_attachments = static_cast<int>(Int(o, "numAttachments", 0));
  r->metadata.total_size_of_attachments = Int(o, "totalSizeOfAttachments", 0);
  r->metadata.std_out_size = OptInt(o, "stdOutSize");
  r->metadata.std_err_size = OptInt(o, "stdErrSize");
  return Status::Ok();
}

// ---- search documents -------------------------------------------------------------------------

SearchKind SearchKindOf(model::Kind kind) {
  switch (kind) {
    case model::Kind::kApplication:
      return SearchKind::kApplication;
    case model::Kind::kCommand:
      return SearchKind::kCommand;
    case model::Kind::kCluster:
      return SearchKind::kCluster;
  }
  return SearchKind::kApplication;
}

// Appends `part` to a space-separated text.
void AddText(std::string* text, std::string_view part) {
  if (part.empty()) return;
  if (!text->empty()) *text += ' ';
  *text += part;
}

std::string JoinTags(const std::vector<std::string>& tags) {
  std::string out;
  for (const auto& t : tags) AddText(&out, t);
  return out;
}

// What store.h SearchDocument says each kind holds.
SearchDocument DocOf(const model::ConfigEntity& e) {
  SearchDocument d;
  d.kind = SearchKindOf(e.kind);
  d.id = e.id;
  d.name = e.name;
  d.status = e.status;
  d.tags = e.tags;
  AddText(&d.text, e.description.value_or(""));
  AddText(&d.text, e.user);
  AddText(&d.text, e.executable);
  return d;
}

SearchDocument DocOf(const model::JobRecord& r) {
  SearchDocument d;
  d.kind = SearchKind::kJob;
  d.id = r.id;
  d.name = r.request.name;
  d.status = std::string(model::JobStatusName(r.job.status));
  d.tags = r.request.tags;
  AddText(&d.text, r.request.user);
  AddText(&d.text, r.request.description.value_or(""));
  AddText(&d.text, model::EffectiveCommandArgs(r.request));
  AddText(&d.text, r.job.status_msg);
  AddText(&d.text, r.request.grouping.value_or(""));
  AddText(&d.text, r.request.grouping_instance.value_or(""));
  AddText(&d.text, r.job.cluster_name);
  AddText(&d.text, r.job.command_name);
  return d;
}

}  // namespace weir::store::sqlite

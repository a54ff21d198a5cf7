#include "api/job_routes.h"

#include <dirent.h>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <list>
#include <mutex>
#include <optional>
#include <set>
#include <unordered_map>
#include <utility>

#include "api/header_params.h"
#include "api/job_codec.h"
#include "api/json_codec.h"
#include "api/output_routes.h"
#include "common/fs.h"
#include "common/ids.h"
#include "common/strings.h"
#include "common/time_format.h"
#include "resolve/resolve.h"

namespace weir::api {

namespace {

namespace fs = std::filesystem;
using model::JobRecord;

// ---- small helpers ------------------------------------------------------------------------------

// RFC 5987 ext-value: charset'lang'percent-encoded.
std::optional<std::string> DecodeExtValue(std::string_view v) {
  size_t a = v.find('\'');
  if (a == std::string_view::npos) return std::nullopt;
  size_t b = v.find('\'', a + 1);
  if (b == std::string_view::npos) return std::nullopt;
  auto decoded = PercentDecode(v.substr(b + 1), false);
  if (!decoded) return std::nullopt;
  return *decoded;
}

Status WriteAll(const fs::path& path, std::string_view data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus("attachment: write " + path.string(), errno);
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, std::min<size_t>(data.size() - off, 1 << 20));
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return ErrnoStatus("attachment: write " + path.string(), err);
    }
    off += static_cast<size_t>(n);
  }
  if (::close(fd) != 0) return ErrnoStatus("attachment: write " + path.string(), errno);
  return Status::Ok();
}

// A read-only view of a spooled request body.
class MappedFile {
 public:
  MappedFile() = default;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile() {
    if (data_ != nullptr) ::munmap(data_, size_);
  }
  Status Open(const fs::path& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus("request body: open " + path.string(), errno);
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      int err = errno;
      ::close(fd);
      return ErrnoStatus("request body: stat " + path.string(), err);
    }
    size_ = static_cast<size_t>(st.st_size);
    if (size_ > 0) {
      void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED) {
        int err = errno;
        ::close(fd);
        size_ = 0;
        return ErrnoStatus("request body: map " + path.string(), err);
      }
      data_ = p;
    }
    ::close(fd);
    return Status::Ok();
  }
  std::string_view view() const {
    return data_ ? std::string_view(static_cast<const char*>(data_), size_) : std::string_view();
  }

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
};

// ---- the routes ---------------------------------------------------------------------------------

// Rendered bodies of GET /jobs/{id} for jobs in a final status. A final record never changes
// again (the store refuses updates), so its JSON, for a given base URL, is cached: the hot read
// path of clients polling finished jobs skips the store and the serialisation. Bounded LRU;
// thread-safe.
class FinalJobBodies {
 public:
  explicit FinalJobBodies(size_t capacity) : capacity_(capacity) {}

  std::optional<std::string> Find(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = index_.find(key);
    if (it == index_.end()) return std::nullopt;
    order_.splice(order_.begin(), order_, it->second);
    return it->second->second;
  }

  void Put(std::string key, std::string body) {
    std::lock_guard<std::mutex> lock(mu_);
    if (index_.count(key)) return;
    order_.emplace_front(key, std::move(body));
    index_.emplace(std::move(key), order_.begin());
    if (order_.size() > capacity_) {
      index_.erase(order_.back().first);
      order_.pop_back();
    }
  }

 private:
  std::mutex mu_;
  size_t capacity_;
  std::list<std::pair<std::string, std::string>> order_;  // most recent first
  std::unordered_map<std::string, std::list<std::pair<std::string, std::string>>::iterator> index_;
};

class JobRoutes {
 public:
  JobRoutes(service::JobService& service, std::shared_ptr<store::JobStore> jobs,
            std::shared_ptr<store::ConfigStore> config, JobRoutesOptions options)
      : service_(service),
        jobs_(std::move(jobs)),
        config_(std::move(config)),
        options_(std::move(options)) {
    if (options_.spool_dir.empty()) {
      std::error_code ec;
      options_.spool_dir = fs::temp_directory_path(ec);
      if (ec) options_.spool_dir = "/tmp";
    }
    if (options_.clock == nullptr) options_.clock = &SystemClock::Instance();
  }

  HttpResponse Submit(HttpRequest& req) { return SubmitJob(req, false); }
  // Local mode (local_routes.h): the same submission, set up for a run elsewhere.
  HttpResponse Prepare(HttpRequest& req) { return SubmitJob(req, true); }
  HttpResponse SubmitJob(HttpRequest& req, bool local_run);
  HttpResponse NoMatchResponse(const model::JobRequest& request, HttpRequest& req);
  HttpResponse Search(HttpRequest& req);
  HttpResponse GetJob(HttpRequest& req);
  HttpResponse GetStatus(HttpRequest& req);
  HttpResponse GetRequest(HttpRequest& req);
  HttpResponse GetExecution(HttpRequest& req);
  HttpResponse GetMetadata(HttpRequest& req);
  HttpResponse GetCluster(HttpRequest& req) { return GetEntity(req, model::Kind::kCluster); }
  HttpResponse GetCommand(HttpRequest& req) { return GetEntity(req, model::Kind::kCommand); }
  HttpResponse GetApplications(HttpRequest& req);
  HttpResponse Kill(HttpRequest& req);

 private:
  HttpResponse GetEntity(HttpRequest& req, model::Kind kind);
  // Links of the job's sub-resources, `rels` in order ("self" is `self_rel`'s URL).
  json::object Links(const std::string& base, const std::string& id, std::string_view self_rel,
                     const std::vector<std::string_view>& rels) const;
  // Reads a multipart submission into `sub`, writing attachments under `attach_dir`.
  // Returns an error response, or nullopt on success.
  std::optional<HttpResponse> ReadMultipart(const HttpRequest& req, std::string_view body,
                                            const std::string& content_type,
                                            const fs::path& attach_dir, service::Submission& sub);

  const AccessPolicy& Policy() const {
    static const AccessPolicy kOpen;
    return options_.access ? *options_.access : kOpen;
  }

  service::JobService& service_;
  std::shared_ptr<store::JobStore> jobs_;
  std::shared_ptr<store::ConfigStore> config_;
  JobRoutesOptions options_;
  FinalJobBodies final_bodies_{4096};
};

std::string JobUrl(const std::string& base, const std::string& id) {
  return ResourceUrl(base, "jobs", id);
}

std::string SubUrl(const std::string& base, const std::string& id, std::string_view rel) {
  std::string u = JobUrl(base, id);
  if (rel != "job") {
    u += '/';
    u += rel;
  }
  return u;
}

json::object JobRoutes::Links(const std::string& base, const std::string& id,
                              std::string_view self_rel,
                              const std::vector<std::string_view>& rels) const {
  std::vector<Link> links;
  links.push_back({"self", SubUrl(base, id, self_rel), false});
  for (std::string_view rel : rels) links.push_back({std::string(rel), SubUrl(base, id, rel)});
  return HalLinks(links);
}

namespace {

json::array RefsJson(const std::vector<resolve::EntityRef>& refs) {
  json::array out;
  for (const resolve::EntityRef& r : refs) {
    out.push_back(json::object{{"id", r.id}, {"name", r.name}, {"status", r.status}});
  }
  return out;
}

json::object CriterionJson(const resolve::CriterionReport& r) {
  json::array tags(r.tags.begin(), r.tags.end());
  json::array unknown;
  for (const resolve::UnknownTag& u : r.unknown_tags) {
    unknown.push_back(
        json::object{{"tag", u.tag}, {"nearest", json::array(u.nearest.begin(), u.nearest.end())}});
  }
  return json::object{{"criterion", r.criterion},
                      {"tags", std::move(tags)},
                      {"matched", r.matched},
                      {"unknownTags", std::move(unknown)},
                      {"excludedForStatus", RefsJson(r.excluded_for_status)}};
}

// Every entity of a kind, page by page.
Result<std::vector<model::ConfigEntity>> AllEntities(store::ConfigStore& config, model::Kind kind) {
  std::vector<model::ConfigEntity> out;
  store::PageRequest page;
  page.size = 1000;
  for (page.page = 0;; ++page.page) {
    WEIR_ASSIGN_OR_RETURN(auto found, config.Search(kind, store::ConfigFilter{}, page));
    for (auto& e : found.items) out.push_back(std::move(e));
    if (found.items.empty() || static_cast<int64_t>(out.size()) >= found.total) break;
  }
  return out;
}

}  // namespace

// Genie's 412 (message: kMsgNoMatch, then why) with a "detail" member: see resolve.h and
// docs/api.md. When the configuration cannot be read, the plain 412.
HttpResponse JobRoutes::NoMatchResponse(const model::JobRequest& request, HttpRequest& req) {
  Status plain = FailedPrecondition(std::string(model::kMsgNoMatch));
  resolve::Inventory inv;
  auto clusters = AllEntities(*config_, model::Kind::kCluster);
  auto commands = AllEntities(*config_, model::Kind::kCommand);
  if (!clusters || !commands) return ErrorResponse(plain, req);
  inv.clusters = std::move(*clusters);
  inv.commands = std::move(*commands);
  for (const model::ConfigEntity& c : inv.clusters) {
    auto linked = config_->GetClusterCommands(c.id);
    if (linked) inv.cluster_commands[c.id] = std::move(*linked);
  }
  resolve::NoMatchExplanation x = resolve::ExplainNoMatch(request, inv);
  json::array cluster_criteria;
  for (const auto& r : x.cluster_criteria) cluster_criteria.push_back(CriterionJson(r));
  json::array not_linked;
  for (const resolve::NotLinked& n : x.not_linked) {
    not_linked.push_back(
        json::object{{"cluster", json::object{{"id", n.cluster.id}, {"name", n.cluster.name}}},
                     {"commands", RefsJson(n.commands)}});
  }
  json::object detail{{"reasons", json::array(x.reasons.begin(), x.reasons.end())},
                      {"clusterCriterias", std::move(cluster_criteria)},
                      {"commandCriteria", CriterionJson(x.command_criterion)},
                      {"notLinked", std::move(not_linked)}};
  return ErrorResponse(FailedPrecondition(x.Message()), req,
                       json::serialize(json::object{{"detail", std::move(detail)}}));
}

HttpResponse JobRoutes::SubmitJob(HttpRequest& req, bool local_run) {
  const std::string content_type = req.Header("content-type").value_or("");
  const bool multipart = StartsWith(ToLower(Trim(content_type)), "multipart/form-data");

  MappedFile mapped;
  std::string_view body = req.body;
  std::string json_text;
  if (!req.body_file.empty()) {
    std::error_code ec;
    uint64_t size = fs::file_size(req.body_file, ec);
    if (ec) return ErrorResponse(ErrnoStatus("request body: read", ec.value()), req);
    if (multipart) {
      if (Status st = mapped.Open(req.body_file); !st.ok()) return ErrorResponse(st, req);
      body = mapped.view();
    } else {
      if (size > options_.max_json_bytes) {
        return ErrorResponse(413,
                             "request: the job request is " + std::to_string(size) +
                                 " bytes, more than the limit of " +
                                 std::to_string(options_.max_json_bytes) +
                                 "; send large inputs as attachments",
                             req);
      }
      auto text = ReadFile(req.body_file);
      if (!text) return ErrorResponse(text.status(), req);
      json_text = std::move(*text);
      body = json_text;
    }
  } else if (!multipart && body.size() > options_.max_json_bytes) {
    return ErrorResponse(413,
                         "request: the job request is " + std::to_string(body.size()) +
                             " bytes, more than the limit of " +
                             std::to_string(options_.max_json_bytes) +
                             "; send large inputs as attachments",
                         req);
  }

  service::Submission sub;
  sub.local_run = local_run;
  sub.client_host = ClientHost(req);
  sub.user_agent = req.Header("user-agent").value_or("");
  fs::path attach_dir;
  struct Cleanup {
    fs::path dir;
    ~Cleanup() {
      if (dir.empty()) return;
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } cleanup;

  if (multipart) {
    attach_dir = options_.spool_dir / ("attachments-" + NewUuid());
    cleanup.dir = attach_dir;
    if (auto err = ReadMultipart(req, body, content_type, attach_dir, sub)) return *err;
  } else {
    auto parsed = ParseJobRequest(body);
    if (!parsed) return ErrorResponse(parsed.status(), req);
    sub.request = std::move(*parsed);
  }
  // The job runs as the authenticated principal, whatever the body says (access.h).
  auto user = JobUser(req, Policy(), sub.request.user);
  if (!user) return ErrorResponse(user.status(), req);
  sub.request.user = std::move(*user);

  model::JobRequest request = sub.request;  // for the explanation of a 412
  auto id = service_.Submit(std::move(sub));
  if (!id) {
    if (id.status().code() == StatusCode::kFailedPrecondition &&
        id.status().message() == model::kMsgNoMatch) {
      return NoMatchResponse(request, req);
    }
    return ErrorResponse(id.status(), req);
  }
  HttpResponse resp = HttpResponse::Empty(202);
  resp.SetHeader("Location", JobUrl(BaseUrl(req), *id));
  return resp;
}

std::optional<HttpResponse> JobRoutes::ReadMultipart(const HttpRequest& req, std::string_view body,
                                                     const std::string& content_type,
                                                     const fs::path& attach_dir,
                                                     service::Submission& sub) {
  auto boundary = MultipartBoundary(content_type);
  if (!boundary) return ErrorResponse(boundary.status(), req);
  auto parts = ParseMultipart(body, *boundary);
  if (!parts) return ErrorResponse(parts.status(), req);

  const MultipartPart* request_part = nullptr;
  std::vector<std::pair<std::string, const MultipartPart*>> files;
  std::set<std::string> names;
  uint64_t total = 0;
  for (const MultipartPart& p : *parts) {
    if (p.name == "request") {
      if (request_part != nullptr) {
        return ErrorResponse(InvalidArgument("request: the multipart part 'request' is sent "
                                             "twice; send the job request once"),
                             req);
      }
      request_part = &p;
    } else if (p.name == "attachment" || p.name == "attachments") {
      if (!p.filename) {
        return ErrorResponse(InvalidArgument("attachment: the part has no file name; send it "
                                             "as a file (filename=...)"),
                             req);
      }
      auto name = SanitizeAttachmentName(*p.filename);
      if (!name) return ErrorResponse(name.status(), req);
      if (!names.insert(*name).second) {
        return ErrorResponse(InvalidArgument("attachment '" + *name +
                                             "': sent twice; give each attachment a distinct "
                                             "file name"),
                             req);
      }
      if (p.data.size() > options_.max_attachment_bytes) {
        return ErrorResponse(413,
                             "attachment '" + *name + "': " + std::to_string(p.data.size()) +
                                 " bytes, more than the limit of " +
                                 std::to_string(options_.max_attachment_bytes) + " bytes per file",
                             req);
      }
      total += p.data.size();
      files.emplace_back(std::move(*name), &p);
    }
  }
  if (total > options_.max_total_attachment_bytes) {
    return ErrorResponse(413,
                         "attachments: " + std::to_string(total) +
                             " bytes in all, more than the limit of " +
                             std::to_string(options_.max_total_attachment_bytes) + " bytes",
                         req);
  }
  if (request_part == nullptr) {
    return ErrorResponse(InvalidArgument("request: the multipart part 'request' (the job request "
                                         "JSON) is missing"),
                         req);
  }
  if (request_part->data.size() > options_.max_json_bytes) {
    return ErrorResponse(
        413,
        "request: the job request is " + std::to_string(request_part->data.size()) +
            " bytes, more than the limit of " + std::to_string(options_.max_json_bytes),
        req);
  }
  auto parsed = ParseJobRequest(request_part->data);
  if (!parsed) return ErrorResponse(parsed.status(), req);
  sub.request = std::move(*parsed);

  if (!files.empty()) {
    if (Status st = MakeDirs(attach_dir); !st.ok()) return ErrorResponse(st, req);
  }
  for (const auto& [name, part] : files) {
    exec::Attachment a;
    a.name = name;
    a.staged_path = attach_dir / name;
    a.size = static_cast<int64_t>(part->data.size());
    if (Status st = WriteAll(a.staged_path, part->data); !st.ok()) return ErrorResponse(st, req);
    sub.attachments.push_back(std::move(a));
  }
  return std::nullopt;
}

HttpResponse JobRoutes::Search(HttpRequest& req) {
  static const std::vector<std::string> kFilters = {
      "id",          "name",        "user",        "status",    "tag",
      "clusterName", "clusterId",   "commandName", "commandId", "minStarted",
      "maxStarted",  "minFinished", "maxFinished", "grouping",  "groupingInstance"};
  auto page = ParsePageQuery(req, 10, "created,desc");
  if (!page) return ErrorResponse(page.status(), req);

  store::JobFilter f;
  auto text = [&](std::string_view name, std::optional<std::string>& dst) {
    if (auto v = req.Query(name); v && !v->empty()) dst = *v;
  };
  text("id", f.id);
  text("name", f.name);
  text("user", f.user);
  text("clusterName", f.cluster_name);
  text("clusterId", f.cluster_id);
  text("commandName", f.command_name);
  text("commandId", f.command_id);
  text("grouping", f.grouping);
  text("groupingInstance", f.grouping_instance);
  for (const std::string& v : req.QueryAll("status")) {
    for (const std::string& s : Split(v, ',')) {
      std::string t(Trim(s));
      if (t.empty()) continue;
      // Genie parses status values case-insensitively: ?status=failed is FAILED.
      for (char& c : t) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      auto st = model::ParseJobStatus(t);
      if (!st) return ErrorResponse(st.status(), req);
      f.statuses.push_back(*st);
    }
  }
  for (const std::string& t : req.QueryAll("tag")) {
    if (!t.empty()) f.tags.push_back(t);
  }
  struct TimeFilter {
    std::string_view name;
    std::optional<TimePoint>* dst;
  };
  for (const TimeFilter& tf :
       {TimeFilter{"minStarted", &f.min_started}, TimeFilter{"maxStarted", &f.max_started},
        TimeFilter{"minFinished", &f.min_finished}, TimeFilter{"maxFinished", &f.max_finished}}) {
    auto t = QueryEpochMillis(req, tf.name);
    if (!t) return ErrorResponse(t.status(), req);
    *tf.dst = *t;
  }

  auto found = jobs_->SearchJobs(f, page->request);
  if (!found) return ErrorResponse(found.status(), req);
  const std::string base = BaseUrl(req);
  const TimePoint now = options_.clock->Now();
  json::array items;
  items.reserve(found->items.size());
  for (const JobRecord& r : found->items) {
    json::object o = JobSearchResultToJson(r, now);
    o["_links"] = HalLinks({{"self", JobUrl(base, r.id)}});
    items.push_back(std::move(o));
  }
  return JsonResponse(
      200, SearchPage(req, "jobSearchResultList", std::move(items), found->total, *page, kFilters),
      kHalJson);
}

HttpResponse JobRoutes::GetJob(HttpRequest& req) {
  const std::string& id = req.Param("id");
  std::string base = BaseUrl(req);
  std::string key = base + '\n' + id;
  if (auto body = final_bodies_.Find(key)) {
    return HttpResponse::Json(200, std::move(*body), std::string(kHalJson));
  }
  auto r = jobs_->GetJob(id);
  if (!r) return ErrorResponse(r.status(), req);
  json::object o = JobToJson(*r, options_.clock->Now());
  o["_links"] = Links(base, id, "job",
                      {"output", "request", "execution", "metadata", "status", "cluster", "command",
                       "applications"});
  HttpResponse resp = JsonResponse(200, o, kHalJson);
  if (!model::IsActive(r->job.status)) final_bodies_.Put(std::move(key), resp.body);
  return resp;
}

HttpResponse JobRoutes::GetStatus(HttpRequest& req) {
  auto r = jobs_->GetJob(req.Param("id"));
  if (!r) return ErrorResponse(r.status(), req);
  return JsonResponse(200, json::object{{"status", model::JobStatusName(r->job.status)}},
                      kJsonType);
}

HttpResponse JobRoutes::GetRequest(HttpRequest& req) {
  const std::string& id = req.Param("id");
  auto r = jobs_->GetJob(id);
  if (!r) return ErrorResponse(r.status(), req);
  json::object o = JobRequestToJson(*r);
  o["_links"] =
      Links(BaseUrl(req), id, "request", {"job", "execution", "output", "status", "metadata"});
  return JsonResponse(200, o, kHalJson);
}

HttpResponse JobRoutes::GetExecution(HttpRequest& req) {
  const std::string& id = req.Param("id");
  auto r = jobs_->GetJob(id);
  if (!r) return ErrorResponse(r.status(), req);
  json::object o = JobExecutionToJson(*r);
  o["_links"] =
      Links(BaseUrl(req), id, "execution", {"job", "request", "output", "status", "metadata"});
  return JsonResponse(200, o, kHalJson);
}

HttpResponse JobRoutes::GetMetadata(HttpRequest& req) {
  const std::string& id = req.Param("id");
  auto r = jobs_->GetJob(id);
  if (!r) return ErrorResponse(r.status(), req);
  json::object o = JobMetadataToJson(*r);
  o["_links"] =
      Links(BaseUrl(req), id, "metadata", {"job", "request", "execution", "output", "status"});
  return JsonResponse(200, o, kHalJson);
}

HttpResponse JobRoutes::GetEntity(HttpRequest& req, model::Kind kind) {
  const std::string& id = req.Param("id");
  auto r = jobs_->GetJob(id);
  if (!r) return ErrorResponse(r.status(), req);
  const std::string& eid = kind == model::Kind::kCluster ? r->job.cluster_id : r->job.command_id;
  const std::string what(model::KindName(kind));
  if (eid.empty()) {
    return ErrorResponse(
        NotFound("job '" + id + "': no " + what + " was selected for it (it did not match any)"),
        req);
  }
  auto e = config_->Get(kind, eid);
  if (!e) {
    if (e.status().code() == StatusCode::kNotFound) {
      return ErrorResponse(
          NotFound("job '" + id + "': its " + what + " '" + eid + "' no longer exists"), req);
    }
    return ErrorResponse(e.status(), req);
  }
  return JsonResponse(200, ConfigToJson(*e, BaseUrl(req), LinkStyle::kHal), kHalJson);
}

HttpResponse JobRoutes::GetApplications(HttpRequest& req) {
  const std::string& id = req.Param("id");
  auto r = jobs_->GetJob(id);
  if (!r) return ErrorResponse(r.status(), req);
  const std::string base = BaseUrl(req);
  json::array out;
  for (const std::string& app_id : r->job.application_ids) {
    auto e = config_->Get(model::Kind::kApplication, app_id);
    if (!e) {
      if (e.status().code() == StatusCode::kNotFound) continue;  // deleted since
      return ErrorResponse(e.status(), req);
    }
    out.push_back(ConfigToJson(*e, base, LinkStyle::kList));
  }
  return JsonResponse(200, out, kHalJson);
}

HttpResponse JobRoutes::Kill(HttpRequest& req) {
  const JobForwarder* forwarder = options_.forwarder.get();
  if (Authenticated(req) || forwarder != nullptr) {
    auto r = jobs_->GetJob(req.Param("id"));
    if (!r) return ErrorResponse(r.status(), req);
    if (Authenticated(req)) {
      Status allowed = CheckJobAccess(req, Policy(), r->id, r->request.user, false);
      if (!allowed.ok()) return ErrorResponse(allowed, req);
    }
    // A job running on another node is killed by that node.
    if (auto owner = forwarder ? forwarder->OwnerUrl(req, *r, true) : std::nullopt) {
      if (auto answer = forwarder->Forward(req, *r, *owner)) return std::move(*answer);
      // Its node is unreachable: the lost-node check ends the job once the node is confirmed
      // lost. The request is accepted and logged, never a 5xx.
      spdlog::warn(
          "job {}: kill requested while its node {} is unreachable; recorded, the job "
          "ends when the node is confirmed lost",
          r->id, r->execution.host_name);
      return HttpResponse::Empty(202);
    }
  }
  Status st = service_.Kill(req.Param("id"));
  if (st.code() == StatusCode::kFailedPrecondition && forwarder != nullptr) {
    // Placed on another node while this one looked (a claim from the shared queue).
    auto r = jobs_->GetJob(req.Param("id"));
    if (auto owner = r.ok() ? forwarder->OwnerUrl(req, *r, true) : std::nullopt) {
      if (auto answer = forwarder->Forward(req, *r, *owner)) return std::move(*answer);
      return HttpResponse::Empty(202);
    }
  }
  if (!st.ok()) return ErrorResponse(st, req);
  return HttpResponse::Empty(202);
}

}  // namespace

// ---- exposed helpers ----------------------------------------------------------------------------

Result<std::string> MultipartBoundary(std::string_view content_type) {
  auto params = SplitParams(content_type);
  if (!IEquals(params[0], "multipart/form-data")) {
    return InvalidArgument("Content-Type: expected multipart/form-data, got '" +
                           std::string(params[0]) + "'");
  }
  auto b = Param(params, "boundary");
  if (!b || b->empty() || b->size() > 200) {
    return InvalidArgument("Content-Type: multipart/form-data needs a boundary parameter");
  }
  return *b;
}

Result<std::vector<MultipartPart>> ParseMultipart(std::string_view body,
                                                  std::string_view boundary) {
  const std::string delim = "--" + std::string(boundary);
  const std::string next = "\r\n" + delim;
  size_t pos;
  if (body.substr(0, delim.size()) == delim) {
    pos = delim.size();
  } else {
    pos = body.find(next);
    if (pos == std::string_view::npos) {
      return InvalidArgument("multipart: the body has no opening boundary '" + delim + "'");
    }
    pos += next.size();
  }
  std::vector<MultipartPart> parts;
  while (true) {
    if (body.substr(pos, 2) == "--") return parts;  // closing delimiter
    while (pos < body.size() && (body[pos] == ' ' || body[pos] == '\t')) ++pos;
    if (body.substr(pos, 2) != "\r\n") {
      return InvalidArgument("multipart: a boundary line must end with CRLF");
    }
    pos += 2;
    std::string_view headers;
    size_t content;
    if (body.substr(pos, 2) == "\r\n") {
      content = pos + 2;
    } else {
      size_t hend = body.find("\r\n\r\n", pos);
      if (hend == std::string_view::npos) {
        return InvalidArgument("multipart: part " + std::to_string(parts.size() + 1) +
                               " has no end of headers");
      }
      headers = body.substr(pos, hend - pos);
      content = hend + 4;
    }
    size_t end = body.find(next, content);
    if (end == std::string_view::npos) {
      return InvalidArgument("multipart: no closing boundary after part " +
                             std::to_string(parts.size() + 1) + " (the body may be truncated)");
    }
    MultipartPart part;
    part.data = body.substr(content, end - content);
    bool has_disposition = false;
    for (const std::string& line : Split(headers, '\n')) {
      std::string_view l = Trim(line);
      size_t colon = l.find(':');
      if (colon == std::string_view::npos) continue;
      std::string_view key = Trim(l.substr(0, colon));
      std::string_view value = Trim(l.substr(colon + 1));
      if (IEquals(key, "content-disposition")) {
        auto params = SplitParams(value);
        has_disposition = true;
        part.name = Param(params, "name").value_or("");
        if (auto ext = Param(params, "filename*")) {
          part.filename = DecodeExtValue(*ext);
        }
        if (!part.filename) part.filename = Param(params, "filename");
      } else if (IEquals(key, "content-type")) {
        part.content_type = std::string(value);
      }
    }
    if (!has_disposition || part.name.empty()) {
      return InvalidArgument("multipart: part " + std::to_string(parts.size() + 1) +
                             " has no Content-Disposition name");
    }
    parts.push_back(std::move(part));
    pos = end + next.size();
  }
}

Result<std::string> SanitizeAttachmentName(std::string_view filename) {
  size_t cut = filename.find_last_of("/\\");
  std::string_view name = cut == std::string_view::npos ? filename : filename.substr(cut + 1);
  const std::string shown(filename);
  if (name.empty()) {
    return InvalidArgument("attachment '" + shown + "': the file name is empty");
  }
  if (name == "." || name == "..") {
    return InvalidArgument("attachment '" + shown + "': '" + std::string(name) +
                           "' is not a file name");
  }
  if (name.size() > 255) {
    return InvalidArgument("attachment: the file name is longer than 255 bytes");
  }
  if (!IsValidUtf8(name)) return InvalidArgument("attachment: the file name is not valid UTF-8");
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) {
      return InvalidArgument("attachment: the file name contains control characters");
    }
  }
  return std::string(name);
}

void RegisterJobRoutes(Router& router, service::JobService& service,
                       std::shared_ptr<store::JobStore> jobs,
                       std::shared_ptr<store::ConfigStore> config, JobRoutesOptions options) {
  RouteOptions submit_options;
  submit_options.max_body_bytes = options.max_request_bytes;
  submit_options.spool_body_to_file = true;
  OutputRoutesOptions output_options;
  output_options.max_listing_entries = options.max_listing_entries;
  output_options.archived_outputs = options.archived_outputs;
  output_options.access = options.access;
  output_options.forwarder = options.forwarder;
  std::shared_ptr<store::JobStore> output_jobs = jobs;
  auto routes =
      std::make_shared<JobRoutes>(service, std::move(jobs), std::move(config), std::move(options));
  auto bind = [routes](HttpResponse (JobRoutes::*method)(HttpRequest&)) {
    return [routes, method](HttpRequest& req) { return ((*routes).*method)(req); };
  };
  const std::string base = "/api/v3/jobs";
  router.Add("POST", base, bind(&JobRoutes::Submit), submit_options);
  router.Add("GET", base, bind(&JobRoutes::Search));
  router.Add("GET", base + "/{id}", bind(&JobRoutes::GetJob));
  router.Add("DELETE", base + "/{id}", bind(&JobRoutes::Kill));
  router.Add("GET", base + "/{id}/status", bind(&JobRoutes::GetStatus));
  router.Add("GET", base + "/{id}/request", bind(&JobRoutes::GetRequest));
  router.Add("GET", base + "/{id}/execution", bind(&JobRoutes::GetExecution));
  router.Add("GET", base + "/{id}/metadata", bind(&JobRoutes::GetMetadata));
  router.Add("GET", base + "/{id}/cluster", bind(&JobRoutes::GetCluster));
  router.Add("GET", base + "/{id}/command", bind(&JobRoutes::GetCommand));
  router.Add("GET", base + "/{id}/applications", bind(&JobRoutes::GetApplications));
  router.Add("POST", "/api/weir/v1/jobs/prepare", bind(&JobRoutes::Prepare), submit_options);
  RegisterOutputRoutes(router, service, std::move(output_jobs), std::move(output_options));
}

}  // namespace weir::api

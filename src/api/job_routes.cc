#include "api/job_routes.h"

#include <dirent.h>
#include <fcntl.h>
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

#include "api/job_codec.h"
#include "api/json_codec.h"
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

bool IEquals(std::string_view a, std::string_view b) { return ToLower(a) == ToLower(b); }

// Splits "a; b=c; d=\"e;f\"" on ';' outside quotes.
std::vector<std::string_view> SplitParams(std::string_view s) {
  std::vector<std::string_view> out;
  bool quoted = false;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (quoted && c == '\\') {
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (c == ';' && !quoted) {
      out.push_back(Trim(s.substr(start, i - start)));
      start = i + 1;
    }
  }
  out.push_back(Trim(s.substr(start)));
  return out;
}

// The value of a header parameter, unquoted ("a b" → a b, with backslash escapes).
std::string Unquote(std::string_view v) {
  v = Trim(v);
  if (v.size() < 2 || v.front() != '"' || v.back() != '"') return std::string(v);
  std::string out;
  for (size_t i = 1; i + 1 < v.size(); ++i) {
    if (v[i] == '\\' && i + 2 < v.size()) ++i;
    out.push_back(v[i]);
  }
  return out;
}

// Finds parameter `key` (case-insensitive) among "k=v" items.
std::optional<std::string> Param(const std::vector<std::string_view>& params,
                                 std::string_view key) {
  for (size_t i = 1; i < params.size(); ++i) {
    size_t eq = params[i].find('=');
    if (eq == std::string_view::npos) continue;
    if (IEquals(Trim(params[i].substr(0, eq)), key)) return Unquote(params[i].substr(eq + 1));
  }
  return std::nullopt;
}

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

std::string HttpDate(TimePoint t) {
  std::time_t tt = static_cast<std::time_t>(ToEpochMillis(t) / 1000);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  static const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday],
                tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buf;
}

TimePoint ModifiedTime(const struct stat& st) {
  return FromEpochMillis(static_cast<int64_t>(st.st_mtim.tv_sec) * 1000 +
                         st.st_mtim.tv_nsec / 1000000);
}

std::string HtmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

// Percent-encodes each segment of a relative path, keeping the slashes.
std::string EncodePath(std::string_view rel) {
  std::string out;
  size_t start = 0;
  while (true) {
    size_t slash = rel.find('/', start);
    out += PercentEncode(
        rel.substr(start, slash == std::string_view::npos ? rel.npos : slash - start));
    if (slash == std::string_view::npos) break;
    out += '/';
    start = slash + 1;
  }
  return out;
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

// The q value the Accept header gives `type` ("text/html"), by the most specific matching range.
double QualityOf(std::string_view accept, std::string_view type) {
  std::string_view major = type.substr(0, type.find('/'));
  int best_specificity = -1;
  double best_q = 0;
  size_t start = 0;
  while (start <= accept.size()) {
    size_t comma = accept.find(',', start);
    std::string_view item =
        accept.substr(start, comma == std::string_view::npos ? accept.npos : comma - start);
    auto params = SplitParams(item);
    std::string range = ToLower(params[0]);
    int specificity = -1;
    if (range == type) {
      specificity = 3;
    } else if (range.size() > 2 && range.compare(range.size() - 2, 2, "/*") == 0 &&
               range.substr(0, range.size() - 2) == major) {
      specificity = 2;
    } else if (range == "*/*") {
      specificity = 1;
    }
    if (specificity > best_specificity) {
      double q = 1.0;
      if (auto qs = Param(params, "q")) {
        char* end = nullptr;
        q = std::strtod(qs->c_str(), &end);
        if (end == qs->c_str()) q = 1.0;
      }
      best_specificity = specificity;
      best_q = q;
    }
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return best_q;
}

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
  HttpResponse Output(HttpRequest& req);
  HttpResponse Kill(HttpRequest& req);

 private:
  HttpResponse GetEntity(HttpRequest& req, model::Kind kind);
  // Links of the job's sub-resources, `rels` in order ("self" is `self_rel`'s URL).
  json::object Links(const std::string& base, const std::string& id, std::string_view self_rel,
                     const std::vector<std::string_view>& rels) const;
  // Output is read through descriptors: the folder `root_fd` (O_PATH) and everything beneath
  // it is opened with OpenBeneath, so a job that owns its folder cannot swap a link in between
  // a check and an open and make the server read outside it.
  HttpResponse Listing(const HttpRequest& req, const std::string& id, int root_fd, int dir_fd,
                       const std::string& rel);
  HttpResponse ServeFile(const HttpRequest& req, int root_fd, UniqueFd path_fd,
                         const std::string& rel);
  HttpResponse ServeOutput(const HttpRequest& req, const std::string& id, const fs::path& root,
                           const std::string& rel);
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
  if (Authenticated(req)) {
    auto r = jobs_->GetJob(req.Param("id"));
    if (!r) return ErrorResponse(r.status(), req);
    Status allowed = CheckJobAccess(req, Policy(), r->id, r->request.user, false);
    if (!allowed.ok()) return ErrorResponse(allowed, req);
  }
  Status st = service_.Kill(req.Param("id"));
  if (!st.ok()) return ErrorResponse(st, req);
  return HttpResponse::Empty(202);
}

HttpResponse JobRoutes::Output(HttpRequest& req) {
  const std::string& id = req.Param("id");
  // No path is built from an id that breaks the id rule (an old record may still hold one).
  if (Status valid = ValidateId("id", id); !valid.ok()) {
    return ErrorResponse(NotFound("job output: " + valid.message()), req);
  }
  auto r = jobs_->GetJob(id);
  if (!r) return ErrorResponse(r.status(), req);
  if (Status allowed = CheckJobAccess(req, Policy(), id, r->request.user, true); !allowed.ok()) {
    return ErrorResponse(allowed, req);
  }
  auto pit = req.params.find("path");
  std::string rel = pit == req.params.end() ? std::string() : pit->second;
  // "genie/" and "genie" name the same folder; a leading '/' is kept so it is refused.
  while (!rel.empty() && rel.back() == '/') rel.pop_back();

  fs::path root = service_.JobDirectory(id);
  bool from_archive = false;
  std::error_code ec;
  if (!fs::is_directory(root, ec)) {
    if (model::IsActive(r->job.status)) {
      return ErrorResponse(NotFound("job '" + id +
                                    "': no output yet; the job directory is made "
                                    "when its set-up starts"),
                           req);
    }
    if (!r->job.started) {
      return ErrorResponse(NotFound("job '" + id + "': job never started (" +
                                    std::string(model::JobStatusName(r->job.status)) + ": " +
                                    r->job.status_msg + "); it has no output"),
                           req);
    }
    if (!r->job.archive_location || options_.archived_outputs == nullptr) {
      return ErrorResponse(
          NotFound("job '" + id + "': its directory is not on this node and " +
                   (r->job.archive_location ? std::string("this server reads no archives")
                                            : std::string("it was not archived")) +
                   "; no output can be shown"),
          req);
    }
    auto extracted = options_.archived_outputs->Open(id, *r->job.archive_location);
    if (!extracted) return ErrorResponse(extracted.status(), req);
    root = *extracted;
    from_archive = true;
  }
  HttpResponse resp = ServeOutput(req, id, root, rel);
  if (from_archive) resp.SetHeader("X-Weir-Output-Source", "archive");
  return resp;
}

HttpResponse JobRoutes::ServeOutput(const HttpRequest& req, const std::string& id,
                                    const fs::path& root, const std::string& rel) {
  UniqueFd root_fd(::open(root.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!root_fd.valid()) {
    return ErrorResponse(ErrnoStatus("job '" + id + "': output folder", errno), req);
  }
  // O_PATH opens nothing for reading: a FIFO or device cannot block or be touched here.
  Result<UniqueFd> target = OpenBeneath(root_fd.get(), rel, O_PATH);
  if (!target) return ErrorResponse(target.status(), req);
  struct stat st {};
  if (::fstat(target->get(), &st) != 0) {
    return ErrorResponse(ErrnoStatus("path '" + rel + "'", errno), req);
  }
  if (S_ISDIR(st.st_mode)) return Listing(req, id, root_fd.get(), target->get(), rel);
  return ServeFile(req, root_fd.get(), std::move(*target), rel);
}

// The listing answers at most options_.max_listing_entries entries (directories first, then
// files, each sorted by name) per response; `?page=N` (0-based) and `?size=` (1..that limit)
// select a slice, "page" in the JSON (and a Link: rel="next" header) tells how to get the rest.
// Only names and d_type are read for the whole folder; stat and the link check run for the
// entries of the answered page only.
HttpResponse JobRoutes::Listing(const HttpRequest& req, const std::string& id, int root_fd,
                                int dir_fd, const std::string& rel) {
  struct Entry {
    std::string name;  // directories end in '/'
    std::string url;
    uint64_t size = 0;
    TimePoint modified{};
  };
  const uint64_t max_size = std::max<uint64_t>(1, options_.max_listing_entries);
  uint64_t page_number = 0;
  uint64_t page_size = max_size;
  auto read_param = [&req](const char* key, uint64_t lo, uint64_t hi, uint64_t* out) -> Status {
    auto v = req.Query(key);
    if (!v) return Status::Ok();
    long long n = 0;
    if (!ParseInt64(*v, &n) || n < static_cast<long long>(lo) || static_cast<uint64_t>(n) > hi) {
      return InvalidArgument("output listing: " + std::string(key) + " must be " +
                             std::to_string(lo) + " to " + std::to_string(hi));
    }
    *out = static_cast<uint64_t>(n);
    return Status::Ok();
  };
  if (Status st = read_param("page", 0, UINT32_MAX, &page_number); !st.ok()) {
    return ErrorResponse(st, req);
  }
  if (Status st = read_param("size", 1, max_size, &page_size); !st.ok()) {
    return ErrorResponse(st, req);
  }
  const std::string output_url = JobUrl(BaseUrl(req), id) + "/output/";
  const std::string dir_url = output_url + (rel.empty() ? "" : EncodePath(rel) + "/");
  auto child = [&rel](const std::string& name) { return rel.empty() ? name : rel + "/" + name; };
  // The kind of what `name` leads to, a link followed only while it stays inside the output
  // folder; false when it leads out, dangles or vanished.
  auto stat_beneath = [&](const std::string& child_rel, struct stat* st) {
    Result<UniqueFd> fd = OpenBeneath(root_fd, child_rel, O_PATH);
    return fd.ok() && ::fstat(fd->get(), st) == 0;
  };

  // Pass 1: names and kinds only (d_type; links and unknown types are looked up beneath root).
  std::vector<std::string> dir_names, file_names;
  {
    UniqueFd list_fd(::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    DIR* d = list_fd.valid() ? ::fdopendir(list_fd.get()) : nullptr;
    if (d == nullptr) return ErrorResponse(ErrnoStatus("output: list " + rel, errno), req);
    list_fd.release();
    while (struct dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      unsigned char type = e->d_type;
      if (type == DT_LNK || type == DT_UNKNOWN) {
        struct stat st {};
        if (!stat_beneath(child(name), &st)) continue;  // dangling, or a link out: not shown
        type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN;
      }
      if (type == DT_DIR) {
        dir_names.push_back(name);
      } else if (type == DT_REG) {
        file_names.push_back(name);
      }
    }
    ::closedir(d);
  }
  std::sort(dir_names.begin(), dir_names.end());
  std::sort(file_names.begin(), file_names.end());
  const uint64_t total = dir_names.size() + file_names.size();
  const uint64_t first = std::min<uint64_t>(total, page_number * page_size);
  const uint64_t last = std::min<uint64_t>(total, first + page_size);

  // Pass 2: the page's entries, stat'ed beneath root.
  std::vector<Entry> dirs, files;
  for (uint64_t i = first; i < last; ++i) {
    const bool is_dir_name = i < dir_names.size();
    const std::string& name = is_dir_name ? dir_names[i] : file_names[i - dir_names.size()];
    struct stat st {};
    if (!stat_beneath(child(name), &st)) continue;  // changed since pass 1
    Entry e;
    e.modified = ModifiedTime(st);
    if (S_ISDIR(st.st_mode)) {
      e.name = name + "/";
      e.url = dir_url + PercentEncode(name) + "/";
      dirs.push_back(std::move(e));
    } else if (S_ISREG(st.st_mode)) {
      e.name = name;
      e.url = dir_url + PercentEncode(name);
      e.size = static_cast<uint64_t>(st.st_size);
      files.push_back(std::move(e));
    }
  }
  const uint64_t total_pages = (total + page_size - 1) / page_size;
  std::string next_url;
  if (page_number + 1 < total_pages) {
    next_url =
        dir_url + "?page=" + std::to_string(page_number + 1) + "&size=" + std::to_string(page_size);
  }
  auto by_name = [](const Entry& a, const Entry& b) { return a.name < b.name; };
  std::sort(dirs.begin(), dirs.end(), by_name);
  std::sort(files.begin(), files.end(), by_name);

  std::optional<Entry> parent;
  if (!rel.empty()) {
    size_t slash = rel.rfind('/');
    std::string parent_rel = slash == std::string::npos ? std::string() : rel.substr(0, slash);
    Entry e;
    e.name = "../";
    e.url = output_url + (parent_rel.empty() ? "" : EncodePath(parent_rel) + "/");
    struct stat st {};
    if (stat_beneath(parent_rel, &st)) e.modified = ModifiedTime(st);
    parent = std::move(e);
  }

  if (PrefersHtml(req.Header("accept").value_or(""))) {
    const std::string title = id + "/" + rel;
    std::string html = "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>" +
                       HtmlEscape(title) + "</title></head><body><h1>" + HtmlEscape(title) +
                       "</h1><table><tr><th align=\"left\">Name</th><th align=\"right\">Size"
                       "</th><th align=\"right\">Last Modified</th></tr>";
    auto row = [&](const Entry& e, bool is_dir) {
      html += "<tr><td><a href=\"" + HtmlEscape(e.url) + "\">" + HtmlEscape(e.name) +
              "</a></td><td align=\"right\">" +
              (is_dir ? std::string("-") : std::to_string(e.size) + " bytes") +
              "</td><td align=\"right\">" + HttpDate(e.modified) + "</td></tr>";
    };
    if (parent) row(*parent, true);
    for (const Entry& e : dirs) row(e, true);
    for (const Entry& e : files) row(e, false);
    html += "</table>";
    if (!next_url.empty()) {
      html += "<p>Entries " + std::to_string(first + 1) + " to " + std::to_string(last) + " of " +
              std::to_string(total) + ". <a href=\"" + HtmlEscape(next_url) +
              "\">Next page</a></p>";
    }
    html += "</body></html>";
    HttpResponse resp = HttpResponse::Json(200, std::move(html), "text/html; charset=utf-8");
    if (!next_url.empty()) resp.SetHeader("Link", "<" + next_url + ">; rel=\"next\"");
    return resp;
  }

  auto to_json = [](const Entry& e) {
    return json::object{{"name", e.name},
                        {"url", e.url},
                        {"size", e.size},
                        {"lastModified", FormatIso8601(e.modified)}};
  };
  json::object o;
  o["parent"] = parent ? json::value(to_json(*parent)) : json::value(nullptr);
  json::array jd, jf;
  for (const Entry& e : dirs) jd.push_back(to_json(e));
  for (const Entry& e : files) jf.push_back(to_json(e));
  o["directories"] = std::move(jd);
  o["files"] = std::move(jf);
  o["page"] = json::object{{"size", page_size},
                           {"totalElements", total},
                           {"totalPages", total_pages},
                           {"number", page_number}};
  if (!next_url.empty()) o["next"] = next_url;
  HttpResponse resp = JsonResponse(200, o, kJsonType);
  if (!next_url.empty()) resp.SetHeader("Link", "<" + next_url + ">; rel=\"next\"");
  return resp;
}

HttpResponse JobRoutes::ServeFile(const HttpRequest& req, int root_fd, UniqueFd path_fd,
                                  const std::string& rel) {
  // The type is checked on the O_PATH descriptor and only a regular file is opened for reading,
  // without blocking: a FIFO, socket or device answers 403 and is never opened.
  struct stat st {};
  const fs::path file = fs::path(rel).filename();
  auto handle = OpenRegularFileAt(std::move(path_fd), &st, rel, [root_fd, &rel]() {
    Result<UniqueFd> fd = OpenBeneath(root_fd, rel, O_RDONLY | O_NONBLOCK | O_NOCTTY);
    return fd.ok() ? fd->release() : -1;
  });
  if (!handle) return ErrorResponse(handle.status(), req);
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  RangeAnswer range = ParseRange(req.Header("range").value_or(""), size);
  if (range.kind == RangeAnswer::kUnsatisfiable) {
    HttpResponse resp =
        ErrorResponse(416,
                      "range: '" + req.Header("range").value_or("") + "' is outside the file's " +
                          std::to_string(size) + " bytes",
                      req);
    resp.SetHeader("Content-Range", "bytes */" + std::to_string(size));
    return resp;
  }
  std::string head;
  if (size > 0) {
    head.resize(512);
    ssize_t n = ::pread((*handle)->fd(), head.data(), head.size(), 0);
    head.resize(n > 0 ? static_cast<size_t>(n) : 0);
  }
  HttpResponse resp;
  resp.file = FileBody{file, 0, size, std::move(*handle)};
  resp.status = 200;
  if (range.kind == RangeAnswer::kPartial) {
    resp.status = 206;
    resp.file->offset = range.offset;
    resp.file->length = range.length;
    resp.SetHeader("Content-Range", "bytes " + std::to_string(range.offset) + "-" +
                                        std::to_string(range.offset + range.length - 1) + "/" +
                                        std::to_string(size));
  }
  resp.SetHeader("Content-Type", GuessContentType(file.filename().string(), head));
  resp.SetHeader("Accept-Ranges", "bytes");
  resp.SetHeader("Last-Modified", HttpDate(ModifiedTime(st)));
  return resp;
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

RangeAnswer ParseRange(std::string_view header, uint64_t size) {
  RangeAnswer whole;
  whole.length = size;
  std::string_view h = Trim(header);
  if (h.empty()) return whole;
  if (h.size() < 6 || ToLower(h.substr(0, 6)) != "bytes=") return whole;
  std::string_view spec = Trim(h.substr(6));
  if (spec.find(',') != std::string_view::npos) return whole;  // several ranges: whole file
  size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return whole;
  std::string_view first = Trim(spec.substr(0, dash));
  std::string_view last = Trim(spec.substr(dash + 1));
  auto number = [](std::string_view s, uint64_t* out) {
    if (s.empty() || s.size() > 19) return false;
    uint64_t v = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return false;
      v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    *out = v;
    return true;
  };
  RangeAnswer r;
  r.kind = RangeAnswer::kPartial;
  if (first.empty()) {  // suffix: the last n bytes
    uint64_t n;
    if (!number(last, &n)) return whole;
    if (n == 0 || size == 0) return RangeAnswer{RangeAnswer::kUnsatisfiable, 0, 0};
    n = std::min(n, size);
    r.offset = size - n;
    r.length = n;
    return r;
  }
  uint64_t a;
  if (!number(first, &a)) return whole;
  uint64_t b = size == 0 ? 0 : size - 1;
  if (!last.empty()) {
    if (!number(last, &b)) return whole;
    if (b < a) return whole;  // syntactically invalid: ignored
  }
  if (a >= size) return RangeAnswer{RangeAnswer::kUnsatisfiable, 0, 0};
  b = std::min(b, size - 1);
  r.offset = a;
  r.length = b - a + 1;
  return r;
}

bool PrefersHtml(std::string_view accept) {
  if (Trim(accept).empty()) return false;
  return QualityOf(accept, "text/html") > QualityOf(accept, "application/json");
}

std::string GuessContentType(std::string_view file_name, std::string_view head) {
  static const std::pair<std::string_view, std::string_view> kTypes[] = {
      {"txt", "text/plain; charset=utf-8"},
      {"log", "text/plain; charset=utf-8"},
      {"out", "text/plain; charset=utf-8"},
      {"err", "text/plain; charset=utf-8"},
      {"sh", "text/plain; charset=utf-8"},
      {"py", "text/plain; charset=utf-8"},
      {"sql", "text/plain; charset=utf-8"},
      {"hql", "text/plain; charset=utf-8"},
      {"properties", "text/plain; charset=utf-8"},
      {"conf", "text/plain; charset=utf-8"},
      {"md", "text/markdown; charset=utf-8"},
      {"csv", "text/csv; charset=utf-8"},
      {"tsv", "text/tab-separated-values; charset=utf-8"},
      {"json", "application/json"},
      {"xml", "application/xml"},
      {"yaml", "application/yaml"},
      {"yml", "application/yaml"},
      {"html", "text/html; charset=utf-8"},
      {"htm", "text/html; charset=utf-8"},
      {"css", "text/css; charset=utf-8"},
      {"js", "text/javascript; charset=utf-8"},
      {"png", "image/png"},
      {"jpg", "image/jpeg"},
      {"jpeg", "image/jpeg"},
      {"gif", "image/gif"},
      {"svg", "image/svg+xml"},
      {"pdf", "application/pdf"},
      {"zip", "application/zip"},
      {"gz", "application/gzip"},
      {"tgz", "application/gzip"},
      {"tar", "application/x-tar"},
      {"jar", "application/java-archive"},
      {"parquet", "application/vnd.apache.parquet"},
  };
  size_t dot = file_name.rfind('.');
  if (dot != std::string_view::npos && dot + 1 < file_name.size()) {
    std::string ext = ToLower(file_name.substr(dot + 1));
    for (const auto& [e, type] : kTypes) {
      if (e == ext) return std::string(type);
    }
  }
  // No known extension (stdout, stderr, run...): text when the first bytes look like text.
  bool text = head.find('\0') == std::string_view::npos;
  if (text) {
    // Allow a UTF-8 sequence cut at the end of the sample.
    std::string_view h = head;
    size_t trim = 0;
    while (trim < 3 && trim < h.size() &&
           (static_cast<unsigned char>(h[h.size() - 1 - trim]) & 0x80)) {
      ++trim;
    }
    text = IsValidUtf8(h) || IsValidUtf8(h.substr(0, h.size() - trim));
  }
  return text ? "text/plain; charset=utf-8" : "application/octet-stream";
}

void RegisterJobRoutes(Router& router, service::JobService& service,
                       std::shared_ptr<store::JobStore> jobs,
                       std::shared_ptr<store::ConfigStore> config, JobRoutesOptions options) {
  RouteOptions submit_options;
  submit_options.max_body_bytes = options.max_request_bytes;
  submit_options.spool_body_to_file = true;
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
  router.Add("GET", base + "/{id}/output", bind(&JobRoutes::Output));
  router.Add("GET", base + "/{id}/output/{path*}", bind(&JobRoutes::Output));
  router.Add("POST", "/api/weir/v1/jobs/prepare", bind(&JobRoutes::Prepare), submit_options);
}

}  // namespace weir::api

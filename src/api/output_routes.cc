#include "api/output_routes.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <optional>
#include <utility>
#include <vector>

#include "api/header_params.h"
#include "api/json_codec.h"
#include "common/fs.h"
#include "common/ids.h"
#include "common/strings.h"
#include "common/time_format.h"

namespace weir::api {

namespace {

namespace fs = std::filesystem;

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

class OutputRoutes {
 public:
  OutputRoutes(service::JobService& service, std::shared_ptr<store::JobStore> jobs,
               OutputRoutesOptions options)
      : service_(service), jobs_(std::move(jobs)), options_(std::move(options)) {}

  HttpResponse Output(HttpRequest& req);

 private:
  // Output is read through descriptors: the folder `root_fd` (O_PATH) and everything beneath
  // it is opened with OpenBeneath, so a job that owns its folder cannot swap a link in between
  // a check and an open and make the server read outside it.
  HttpResponse Listing(const HttpRequest& req, const std::string& id, int root_fd, int dir_fd,
                       const std::string& rel);
  HttpResponse ServeFile(const HttpRequest& req, int root_fd, UniqueFd path_fd,
                         const std::string& rel);
  HttpResponse ServeOutput(const HttpRequest& req, const std::string& id, const fs::path& root,
                           const std::string& rel);

  const AccessPolicy& Policy() const {
    static const AccessPolicy kOpen;
    return options_.access ? *options_.access : kOpen;
  }

  service::JobService& service_;
  std::shared_ptr<store::JobStore> jobs_;
  OutputRoutesOptions options_;
};

std::string JobUrl(const std::string& base, const std::string& id) {
  return ResourceUrl(base, "jobs", id);
}

HttpResponse OutputRoutes::Output(HttpRequest& req) {
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
  // The folder is on the job's node: ask it; when it is gone, the archive answers here.
  if (options_.forwarder) {
    if (auto owner = options_.forwarder->OwnerUrl(req, *r, false)) {
      if (auto answer = options_.forwarder->Forward(req, *r, *owner)) return std::move(*answer);
    }
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

HttpResponse OutputRoutes::ServeOutput(const HttpRequest& req, const std::string& id,
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
HttpResponse OutputRoutes::Listing(const HttpRequest& req, const std::string& id, int root_fd,
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

HttpResponse OutputRoutes::ServeFile(const HttpRequest& req, int root_fd, UniqueFd path_fd,
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

void RegisterOutputRoutes(Router& router, service::JobService& service,
                          std::shared_ptr<store::JobStore> jobs, OutputRoutesOptions options) {
  auto routes = std::make_shared<OutputRoutes>(service, std::move(jobs), std::move(options));
  auto output = [routes](HttpRequest& req) { return routes->Output(req); };
  router.Add("GET", "/api/v3/jobs/{id}/output", output);
  router.Add("GET", "/api/v3/jobs/{id}/output/{path*}", output);
}

}  // namespace weir::api

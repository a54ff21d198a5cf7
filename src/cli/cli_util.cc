#include "cli/cli_util.h"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>

namespace weir::cli {

int Fail(const Status& s) {
  std::cerr << "weir: " << s.message() << "\n";
  return ExitCodeFor(s);
}

int Fail(std::string_view message) {
  std::cerr << "weir: " << message << "\n";
  return kExitFailure;
}

int ExitCodeFor(const Status& s) {
  switch (s.code()) {
    case StatusCode::kOk:
      return kExitOk;
    case StatusCode::kNotFound:
      return kExitNotFound;
    case StatusCode::kResourceExhausted:
    case StatusCode::kUnavailable:
    case StatusCode::kDeadlineExceeded:
      return kExitRetry;
    case StatusCode::kAborted:
      return kExitUnreachable;
    default:
      return kExitFailure;
  }
}

Status Unreachable(std::string message) { return Status(StatusCode::kAborted, std::move(message)); }

namespace {

// True when `body` is an error document as weir (and Genie) send: a JSON object with a message.
bool IsWeirError(std::string_view body) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(body, ec);
  if (ec || !v.is_object()) return false;
  const boost::json::value* m = v.as_object().if_contains("message");
  return m != nullptr && m->is_string();
}

}  // namespace

Status CheckResponse(const client::HttpClient& c, std::string_view path,
                     const Result<client::Response>& r) {
  if (!r.ok()) {
    // The transport's failures (refused, reset, TLS, timed out); a local problem such as an
    // unusable token file keeps its own code.
    const StatusCode code = r.status().code();
    if (code == StatusCode::kUnavailable || code == StatusCode::kDeadlineExceeded) {
      return Unreachable(r.status().message());
    }
    return r.status();
  }
  if (r->status == 404 && !IsWeirError(r->body)) {
    return Unreachable("no weir server at " + c.base_url() + ": got HTTP 404 from " + c.base_url() +
                       std::string(path) + " (check --server or WEIR_SERVER)");
  }
  return client::ToStatus(*r);
}

Result<boost::json::value> ParseJson(std::string_view text, std::string_view context) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  if (ec) return Internal(std::string(context) + ": the server sent invalid JSON: " + ec.message());
  return v;
}

Result<boost::json::value> GetJson(client::HttpClient& c, const std::string& path) {
  auto r = c.Get(path, {{"Accept", "application/json"}});
  if (Status s = CheckResponse(c, path, r); !s.ok()) return s;
  auto v = ParseJson(r->body, path);
  if (!v.ok()) {
    return Unreachable("no weir server at " + c.base_url() + ": got a non-JSON answer (HTTP " +
                       std::to_string(r->status) + ") from " + c.base_url() + path +
                       " (check --server or WEIR_SERVER)");
  }
  return v;
}

std::string Str(const boost::json::value& v, std::string_view key) {
  if (!v.is_object()) return "";
  const boost::json::value* f = v.as_object().if_contains(key);
  if (!f || f->is_null()) return "";
  if (f->is_string()) return std::string(f->as_string());
  return boost::json::serialize(*f);
}

void PrintTable(std::ostream& out, const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(header.size());
  for (size_t i = 0; i < header.size(); ++i) width[i] = header[i].size();
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size() && i < width.size(); ++i) {
      width[i] = std::max(width[i], row[i].size());
    }
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string s;
    for (size_t i = 0; i < width.size(); ++i) {
      std::string cell = i < cells.size() ? cells[i] : "";
      s += cell;
      if (i + 1 < width.size()) s += std::string(width[i] - cell.size() + 2, ' ');
    }
    while (!s.empty() && s.back() == ' ') s.pop_back();
    out << s << "\n";
  };
  line(header);
  for (const auto& row : rows) line(row);
}

std::string LocalUserName() {
  for (const char* name : {"USER", "LOGNAME"}) {
    if (const char* v = std::getenv(name); v != nullptr && *v != '\0') return v;
  }
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  if (::getpwuid_r(::getuid(), &pw, buf.data(), buf.size(), &found) == 0 && found != nullptr) {
    return found->pw_name;
  }
  return "";
}

}  // namespace weir::cli

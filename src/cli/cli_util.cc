#include "cli/cli_util.h"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>

namespace weir::cli {

int Fail(const Status& s) { return Fail(s.message()); }

int Fail(std::string_view message) {
  std::cerr << "weir: " << message << "\n";
  return 1;
}

Result<boost::json::value> ParseJson(std::string_view text, std::string_view context) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  if (ec) return Internal(std::string(context) + ": the server sent invalid JSON: " + ec.message());
  return v;
}

Result<boost::json::value> GetJson(client::HttpClient& c, const std::string& path) {
  auto r = c.Get(path, {{"Accept", "application/json"}});
  if (!r.ok()) return r.status();
  if (Status s = client::ToStatus(*r); !s.ok()) return s;
  return ParseJson(r->body, path);
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

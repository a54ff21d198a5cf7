#include "exec/job_dir.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <string>
#include <utility>

#include "common/fs.h"
#include "common/ids.h"
#include "common/strings.h"
#include "exec/setup_step.h"

namespace weir::exec {

namespace fs = std::filesystem;

namespace paths {
fs::path JobDir(const fs::path& jobs_root, const std::string& job_id) {
  return jobs_root / IdFileName(job_id);
}
fs::path RunScript(const fs::path& job_dir) { return job_dir / "run"; }
fs::path Stdout(const fs::path& job_dir) { return job_dir / "stdout"; }
fs::path Stderr(const fs::path& job_dir) { return job_dir / "stderr"; }
fs::path GenieDir(const fs::path& job_dir) { return job_dir / "genie"; }
fs::path DoneFile(const fs::path& job_dir) { return GenieDir(job_dir) / "genie.done"; }
fs::path KillReasonFile(const fs::path& job_dir) { return GenieDir(job_dir) / "kill-reason"; }
fs::path PidFile(const fs::path& job_dir) { return GenieDir(job_dir) / "pid"; }
fs::path LaunchMarker(const fs::path& job_dir) { return GenieDir(job_dir) / "launched"; }
fs::path GenieLog(const fs::path& job_dir) { return GenieDir(job_dir) / "logs" / "genie.log"; }
fs::path EnvLog(const fs::path& job_dir) { return GenieDir(job_dir) / "logs" / "env.log"; }
fs::path InitFailureFile(const fs::path& job_dir) { return job_dir / "initFailureDetails.txt"; }
fs::path EntityDir(const fs::path& job_dir, model::Kind kind, const std::string& id) {
  switch (kind) {
    case model::Kind::kCluster:
      return GenieDir(job_dir) / "cluster" / IdFileName(id);
    case model::Kind::kCommand:
      return GenieDir(job_dir) / "command" / IdFileName(id);
    case model::Kind::kApplication:
      return GenieDir(job_dir) / "applications" / IdFileName(id);
  }
  return GenieDir(job_dir) / "unknown" / IdFileName(id);
}
}  // namespace paths

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 && HexValue(s[i + 2]) >= 0) {
      out += static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// The scheme of `uri` ("file", "http"...) or empty when it has none (RFC 3986 syntax).
std::string SchemeOf(std::string_view uri) {
  size_t colon = uri.find(':');
  if (colon == std::string_view::npos || colon == 0) return "";
  if (!std::isalpha(static_cast<unsigned char>(uri[0]))) return "";
  for (size_t i = 1; i < colon; ++i) {
    char c = uri[i];
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') {
      return "";
    }
  }
  return ToLower(uri.substr(0, colon));
}

// The local path a file URI or absolute path names.
Result<fs::path> LocalPathOf(const std::string& uri) {
  std::string scheme = SchemeOf(uri);
  if (scheme.empty()) {
    if (!uri.empty() && uri.front() == '/') return fs::path(uri);
    return InvalidArgument("fetch '" + uri +
                           "': relative paths are not supported (use an absolute path or a "
                           "file:// URI)");
  }
  if (scheme != "file") {
    return InvalidArgument("fetch '" + uri + "': unsupported scheme '" + scheme +
                           "' (supported: file)");
  }
  std::string_view rest = std::string_view(uri).substr(5);  // after "file:"
  if (StartsWith(rest, "//")) {
    rest.remove_prefix(2);
    size_t slash = rest.find('/');
    std::string_view host = rest.substr(0, slash);
    if (!host.empty() && host != "localhost") {
      return InvalidArgument("fetch '" + uri + "': file URIs with a host ('" + std::string(host) +
                             "') are not supported (use file:///path)");
    }
    if (slash == std::string_view::npos) {
      return InvalidArgument("fetch '" + uri + "': the URI names no file");
    }
    rest.remove_prefix(slash);
  }
  if (rest.empty() || rest.front() != '/') {
    return InvalidArgument("fetch '" + uri + "': a file URI needs an absolute path");
  }
  std::string decoded = PercentDecode(rest);
  if (decoded.find('\0') != std::string::npos) {
    return InvalidArgument("fetch '" + uri + "': the path holds a NUL byte");
  }
  return fs::path(decoded);
}

class LocalFileFetcher final : public Fetcher {
 public:
  Status Fetch(const std::string& uri, const fs::path& dest) override {
    WEIR_ASSIGN_OR_RETURN(fs::path src, LocalPathOf(uri));
    std::string context = "fetch '" + uri + "'";
    int in = ::open(src.c_str(), O_RDONLY | O_CLOEXEC);
    if (in < 0) return ErrnoStatus(context, errno);
    struct stat st;
    if (::fstat(in, &st) != 0) {
      int err = errno;
      ::close(in);
      return ErrnoStatus(context, err);
    }
    if (!S_ISREG(st.st_mode)) {
      ::close(in);
      return InvalidArgument(context + ": not a regular file");
    }
    // Permission bits are kept so that an executable dependency stays executable.
    int out =
        ::open(dest.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, (st.st_mode & 0777) | 0600);
    if (out < 0) {
      int err = errno;
      ::close(in);
      return ErrnoStatus(context + ": write " + dest.string(), err);
    }
    Status s = CopyAll(in, out, context, dest);
    ::close(in);
    if (::close(out) != 0 && s.ok()) s = ErrnoStatus(context + ": write " + dest.string(), errno);
    return s;
  }

 private:
  static Status CopyAll(int in, int out, const std::string& context, const fs::path& dest) {
    bool use_range = true;
    char buf[1 << 16];
    while (true) {
      ssize_t n;
      if (use_range) {
        n = ::copy_file_range(in, nullptr, out, nullptr, 1 << 30, 0);
        if (n < 0 &&
            (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP)) {
          use_range = false;
          continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return ErrnoStatus(context, errno);
        if (n == 0) return Status::Ok();
        continue;
      }
      n = ::read(in, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return ErrnoStatus(context, errno);
      if (n == 0) return Status::Ok();
      for (ssize_t off = 0; off < n;) {
        ssize_t w = ::write(out, buf + off, static_cast<size_t>(n - off));
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return ErrnoStatus(context + ": write " + dest.string(), errno);
        off += w;
      }
    }
  }
};

// ---- small JSON pieces for genie.done and kill-reason ----

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (c == '"')
      out += "\\\"";
    else if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else if (c == '\t')
      out += "\\t";
    else if (u < 0x20) {
      char esc[8];
      std::snprintf(esc, sizeof esc, "\\u%04x", u);
      out += esc;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Finds `"key"` followed by ':' in a one-level JSON object and returns the position just after
// the colon (whitespace skipped), or npos.
size_t FindValue(std::string_view text, std::string_view key) {
  std::string quoted = "\"" + std::string(key) + "\"";
  size_t p = text.find(quoted);
  if (p == std::string_view::npos) return p;
  p += quoted.size();
  while (p < text.size() && std::isspace(static_cast<unsigned char>(text[p]))) ++p;
  if (p >= text.size() || text[p] != ':') return std::string_view::npos;
  ++p;
  while (p < text.size() && std::isspace(static_cast<unsigned char>(text[p]))) ++p;
  return p;
}

// Parses the JSON string starting at text[p] == '"'.
std::optional<std::string> ParseJsonString(std::string_view text, size_t p) {
  if (p >= text.size() || text[p] != '"') return std::nullopt;
  std::string out;
  for (++p; p < text.size(); ++p) {
    char c = text[p];
    if (c == '"') return out;
    if (c != '\\') {
      out += c;
      continue;
    }
    if (++p >= text.size()) return std::nullopt;
    switch (text[p]) {
      case '"':
        out += '"';
        break;
      case '\\':
        out += '\\';
        break;
      case '/':
        out += '/';
        break;
      case 'n':
        out += '\n';
        break;
      case 't':
        out += '\t';
        break;
      case 'r':
        out += '\r';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'u': {
        if (p + 4 >= text.size()) return std::nullopt;
        uint32_t cp = 0;
        for (int i = 1; i <= 4; ++i) {
          int h = HexValue(text[p + i]);
          if (h < 0) return std::nullopt;
          cp = cp * 16 + static_cast<uint32_t>(h);
        }
        AppendUtf8(out, cp);
        p += 4;
        break;
      }
      default:
        return std::nullopt;
    }
  }
  return std::nullopt;
}

// genie/ of `job_dir`, opened without following a link there. The job may own its directory
// (run-as-user, see run_as.h): the server, as root, then reaches genie/ files only through this
// descriptor, so a link the job made cannot send a read or write elsewhere.
int OpenGenieDir(const fs::path& job_dir) {
  return ::open(paths::GenieDir(job_dir).c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

// Writes `data` to genie/<name>.tmp (made anew: never a file or link already there) and renames
// it over genie/<name>, without fsync.
Status WriteGenieFile(const fs::path& job_dir, const char* name, std::string_view data) {
  const fs::path shown = paths::GenieDir(job_dir) / name;
  int dfd = OpenGenieDir(job_dir);
  if (dfd < 0) return ErrnoStatus("write " + shown.string(), errno);
  const std::string tmp = std::string(name) + ".tmp";
  ::unlinkat(dfd, tmp.c_str(), 0);
  int fd = ::openat(dfd, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) {
    int err = errno;
    ::close(dfd);
    return ErrnoStatus("write " + shown.string() + ".tmp", err);
  }
  ssize_t n = ::write(fd, data.data(), data.size());
  int err = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(data.size())) {
    ::unlinkat(dfd, tmp.c_str(), 0);
    ::close(dfd);
    return ErrnoStatus("write " + shown.string() + ".tmp", n < 0 ? err : EIO);
  }
  if (::renameat(dfd, tmp.c_str(), dfd, name) != 0) {
    err = errno;
    ::unlinkat(dfd, tmp.c_str(), 0);
    ::close(dfd);
    return ErrnoStatus("rename " + shown.string(), err);
  }
  ::close(dfd);
  return Status::Ok();
}

// Reads a small regular file genie/<name> whole (at most 64 KiB); nullopt when it cannot be
// opened or is not a regular file (a link, a FIFO: never followed, never waited on).
std::optional<std::string> ReadGenieFile(const fs::path& job_dir, const char* name) {
  int dfd = OpenGenieDir(job_dir);
  if (dfd < 0) return std::nullopt;
  int fd = ::openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  ::close(dfd);
  if (fd < 0) return std::nullopt;
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return std::nullopt;
  }
  std::string out;
  char buf[4096];
  while (out.size() < (64u << 10)) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

// ---- run script ----

std::string SortedJoined(std::vector<std::string> tags) {
  std::sort(tags.begin(), tags.end());
  tags.erase(std::unique(tags.begin(), tags.end()), tags.end());
  return Join(tags, ",");
}

class ScriptWriter {
 public:
  void Line(std::string_view s) {
    out_ += s;
    out_ += '\n';
  }
  void Export(std::string_view name, std::string_view value) {
    out_ += "export ";
    out_ += name;
    out_ += '=';
    out_ += ShellQuote(value);
    out_ += '\n';
  }
  // `word` is already a shell word (quoted, possibly with expansions).
  void ExportWord(std::string_view name, std::string_view word) {
    out_ += "export ";
    out_ += name;
    out_ += '=';
    out_ += word;
    out_ += '\n';
  }
  std::string& text() { return out_; }

 private:
  std::string out_;
};

// Emits the lines that source one set-up file and stop the job when it fails.
// `word` is `file` as a shell word (see GenerateRunScript's relocatable paths).
void SourceSetup(ScriptWriter& w, const std::string& what, const fs::path& file,
                 const std::string& word) {
  w.Line("__weir_log " + ShellQuote("Sourcing the set-up file of " + what + ": " + file.string()));
  w.Line("source " + word);
  w.Line("__weir_after_setup \"$?\" " + ShellQuote(what));
}

}  // namespace

std::unique_ptr<Fetcher> NewLocalFileFetcher() { return std::make_unique<LocalFileFetcher>(); }

Result<std::string> LocalFileName(std::string_view uri) {
  std::string_view path = uri;
  std::string scheme = SchemeOf(uri);
  if (!scheme.empty()) {
    path.remove_prefix(scheme.size() + 1);
    if (scheme != "file") {
      size_t q = path.find_first_of("?#");
      if (q != std::string_view::npos) path = path.substr(0, q);
    }
  }
  size_t slash = path.rfind('/');
  std::string name = PercentDecode(slash == std::string_view::npos ? path : path.substr(slash + 1));
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
      name.find('\0') != std::string::npos) {
    return InvalidArgument("uri '" + std::string(uri) +
                           "': its last path segment is not a usable file name");
  }
  return name;
}

std::optional<int> ReadDoneExitCode(const fs::path& job_dir) {
  std::optional<std::string> text = ReadGenieFile(job_dir, "genie.done");
  if (!text) return std::nullopt;
  size_t p = FindValue(*text, "exitCode");
  if (p == std::string::npos) return std::nullopt;
  std::string digits;
  if (p < text->size() && (*text)[p] == '"') {
    std::optional<std::string> s = ParseJsonString(*text, p);
    if (!s) return std::nullopt;
    digits = *s;
  } else {
    size_t e = p;
    while (e < text->size() && ((*text)[e] == '-' || std::isdigit((unsigned char)(*text)[e]))) {
      ++e;
    }
    digits = text->substr(p, e - p);
  }
  long long code = 0;
  if (!ParseInt64(digits, &code) || code < -(1LL << 31) || code > (1LL << 31) - 1) {
    return std::nullopt;
  }
  return static_cast<int>(code);
}

Status WriteKillReason(const fs::path& job_dir, std::string_view reason) {
  return WriteGenieFile(job_dir, "kill-reason", "{\"killReason\": " + JsonString(reason) + "}\n");
}

std::optional<std::string> ReadKillReason(const fs::path& job_dir) {
  std::optional<std::string> text = ReadGenieFile(job_dir, "kill-reason");
  if (!text) return std::nullopt;
  size_t p = FindValue(*text, "killReason");
  if (p == std::string::npos) return std::nullopt;
  return ParseJsonString(*text, p);
}

Status WritePidFile(const fs::path& job_dir, PidRecord record) {
  return WriteGenieFile(
      job_dir, "pid", std::to_string(record.pid) + " " + std::to_string(record.start_time) + "\n");
}

std::optional<PidRecord> ReadPidFile(const fs::path& job_dir) {
  std::optional<std::string> text = ReadGenieFile(job_dir, "pid");
  if (!text) return std::nullopt;
  std::vector<std::string> parts = Split(Trim(*text), ' ');
  long long pid = 0, start = 0;
  if (parts.size() != 2 || !ParseInt64(parts[0], &pid) || !ParseInt64(parts[1], &start) ||
      pid <= 0 || pid > (1LL << 30) || start < 0) {
    return std::nullopt;
  }
  return PidRecord{static_cast<int>(pid), start};
}

std::string GenerateRunScript(const JobSpec& spec, const fs::path& job_dir) {
  const model::JobRecord& rec = spec.record;
  const model::JobRequest& req = rec.request;
  ScriptWriter w;
  // A path inside the job directory as a shell word. Relocatable: relative to $__weir_dir, the
  // folder the script is found in when it runs, so the folder works wherever it is moved.
  auto q = [&](const fs::path& p) {
    if (!spec.relocatable) return ShellQuote(p.string());
    fs::path rel = p.lexically_relative(job_dir);
    if (rel.empty() || rel == ".") return std::string("\"${__weir_dir}\"");
    return "\"${__weir_dir}\"/" + ShellQuote(rel.string());
  };

  w.Line("#!/bin/bash");
  w.Line("# Run script of a weir job, generated at set-up. It sources the set-up files (cluster,");
  w.Line("# applications, command, job), then runs the command with its output in stdout and");
  w.Line(
      "# stderr. Its own messages go to genie/logs/genie.log; genie/genie.done records the exit");
  w.Line(
      "# code. It traps no signal: a trap is inherited by a forked child until that child execs,");
  w.Line("# so a SIGTERM landing in between would be lost and the command would run on. The");
  w.Line("# executor signals the whole process group and gives the command its grace period.");
  w.Line("");
  // A path as the script's log shows it: relative to the folder when relocatable.
  auto shown = [&](const fs::path& p) {
    return spec.relocatable ? p.lexically_relative(job_dir) : p;
  };
  if (spec.relocatable) {
    w.Line(
        "# Relocatable (local mode): every path below is relative to the folder of this script.");
    w.Line("case \"${BASH_SOURCE[0]}\" in");
    w.Line("  */*) __weir_dir=\"${BASH_SOURCE[0]%/*}\" ;;");
    w.Line("  *) __weir_dir=. ;;");
    w.Line("esac");
    w.Line("__weir_dir=\"$(builtin cd -- \"$__weir_dir\" && builtin pwd -P)\" || exit 1");
  }
  std::string log = q(paths::GenieLog(job_dir));
  w.Line("exec </dev/null >>" + log + " 2>&1 || exit 1");
  w.Line("cd " + q(job_dir) + " || exit 1");
  w.Line("");
  w.Line("__weir_log() {");
  w.Line("  builtin printf '%(%Y-%m-%dT%H:%M:%S%z)T %s\\n' -1 \"$*\"");
  w.Line("}");
  w.Line("__weir_exit() {");
  w.Line("  __weir_log \"Run script ends with exit code $1\"");
  w.Line("  builtin printf '{\"exitCode\": \"%s\"}\\n' \"$1\" >" + q(paths::DoneFile(job_dir)));
  w.Line("  exit \"$1\"");
  w.Line("}");
  w.Line("__weir_after_setup() {");
  w.Line("  if [ \"$1\" != 0 ]; then");
  w.Line("    __weir_log \"Set-up of $2 failed with exit code $1\"");
  w.Line("    __weir_exit \"$1\"");
  w.Line("  fi");
  w.Line("}");
  w.Line("");

  // Environment, in the order of the spec's list.
  std::string memory;
  if (rec.execution.memory)
    memory = std::to_string(*rec.execution.memory);
  else if (req.memory)
    memory = std::to_string(*req.memory);
  else if (spec.command.memory)
    memory = std::to_string(*spec.command.memory);
  fs::path cluster_dir = paths::EntityDir(job_dir, model::Kind::kCluster, spec.cluster.id);
  fs::path command_dir = paths::EntityDir(job_dir, model::Kind::kCommand, spec.command.id);
  std::string requested_cluster_tags = "[";
  for (size_t i = 0; i < req.cluster_criterias.size(); ++i) {
    if (i > 0) requested_cluster_tags += ',';
    requested_cluster_tags += "[" + SortedJoined(req.cluster_criterias[i].tags) + "]";
  }
  requested_cluster_tags += "]";

  w.ExportWord("GENIE_JOB_DIR", q(job_dir));
  w.ExportWord("GENIE_APPLICATION_DIR", q(paths::GenieDir(job_dir) / "applications"));
  w.ExportWord("GENIE_COMMAND_DIR", q(command_dir));
  w.Export("GENIE_COMMAND_ID", spec.command.id);
  w.Export("GENIE_COMMAND_NAME", spec.command.name);
  w.Export("GENIE_COMMAND_TAGS", SortedJoined(spec.command.tags));
  w.ExportWord("GENIE_CLUSTER_DIR", q(cluster_dir));
  w.Export("GENIE_CLUSTER_ID", spec.cluster.id);
  w.Export("GENIE_CLUSTER_NAME", spec.cluster.name);
  w.Export("GENIE_CLUSTER_TAGS", SortedJoined(spec.cluster.tags));
  w.Export("GENIE_JOB_ID", rec.id);
  w.Export("GENIE_JOB_NAME", req.name);
  w.Export("GENIE_JOB_MEMORY", memory);
  w.Export("GENIE_JOB_TAGS", SortedJoined(req.tags));
  w.Export("GENIE_JOB_GROUPING", req.grouping.value_or(""));
  w.Export("GENIE_JOB_GROUPING_INSTANCE", req.grouping_instance.value_or(""));
  w.Export("GENIE_REQUESTED_COMMAND_TAGS", SortedJoined(req.command_criteria));
  w.Export("GENIE_REQUESTED_CLUSTER_TAGS", requested_cluster_tags);
  for (size_t i = 0; i < req.cluster_criterias.size(); ++i) {
    w.Export("GENIE_REQUESTED_CLUSTER_TAGS_" + std::to_string(i),
             SortedJoined(req.cluster_criterias[i].tags));
  }
  w.Export("GENIE_VERSION", spec.weir_version);
  w.Line("");

  // Set-up files: cluster, applications, command, job.
  auto entity_setup = [&](const model::ConfigEntity& e) {
    if (!e.setup_file) return;
    Result<std::string> name = LocalFileName(*e.setup_file);
    std::string what = std::string(model::KindName(e.kind)) + " " + e.id;
    if (!name) {
      w.Line("__weir_after_setup 1 " + ShellQuote(what));
      return;
    }
    fs::path file = paths::EntityDir(job_dir, e.kind, e.id) / *name;
    SourceSetup(w, what, shown(file), q(file));
  };
  entity_setup(spec.cluster);
  for (const model::ConfigEntity& app : spec.applications) entity_setup(app);
  entity_setup(spec.command);
  if (req.setup_file) {
    Result<std::string> name = LocalFileName(*req.setup_file);
    if (name)
      SourceSetup(w, "job " + rec.id, shown(job_dir / *name), q(job_dir / *name));
    else
      w.Line("__weir_after_setup 1 " + ShellQuote("job " + rec.id));
  }
  w.Line("");

  // The request's own variables (environmentVariables), after every set-up file: they win.
  if (!req.environment.empty()) {
    for (const auto& [name, value] : req.environment) w.Export(name, value);
    w.Line("");
  }

  // The environment as the command sees it, written with builtins only (no fork).
  std::string env_log = q(paths::EnvLog(job_dir));
  w.Line("compgen -e >" + env_log);
  w.Line("mapfile -t __weir_names <" + env_log);
  w.Line("for __weir_name in \"${__weir_names[@]}\"; do");
  w.Line("  builtin printf '%s=%s\\n' \"$__weir_name\" \"${!__weir_name}\"");
  w.Line("done >" + env_log);
  w.Line("");

  // The command line is a shell fragment by design (Genie appends commandArgs as is); the braces
  // and newlines keep a trailing comment or '&' in it from swallowing the redirections.
  std::string args = model::EffectiveCommandArgs(req);
  std::string command_line = spec.command.executable;
  if (!args.empty()) command_line += " " + args;
  w.Line("__weir_log 'Running the command'");
  w.Line("{");
  if (Trim(command_line).empty()) {
    w.Line("builtin echo 'weir: the command has no executable' >&2; exit 127");
  } else {
    w.Line(command_line);
  }
  w.Line("} >" + q(paths::Stdout(job_dir)) + " 2>" + q(paths::Stderr(job_dir)));
  w.Line("__weir_exit \"$?\"");
  return std::move(w.text());
}

Status PrepareJobDirectory(const JobSpec& spec, const fs::path& job_dir, Fetcher& fetcher) {
  SetupContext context{spec, job_dir, fetcher};
  return RunSetupSteps(DefaultSetupSteps(), context);
}

}  // namespace weir::exec

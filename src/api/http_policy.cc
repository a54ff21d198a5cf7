// The Beast-free rules the HTTP server applies around a handler: which peers may speak for a
// client (IpSet, ApplyForwardedPolicy) and how a response file is opened without blocking.
#include <arpa/inet.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "api/http.h"

namespace weir::api {

namespace {

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// An IP literal as 16 bytes (IPv4 as IPv4-mapped IPv6). `v4` tells which it was.
bool ParseAddress(std::string_view text, unsigned char out[16], bool* v4) {
  if (text.empty() || text.size() > 64) return false;
  std::string s(text);
  in_addr a4{};
  if (::inet_pton(AF_INET, s.c_str(), &a4) == 1) {
    std::memset(out, 0, 10);
    out[10] = 0xff;
    out[11] = 0xff;
    std::memcpy(out + 12, &a4, 4);
    *v4 = true;
    return true;
  }
  in6_addr a6{};
  if (::inet_pton(AF_INET6, s.c_str(), &a6) == 1) {
    std::memcpy(out, &a6, 16);
    *v4 = false;
    return true;
  }
  return false;
}

bool IsForwardedHeader(std::string_view lower_name) {
  return lower_name == "forwarded" || lower_name.rfind("x-forwarded-", 0) == 0;
}

const char* KindOf(mode_t mode) {
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISLNK(mode)) return "a symbolic link";
  return "not a regular file";
}

}  // namespace

// ---- IpSet ----

Result<IpSet> IpSet::Parse(const std::vector<std::string>& entries) {
  IpSet set;
  for (const std::string& entry : entries) {
    std::string_view e = TrimSpaces(entry);
    std::string_view addr = e;
    int bits = -1;
    if (size_t slash = e.find('/'); slash != std::string_view::npos) {
      addr = e.substr(0, slash);
      std::string_view len = e.substr(slash + 1);
      bits = 0;
      if (len.empty() || len.size() > 3) bits = -2;
      for (char c : len) {
        if (c < '0' || c > '9') {
          bits = -2;
          break;
        }
        bits = bits * 10 + (c - '0');
      }
    }
    Range r{};
    bool v4 = false;
    if (bits == -2 || !ParseAddress(addr, r.bytes, &v4) || bits > (v4 ? 32 : 128)) {
      return InvalidArgument("'" + entry +
                             "' is not an IP address or CIDR range (e.g. 10.0.0.5, 10.0.0.0/8, "
                             "fd00::/8)");
    }
    r.prefix_bits = bits < 0 ? 128 : (v4 ? 96 + bits : bits);
    set.ranges_.push_back(r);
  }
  return set;
}

bool IpSet::Contains(std::string_view address) const {
  if (ranges_.empty()) return false;
  unsigned char a[16];
  bool v4 = false;
  if (!ParseAddress(TrimSpaces(address), a, &v4)) return false;
  for (const Range& r : ranges_) {
    int full = r.prefix_bits / 8;
    int rest = r.prefix_bits % 8;
    if (std::memcmp(a, r.bytes, static_cast<size_t>(full)) != 0) continue;
    if (rest != 0) {
      unsigned char mask = static_cast<unsigned char>(0xff << (8 - rest));
      if ((a[full] & mask) != (r.bytes[full] & mask)) continue;
    }
    return true;
  }
  return false;
}

void ApplyForwardedPolicy(HttpRequest& req, const IpSet& trusted_proxies) {
  auto& h = req.headers;
  if (!trusted_proxies.Contains(req.peer_address)) {
    std::erase_if(h, [](const auto& kv) { return IsForwardedHeader(kv.first); });
    return;
  }
  // Every X-Forwarded-For header, in order, as one comma-separated list.
  std::vector<std::string_view> chain;
  for (const auto& [name, value] : h) {
    if (name != "x-forwarded-for") continue;
    std::string_view v = value;
    size_t start = 0;
    while (start <= v.size()) {
      size_t comma = v.find(',', start);
      std::string_view part =
          TrimSpaces(v.substr(start, comma == std::string_view::npos ? v.npos : comma - start));
      if (!part.empty()) chain.push_back(part);
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
  }
  if (chain.empty()) return;
  std::string_view client = chain.front();
  for (size_t i = chain.size(); i-- > 0;) {
    if (!trusted_proxies.Contains(chain[i])) {
      client = chain[i];
      break;
    }
  }
  std::string kept(client);
  std::erase_if(h, [](const auto& kv) { return kv.first == "x-forwarded-for"; });
  h.emplace_back("x-forwarded-for", std::move(kept));
}

// ---- response files ----

FileHandle::~FileHandle() {
  if (fd_ >= 0) ::close(fd_);
}

Result<std::shared_ptr<FileHandle>> OpenRegularFileAt(UniqueFd path_fd, struct stat* st,
                                                      std::string_view name,
                                                      const std::function<int()>& reopen) {
  const std::string shown = "'" + std::string(name) + "'";
  struct stat pst {};
  if (::fstat(path_fd.get(), &pst) != 0) return ErrnoStatus("file " + shown, errno);
  if (!S_ISREG(pst.st_mode)) {
    return PermissionDenied("file " + shown + ": " + KindOf(pst.st_mode) +
                            ", not a regular file; only regular files are served");
  }
  const std::string via_proc = "/proc/self/fd/" + std::to_string(path_fd.get());
  int fd = ::open(via_proc.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0 && errno == ENOENT) fd = reopen();  // no /proc: open again, checked below
  if (fd < 0) return ErrnoStatus("file " + shown, errno);
  auto handle = std::make_shared<FileHandle>(fd);
  if (::fstat(fd, st) != 0) return ErrnoStatus("file " + shown, errno);
  if (!S_ISREG(st->st_mode) || st->st_dev != pst.st_dev || st->st_ino != pst.st_ino) {
    return PermissionDenied("file " + shown + ": changed while it was being opened; not served");
  }
  int fl = ::fcntl(fd, F_GETFL);
  if (fl >= 0) ::fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
  return handle;
}

Result<std::shared_ptr<FileHandle>> OpenRegularFile(const std::filesystem::path& path,
                                                    bool no_follow, struct stat* st,
                                                    std::string_view name) {
  // O_PATH opens nothing for reading: no FIFO wait, no device side effect. The type is checked
  // on that descriptor, and only a regular file is then opened for reading through it.
  const std::string shown = name.empty() ? path.string() : std::string(name);
  UniqueFd pfd(::open(path.c_str(), O_PATH | O_CLOEXEC | (no_follow ? O_NOFOLLOW : 0)));
  if (!pfd.valid()) {
    int err = errno;
    if (err == ENOENT || err == ENOTDIR) return NotFound("file '" + shown + "': not found");
    return ErrnoStatus("file '" + shown + "'", err);
  }
  return OpenRegularFileAt(std::move(pfd), st, shown, [&path, no_follow]() {
    return ::open(path.c_str(),
                  O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY | (no_follow ? O_NOFOLLOW : 0));
  });
}

}  // namespace weir::api

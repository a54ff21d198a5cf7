#include "fetch/perimeter.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <system_error>

#include "common/strings.h"
#include "fetch/uri.h"

namespace weir::fetch {

namespace fs = std::filesystem;

namespace {

constexpr std::array<uint8_t, 12> kMappedPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
constexpr std::array<uint8_t, 12> kNat64Prefix = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};

bool HasPrefix(const std::array<uint8_t, 16>& bytes, const std::array<uint8_t, 12>& prefix) {
  return std::equal(prefix.begin(), prefix.end(), bytes.begin());
}

IpAddress FromV4(const uint8_t* v4) {
  IpAddress a;
  std::copy(kMappedPrefix.begin(), kMappedPrefix.end(), a.bytes.begin());
  std::copy(v4, v4 + 4, a.bytes.begin() + 12);
  a.is_v4 = true;
  return a;
}

std::string_view RestrictedV4(const std::array<uint8_t, 4>& v4) {
  const uint8_t a = v4[0];
  const uint8_t b = v4[1];
  if (a == 0) return "unspecified";  // 0.0.0.0/8: "this network", reaches the host itself
  if (a == 127) return "loopback";
  if (a == 169 && b == 254) return "link-local";
  if (a == 10 || (a == 172 && (b & 0xf0) == 16) || (a == 192 && b == 168)) return "private";
  if (a == 100 && (b & 0xc0) == 64) return "shared";  // 100.64.0.0/10
  return "";
}

// The path a file descriptor refers to, from /proc (what was actually opened).
Result<std::string> PathOfDescriptor(int fd) {
  std::string link = "/proc/self/fd/" + std::to_string(fd);
  std::string buf(PATH_MAX, '\0');
  ssize_t n = ::readlink(link.c_str(), buf.data(), buf.size());
  if (n < 0) return ErrnoStatus("readlink " + link, errno);
  if (static_cast<size_t>(n) >= buf.size()) return Internal("readlink " + link + ": too long");
  buf.resize(static_cast<size_t>(n));
  return buf;
}

std::string WithoutTrailingSlash(std::string s) {
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

}  // namespace

// --- addresses and networks --------------------------------------------------------------------

Result<IpAddress> IpAddress::Parse(std::string_view text, bool lenient_v4) {
  std::string s(text);
  if (s.size() >= 2 && s.front() == '[' && s.back() == ']') s = s.substr(1, s.size() - 2);
  if (s.find(':') != std::string::npos) {
    if (size_t zone = s.find('%'); zone != std::string::npos) s.resize(zone);  // fe80::1%eth0
    IpAddress a;
    if (::inet_pton(AF_INET6, s.c_str(), a.bytes.data()) != 1) {
      return InvalidArgument("'" + std::string(text) + "': not an IPv6 address");
    }
    return a;
  }
  in_addr v4{};
  bool ok =
      lenient_v4 ? ::inet_aton(s.c_str(), &v4) != 0 : ::inet_pton(AF_INET, s.c_str(), &v4) == 1;
  if (!ok || s.empty()) return InvalidArgument("'" + std::string(text) + "': not an IP address");
  return FromV4(reinterpret_cast<const uint8_t*>(&v4.s_addr));
}

Result<IpAddress> IpAddress::FromSockaddr(const sockaddr* addr, socklen_t len) {
  if (addr == nullptr) return InvalidArgument("socket address: none");
  if (addr->sa_family == AF_INET && len >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(addr);
    return FromV4(reinterpret_cast<const uint8_t*>(&in->sin_addr.s_addr));
  }
  if (addr->sa_family == AF_INET6 && len >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(addr);
    IpAddress a;
    std::memcpy(a.bytes.data(), &in6->sin6_addr, 16);
    return a;
  }
  return InvalidArgument("socket address: family " + std::to_string(addr->sa_family) +
                         " is neither IPv4 nor IPv6");
}

std::string IpAddress::ToString() const {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (is_v4) {
    ::inet_ntop(AF_INET, bytes.data() + 12, buf, sizeof buf);
  } else {
    ::inet_ntop(AF_INET6, bytes.data(), buf, sizeof buf);
  }
  return buf;
}

bool IpAddress::EmbeddedV4(std::array<uint8_t, 4>* out) const {
  if (!HasPrefix(bytes, kMappedPrefix) && !HasPrefix(bytes, kNat64Prefix)) return false;
  std::copy(bytes.begin() + 12, bytes.end(), out->begin());
  return true;
}

Result<IpNetwork> IpNetwork::Parse(std::string_view text) {
  std::string_view addr_text = text;
  std::string_view prefix_text;
  if (size_t slash = text.find('/'); slash != std::string_view::npos) {
    addr_text = text.substr(0, slash);
    prefix_text = text.substr(slash + 1);
  }
  Result<IpAddress> base = IpAddress::Parse(addr_text);
  if (!base.ok()) {
    return InvalidArgument("network '" + std::string(text) +
                           "': expected an address or CIDR such as 10.0.0.0/8 or fd00::/8");
  }
  const int max = base->is_v4 ? 32 : 128;
  long long prefix = max;
  if (!prefix_text.empty() || text.find('/') != std::string_view::npos) {
    if (!ParseInt64(prefix_text, &prefix) || prefix < 0 || prefix > max) {
      return InvalidArgument("network '" + std::string(text) +
                             "': the prefix length must be 0 to " + std::to_string(max));
    }
  }
  IpNetwork n;
  n.base = *base;
  n.prefix = static_cast<int>(base->is_v4 ? prefix + 96 : prefix);
  for (int bit = n.prefix; bit < 128; ++bit) {
    if (n.base.bytes[bit / 8] & (0x80 >> (bit % 8))) {
      return InvalidArgument("network '" + std::string(text) +
                             "': address bits are set beyond the prefix length");
    }
  }
  return n;
}

bool IpNetwork::Contains(const IpAddress& address) const {
  int full = prefix / 8;
  if (!std::equal(base.bytes.begin(), base.bytes.begin() + full, address.bytes.begin())) {
    return false;
  }
  int rest = prefix % 8;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (base.bytes[full] & mask) == (address.bytes[full] & mask);
}

std::string IpNetwork::ToString() const {
  return base.ToString() + "/" + std::to_string(base.is_v4 ? prefix - 96 : prefix);
}

std::string_view RestrictedRange(const IpAddress& address) {
  const auto& b = address.bytes;
  std::array<uint8_t, 4> v4{};
  if (address.EmbeddedV4(&v4)) return RestrictedV4(v4);
  bool zero_but_last = std::all_of(b.begin(), b.end() - 1, [](uint8_t x) { return x == 0; });
  if (zero_but_last && b[15] == 0) return "unspecified";
  if (zero_but_last && b[15] == 1) return "loopback";
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return "link-local";  // fe80::/10
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) return "private";     // fec0::/10 site-local
  if ((b[0] & 0xfe) == 0xfc) return "private";                     // fc00::/7 unique local
  // IPv4-compatible (::a.b.c.d, deprecated): judged by the IPv4 address, to be safe.
  if (std::all_of(b.begin(), b.begin() + 12, [](uint8_t x) { return x == 0; })) {
    return RestrictedV4({b[12], b[13], b[14], b[15]});
  }
  return "";
}

// --- files -------------------------------------------------------------------------------------

Result<std::string> LocalPathOfUri(std::string_view uri) {
  if (StartsWith(uri, "/")) {
    if (uri.find('\0') != std::string_view::npos) return InvalidArgument("the path holds a NUL");
    return std::string(uri);
  }
  Result<ParsedUri> parsed = ParseUri(uri);
  if (!parsed.ok()) return parsed.status();
  if (parsed->scheme != "file") return InvalidArgument("not a file URI or an absolute path");
  if (!parsed->authority.empty() && parsed->authority != "localhost") {
    return InvalidArgument("file URIs must name a local path (file:///path), not host '" +
                           parsed->authority + "'");
  }
  Result<std::string> decoded = PercentDecode(parsed->path);
  if (!decoded.ok()) return decoded.status();
  if (!StartsWith(*decoded, "/")) return InvalidArgument("the path must be absolute");
  return *decoded;
}

Result<Perimeter> Perimeter::Create(PerimeterOptions options) {
  for (fs::path& root : options.allowed_file_roots) {
    if (!root.is_absolute()) {
      return InvalidArgument("config fetch.allowed_file_roots: '" + root.string() +
                             "' is not an absolute folder");
    }
    std::error_code ec;
    fs::path canonical = fs::weakly_canonical(root, ec);
    if (ec) {
      return InvalidArgument("config fetch.allowed_file_roots: '" + root.string() +
                             "': " + ec.message());
    }
    root = WithoutTrailingSlash(canonical.string());
  }
  return Perimeter(std::move(options));
}

bool Perimeter::InsideRoots(const fs::path& canonical) const {
  const std::string path = canonical.string();
  for (const fs::path& root : options_.allowed_file_roots) {
    const std::string r = root.string();
    if (r == "/") {
      if (path.size() > 1 && path[0] == '/') return true;
      continue;
    }
    if (path.size() > r.size() + 1 && StartsWith(path, r) && path[r.size()] == '/') return true;
  }
  return false;
}

Status Perimeter::FileRefused(std::string_view uri) const {
  return PermissionDenied(RedactUri(uri) +
                          " is outside fetch.allowed_file_roots; ask an administrator to add its "
                          "folder or attach the file");
}

Result<int> Perimeter::OpenAllowedFile(std::string_view uri) const {
  Result<std::string> local = LocalPathOfUri(uri);
  if (!local.ok()) return local.status().WithContext("fetch '" + RedactUri(uri) + "'");
  const std::string& path = *local;
  // First the path as it resolves now, so nothing outside the roots is even opened (opening a
  // device can have effects, and an error would tell whether the file exists).
  std::error_code ec;
  fs::path resolved = fs::weakly_canonical(path, ec);
  if (ec || !InsideRoots(resolved)) return FileRefused(uri);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return ErrnoStatus("fetch '" + RedactUri(uri) + "'", errno);
  // Then the file actually opened: a symlink swapped in between the two cannot escape.
  Result<std::string> opened = PathOfDescriptor(fd);
  if (!opened.ok() || !InsideRoots(*opened)) {
    ::close(fd);
    return FileRefused(uri);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return InvalidArgument("fetch '" + RedactUri(uri) + "': not a regular file");
  }
  return fd;
}

// --- networks ----------------------------------------------------------------------------------

Status Perimeter::CheckAddress(const IpAddress& address) const {
  std::string_view range = RestrictedRange(address);
  if (range.empty()) return Status::Ok();
  for (const IpNetwork& n : options_.allowed_networks) {
    if (n.Contains(address)) return Status::Ok();
  }
  return PermissionDenied("address " + address.ToString() + " is " + std::string(range) +
                          ", refused by fetch.allowed_networks");
}

namespace {

bool IsHttp(const ParsedUri& p) { return p.scheme == "http" || p.scheme == "https"; }

std::string HostName(const ParsedUri& p) {
  std::string host = ToLower(p.host);
  while (!host.empty() && host.back() == '.') host.pop_back();
  return host;
}

bool IsLocalhostName(std::string_view host) {
  return host == "localhost" || EndsWith(host, ".localhost");  // RFC 6761
}

}  // namespace

Status Perimeter::CheckJobUri(std::string_view uri) const {
  if (StartsWith(uri, "/")) {
    std::error_code ec;
    fs::path resolved = fs::weakly_canonical(std::string(uri), ec);
    if (ec || !InsideRoots(resolved)) return FileRefused(uri);
    return Status::Ok();
  }
  Result<ParsedUri> parsed = ParseUri(uri);
  if (!parsed.ok()) return Status::Ok();  // the fetcher reports malformed URIs
  if (parsed->scheme == "file") {
    Result<std::string> path = LocalPathOfUri(uri);
    if (!path.ok()) return path.status().WithContext(RedactUri(uri));
    std::error_code ec;
    fs::path resolved = fs::weakly_canonical(*path, ec);
    if (ec || !InsideRoots(resolved)) return FileRefused(uri);
    return Status::Ok();
  }
  if (!IsHttp(*parsed)) return Status::Ok();
  std::string host = HostName(*parsed);
  Result<IpAddress> literal = IsLocalhostName(host) ? IpAddress::Parse("127.0.0.1")
                                                    : IpAddress::Parse(host, /*lenient_v4=*/true);
  if (!literal.ok()) return Status::Ok();  // a name: checked when fetched and when connected
  Status s = CheckAddress(*literal);
  if (!s.ok()) return Status(s.code(), RedactUri(uri) + ": " + s.message());
  return Status::Ok();
}

Status Perimeter::CheckHostBeforeFetch(std::string_view uri) const {
  Result<ParsedUri> parsed = ParseUri(uri);
  if (!parsed.ok() || !IsHttp(*parsed)) return Status::Ok();
  std::string host = HostName(*parsed);
  if (host.empty()) return Status::Ok();
  auto refuse = [&](const Status& s) {
    return Status(s.code(), RedactUri(uri) + ": " + s.message());
  };
  Result<IpAddress> literal = IpAddress::Parse(host, /*lenient_v4=*/true);
  if (literal.ok()) {
    Status s = CheckAddress(*literal);
    return s.ok() ? s : refuse(s);
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  if (::getaddrinfo(host.c_str(), nullptr, &hints, &list) != 0) return Status::Ok();
  Status result;
  for (addrinfo* ai = list; ai != nullptr && result.ok(); ai = ai->ai_next) {
    Result<IpAddress> a = IpAddress::FromSockaddr(ai->ai_addr, ai->ai_addrlen);
    if (!a.ok()) continue;
    Status s = CheckAddress(*a);
    if (!s.ok()) result = refuse(s);
  }
  ::freeaddrinfo(list);
  return result;
}

}  // namespace weir::fetch

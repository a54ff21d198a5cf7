// Perimeter: what a URI named by a *job request* (its setup file, configs and dependencies) may
// reach. URIs from admin-made configuration (clusters, commands, applications) are trusted and
// never pass through here; s3:// goes to the configured endpoint and is not restricted either.
//
// Files. A file:// URI or plain absolute path is allowed only when its canonical path (symlinks
// and ".." resolved) lies inside one of `allowed_file_roots` (themselves canonicalised). An empty
// list refuses every local file. Checked twice: at submission on the path as it is then
// (CheckJobUri), and at fetch time on the file actually opened (OpenAllowedFile reads the opened
// descriptor's path back from /proc), so a symlink swapped in after submission cannot escape.
//
// Networks. An http(s) URI whose host is, or resolves to, an address in a restricted range is
// refused unless the address lies in one of `allowed_networks` (CIDRs). Restricted ranges
// (RestrictedRange): loopback 127.0.0.0/8 and ::1; link-local 169.254.0.0/16 (cloud metadata)
// and fe80::/10; private 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, fc00::/7 and the deprecated
// site-local fec0::/10; shared 100.64.0.0/10 (carrier-grade NAT, some clouds' metadata);
// unspecified 0.0.0.0/8 and ::. IPv4-mapped (::ffff:a.b.c.d) and NAT64 (64:ff9b::a.b.c.d)
// addresses are judged by the IPv4 address they carry. Every other address is allowed.
// Submission checks only literal hosts and "localhost" (no DNS on the request thread); fetch
// time resolves the name (CheckHostBeforeFetch) and the HTTP client checks the peer of every
// connection it opens, each redirect hop included (CheckAddress), so DNS rebinding cannot reach
// a refused address.
//
// Messages name the URI, the address or path, and the setting:
//   "file:///etc/passwd is outside fetch.allowed_file_roots; ask an administrator to add its
//    folder or attach the file"
//   "http://169.254.169.254/x: address 169.254.169.254 is link-local, refused by
//    fetch.allowed_networks"
// Codes: kPermissionDenied for a refusal, kInvalidArgument for a malformed URI; callers that
// answer a submission turn refusals into kInvalidArgument (400) with the field prefixed.
// Immutable after construction, so thread-safe.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace weir::fetch {

// An IPv4 or IPv6 address; IPv4 is kept in its IPv4-mapped IPv6 form (::ffff:a.b.c.d).
struct IpAddress {
  std::array<uint8_t, 16> bytes{};
  bool is_v4 = false;  // written as IPv4 (the mapped form above)

  // Literal forms: dotted IPv4 ("10.0.0.1"), IPv6 with or without brackets ("::1", "[::1]").
  // With `lenient_v4`, also the forms inet_aton and curl accept ("127.1", "0x7f000001",
  // "2130706433"). kInvalidArgument for anything else.
  static Result<IpAddress> Parse(std::string_view text, bool lenient_v4 = false);
  // From a socket address (AF_INET or AF_INET6); kInvalidArgument for other families.
  static Result<IpAddress> FromSockaddr(const sockaddr* addr, socklen_t len);
  // "10.0.0.1", "fe80::1" (IPv4-mapped IPv6 written as "::ffff:10.0.0.1" unless is_v4).
  std::string ToString() const;
  // The IPv4 address carried by an IPv4 (or IPv4-mapped / NAT64) address, as 4 bytes.
  bool EmbeddedV4(std::array<uint8_t, 4>* out) const;
};

// A CIDR block. IPv4 blocks are kept as IPv4-mapped IPv6 blocks (prefix + 96), so an IPv4
// block also matches the mapped form of its addresses.
struct IpNetwork {
  IpAddress base;  // host bits cleared
  int prefix = 0;  // over the 128-bit form

  // "10.0.0.0/8", "fd00::/8", "127.0.0.1" (a single address: /32 or /128). Host bits that are
  // set are refused ("10.0.0.1/8": write 10.0.0.0/8), as are prefixes outside 0..32 / 0..128.
  static Result<IpNetwork> Parse(std::string_view text);
  bool Contains(const IpAddress& address) const;
  std::string ToString() const;
};

// The restricted range an address lies in ("loopback", "link-local", "private", "shared",
// "unspecified"), or "" for an address outside every restricted range.
std::string_view RestrictedRange(const IpAddress& address);

struct PerimeterOptions {
  std::vector<std::filesystem::path> allowed_file_roots;  // absolute folders
  std::vector<IpNetwork> allowed_networks;
};

class Perimeter {
 public:
  // Canonicalises the roots (they need not exist yet). kInvalidArgument naming
  // fetch.allowed_file_roots for a relative root.
  static Result<Perimeter> Create(PerimeterOptions options);

  // Submission-time check of a URI a job request names: file roots (canonical path as it is
  // now), literal addresses and "localhost" for http(s); no DNS. Other schemes pass (the fetcher
  // reports unsupported ones). Messages as above, without a field.
  Status CheckJobUri(std::string_view uri) const;

  // kPermissionDenied when `address` lies in a restricted range outside allowed_networks:
  // "address 169.254.169.254 is link-local, refused by fetch.allowed_networks".
  Status CheckAddress(const IpAddress& address) const;

  // Resolves the host of an http(s) URI and checks every address it resolves to (a literal
  // host is checked without DNS). Resolution failures are left for the transfer to report.
  Status CheckHostBeforeFetch(std::string_view uri) const;

  // Opens the local file named by a file:// URI or absolute path (non-blocking, so a FIFO
  // cannot hang the caller) and checks that the file actually opened is a regular file inside
  // an allowed root. Returns the open descriptor (the caller closes it).
  Result<int> OpenAllowedFile(std::string_view uri) const;

  // Whether `canonical` (an already canonical absolute path) lies inside an allowed root.
  bool InsideRoots(const std::filesystem::path& canonical) const;

  const PerimeterOptions& options() const { return options_; }

 private:
  explicit Perimeter(PerimeterOptions options) : options_(std::move(options)) {}
  Status FileRefused(std::string_view uri) const;
  PerimeterOptions options_;
};

// The local path a file:// URI or absolute path names (percent-decoded); kInvalidArgument for
// a file URI with a host other than localhost, a relative path, or an escaped NUL (the message
// gives the cause only: callers add the URI).
Result<std::string> LocalPathOfUri(std::string_view uri);

}  // namespace weir::fetch

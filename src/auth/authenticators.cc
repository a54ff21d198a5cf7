#include "auth/authenticators.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include "common/fs.h"
#include "common/strings.h"

namespace weir::auth {

namespace {

std::string Sha256Raw(std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), out, &n, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<const char*>(out), n);
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Splits on runs of spaces and tabs.
std::vector<std::string_view> Fields(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

class ChainAuthenticator final : public Authenticator {
 public:
  explicit ChainAuthenticator(ChainOptions options) : o_(std::move(options)) {}

  Result<Principal> Authenticate(const Credentials& c) override {
    if (c.authorization.empty()) {
      if (o_.mtls && !c.client_cert_subject.empty()) return FromCertificate(c.client_cert_subject);
      return Unauthenticated(
          "invalid_request: no credentials (send Authorization: Bearer <token>)");
    }
    std::string_view value = Trim(c.authorization);
    size_t space = value.find(' ');
    if (space == std::string_view::npos || ToLower(value.substr(0, space)) != "bearer") {
      return Unauthenticated(
          "invalid_request: only the Bearer scheme is accepted (send Authorization: Bearer "
          "<token>)");
    }
    std::string_view token = Trim(value.substr(space + 1));
    if (token.empty()) return Unauthenticated("invalid_request: the Bearer token is empty");
    if (const Principal* p = FindStatic(token)) return *p;
    if (o_.jwt && std::count(token.begin(), token.end(), '.') == 2) {
      return o_.jwt->Authenticate(c);
    }
    return Unauthenticated("invalid_token: the token is not known to this server");
  }

 private:
  // Compares the token's hash with every entry, so the time taken does not tell which entry
  // (or which byte of it) came close.
  const Principal* FindStatic(std::string_view token) const {
    if (o_.static_tokens.empty()) return nullptr;
    const std::string hash = Sha256Raw(token);
    const Principal* found = nullptr;
    for (const StaticToken& t : o_.static_tokens) {
      bool equal = CRYPTO_memcmp(t.sha256.data(), hash.data(), hash.size()) == 0;
      if (equal) found = &t.principal;
    }
    return found;
  }

  Result<Principal> FromCertificate(const std::string& subject) const {
    std::string name = SubjectCommonName(subject);
    if (name.empty()) {
      return Unauthenticated("invalid_token: the client certificate's subject has no CN");
    }
    Principal p;
    p.name = name;
    p.mechanism = "mtls";
    auto it = o_.mtls->roles_by_name.find(name);
    p.roles =
        NormalizeRoles(it != o_.mtls->roles_by_name.end() ? it->second : o_.mtls->default_roles);
    return p;
  }

  ChainOptions o_;
};

}  // namespace

std::vector<std::string> NormalizeRoles(std::vector<std::string> roles) {
  std::set<std::string> set(roles.begin(), roles.end());
  if (set.count("admin")) set.insert("user");
  return std::vector<std::string>(set.begin(), set.end());
}

Result<std::vector<StaticToken>> ParseStaticTokens(std::string_view text) {
  std::vector<StaticToken> out;
  std::set<std::string> seen;
  int line_no = 0;
  for (const std::string& raw : Split(text, '\n')) {
    ++line_no;
    std::string_view line = raw;
    if (size_t hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    std::vector<std::string_view> f = Fields(line);
    if (f.empty()) continue;
    const std::string where = "static tokens line " + std::to_string(line_no);
    if (f.size() != 3) {
      return InvalidArgument(where +
                             ": expected '<sha256 hex of the token> <principal> "
                             "<role,role,...>'");
    }
    if (f[0].size() != 64) {
      return InvalidArgument(where + ": the hash must be 64 hex digits (sha256sum of the token)");
    }
    StaticToken t;
    for (size_t i = 0; i < 64; i += 2) {
      int hi = HexValue(f[0][i]), lo = HexValue(f[0][i + 1]);
      if (hi < 0 || lo < 0) {
        return InvalidArgument(where + ": the hash must be 64 hex digits (sha256sum of the token)");
      }
      t.sha256.push_back(static_cast<char>(hi * 16 + lo));
    }
    if (!seen.insert(t.sha256).second) {
      return InvalidArgument(where + ": the same token hash is listed twice");
    }
    if (Status s = CheckNoControlChars("principal", f[1]); !s.ok()) return s.WithContext(where);
    t.principal.name = std::string(f[1]);
    t.principal.mechanism = "token";
    std::vector<std::string> roles;
    for (const std::string& r : Split(f[2], ',')) {
      if (r.empty()) return InvalidArgument(where + ": empty role in '" + std::string(f[2]) + "'");
      roles.push_back(r);
    }
    t.principal.roles = NormalizeRoles(std::move(roles));
    out.push_back(std::move(t));
  }
  return out;
}

Result<std::vector<StaticToken>> LoadStaticTokens(const std::filesystem::path& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) {
    return ErrnoStatus("static tokens file " + file.string(), errno);
  }
  if (!S_ISREG(st.st_mode)) {
    return PermissionDenied("static tokens file " + file.string() + ": not a regular file");
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return PermissionDenied("static tokens file " + file.string() +
                            ": group or others may write it, so anyone could add an admin "
                            "token; run chmod go-w on it");
  }
  WEIR_ASSIGN_OR_RETURN(std::string text, ReadFile(file));
  auto tokens = ParseStaticTokens(text);
  if (!tokens.ok()) return tokens.status().WithContext(file.string());
  return tokens;
}

std::string SubjectCommonName(std::string_view subject) {
  // Finds "CN=" at the start or after a separator ('/', ',', '+', spaces after a comma).
  for (size_t i = 0; i + 3 <= subject.size(); ++i) {
    if (subject.substr(i, 3) != "CN=") continue;
    if (i > 0) {
      size_t j = i;
      while (j > 0 && subject[j - 1] == ' ') --j;
      if (j > 0 && subject[j - 1] != '/' && subject[j - 1] != ',' && subject[j - 1] != '+')
        continue;
    }
    size_t start = i + 3;
    size_t end = subject.find_first_of("/,+", start);
    if (end == std::string_view::npos) end = subject.size();
    return std::string(Trim(subject.substr(start, end - start)));
  }
  return "";
}

std::unique_ptr<Authenticator> NewChainAuthenticator(ChainOptions options) {
  return std::make_unique<ChainAuthenticator>(std::move(options));
}

}  // namespace weir::auth

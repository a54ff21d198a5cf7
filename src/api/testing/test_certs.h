// Test-only: a throwaway PKI made with the `openssl` command line (Debian package openssl) for the
// TLS tests of the HTTP server and of the real binary: a CA, a server certificate for localhost
// and 127.0.0.1 (subjectAltName), a client certificate from that CA, and a second CA with a
// client certificate of its own (one the server must not trust). EC P-256 keys (fast to make),
// every key file mode 0600.
#pragma once

#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace weir::api::testing {

struct TestCerts {
  std::filesystem::path ca;           // PEM CA certificate that signed server and client
  std::filesystem::path server_cert;  // CN=localhost, SAN DNS:localhost, IP:127.0.0.1
  std::filesystem::path server_key;
  std::filesystem::path client_cert;  // subject CN=alice,O=weir-test
  std::filesystem::path client_key;
  std::filesystem::path other_ca;           // an unrelated CA...
  std::filesystem::path other_client_cert;  // ...and a client certificate it signed (CN=mallory)
  std::filesystem::path other_client_key;
};

// Runs `command` in a shell; "" when it succeeded, else the command and its output.
inline std::string RunOpenSsl(const std::string& command) {
  std::string full = command + " 2>&1";
  FILE* p = ::popen(full.c_str(), "r");
  if (p == nullptr) return "popen failed: " + command;
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int rc = ::pclose(p);
  return rc == 0 ? "" : command + " failed: " + out;
}

// Makes the certificates in `dir` (which must exist). Returns "" or what failed.
inline std::string MakeTestCerts(const std::filesystem::path& dir, TestCerts* out) {
  const std::string d = dir.string();
  const std::string newkey = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes ";
  auto write = [](const std::filesystem::path& p, const std::string& text) {
    std::ofstream(p) << text;
  };
  write(dir / "server.ext",
        "basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n"
        "extendedKeyUsage=serverAuth\n");
  write(dir / "client.ext", "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n");
  const std::string steps[] = {
      "openssl req -x509 -days 2" + newkey + "-keyout " + d + "/ca.key -out " + d +
          "/ca.pem -subj /CN=weir-test-ca",
      "openssl req -x509 -days 2" + newkey + "-keyout " + d + "/other-ca.key -out " + d +
          "/other-ca.pem -subj /CN=weir-other-ca",
      "openssl req -new" + newkey + "-keyout " + d + "/server.key -out " + d +
          "/server.csr -subj /CN=localhost",
      "openssl x509 -req -days 2 -in " + d + "/server.csr -CA " + d + "/ca.pem -CAkey " + d +
          "/ca.key -CAcreateserial -out " + d + "/server.pem -extfile " + d + "/server.ext",
      "openssl req -new" + newkey + "-keyout " + d + "/client.key -out " + d +
          "/client.csr -subj /O=weir-test/CN=alice",
      "openssl x509 -req -days 2 -in " + d + "/client.csr -CA " + d + "/ca.pem -CAkey " + d +
          "/ca.key -CAcreateserial -out " + d + "/client.pem -extfile " + d + "/client.ext",
      "openssl req -new" + newkey + "-keyout " + d + "/other-client.key -out " + d +
          "/other-client.csr -subj /CN=mallory",
      "openssl x509 -req -days 2 -in " + d + "/other-client.csr -CA " + d +
          "/other-ca.pem -CAkey " + d + "/other-ca.key -CAcreateserial -out " + d +
          "/other-client.pem -extfile " + d + "/client.ext",
  };
  for (const std::string& step : steps) {
    if (std::string err = RunOpenSsl(step); !err.empty()) return err;
  }
  for (const char* key :
       {"ca.key", "other-ca.key", "server.key", "client.key", "other-client.key"}) {
    ::chmod((dir / key).c_str(), 0600);
  }
  out->ca = dir / "ca.pem";
  out->server_cert = dir / "server.pem";
  out->server_key = dir / "server.key";
  out->client_cert = dir / "client.pem";
  out->client_key = dir / "client.key";
  out->other_ca = dir / "other-ca.pem";
  out->other_client_cert = dir / "other-client.pem";
  out->other_client_key = dir / "other-client.key";
  return "";
}

}  // namespace weir::api::testing

// Test-only: a real S3-compatible server for weir's storage tests. S3rverProcess starts s3rver
// (npm package pinned in tests/s3/package.json, installed by `make test`) with node on
// 127.0.0.1 and a free port (it binds port 0 and prints the port it got), in a temp data folder,
// with the buckets asked for; the destructor stops it by pid and removes the folder.
//
// What s3rver does not do (so tests that need it use fetch/test_http_server.h's FakeS3): it does
// not verify SigV4 signatures (any secret is accepted) and answers AbortMultipartUpload with 405.
//
// RunAwsCli runs the standard S3 client from Debian's awscli package (/usr/bin/aws, else the
// first `aws` on PATH) against the server: dummy credentials, path-style addressing, the
// endpoint given with --endpoint-url, a private HOME and config so nothing of the user's is read.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "fetch/s3_client.h"

namespace weir::archive::testing {

class S3rverProcess {
 public:
  // kFailedPrecondition (with what to install) when node or the s3rver package is missing;
  // kDeadlineExceeded when it does not report its port within 30 s.
  static Result<std::unique_ptr<S3rverProcess>> Start(const std::vector<std::string>& buckets);
  ~S3rverProcess();
  S3rverProcess(const S3rverProcess&) = delete;
  S3rverProcess& operator=(const S3rverProcess&) = delete;

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  // Settings for weir's S3Client: this endpoint, us-east-1, s3rver's default key, path style.
  fetch::S3Config Config() const;

 private:
  S3rverProcess() = default;
  pid_t pid_ = -1;
  int port_ = 0;
  int out_fd_ = -1;
  std::filesystem::path dir_;
};

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Path of the aws CLI, "" when none is installed.
std::string AwsCliPath();
// Runs `aws <args> --endpoint-url <endpoint>` and waits for it (at most 120 s).
CommandResult RunAwsCli(const S3rverProcess& server, const std::vector<std::string>& args);

}  // namespace weir::archive::testing

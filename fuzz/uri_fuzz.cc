// Fuzz target: the URI helpers of dependency fetching (fetch/uri.h) and S3 URIs
// (fetch/s3_client.h ParseS3Uri): every `dependencies`, `configs` and `setupFile` URI of a job
// request or a configuration goes through them.
// Input: a URI.
// Invariants: a parsed port is 1..65535 or absent; the host is a part of the authority; a
// redacted URI never contains the user info it hid; PercentDecode never produces a NUL and never
// grows the text; ParseS3Uri gives a non-empty bucket without '/' and a non-empty key that
// together rebuild the URI.
#include <string>

#include "fetch/s3_client.h"
#include "fetch/uri.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace weir;
  if (size > 16 * 1024) return 0;
  const std::string uri(fuzz::AsText(data, size));

  auto parsed = fetch::ParseUri(uri);
  if (parsed.ok()) {
    FUZZ_CHECK(parsed->port >= 0 && parsed->port <= 65535, uri);
    FUZZ_CHECK(parsed->authority.find(parsed->host) != std::string::npos, uri);
    FUZZ_CHECK(parsed->scheme.empty() || uri.find("://") != std::string::npos, uri);
    (void)fetch::PercentDecode(parsed->path);
  }

  std::string redacted = fetch::RedactUri(uri);
  size_t sep = uri.find("://");
  if (sep != std::string::npos) {
    size_t start = sep + 3;
    size_t end = uri.find_first_of("/?#", start);
    std::string authority = uri.substr(start, end == std::string::npos ? end : end - start);
    size_t at = authority.rfind('@');
    if (at != std::string::npos && at > 0) {
      std::string userinfo = authority.substr(0, at);
      // The redacted text is the URI with exactly the user info replaced.
      FUZZ_CHECK(redacted == uri.substr(0, start) + "***@" + uri.substr(start + at + 1),
                 "redaction: " + uri + " -> " + redacted);
    }
  } else {
    FUZZ_CHECK(redacted == uri, "redaction changed a URI without '://'");
  }

  auto decoded = fetch::PercentDecode(uri);
  if (decoded.ok()) {
    FUZZ_CHECK(decoded->find('\0') == std::string::npos || uri.find('\0') != std::string::npos,
               "decoding produced a NUL: " + uri);
    FUZZ_CHECK(decoded->size() <= uri.size(), "decoding grew the text: " + uri);
  }

  std::string bucket, key;
  if (fetch::ParseS3Uri(uri, &bucket, &key).ok()) {
    FUZZ_CHECK(!bucket.empty() && bucket.find('/') == std::string::npos && !key.empty(), uri);
    FUZZ_CHECK("s3://" + bucket + "/" + key == uri, "s3 parts do not rebuild " + uri);
  }
  return 0;
}

// AWS Signature Version 4, written for weir over OpenSSL (curl 7.88's built-in signing leaves out
// x-amz-content-sha256 and does not sort query parameters, so weir signs requests itself).
//
// SignV4 turns one request into its canonical form, the string to sign and the Authorization
// header value:
//   canonical request = METHOD \n canonical URI \n canonical query \n canonical headers \n
//                       signed header names \n payload hash
//   string to sign    = "AWS4-HMAC-SHA256" \n amz date \n scope \n hex(SHA-256(canonical request))
//   scope             = yyyymmdd/region/service/aws4_request
//   signing key       = HMAC chain over "AWS4"+secret, date, region, service, "aws4_request"
// The canonical URI is taken as given (already encoded once with UriEncode, the S3 rule: no
// double encoding, no path normalisation). Query pairs are encoded here and sorted by encoded
// name, then value. Header names are lower-cased and sorted; values are trimmed and inner runs of
// spaces collapse to one; repeated names join with ','. Pure functions, thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.h"

namespace weir::fetch {

inline constexpr std::string_view kEmptyPayloadSha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
inline constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";

struct SigV4Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty unless temporary credentials; sent as x-amz-security-token
};

struct SigV4Request {
  std::string method;                                       // "GET", "PUT", ...
  std::string canonical_uri;                                // encoded path, "/" when empty
  std::vector<std::pair<std::string, std::string>> query;   // decoded names and values
  std::vector<std::pair<std::string, std::string>> headers; // every header to sign, incl. host
  std::string payload_hash;                                 // hex SHA-256, or UNSIGNED-PAYLOAD
};

struct SigV4Result {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signed_headers;  // "host;x-amz-content-sha256;x-amz-date"
  std::string signature;       // lowercase hex
  std::string authorization;   // the Authorization header value
};

// `amz_date` is the request time as YYYYMMDDTHHMMSSZ (the x-amz-date header, which the caller
// puts in `headers`).
SigV4Result SignV4(const SigV4Request& request, const SigV4Credentials& credentials,
                   std::string_view region, std::string_view service, std::string_view amz_date);

// Percent-encodes every byte except A-Z a-z 0-9 - . _ ~ (and '/' when !encode_slash), with
// upper-case hex digits, as SigV4 requires.
std::string UriEncode(std::string_view s, bool encode_slash);
// "name=value&..." sorted, each part encoded with UriEncode(encode_slash = true).
std::string CanonicalQueryString(const std::vector<std::pair<std::string, std::string>>& query);
// YYYYMMDDTHHMMSSZ in UTC.
std::string AmzDate(TimePoint t);

}  // namespace weir::fetch

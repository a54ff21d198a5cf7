// weir's SigV4 checked against an independent signer: botocore's S3SigV4Auth (the signer of the
// AWS CLI and boto3), run by tests/s3/botocore_sign.py, which imports nothing of weir.
//
// Each row is a real request S3Client sends, captured on the wire by a local HTTP server at a
// fixed time. botocore is told only what the request means (method, endpoint, addressing, bucket,
// raw key, decoded query, the headers weir chose to send, body), builds its own URL and signs it.
// The Authorization header, the path and query on the wire, and the payload hash must equal
// botocore's. Rows cover GET with validators, PUT with a body, Content-Type and user metadata,
// keys with spaces, unicode, + ~ % and other reserved characters, ListObjectsV2 with a prefix
// and a continuation token that need encoding, multipart upload ids, DELETE, a session token,
// path-style and virtual-host endpoints; SignV4 itself is checked with a Range header.
//
// botocore missing: WEIR_MISSING_SERVICE("botocore", ...) (a failure under WEIR_REQUIRE_SERVICES).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>

#include "common/testing/required_services.h"
#include "fetch/digest.h"
#include "fetch/s3_client.h"
#include "fetch/sigv4.h"
#include "fetch/test_http_server.h"
#include "fetch/uri.h"

namespace weir::fetch {
namespace {

namespace json = boost::json;
using testing::Slurp;
using testing::TempDir;
using testing::TestHttpServer;
using testing::TestRequest;
using testing::TestResponse;

constexpr char kAccessKey[] = "AKIDWEIRBOTOCORE";
constexpr char kSecretKey[] = "wJalr/XUtn+FEMI=K7MDENG";
constexpr char kRegion[] = "eu-central-1";
// 1'700'000'000 s after the epoch.
constexpr char kAmzDate[] = "20231114T221320Z";

// What botocore is told about one request.
struct Row {
  std::string name;
  std::string endpoint;
  std::string addressing = "path";
  std::string bucket;
  std::string key;
  SigV4Credentials credentials{kAccessKey, kSecretKey, ""};
  TestRequest wire;  // what weir sent (method, path, query, headers, body)
};

// botocore's answer for one row.
struct Signed {
  std::string url, authorization, x_amz_date, x_amz_content_sha256, x_amz_security_token;
  std::string canonical_request;
};

// Headers a transport adds (curl) or the signer owns: botocore is not given these.
bool SignerOrTransportHeader(const std::string& name) {
  static const std::set<std::string> kSkip = {
      "host",       "authorization",  "x-amz-date", "x-amz-content-sha256", "x-amz-security-token",
      "accept",     "content-length", "expect",     "user-agent",           "transfer-encoding",
      "connection", "accept-encoding"};
  return kSkip.count(name) > 0;
}

std::vector<std::pair<std::string, std::string>> DecodeQuery(const std::string& raw) {
  std::vector<std::pair<std::string, std::string>> out;
  std::istringstream in(raw);
  std::string part;
  while (std::getline(in, part, '&')) {
    if (part.empty()) continue;
    size_t eq = part.find('=');
    Result<std::string> name = PercentDecode(part.substr(0, eq));
    Result<std::string> value = PercentDecode(eq == std::string::npos ? "" : part.substr(eq + 1));
    EXPECT_TRUE(name.ok() && value.ok()) << "bad escape in the query weir sent: " << raw;
    out.emplace_back(name.value_or(""), value.value_or(""));
  }
  return out;
}

std::multiset<std::string> QueryParts(const std::string& query) {
  std::multiset<std::string> parts;
  std::istringstream in(query);
  std::string part;
  while (std::getline(in, part, '&')) {
    if (!part.empty()) parts.insert(part);
  }
  return parts;
}

json::object CaseJson(const Row& row) {
  json::array query;
  for (const auto& [n, v] : DecodeQuery(row.wire.query)) query.push_back(json::array{n, v});
  json::array headers;
  for (const auto& [n, v] : row.wire.headers) {
    if (!SignerOrTransportHeader(n)) headers.push_back(json::array{n, v});
  }
  return json::object{{"name", row.name},
                      {"method", row.wire.method},
                      {"endpoint", row.endpoint},
                      {"addressing", row.addressing},
                      {"bucket", row.bucket},
                      {"key", row.key},
                      {"query", query},
                      {"headers", headers},
                      {"body_hex", HexEncode(row.wire.body)},
                      {"access_key", row.credentials.access_key_id},
                      {"secret_key", row.credentials.secret_access_key},
                      {"session_token", row.credentials.session_token},
                      {"region", kRegion},
                      {"amz_date", kAmzDate}};
}

// Runs tests/s3/botocore_sign.py with Debian's python3 (python3-botocore), else the first python3
// on PATH. Sets *missing (and returns {}) when no python3 with botocore is found (the script exits
// 3 when it cannot import botocore, the shell 127 when there is no python3); any other failure of
// the script is a test failure.
std::vector<Signed> SignWithBotocore(const json::array& cases, std::string* missing) {
  TempDir dir;
  std::ofstream(dir / "in.json") << json::serialize(cases);
  const std::string script = std::string(WEIR_SOURCE_DIR) + "/tests/s3/botocore_sign.py";
  std::string tried;
  for (const std::string python : {"/usr/bin/python3", "python3"}) {
    const std::string cmd = python + " '" + script + "' < '" + (dir / "in.json").string() +
                            "' > '" + (dir / "out.json").string() + "' 2> '" +
                            (dir / "err.txt").string() + "'";
    const int rc = std::system(cmd.c_str());
    const int exit_code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    if (exit_code == 3 || exit_code == 127) {
      tried +=
          "\n" + python + ": exit " + std::to_string(exit_code) + ": " + Slurp(dir / "err.txt");
      continue;
    }
    std::vector<Signed> out;
    if (exit_code != 0) {
      ADD_FAILURE() << "botocore_sign.py failed (exit " << exit_code
                    << "): " << Slurp(dir / "err.txt");
      return out;
    }
    boost::system::error_code ec;
    json::value v = json::parse(Slurp(dir / "out.json"), ec);
    EXPECT_FALSE(ec) << "botocore_sign.py printed no JSON: " << Slurp(dir / "out.json");
    if (ec || !v.is_array()) return out;
    for (const json::value& s : v.as_array()) {
      auto str = [&](const char* k) { return std::string(s.at(k).as_string()); };
      out.push_back({str("url"), str("authorization"), str("x_amz_date"),
                     str("x_amz_content_sha256"), str("x_amz_security_token"),
                     str("canonical_request")});
    }
    return out;
  }
  *missing =
      "no python3 could import botocore for tests/s3/botocore_sign.py (Debian package "
      "python3-botocore; make deps installs it):" +
      tried;
  return {};
}

// Compares each wire request with what botocore built and signed for the same meaning.
void ExpectBotocoreAgrees(const std::vector<Row>& rows, std::string* missing) {
  json::array cases;
  for (const Row& row : rows) cases.push_back(CaseJson(row));
  std::vector<Signed> signed_rows = SignWithBotocore(cases, missing);
  if (!missing->empty()) return;
  ASSERT_EQ(signed_rows.size(), rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& row = rows[i];
    const Signed& boto = signed_rows[i];
    SCOPED_TRACE("row '" + row.name + "': " + row.wire.method + " " + row.wire.target +
                 "\nbotocore's canonical request:\n" + boto.canonical_request);
    EXPECT_EQ(row.wire.Header("authorization"), boto.authorization);
    Result<ParsedUri> url = ParseUri(boto.url);
    ASSERT_TRUE(url.ok()) << boto.url;
    EXPECT_EQ(row.wire.path, url->path);
    EXPECT_EQ(QueryParts(row.wire.query), QueryParts(url->query));
    EXPECT_EQ(row.wire.Header("host"), url->authority);
    EXPECT_EQ(row.wire.Header("x-amz-date"), boto.x_amz_date);
    EXPECT_EQ(row.wire.Header("x-amz-content-sha256"), boto.x_amz_content_sha256);
    EXPECT_EQ(row.wire.Header("x-amz-security-token"), boto.x_amz_security_token);
  }
}

#define EXPECT_BOTOCORE_AGREES(rows)                                 \
  do {                                                               \
    std::string missing;                                             \
    ExpectBotocoreAgrees(rows, &missing);                            \
    if (!missing.empty()) WEIR_MISSING_SERVICE("botocore", missing); \
  } while (0)

// A stand-in S3 that records every request and answers just enough for S3Client to go on.
class SigV4BotocoreTest : public ::testing::Test {
 protected:
  SigV4BotocoreTest()
      : server_([this](const TestRequest& r) { return Answer(r); }),
        clock_(FromEpochMillis(1'700'000'000'000)) {}

  TestResponse Answer(const TestRequest& r) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      seen_.push_back(r);
    }
    TestResponse resp;
    resp.headers = {{"ETag", "\"0123abcd\""}};
    if (r.query.find("list-type=2") != std::string::npos) {
      bool first = r.query.find("continuation-token") == std::string::npos;
      resp.body = std::string("<ListBucketResult><IsTruncated>") + (first ? "true" : "false") +
                  "</IsTruncated>" +
                  (first ? "<NextContinuationToken>1/tok+en=a b~c%d</NextContinuationToken>" : "") +
                  "<Contents><Key>k</Key><Size>1</Size></Contents></ListBucketResult>";
    } else if (r.method == "POST" && r.query == "uploads=") {
      resp.body =
          "<InitiateMultipartUploadResult><UploadId>up/load+id=~1</UploadId>"
          "</InitiateMultipartUploadResult>";
    } else if (r.method == "POST") {
      resp.body =
          "<CompleteMultipartUploadResult><ETag>\"ff-2\"</ETag>"
          "</CompleteMultipartUploadResult>";
    } else if (r.method == "DELETE") {
      resp.status = 204;
    } else if (r.method == "GET") {
      resp.body = "object bytes";
    }
    return resp;
  }

  std::unique_ptr<S3Client> Client(S3Addressing addressing = S3Addressing::kPath,
                                   std::string session_token = "") {
    S3Config c;
    c.endpoint = Endpoint(addressing);
    c.region = kRegion;
    c.addressing = addressing;
    c.credentials = {kAccessKey, kSecretKey, std::move(session_token)};
    auto client = S3Client::Create(c, clock_);
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? std::move(*client) : nullptr;
  }
  std::string Endpoint(S3Addressing addressing) const {
    // Virtual-host style needs a name: libcurl resolves *.localhost to loopback.
    return std::string(addressing == S3Addressing::kVirtualHost ? "http://localhost:"
                                                                : "http://127.0.0.1:") +
           std::to_string(server_.port());
  }

  // The row for the last request S3Client sent.
  Row Last(std::string name, const std::string& bucket, const std::string& key,
           S3Addressing addressing = S3Addressing::kPath) {
    std::lock_guard<std::mutex> lock(mu_);
    EXPECT_FALSE(seen_.empty()) << name << ": nothing arrived";
    Row row;
    row.name = std::move(name);
    row.endpoint = Endpoint(addressing);
    row.addressing = addressing == S3Addressing::kVirtualHost ? "virtual" : "path";
    row.bucket = bucket;
    row.key = key;
    if (!seen_.empty()) row.wire = seen_.back();
    return row;
  }
  std::vector<TestRequest> Seen() {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_;
  }

  TempDir dir_;
  TestHttpServer server_;
  FakeClock clock_;
  std::mutex mu_;
  std::vector<TestRequest> seen_;
};

TEST_F(SigV4BotocoreTest, ObjectRequestsWithAwkwardKeysSignAsBotocoreSigns) {
  auto s3 = Client();
  ASSERT_NE(s3, nullptr);
  std::ofstream(dir_ / "body.bin", std::ios::binary) << "PUT body\n\x01\xff bytes";
  std::vector<Row> rows;

  Conditions validators;
  validators.if_none_match = "\"0123abcd\"";
  validators.if_modified_since = "Tue, 14 Nov 2023 22:00:00 GMT";
  ASSERT_TRUE(s3->GetObject("bkt", "dir/plain.txt", dir_ / "out", validators).ok());
  rows.push_back(Last("GET with validators", "bkt", "dir/plain.txt"));

  S3PutOptions put;
  put.content_type = "text/plain; charset=utf-8";
  put.metadata = {{"Sha256", std::string(64, 'a')}, {"Note", "  two   spaces  inside "}};
  ASSERT_TRUE(s3->PutObject("bkt", "up/loaded.bin", dir_ / "body.bin", put).ok());
  rows.push_back(Last("PUT with body, type and metadata", "bkt", "up/loaded.bin"));

  const std::vector<std::string> keys = {
      "a key/with spaces.txt",
      "\xc3\xbcnic\xc3\xb8"
      "de/\xe2\x98\x83 snow \xf0\x9f\x8c\x8a.bin",
      "plus+equals=amp&question?hash#",
      "tilde~percent%41%2F/literal",
      "semi;colon,comma:at@bang!dollar$quote'paren()star*",
      "double//slash/./dot/../dotdot",
      "brackets[]{}<>|^`\"back\\slash",
  };
  for (const std::string& key : keys) {
    ASSERT_TRUE(s3->HeadObject("bkt", key).ok()) << key;
    rows.push_back(Last("HEAD " + key, "bkt", key));
    ASSERT_TRUE(s3->PutObject("bkt", key, dir_ / "body.bin").ok()) << key;
    rows.push_back(Last("PUT " + key, "bkt", key));
  }
  ASSERT_TRUE(s3->DeleteObject("bkt", "gone now.txt").ok());
  rows.push_back(Last("DELETE", "bkt", "gone now.txt"));

  EXPECT_BOTOCORE_AGREES(rows);
}

TEST_F(SigV4BotocoreTest, QueriesOfListingsAndMultipartUploadsSignAsBotocoreSigns) {
  auto s3 = Client();
  ASSERT_NE(s3, nullptr);
  auto listed = s3->ListObjectsV2("bkt", "logs/2023 11+/\xc3\xa9t\xc3\xa9~%");
  ASSERT_TRUE(listed.ok()) << listed.status();
  std::vector<TestRequest> seen = Seen();
  ASSERT_EQ(seen.size(), 2u) << "a first page and one after the continuation token";
  std::vector<Row> rows;
  for (const TestRequest& r : seen) {
    Row row;
    row.name = r.query.find("continuation-token") == std::string::npos
                   ? "ListObjectsV2 first page"
                   : "ListObjectsV2 with continuation token";
    row.endpoint = Endpoint(S3Addressing::kPath);
    row.bucket = "bkt";
    row.wire = r;
    rows.push_back(row);
  }

  const std::string key = "big file+/part s.bin";
  Result<std::string> upload = s3->CreateMultipartUpload("bkt", key, {"application/x-tar", {}});
  ASSERT_TRUE(upload.ok()) << upload.status();
  ASSERT_EQ(*upload, "up/load+id=~1");
  rows.push_back(Last("CreateMultipartUpload", "bkt", key));
  std::ofstream(dir_ / "part.bin", std::ios::binary) << std::string(1000, 'p');
  Result<std::string> part = s3->UploadPart("bkt", key, *upload, 1, dir_ / "part.bin", 10, 500);
  ASSERT_TRUE(part.ok()) << part.status();
  rows.push_back(Last("UploadPart", "bkt", key));
  ASSERT_TRUE(s3->CompleteMultipartUpload("bkt", key, *upload, {{1, *part}}).ok());
  rows.push_back(Last("CompleteMultipartUpload", "bkt", key));
  ASSERT_TRUE(s3->AbortMultipartUpload("bkt", key, *upload).ok());
  rows.push_back(Last("AbortMultipartUpload", "bkt", key));

  EXPECT_BOTOCORE_AGREES(rows);
}

TEST_F(SigV4BotocoreTest, VirtualHostEndpointsAndSessionTokensSignAsBotocoreSigns) {
  std::ofstream(dir_ / "body.bin", std::ios::binary) << "virtual";
  std::vector<Row> rows;
  auto virtual_host = Client(S3Addressing::kVirtualHost);
  ASSERT_NE(virtual_host, nullptr);
  ASSERT_TRUE(virtual_host->PutObject("vbkt", "v key+1.txt", dir_ / "body.bin").ok());
  rows.push_back(Last("virtual-host PUT", "vbkt", "v key+1.txt", S3Addressing::kVirtualHost));
  ASSERT_TRUE(virtual_host->ListObjectsV2("vbkt", "p").ok());
  rows.push_back(Last("virtual-host listing (path /)", "vbkt", "", S3Addressing::kVirtualHost));

  auto temporary = Client(S3Addressing::kPath, "FQoGZXIvYXdzE/session+token==");
  ASSERT_NE(temporary, nullptr);
  ASSERT_TRUE(temporary->GetObject("bkt", "with token.txt", dir_ / "t").ok());
  Row row = Last("GET with a session token", "bkt", "with token.txt");
  row.credentials.session_token = "FQoGZXIvYXdzE/session+token==";
  rows.push_back(row);

  EXPECT_BOTOCORE_AGREES(rows);
}

// Requests S3Client does not send today, given to SignV4 directly: a ranged GET (the AWS
// documentation's first example, here with awkward parts) and repeated and padded headers.
TEST(SigV4BotocoreDirectTest, RangedGetAndHeaderValuesSignAsBotocoreSigns) {
  std::vector<Row> rows;
  for (const std::string& key : {std::string("test.txt"), std::string("r\xc3\xa4nge d/x+y~z")}) {
    Row row;
    row.name = "ranged GET " + key;
    row.endpoint = "http://s3.example.test:9000";
    row.bucket = "bkt";
    row.key = key;
    row.wire.method = "GET";
    row.wire.path = "/bkt/" + UriEncode(key, false);
    row.wire.headers = {{"host", "s3.example.test:9000"},
                        {"range", "bytes=0-9"},
                        {"x-amz-meta-padded", "\t a \t  b  "},
                        {"x-amz-date", kAmzDate},
                        {"x-amz-content-sha256", std::string(kEmptyPayloadSha256)}};
    SigV4Request request;
    request.method = "GET";
    request.canonical_uri = row.wire.path;
    request.headers = row.wire.headers;
    request.payload_hash = std::string(kEmptyPayloadSha256);
    row.wire.headers.emplace_back(
        "authorization", SignV4(request, row.credentials, kRegion, "s3", kAmzDate).authorization);
    row.wire.target = row.wire.path;
    rows.push_back(row);
  }
  EXPECT_BOTOCORE_AGREES(rows);
}

}  // namespace
}  // namespace weir::fetch

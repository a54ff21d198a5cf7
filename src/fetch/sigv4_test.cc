// SigV4 against AWS's published examples: the four S3 "Signature Calculations for the
// Authorization Header" examples (GET object with Range, PUT object, GET ?lifecycle, GET
// ?max-keys=2&prefix=J) and cases from the aws4_request test suite (get-vanilla,
// get-vanilla-query-order-key-case, post-vanilla, get-utf8). Expected signatures are AWS's.
#include "fetch/sigv4.h"

#include <gtest/gtest.h>

#include "fetch/digest.h"

namespace weir::fetch {
namespace {

const SigV4Credentials kS3DocCredentials{"AKIAIOSFODNN7EXAMPLE",
                                         "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""};
const SigV4Credentials kSuiteCredentials{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                                         ""};
constexpr char kS3DocDate[] = "20130524T000000Z";
constexpr char kSuiteDate[] = "20150830T123600Z";

SigV4Request S3DocGet(std::vector<std::pair<std::string, std::string>> query) {
  SigV4Request r;
  r.method = "GET";
  r.canonical_uri = "/";
  r.query = std::move(query);
  r.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
               {"x-amz-date", kS3DocDate},
               {"x-amz-content-sha256", std::string(kEmptyPayloadSha256)}};
  r.payload_hash = std::string(kEmptyPayloadSha256);
  return r;
}

SigV4Request SuiteRequest(std::string method, std::string path,
                          std::vector<std::pair<std::string, std::string>> query = {}) {
  SigV4Request r;
  r.method = std::move(method);
  r.canonical_uri = UriEncode(path, false);
  r.query = std::move(query);
  r.headers = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", kSuiteDate}};
  r.payload_hash = std::string(kEmptyPayloadSha256);
  return r;
}

TEST(SigV4Test, EmptyPayloadHashIsSha256OfNothing) {
  EXPECT_EQ(Sha256Hex(""), kEmptyPayloadSha256);
}

TEST(SigV4Test, S3DocGetObjectWithRange) {
  SigV4Request r;
  r.method = "GET";
  r.canonical_uri = "/test.txt";
  r.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
               {"Range", "bytes=0-9"},
               {"x-amz-content-sha256", std::string(kEmptyPayloadSha256)},
               {"x-amz-date", kS3DocDate}};
  r.payload_hash = std::string(kEmptyPayloadSha256);
  SigV4Result s = SignV4(r, kS3DocCredentials, "us-east-1", "s3", kS3DocDate);

  EXPECT_EQ(s.canonical_request,
            "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
            "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
            "x-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(s.string_to_sign,
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
            "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
  EXPECT_EQ(s.signature, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  EXPECT_EQ(s.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(SigV4Test, S3DocPutObjectEncodesDollarInKey) {
  std::string payload_hash = Sha256Hex("Welcome to Amazon S3.");
  ASSERT_EQ(payload_hash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  SigV4Request r;
  r.method = "PUT";
  r.canonical_uri = UriEncode("/test$file.text", false);
  EXPECT_EQ(r.canonical_uri, "/test%24file.text");
  r.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
               {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
               {"x-amz-date", kS3DocDate},
               {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
               {"x-amz-content-sha256", payload_hash}};
  r.payload_hash = payload_hash;
  SigV4Result s = SignV4(r, kS3DocCredentials, "us-east-1", "s3", kS3DocDate);
  EXPECT_EQ(s.signed_headers, "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class");
  EXPECT_EQ(s.string_to_sign,
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
            "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d");
  EXPECT_EQ(s.signature, "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

TEST(SigV4Test, S3DocGetBucketLifecycleSubresourceHasEmptyValue) {
  SigV4Result s = SignV4(S3DocGet({{"lifecycle", ""}}), kS3DocCredentials, "us-east-1", "s3",
                         kS3DocDate);
  EXPECT_NE(s.canonical_request.find("\n/\nlifecycle=\n"), std::string::npos);
  EXPECT_EQ(s.signature, "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
}

TEST(SigV4Test, S3DocListObjectsSortsQueryParameters) {
  // Given out of order on purpose: the canonical form sorts them.
  SigV4Result s = SignV4(S3DocGet({{"prefix", "J"}, {"max-keys", "2"}}), kS3DocCredentials,
                         "us-east-1", "s3", kS3DocDate);
  EXPECT_NE(s.canonical_request.find("\n/\nmax-keys=2&prefix=J\n"), std::string::npos);
  EXPECT_EQ(s.string_to_sign,
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
            "df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7");
  EXPECT_EQ(s.signature, "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

TEST(SigV4Test, SuiteGetVanilla) {
  SigV4Result s = SignV4(SuiteRequest("GET", "/"), kSuiteCredentials, "us-east-1", "service",
                         kSuiteDate);
  EXPECT_EQ(s.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
            "SignedHeaders=host;x-amz-date, "
            "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

TEST(SigV4Test, SuiteGetVanillaQueryOrderKeyCase) {
  SigV4Result s = SignV4(SuiteRequest("GET", "/", {{"Param2", "value2"}, {"Param1", "value1"}}),
                         kSuiteCredentials, "us-east-1", "service", kSuiteDate);
  EXPECT_EQ(s.signature, "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
}

TEST(SigV4Test, SuitePostVanilla) {
  SigV4Result s = SignV4(SuiteRequest("POST", "/"), kSuiteCredentials, "us-east-1", "service",
                         kSuiteDate);
  EXPECT_EQ(s.signature, "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b");
}

TEST(SigV4Test, SuiteGetUtf8PathIsPercentEncoded) {
  SigV4Request r = SuiteRequest("GET", "/\xE1\x88\xB4");
  EXPECT_EQ(r.canonical_uri, "/%E1%88%B4");
  SigV4Result s = SignV4(r, kSuiteCredentials, "us-east-1", "service", kSuiteDate);
  EXPECT_EQ(s.signature, "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85");
}

TEST(SigV4Test, HeaderValuesAreTrimmedAndInnerSpacesCollapsed) {
  SigV4Request a = SuiteRequest("GET", "/");
  a.headers.emplace_back("My-Header1", "  value1   with  spaces ");
  SigV4Request b = SuiteRequest("GET", "/");
  b.headers.emplace_back("my-header1", "value1 with spaces");
  SigV4Result sa = SignV4(a, kSuiteCredentials, "us-east-1", "service", kSuiteDate);
  EXPECT_NE(sa.canonical_request.find("my-header1:value1 with spaces\n"), std::string::npos);
  EXPECT_EQ(sa.signature,
            SignV4(b, kSuiteCredentials, "us-east-1", "service", kSuiteDate).signature);
}

TEST(SigV4Test, UriEncodeFollowsAwsRules) {
  EXPECT_EQ(UriEncode("a-z_A.Z~0 9/+=&%", false), "a-z_A.Z~0%209/%2B%3D%26%25");
  EXPECT_EQ(UriEncode("a/b", true), "a%2Fb");
  EXPECT_EQ(CanonicalQueryString({{"b", "x y"}, {"a", "2"}, {"a", "1"}, {"uploads", ""}}),
            "a=1&a=2&b=x%20y&uploads=");
}

TEST(SigV4Test, AmzDateIsUtcBasicFormat) {
  EXPECT_EQ(AmzDate(FromEpochMillis(1440938160000)), "20150830T123600Z");
}

}  // namespace
}  // namespace weir::fetch

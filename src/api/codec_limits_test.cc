// Bounds of what a client can send through the codecs: JSON Patch size and operation count,
// numbers of a job request, control characters and ids. The routes' tests and
// tests/input_hardening_test.cc check the same limits through HTTP.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "api/job_codec.h"
#include "api/json_codec.h"
#include "model/config.h"
#include "model/job.h"

namespace weir::api {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

json::value Parse(std::string_view text) { return json::parse(text); }

// ---- JSON Patch ----

TEST(JsonSize, MatchesTheSerializer) {
  const std::vector<std::string> docs = {
      R"({})",
      R"([])",
      R"({"a":[1,-2,3.5,1e300,-0.0,18446744073709551615,true,false,null],"b":{}})",
      R"({"quote\"back\\slash":"tab\tnl\nctl\u0001\u001f","unicode":"caf\u00e9 \u2028"})",
      R"([[[[]]],{"x":{"y":[{}]}},"",0])",
  };
  for (const std::string& text : docs) {
    json::value v = Parse(text);
    const size_t real = json::serialize(v).size();
    EXPECT_EQ(JsonSizeUpTo(v, SIZE_MAX), real) << text;
    EXPECT_GT(JsonSizeUpTo(v, real - 1), real - 1) << text;  // over the limit: says so
  }
}

TEST(JsonPatch, CopyAmplificationStopsAtTheSizeLimit) {
  // The issue's attack: a 1000-character array element, then `copy` doubling it 20 times
  // (2^20 * 1000 bytes if nothing stopped it).
  json::value doc = Parse(R"({"id":"app1","name":"n","metadata":null})");
  json::array ops;
  ops.push_back(json::object{
      {"op", "add"},
      {"path", "/metadata"},
      {"value", json::object{{"a", json::array{json::string(std::string(1000, 'x'))}}}}});
  for (int i = 0; i < 20; ++i) {
    ops.push_back(json::object{{"op", "copy"}, {"from", "/metadata/a"}, {"path", "/metadata/a/-"}});
  }
  auto r = ApplyJsonPatch(doc, json::value(ops));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kPayloadTooLarge);
  EXPECT_THAT(r.status().message(), StartsWith("json patch: result is larger than 1048576 bytes"));
  // It stops at the eleventh copy (operation 11): 2048 elements of 1003 bytes; the tenth
  // (1024 of them, 1027 KB) is still under 1 MiB.
  EXPECT_THAT(r.status().message(), HasSubstr("(patch: operation 11)"));
}

TEST(JsonPatch, TheLimitIsExactForEveryOperation) {
  const json::value doc = Parse(R"({"a":[1,2],"b":{"c":"ddd"},"e":null})");
  const std::vector<std::string> patches = {
      R"([{"op":"add","path":"/f","value":{"g":[1,2,3]}}])",
      R"([{"op":"add","path":"/a/0","value":"zz"}])",
      R"([{"op":"add","path":"/a/-","value":[true]}])",
      R"([{"op":"replace","path":"/b/c","value":"a much longer string than before"}])",
      R"([{"op":"copy","from":"/b","path":"/x"}])",
      R"([{"op":"copy","from":"/a","path":"/a/-"}])",
      R"([{"op":"move","from":"/b/c","path":"/long key name"}])",
      R"([{"op":"remove","path":"/a/0"},{"op":"add","path":"/q","value":"0123456789"}])",
      R"([{"op":"remove","path":"/b"},{"op":"copy","from":"/a","path":"/b"}])",
      R"([{"op":"add","path":"","value":{"whole":"new document"}}])",
  };
  for (const std::string& text : patches) {
    const json::value patch = Parse(text);
    auto free = ApplyJsonPatch(doc, patch, kMaxPatchOps, SIZE_MAX / 2);
    ASSERT_TRUE(free.ok()) << text << ": " << free.status();
    const size_t final_size = json::serialize(*free).size();
    size_t peak = std::max(final_size, json::serialize(doc).size());
    if (patch.get_array().size() > 1) {  // the intermediate document may be the largest
      json::array first;
      first.push_back(patch.get_array()[0]);
      auto mid = ApplyJsonPatch(doc, json::value(first), kMaxPatchOps, SIZE_MAX / 2);
      ASSERT_TRUE(mid.ok());
      peak = std::max(peak, json::serialize(*mid).size());
    }
    auto at_limit = ApplyJsonPatch(doc, patch, kMaxPatchOps, peak);
    EXPECT_TRUE(at_limit.ok()) << text << ": " << at_limit.status();
    auto below = ApplyJsonPatch(doc, patch, kMaxPatchOps, peak - 1);
    ASSERT_FALSE(below.ok()) << text;
    EXPECT_EQ(below.status().code(), StatusCode::kPayloadTooLarge) << text;
  }
}

TEST(JsonPatch, TooManyOperationsAre413) {
  json::array ops;
  for (size_t i = 0; i <= kMaxPatchOps; ++i) {
    ops.push_back(json::object{{"op", "test"}, {"path", "/a"}, {"value", 1}});
  }
  auto r = ApplyJsonPatch(Parse(R"({"a":1})"), json::value(ops));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kPayloadTooLarge);
  EXPECT_EQ(r.status().message(), "json patch: 1001 operations are more than the limit of 1000");
  ops.pop_back();
  EXPECT_TRUE(ApplyJsonPatch(Parse(R"({"a":1})"), json::value(ops)).ok());
}

// ---- job requests ----

std::string Job(std::string_view extra) {
  return std::string(R"({"name":"n","user":"u","version":"1","clusterCriterias":[{"tags":["c"]}],)"
                     R"("commandCriteria":["x"])") +
         std::string(extra) + "}";
}

// Parses and validates as a submission does.
Status Check(std::string_view text) {
  auto r = ParseJobRequest(text);
  if (!r.ok()) return r.status();
  return model::Validate(*r);
}

TEST(JobRequestLimits, NumbersOutOfRangeAre400NamingTheField) {
  struct Case {
    std::string extra;
    std::string message;
  };
  const std::vector<Case> cases = {
      {R"(,"timeout":4611686018427387904)", "timeout: 4611686018427387904 is out of range"},
      {R"(,"timeout":9.2e15)", "timeout: must be an integer"},
      {R"(,"timeout":1e300)", "timeout: must be an integer"},
      {R"(,"timeout":18446744073709551615)", "timeout: must be an integer"},
      {R"(,"timeout":1.5)", "timeout: must be an integer"},
      {R"(,"timeout":0)", "timeout: 0 is out of range; must be from 1 to 315360000"},
      {R"(,"timeout":-1)", "timeout: -1 is out of range"},
      {R"(,"timeout":315360001)", "timeout: 315360001 is out of range"},
      {R"(,"memory":0)", "memory: 0 is out of range; must be from 1 to 16777216 MB"},
      {R"(,"memory":16777217)", "memory: 16777217 is out of range"},
      {R"(,"memory":1099511627776)", "memory: 1099511627776 is out of range"},
      {R"(,"cpu":0)", "cpu: 0 is out of range; must be from 1 to 4096"},
      {R"(,"cpu":100000)", "cpu: 100000 is out of range"},
  };
  for (const Case& c : cases) {
    Status st = Check(Job(c.extra));
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << c.extra;
    EXPECT_THAT(st.message(), StartsWith(c.message)) << c.extra;
  }
  EXPECT_TRUE(Check(Job(R"(,"timeout":315360000,"memory":16777216,"cpu":4096)")).ok());
  EXPECT_TRUE(Check(Job(R"(,"timeout":3600.0,"memory":1024,"cpu":1)")).ok());
}

TEST(JobRequestLimits, ControlCharactersAre400NamingTheField) {
  struct Case {
    std::string extra;
    std::string message;
  };
  const std::vector<Case> cases = {
      {R"(,"tags":["ok","b\u0000"])", "tags: control character U+0000 is not allowed"},
      {R"(,"commandArguments":["a","b","c\u0000d"])",
       "commandArguments[2]: control character U+0000 is not allowed"},
      {R"(,"commandArgs":"-e \"x\"\r rm -rf /")", "commandArgs: control character U+000D"},
      {R"(,"grouping":"g\r")", "grouping: control character U+000D"},
      {R"(,"groupingInstance":"g\u001b[31m")", "groupingInstance: control character U+001B"},
      {R"(,"email":"a@b\u0000")", "email: control character U+0000"},
      {R"(,"group":"x\ny")", "group: control character U+000A"},
      {R"(,"setupFile":"file:///x\u0000")", "setupFile: control character U+0000"},
      {R"(,"dependencies":["ok","file:///y\n"])", "dependencies[1]: control character U+000A"},
      {R"(,"configs":["file:///y\u007f"])", "configs[0]: control character U+007F"},
      {R"(,"description":"a\u0000")", "description: control character U+0000"},
      {R"(,"clusterCriterias":[{"tags":["c\n"]}])", "clusterCriterias.tags: control character"},
      {R"(,"applications":["a\u0000"])", "applications[0]: byte 0x00 is not allowed"},
  };
  for (const Case& c : cases) {
    Status st = Check(Job(c.extra));
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << c.extra;
    EXPECT_THAT(st.message(), StartsWith(c.message)) << c.extra;
  }
  for (std::string field : {"name", "user", "version"}) {
    std::string text = Job("");
    text.replace(text.find("\"" + field + "\":\"") + field.size() + 4, 0, "\\u0000");
    Status st = Check(text);
    EXPECT_EQ(st.message(), field + ": control character U+0000 is not allowed") << text;
  }
  // Tabs where harmless; line breaks in a description.
  EXPECT_TRUE(Check(Job(R"(,"commandArgs":"-e\t1","commandArguments":["a\tb"])")).ok());
  EXPECT_TRUE(Check(Job(R"(,"description":"line one\nline\ttwo\r\n")")).ok());
}

TEST(JobRequestLimits, IdsFollowTheRule) {
  for (std::string id :
       std::vector<std::string>{"..%2fweir.db#2", "..%2f..%2fetc", "victim.tar.gz#", "q?x=1", "..",
                                "-x", std::string(255, 'i')}) {
    Status st = Check(Job(R"(,"id":")" + id + "\""));
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << id;
    EXPECT_THAT(st.message(), StartsWith("id: ")) << id;
    EXPECT_THAT(st.message(), HasSubstr("ids are 1 to 128 characters")) << id;
  }
  for (std::string id : {"3f2504e0-4f89-41d3-9a0c-0305e82c3301", "name_2026-12-01_x", "a.b-c"}) {
    EXPECT_TRUE(Check(Job(R"(,"id":")" + id + "\"")).ok()) << id;
  }
}

TEST(JobRequestLimits, MetadataOverTheLimitIs413) {
  const std::string big(model::kMaxMetadataBytes, 'm');
  Status st = Check(Job(R"(,"metadata":{"k":")" + big + "\"}"));
  EXPECT_EQ(st.code(), StatusCode::kPayloadTooLarge);
  EXPECT_THAT(st.message(), StartsWith("metadata: "));
  EXPECT_THAT(st.message(), HasSubstr("more than the limit of 262144 bytes"));
  EXPECT_TRUE(Check(Job(R"(,"metadata":{"k":")" + std::string(1000, 'm') + "\"}")).ok());
}

// ---- configuration entities ----

TEST(ConfigLimits, NumbersControlCharactersAndMetadata) {
  auto parse = [](std::string extra) {
    return ConfigFromJson(model::Kind::kCommand,
                          Parse(R"({"name":"n","user":"u","version":"v","status":"ACTIVE",)"
                                R"("executable":"x")" +
                                extra + "}"));
  };
  struct Case {
    std::string extra;
    StatusCode code;
    std::string message;
  };
  const std::vector<Case> cases = {
      {R"(,"checkDelay":0)", StatusCode::kFailedPrecondition, "checkDelay: 0 is out of range"},
      {R"(,"checkDelay":86400001)", StatusCode::kFailedPrecondition, "checkDelay: 86400001"},
      {R"(,"memory":0)", StatusCode::kFailedPrecondition, "memory: 0 is out of range"},
      {R"(,"memory":16777217)", StatusCode::kFailedPrecondition, "memory: 16777217"},
      {R"(,"tags":["a\u0000"])", StatusCode::kFailedPrecondition, "tags: control character U+0000"},
      {R"(,"name":"n\n")", StatusCode::kFailedPrecondition, "name: control character U+000A"},
      {R"(,"executable":"x\u0000")", StatusCode::kFailedPrecondition,
       "executable: control character U+0000"},
      {R"(,"dependencies":["file:///a\n"])", StatusCode::kFailedPrecondition,
       "dependencies: control character U+000A"},
      {R"(,"id":"victim.tar.gz#")", StatusCode::kFailedPrecondition,
       "id: character '#' is not allowed"},
      {R"(,"metadata":{"k":")" + std::string(model::kMaxConfigMetadataBytes, 'm') + "\"}",
       StatusCode::kPayloadTooLarge, "metadata: "},
  };
  for (const Case& c : cases) {
    auto e = parse(c.extra);
    Status st = e.ok() ? ValidateConfig(*e) : e.status();
    EXPECT_EQ(st.code(), c.code) << c.extra.substr(0, 80) << " " << st;
    EXPECT_THAT(st.message(), StartsWith(c.message)) << c.extra.substr(0, 80);
  }
}

}  // namespace
}  // namespace weir::api

// End-to-end tests of the configuration endpoints: a real HttpServer on port 0 with
// RegisterConfigRoutes over a real SQLite store, spoken to over HTTP with the libcurl client.
// Shapes are compared with Genie 3.3.22's recorded exchanges.
#include "api/config_routes.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>

#include "api/http.h"
#include "client/http_client.h"
#include "common/ids.h"
#include "common/time_format.h"
#include "store/store.h"

namespace weir::api {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

const TimePoint kStart = FromEpochMillis(1612207378042);  // 2021-02-01T19:22:58.042Z

std::vector<std::string> Keys(const json::object& o) {
  std::vector<std::string> k;
  for (const auto& kv : o) k.emplace_back(kv.key());
  return k;
}

std::vector<std::string> Strings(const json::value& v) {
  std::vector<std::string> out;
  for (const auto& s : v.as_array()) out.emplace_back(s.as_string());
  return out;
}

std::string Str(const json::value& v) { return std::string(v.as_string()); }

class ConfigRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("weir-config-routes-" + NewUuid());
    fs::create_directories(dir_);
    auto stores = store::OpenSqlite((dir_ / "weir.db").string(), clock_);
    ASSERT_TRUE(stores.ok()) << stores.status();
    stores_ = *stores;
    auto router = std::make_shared<Router>();
    RegisterConfigRoutes(*router, stores_.config, clock_);
    HttpServerOptions opts;
    opts.port = 0;
    opts.spool_dir = dir_;
    // The test client stands in for a reverse proxy: its forwarded headers are believed only
    // because loopback is a trusted proxy (server.trusted_proxies).
    opts.trusted_proxies = IpSet::Parse({"127.0.0.1"}).value();
    server_ = NewHttpServer(opts, router);
    ASSERT_TRUE(server_->Start().ok());
    base_ = "http://127.0.0.1:" + std::to_string(server_->port());
    client_ = std::make_unique<client::HttpClient>(base_);
  }
  void TearDown() override {
    client_.reset();
    server_->Stop();
    stores_ = {};
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  client::Response Call(std::string_view method, std::string_view path, std::string_view body = {},
                        client::Headers headers = {}) {
    if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
    auto r = client_->Request(method, path, body, headers);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : client::Response{};
  }
  client::Response Post(std::string_view path, std::string_view body) {
    return Call("POST", path, body);
  }
  client::Response Put(std::string_view path, std::string_view body) {
    return Call("PUT", path, body);
  }
  client::Response Patch(std::string_view path, std::string_view body) {
    return Call("PATCH", path, body);
  }
  client::Response Get(std::string_view path) { return Call("GET", path); }
  client::Response Del(std::string_view path) { return Call("DELETE", path); }

  json::value GetJson(std::string_view path) {
    auto r = Get(path);
    EXPECT_EQ(r.status, 200) << path << ": " << r.body;
    if (r.status != 200) return nullptr;
    return json::parse(r.body);
  }

  // The error document's message, checking the Genie shape on the way.
  std::string ErrorMessage(const client::Response& r) {
    json::value v = json::parse(r.body);
    const auto& o = v.as_object();
    EXPECT_EQ(o.at("status").as_int64(), r.status);
    EXPECT_TRUE(o.contains("error"));
    EXPECT_TRUE(o.contains("path"));
    EXPECT_TRUE(o.contains("timestamp"));
    return Str(o.at("message"));
  }

  std::string Create(std::string_view collection, const std::string& body) {
    auto r = Post("/api/v3/" + std::string(collection), body);
    EXPECT_EQ(r.status, 201) << r.body;
    auto loc = r.Header("location").value_or("");
    return loc.substr(loc.rfind('/') + 1);
  }
  std::string App(const std::string& id, const std::string& name = "spark",
                  const std::string& status = "ACTIVE", const std::string& extra = "") {
    return Create("applications", R"({"id":")" + id + R"(","name":")" + name +
                                      R"(","user":"genie","version":"1.5.1","status":")" +
                                      status + "\"" + extra + "}");
  }
  std::string Cmd(const std::string& id, const std::string& name = "hive",
                  const std::string& status = "ACTIVE", const std::string& extra = "") {
    return Create("commands", R"({"id":")" + id + R"(","name":")" + name +
                                  R"(","user":"genie","version":"1.0.0","status":")" + status +
                                  R"(","executable":"/apps/hive/bin/hive")" + extra + "}");
  }
  std::string Cluster(const std::string& id, const std::string& name = "h2prod",
                      const std::string& status = "UP", const std::string& extra = "") {
    return Create("clusters", R"({"id":")" + id + R"(","name":")" + name +
                                  R"(","user":"genie","version":"2.7.1","status":")" + status +
                                  "\"" + extra + "}");
  }

  FakeClock clock_{kStart};
  fs::path dir_;
  store::SqliteStores stores_;
  std::unique_ptr<HttpServer> server_;
  std::string base_;
  std::unique_ptr<client::HttpClient> client_;
};

// ---- create and get ----

TEST_F(ConfigRoutesTest, CreateApplicationThenGetMatchesGenieShape) {
  auto r = Post("/api/v3/applications", R"({
    "id": null, "created": null, "updated": null, "version": "1.5.1", "user": "genie",
    "name": "spark", "description": "Spark for Genie", "metadata": null,
    "tags": ["type:spark", "ver:1.5.1"], "configs": ["s3://mybucket/spark/1.5.1/spark-env.sh"],
    "dependencies": ["s3://mybucket/spark/1.5.1/spark.tar.gz"],
    "setupFile": "s3://mybucket/spark/1.5.1/setup-spark.sh", "status": "ACTIVE", "type": "spark"})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_TRUE(r.body.empty());
  std::string loc = r.Header("location").value_or("");
  ASSERT_TRUE(loc.rfind(base_ + "/api/v3/applications/", 0) == 0) << loc;
  std::string id = loc.substr(loc.rfind('/') + 1);
  EXPECT_EQ(id.size(), 36u) << "a UUID is made when no id is sent";

  auto got = Get("/api/v3/applications/" + id);
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(got.Header("content-type"), "application/hal+json");
  json::object o = json::parse(got.body).as_object();
  EXPECT_THAT(Keys(o), ElementsAre("id", "created", "updated", "version", "user", "name",
                                   "description", "metadata", "tags", "configs", "dependencies",
                                   "setupFile", "status", "type", "_links"));
  EXPECT_EQ(Str(o["id"]), id);
  EXPECT_EQ(Str(o["created"]), "2021-02-01T19:22:58.042Z");
  EXPECT_EQ(Str(o["updated"]), "2021-02-01T19:22:58.042Z");
  EXPECT_EQ(Str(o["description"]), "Spark for Genie");
  EXPECT_TRUE(o["metadata"].is_null());
  EXPECT_THAT(Strings(o["tags"]), UnorderedElementsAre("genie.id:" + id, "genie.name:spark",
                                                       "type:spark", "ver:1.5.1"));
  EXPECT_THAT(Strings(o["configs"]), ElementsAre("s3://mybucket/spark/1.5.1/spark-env.sh"));
  EXPECT_EQ(Str(o["type"]), "spark");
  auto& links = o["_links"].as_object();
  EXPECT_THAT(Keys(links), ElementsAre("self", "commands"));
  EXPECT_EQ(Str(links["self"].at("href")), base_ + "/api/v3/applications/" + id);
  EXPECT_EQ(Str(links["commands"].at("href")),
            base_ + "/api/v3/applications/" + id + "/commands{?status}");
  EXPECT_TRUE(links["commands"].at("templated").as_bool());
  EXPECT_FALSE(links["self"].as_object().contains("templated"));
}

TEST_F(ConfigRoutesTest, CommandAndClusterShapes) {
  Cmd("cmd1", "hive", "ACTIVE", R"(,"memory":1024,"metadata":{"owner":"data","n":[1,2]})");
  json::object c = GetJson("/api/v3/commands/cmd1").as_object();
  EXPECT_THAT(Keys(c), ElementsAre("id", "created", "updated", "version", "user", "name",
                                   "description", "metadata", "tags", "configs", "dependencies",
                                   "setupFile", "status", "executable", "checkDelay", "memory",
                                   "_links"));
  EXPECT_EQ(c["checkDelay"].as_int64(), 10000);
  EXPECT_EQ(c["memory"].as_int64(), 1024);
  EXPECT_EQ(Str(c["metadata"].at("owner")), "data");
  EXPECT_EQ(c["metadata"].at("n").as_array().size(), 2u);
  auto& cl = c["_links"].as_object();
  EXPECT_THAT(Keys(cl), ElementsAre("self", "applications", "clusters"));
  EXPECT_EQ(Str(cl["applications"].at("href")), base_ + "/api/v3/commands/cmd1/applications");
  EXPECT_FALSE(cl["applications"].as_object().contains("templated"));
  EXPECT_EQ(Str(cl["clusters"].at("href")), base_ + "/api/v3/commands/cmd1/clusters{?status}");
  EXPECT_TRUE(cl["clusters"].at("templated").as_bool());

  Cmd("cmd2");
  EXPECT_TRUE(GetJson("/api/v3/commands/cmd2").at("memory").is_null());

  Cluster("clu1");
  json::object k = GetJson("/api/v3/clusters/clu1").as_object();
  EXPECT_THAT(Keys(k), ElementsAre("id", "created", "updated", "version", "user", "name",
                                   "description", "metadata", "tags", "configs", "dependencies",
                                   "setupFile", "status", "_links"));
  EXPECT_EQ(Str(k["status"]), "UP");
  EXPECT_THAT(Keys(k["_links"].as_object()), ElementsAre("self", "commands"));
  EXPECT_EQ(Str(k["_links"].at("commands").at("href")),
            base_ + "/api/v3/clusters/clu1/commands{?status}");
}

TEST_F(ConfigRoutesTest, LinksFollowForwardedHeaders) {
  auto r = Call("POST", "/api/v3/clusters",
                R"({"id":"c1","name":"n","user":"u","version":"v","status":"UP"})",
                {{"X-Forwarded-Proto", "https"}, {"X-Forwarded-Host", "genie.example.com"}});
  ASSERT_EQ(r.status, 201);
  EXPECT_EQ(r.Header("location"), "https://genie.example.com/api/v3/clusters/c1");
  auto g = Call("GET", "/api/v3/clusters/c1", {}, {{"Host", "weir.internal:9000"}});
  EXPECT_EQ(Str(json::parse(g.body).at("_links").at("self").at("href")),
            "http://weir.internal:9000/api/v3/clusters/c1");
}

TEST_F(ConfigRoutesTest, DuplicateIdIs409) {
  App("app1");
  auto r = Post("/api/v3/applications",
                R"({"id":"app1","name":"x","user":"u","version":"v","status":"ACTIVE"})");
  EXPECT_EQ(r.status, 409);
  EXPECT_THAT(ErrorMessage(r), HasSubstr("app1"));
}

TEST_F(ConfigRoutesTest, UnknownIdIs404) {
  for (const char* path : {"/api/v3/applications/none", "/api/v3/commands/none",
                           "/api/v3/clusters/none", "/api/v3/applications/none/configs",
                           "/api/v3/commands/none/applications", "/api/v3/clusters/none/commands",
                           "/api/v3/applications/none/commands", "/api/v3/commands/none/clusters"}) {
    auto r = Get(path);
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_THAT(ErrorMessage(r), HasSubstr("none")) << path;
  }
  EXPECT_EQ(Del("/api/v3/commands/none").status, 404);
  EXPECT_EQ(Put("/api/v3/clusters/none", R"({"name":"n","user":"u","version":"v","status":"UP"})")
                .status,
            404);
  EXPECT_EQ(Patch("/api/v3/clusters/none", "[]").status, 404);
}

// ---- hostile and invalid input ----

TEST_F(ConfigRoutesTest, ValidationFailuresAre412NamingTheField) {
  struct Case {
    std::string body;
    std::string field;
  };
  std::string long_name(256, 'n');
  std::vector<Case> cases = {
      {R"({"user":"u","version":"v","status":"ACTIVE"})", "name"},
      {R"({"name":"  ","user":"u","version":"v","status":"ACTIVE"})", "name"},
      {R"({"name":")" + long_name + R"(","user":"u","version":"v","status":"ACTIVE"})", "name"},
      {R"({"name":"n","version":"v","status":"ACTIVE"})", "user"},
      {R"({"name":"n","user":"u","status":"ACTIVE"})", "version"},
      {R"({"name":"n","user":"u","version":"v"})", "status"},
      {R"({"name":"n","user":"u","version":"v","status":"ACTIVE","description":")" +
           std::string(1001, 'd') + "\"}",
       "description"},
      {R"({"id":"a/b","name":"n","user":"u","version":"v","status":"ACTIVE"})", "id"},
      {R"({"id":")" + std::string(256, 'i') + R"(","name":"n","user":"u","version":"v","status":"ACTIVE"})",
       "id"},
      {R"({"name":"n","user":"u","version":"v","status":"ACTIVE","tags":[""]})", "tags"},
      {R"({"name":"n","user":"u","version":"v","status":"ACTIVE","configs":["  "]})", "configs"},
      {R"({"name":"n","user":"u","version":"v","status":"ACTIVE","setupFile":")" +
           std::string(1025, 's') + "\"}",
       "setupFile"},
  };
  for (const auto& c : cases) {
    auto r = Post("/api/v3/applications", c.body);
    EXPECT_EQ(r.status, 412) << c.body.substr(0, 80) << " -> " << r.body;
    EXPECT_TRUE(ErrorMessage(r).rfind(c.field, 0) == 0) << r.body;
  }
  auto r = Post("/api/v3/commands",
                R"({"name":"n","user":"u","version":"v","status":"ACTIVE"})");
  EXPECT_EQ(r.status, 412);
  EXPECT_THAT(ErrorMessage(r), HasSubstr("executable"));
  r = Post("/api/v3/commands",
           R"({"name":"n","user":"u","version":"v","status":"ACTIVE","executable":"x","checkDelay":0})");
  EXPECT_EQ(r.status, 412);
  EXPECT_THAT(ErrorMessage(r), HasSubstr("checkDelay"));
  // Nothing was stored.
  EXPECT_EQ(GetJson("/api/v3/applications").at("page").at("totalElements").as_int64(), 0);
}

TEST_F(ConfigRoutesTest, MalformedBodiesAndWrongTypesAre400NamingTheField) {
  struct Case {
    std::string body;
    std::string expect;
  };
  std::vector<Case> cases = {
      {"{not json", "request body: invalid JSON"},
      {"", "request body: empty"},
      {"[1,2]", "request body: expected a JSON object"},
      {R"({"name":7,"user":"u","version":"v","status":"ACTIVE"})", "name: must be a string"},
      {R"({"name":"n","user":"u","version":"v","status":"ACTIVE","tags":"a,b"})",
       "tags: must be an array of strings"},
      {R"({"name":"n","user":"u","version":"v","status":"ACTIVE","tags":["a",3]})",
       "tags: must be an array of strings"},
      {R"({"name":"n","user":"u","version":"v","status":"RUNNING"})", "status: 'RUNNING'"},
      {R"({"name":"n","user":"u","version":"v","status":"ACTIVE","metadata":"x"})", "metadata"},
      {"{\"name\":\"n\xff\",\"user\":\"u\",\"version\":\"v\",\"status\":\"ACTIVE\"}",
       "request body: invalid JSON"},
      {std::string(100, '[') + std::string(100, ']'), "request body: invalid JSON"},
  };
  for (const auto& c : cases) {
    auto r = Post("/api/v3/applications", c.body);
    EXPECT_EQ(r.status, 400) << c.body.substr(0, 60) << " -> " << r.body;
    EXPECT_THAT(ErrorMessage(r), HasSubstr(c.expect)) << r.body;
  }
  auto r = Post("/api/v3/commands",
                R"({"name":"n","user":"u","version":"v","status":"ACTIVE","executable":"x","checkDelay":"soon"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(ErrorMessage(r), HasSubstr("checkDelay: must be an integer"));
  r = Post("/api/v3/clusters", R"({"name":"n","user":"u","version":"v","status":"ACTIVE"})");
  EXPECT_EQ(r.status, 400) << "ACTIVE is not a cluster status";
  EXPECT_THAT(ErrorMessage(r), HasSubstr("UP, OUT_OF_SERVICE, TERMINATED"));
}

TEST_F(ConfigRoutesTest, HugeBodyIs413) {
  std::string big = R"({"name":"n","user":"u","version":"v","status":"ACTIVE","description":")" +
                    std::string(2 << 20, 'd') + "\"}";
  auto r = Post("/api/v3/applications", big);
  EXPECT_EQ(r.status, 413);
  EXPECT_THAT(ErrorMessage(r), HasSubstr("exceeds the limit of 1048576 bytes"));
}

// ---- search ----

TEST_F(ConfigRoutesTest, SearchFiltersAndPageShape) {
  App("a1", "spark", "ACTIVE", R"(,"user":"alice","type":"spark","tags":["ver:1.5","team:x"])");
  clock_.Advance(Millis(10));
  App("a2", "spark", "DEPRECATED", R"(,"type":"spark","tags":["ver:1.4"])");
  clock_.Advance(Millis(10));
  App("a3", "hive", "INACTIVE", R"(,"type":"hive","tags":["ver:1.5"])");
  clock_.Advance(Millis(10));
  App("a4", "sparkling", "ACTIVE", R"(,"type":"other","tags":["ver:1.5","team:x"])");

  auto ids = [&](const std::string& query) {
    json::value v = GetJson("/api/v3/applications" + query);
    std::vector<std::string> out;
    for (const auto& a : v.at("_embedded").at("applicationList").as_array()) {
      out.push_back(Str(a.at("id")));
    }
    return out;
  };
  EXPECT_THAT(ids(""), ElementsAre("a4", "a3", "a2", "a1")) << "default order: updated desc";
  EXPECT_THAT(ids("?name=spark"), ElementsAre("a2", "a1"));
  EXPECT_THAT(ids("?name=spark%25"), ElementsAre("a4", "a2", "a1"));
  EXPECT_THAT(ids("?user=alice"), ElementsAre("a1"));
  EXPECT_THAT(ids("?status=ACTIVE&status=INACTIVE"), ElementsAre("a4", "a3", "a1"));
  EXPECT_THAT(ids("?tag=ver:1.5&tag=team:x"), ElementsAre("a4", "a1"));
  EXPECT_THAT(ids("?tag=genie.id:a3"), ElementsAre("a3"));
  EXPECT_THAT(ids("?type=spark"), ElementsAre("a2", "a1"));
  EXPECT_THAT(ids("?sort=name,asc&sort=id,desc"), ElementsAre("a3", "a2", "a1", "a4"));
  EXPECT_THAT(ids("?sort=id"), ElementsAre("a1", "a2", "a3", "a4"));

  auto r = Get("/api/v3/applications?status=ACTIVE&status=DEPRECATED");
  EXPECT_EQ(r.Header("content-type"), "application/hal+json");
  json::object page = json::parse(r.body).as_object();
  EXPECT_THAT(Keys(page), ElementsAre("_embedded", "_links", "page"));
  EXPECT_EQ(Str(page["_links"].at("self").at("href")),
            base_ + "/api/v3/applications?status=ACTIVE&status=DEPRECATED{&name,user,tag,type}");
  EXPECT_TRUE(page["_links"].at("self").at("templated").as_bool());
  EXPECT_THAT(Keys(page["_links"].as_object()), ElementsAre("self")) << "a single page";
  EXPECT_EQ(page["page"].at("size").as_int64(), 10);
  EXPECT_EQ(page["page"].at("totalElements").as_int64(), 3);
  EXPECT_EQ(page["page"].at("totalPages").as_int64(), 1);
  EXPECT_EQ(page["page"].at("number").as_int64(), 0);
  const auto& first = page["_embedded"].at("applicationList").at(0).as_object();
  EXPECT_TRUE(first.contains("_links"));
  EXPECT_FALSE(first.contains("links"));

  json::object none = GetJson("/api/v3/applications?name=nothing").as_object();
  EXPECT_EQ(none["_embedded"].at("applicationList").as_array().size(), 0u);
  EXPECT_EQ(none["page"].at("totalPages").as_int64(), 0);
}

TEST_F(ConfigRoutesTest, PagingLinks) {
  for (int i = 0; i < 5; ++i) {
    App("p" + std::to_string(i), "app", "ACTIVE");
    clock_.Advance(Millis(1));
  }
  json::object p = GetJson("/api/v3/applications?name=app&size=2&page=1").as_object();
  EXPECT_EQ(p["_embedded"].at("applicationList").as_array().size(), 2u);
  EXPECT_EQ(Str(p["_embedded"].at("applicationList").at(0).at("id")), "p2");
  EXPECT_EQ(p["page"].at("size").as_int64(), 2);
  EXPECT_EQ(p["page"].at("totalElements").as_int64(), 5);
  EXPECT_EQ(p["page"].at("totalPages").as_int64(), 3);
  EXPECT_EQ(p["page"].at("number").as_int64(), 1);
  auto& l = p["_links"].as_object();
  EXPECT_THAT(Keys(l), ElementsAre("first", "prev", "self", "next", "last"));
  std::string b = base_ + "/api/v3/applications?name=app&";
  EXPECT_EQ(Str(l["first"].at("href")), b + "page=0&size=2&sort=updated,desc");
  EXPECT_EQ(Str(l["prev"].at("href")), b + "page=0&size=2&sort=updated,desc");
  EXPECT_EQ(Str(l["next"].at("href")), b + "page=2&size=2&sort=updated,desc");
  EXPECT_EQ(Str(l["last"].at("href")), b + "page=2&size=2&sort=updated,desc");
  EXPECT_EQ(Str(l["self"].at("href")),
            base_ + "/api/v3/applications?name=app{&user,status,tag,type}");

  json::object first = GetJson("/api/v3/applications?size=2&sort=name,asc").as_object();
  EXPECT_THAT(Keys(first["_links"].as_object()), ElementsAre("first", "self", "next", "last"));
  EXPECT_EQ(Str(first["_links"].at("next").at("href")),
            base_ + "/api/v3/applications?page=1&size=2&sort=name,asc");
  EXPECT_EQ(Str(first["_links"].at("self").at("href")),
            base_ + "/api/v3/applications{?name,user,status,tag,type}");

  json::object last = GetJson("/api/v3/applications?size=2&page=2").as_object();
  EXPECT_THAT(Keys(last["_links"].as_object()), ElementsAre("first", "prev", "self", "last"));
  EXPECT_EQ(last["_embedded"].at("applicationList").as_array().size(), 1u);
}

TEST_F(ConfigRoutesTest, DefaultPageSizes) {
  EXPECT_EQ(GetJson("/api/v3/applications").at("page").at("size").as_int64(), 10);
  EXPECT_EQ(GetJson("/api/v3/commands").at("page").at("size").as_int64(), 64);
  EXPECT_EQ(GetJson("/api/v3/clusters").at("page").at("size").as_int64(), 64);
  EXPECT_TRUE(GetJson("/api/v3/commands").at("_embedded").as_object().contains("commandList"));
  EXPECT_TRUE(GetJson("/api/v3/clusters").at("_embedded").as_object().contains("clusterList"));
}

TEST_F(ConfigRoutesTest, BadSearchParametersAre400) {
  for (const char* q : {"?page=-1", "?page=x", "?size=0", "?size=abc", "?sort=bogus,asc",
                        "?status=UP", "?sort=na%20me"}) {
    auto r = Get(std::string("/api/v3/applications") + q);
    EXPECT_EQ(r.status, 400) << q << " " << r.body;
  }
  auto r = Get("/api/v3/clusters?minUpdateTime=yesterday");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(ErrorMessage(r), HasSubstr("minUpdateTime"));
}

TEST_F(ConfigRoutesTest, ClusterSearchByUpdateTimeAndStatus) {
  Cluster("old", "c", "UP");
  int64_t t1 = ToEpochMillis(clock_.Now());
  clock_.Advance(Millis(1000));
  Cluster("new", "c", "OUT_OF_SERVICE");
  int64_t t2 = ToEpochMillis(clock_.Now());
  auto ids = [&](const std::string& q) {
    std::vector<std::string> out;
    json::value v = GetJson("/api/v3/clusters" + q);
    for (const auto& c : v.at("_embedded").at("clusterList").as_array()) {
      out.push_back(Str(c.at("id")));
    }
    return out;
  };
  EXPECT_THAT(ids("?minUpdateTime=" + std::to_string(t2)), ElementsAre("new"));
  EXPECT_THAT(ids("?maxUpdateTime=" + std::to_string(t2)), ElementsAre("old"));
  EXPECT_THAT(ids("?minUpdateTime=" + std::to_string(t1) + "&maxUpdateTime=" +
                  std::to_string(t2 + 1)),
              ElementsAre("new", "old"));
  EXPECT_THAT(ids("?status=UP"), ElementsAre("old"));
  json::value v = GetJson("/api/v3/clusters?tag=genie.id%3Anew");
  EXPECT_EQ(Str(v.at("_links").at("self").at("href")),
            base_ + "/api/v3/clusters?tag=genie.id:new{&name,status,minUpdateTime,maxUpdateTime}");
}

// ---- update ----

TEST_F(ConfigRoutesTest, PutReplacesAndKeepsIdAndCreated) {
  App("app1", "spark", "ACTIVE", R"(,"tags":["old"],"description":"d")");
  clock_.Advance(Millis(5000));
  auto r = Put("/api/v3/applications/app1", R"({
      "id":"app1","created":"1999-01-01T00:00:00.000Z","name":"spark2","user":"bob",
      "version":"2","status":"INACTIVE","tags":["new"],"type":"spark"})");
  ASSERT_EQ(r.status, 204) << r.body;
  EXPECT_TRUE(r.body.empty());
  json::object o = GetJson("/api/v3/applications/app1").as_object();
  EXPECT_EQ(Str(o["name"]), "spark2");
  EXPECT_EQ(Str(o["user"]), "bob");
  EXPECT_EQ(Str(o["status"]), "INACTIVE");
  EXPECT_TRUE(o["description"].is_null());
  EXPECT_EQ(Str(o["created"]), "2021-02-01T19:22:58.042Z");
  EXPECT_EQ(Str(o["updated"]), "2021-02-01T19:23:03.042Z");
  EXPECT_THAT(Strings(o["tags"]), UnorderedElementsAre("genie.id:app1", "genie.name:spark2", "new"))
      << "a rename replaces the implicit name tag";

  // The id may be left out; a different id is refused.
  EXPECT_EQ(Put("/api/v3/applications/app1",
                R"({"name":"s","user":"u","version":"v","status":"ACTIVE"})")
                .status,
            204);
  r = Put("/api/v3/applications/app1",
          R"({"id":"other","name":"s","user":"u","version":"v","status":"ACTIVE"})");
  EXPECT_EQ(r.status, 412);
  EXPECT_THAT(ErrorMessage(r), HasSubstr("id"));
  r = Put("/api/v3/applications/app1", R"({"name":"","user":"u","version":"v","status":"ACTIVE"})");
  EXPECT_EQ(r.status, 412);
  EXPECT_EQ(Put("/api/v3/applications/app1", "nope").status, 400);
}

TEST_F(ConfigRoutesTest, PatchAppliesJsonPatch) {
  Cmd("cmd1", "hive", "ACTIVE", R"(,"tags":["a"],"configs":["c1"])");
  clock_.Advance(Millis(1000));
  auto r = Patch("/api/v3/commands/cmd1", R"([
      {"op":"replace","path":"/user","value":"5ed8ca3f"},
      {"op":"add","path":"/tags/-","value":"b"},
      {"op":"test","path":"/checkDelay","value":10000},
      {"op":"add","path":"/memory","value":2048},
      {"op":"copy","from":"/configs/0","path":"/dependencies/0"},
      {"op":"move","from":"/description","path":"/setupFile"},
      {"op":"remove","path":"/configs/0"}])");
  ASSERT_EQ(r.status, 204) << r.body;
  json::object o = GetJson("/api/v3/commands/cmd1").as_object();
  EXPECT_EQ(Str(o["user"]), "5ed8ca3f");
  EXPECT_THAT(Strings(o["tags"]), UnorderedElementsAre("a", "b", "genie.id:cmd1", "genie.name:hive"));
  EXPECT_EQ(o["memory"].as_int64(), 2048);
  EXPECT_THAT(Strings(o["dependencies"]), ElementsAre("c1"));
  EXPECT_TRUE(o["configs"].as_array().empty());
  EXPECT_EQ(Str(o["updated"]), "2021-02-01T19:22:59.042Z");

  // Renaming through a patch replaces the implicit name tag.
  ASSERT_EQ(Patch("/api/v3/commands/cmd1", R"([{"op":"replace","path":"/name","value":"pig"}])")
                .status,
            204);
  EXPECT_THAT(Strings(GetJson("/api/v3/commands/cmd1").at("tags")),
              UnorderedElementsAre("a", "b", "genie.id:cmd1", "genie.name:pig"));
}

TEST_F(ConfigRoutesTest, PatchFailuresLeaveTheResourceUnchanged) {
  Cmd("cmd1");
  json::value before = GetJson("/api/v3/commands/cmd1");
  struct Case {
    std::string patch;
    int status;
    std::string expect;
  };
  std::vector<Case> cases = {
      {R"([{"op":"replace","path":"/id","value":"x"}])", 412, "id: cannot be changed"},
      {R"([{"op":"replace","path":"/created","value":"2000-01-01T00:00:00.000Z"}])", 412,
       "created: cannot be changed"},
      {R"([{"op":"replace","path":"/user","value":"x"},{"op":"test","path":"/name","value":"no"}])",
       412, "test failed"},
      {R"([{"op":"remove","path":"/nothing"}])", 412, "does not exist"},
      {R"([{"op":"remove","path":"/name"}])", 412, "name"},
      {R"([{"op":"replace","path":"/status","value":"UP"}])", 400, "status"},
      {R"([{"op":"replace","path":"/tags","value":"x"}])", 400, "tags: must be an array"},
      {R"([{"op":"jump","path":"/user"}])", 400, "unknown op"},
      {R"([{"op":"replace","path":"user","value":"x"}])", 400, "must be empty or start with '/'"},
      {R"([{"op":"add","path":"/user"}])", 400, "needs a 'value'"},
      {R"({"op":"replace"})", 400, "JSON Patch array"},
      {"[", 400, "invalid JSON"},
  };
  for (const auto& c : cases) {
    auto r = Patch("/api/v3/commands/cmd1", c.patch);
    EXPECT_EQ(r.status, c.status) << c.patch << " -> " << r.body;
    EXPECT_THAT(ErrorMessage(r), HasSubstr(c.expect)) << c.patch;
  }
  EXPECT_EQ(GetJson("/api/v3/commands/cmd1"), before);
}

// ---- delete ----

TEST_F(ConfigRoutesTest, DeleteOneAndAll) {
  App("a1");
  App("a2");
  auto r = Del("/api/v3/applications/a1");
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(Get("/api/v3/applications/a1").status, 404);
  EXPECT_EQ(Del("/api/v3/applications/a1").status, 404);
  EXPECT_EQ(Del("/api/v3/applications").status, 204);
  EXPECT_EQ(GetJson("/api/v3/applications").at("page").at("totalElements").as_int64(), 0);
  Cluster("c1");
  EXPECT_EQ(Del("/api/v3/clusters").status, 204);
  EXPECT_EQ(Get("/api/v3/clusters/c1").status, 404);
}

// ---- configs, dependencies, tags ----

TEST_F(ConfigRoutesTest, ConfigsAndDependenciesSubResources) {
  for (const char* collection : {"applications", "commands", "clusters"}) {
    std::string c = collection;
    std::string id = c == "applications" ? App("x1") : c == "commands" ? Cmd("x1") : Cluster("x1");
    for (const char* sub : {"configs", "dependencies"}) {
      std::string path = "/api/v3/" + c + "/" + id + "/" + sub;
      auto r = Get(path);
      EXPECT_EQ(r.status, 200);
      EXPECT_EQ(r.Header("content-type"), "application/json");
      EXPECT_EQ(r.body, "[]");
      EXPECT_EQ(Post(path, R"(["s3://b/one","s3://b/two"])").status, 204);
      EXPECT_EQ(Post(path, R"(["s3://b/two","s3://b/three"])").status, 204);
      EXPECT_THAT(Strings(GetJson(path)), ElementsAre("s3://b/one", "s3://b/two", "s3://b/three"))
          << "a set: duplicates ignored, order kept";
      EXPECT_EQ(Put(path, R"(["s3://b/only","s3://b/only"])").status, 204);
      EXPECT_THAT(Strings(GetJson(path)), ElementsAre("s3://b/only"));
      EXPECT_EQ(Del(path).status, 204);
      EXPECT_EQ(Get(path).body, "[]");
      // Hostile bodies.
      auto bad = Post(path, R"({"a":1})");
      EXPECT_EQ(bad.status, 400);
      EXPECT_THAT(ErrorMessage(bad), HasSubstr("JSON array"));
      EXPECT_EQ(Post(path, R"([1])").status, 400);
      EXPECT_EQ(Post(path, R"([""])").status, 412);
      EXPECT_EQ(Post(path, "[\"" + std::string(1025, 'u') + "\"]").status, 412);
      EXPECT_EQ(Post("/api/v3/" + c + "/nobody/" + sub, R"(["x"])").status, 404);
    }
  }
}

TEST_F(ConfigRoutesTest, TagsKeepTheImplicitOnes) {
  App("app1", "spark");
  std::string path = "/api/v3/applications/app1/tags";
  auto r = Get(path);
  EXPECT_EQ(r.Header("content-type"), "application/json");
  EXPECT_THAT(Strings(json::parse(r.body)), UnorderedElementsAre("genie.id:app1", "genie.name:spark"));
  EXPECT_EQ(Post(path, R"(["b5fb1468","ba059ac5","team/data"])").status, 204);
  EXPECT_THAT(Strings(GetJson(path)),
              UnorderedElementsAre("b5fb1468", "ba059ac5", "team/data", "genie.id:app1",
                                   "genie.name:spark"));
  EXPECT_EQ(Del(path + "/b5fb1468").status, 204);
  EXPECT_EQ(Del(path + "/team%2Fdata").status, 204);
  EXPECT_EQ(Del(path + "/genie.id:app1").status, 204);
  EXPECT_THAT(Strings(GetJson(path)),
              UnorderedElementsAre("ba059ac5", "genie.id:app1", "genie.name:spark"));
  EXPECT_EQ(Put(path, R"(["578b4ba1","genie.name:fake"])").status, 204);
  EXPECT_THAT(Strings(GetJson(path)),
              UnorderedElementsAre("578b4ba1", "genie.id:app1", "genie.name:spark"));
  EXPECT_EQ(Del(path).status, 204);
  EXPECT_THAT(Strings(GetJson(path)), UnorderedElementsAre("genie.id:app1", "genie.name:spark"));
  EXPECT_EQ(Post(path, R"("not-a-list")").status, 400);
  EXPECT_EQ(Del("/api/v3/applications/nobody/tags/x").status, 404);
}

// ---- links ----

TEST_F(ConfigRoutesTest, CommandApplicationsAreOrderedLinks) {
  App("a1", "first");
  App("a2", "second");
  App("a3", "third", "INACTIVE");
  Cmd("cmd1");
  std::string path = "/api/v3/commands/cmd1/applications";
  EXPECT_EQ(Get(path).body, "[]");
  EXPECT_EQ(Post(path, R"(["a2","a1"])").status, 204);
  EXPECT_EQ(Post(path, R"(["a1","a3"])").status, 204);
  auto r = Get(path);
  EXPECT_EQ(r.Header("content-type"), "application/hal+json");
  json::array list = json::parse(r.body).as_array();
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(Str(list[0].at("id")), "a2");
  EXPECT_EQ(Str(list[1].at("id")), "a1");
  EXPECT_EQ(Str(list[2].at("id")), "a3");
  const auto& item = list[0].as_object();
  EXPECT_FALSE(item.contains("_links"));
  EXPECT_EQ(Keys(item).back(), "links");
  json::array links = item.at("links").as_array();
  ASSERT_EQ(links.size(), 2u);
  EXPECT_EQ(Str(links[0].at("rel")), "self");
  EXPECT_EQ(Str(links[0].at("href")), base_ + "/api/v3/applications/a2");
  EXPECT_EQ(Str(links[1].at("rel")), "commands");
  EXPECT_EQ(Str(links[1].at("href")), base_ + "/api/v3/applications/a2/commands{?status}");
  EXPECT_FALSE(links[1].as_object().contains("templated"));

  EXPECT_EQ(Put(path, R"(["a3","a1"])").status, 204);
  std::vector<std::string> ids;
  json::value got = GetJson(path);
  for (const auto& a : got.as_array()) ids.push_back(Str(a.at("id")));
  EXPECT_THAT(ids, ElementsAre("a3", "a1"));

  // Unknown application: 412, nothing changed.
  r = Post(path, R"(["a1","ghost"])");
  EXPECT_EQ(r.status, 412);
  EXPECT_THAT(ErrorMessage(r), HasSubstr("ghost"));
  EXPECT_EQ(Put(path, R"(["ghost"])").status, 412);
  EXPECT_EQ(GetJson(path).as_array().size(), 2u);
  EXPECT_EQ(Post(path, "[]").status, 412);
  EXPECT_EQ(Post(path, R"([1])").status, 400);

  // Reverse lookup.
  json::array cmds = GetJson("/api/v3/applications/a1/commands").as_array();
  ASSERT_EQ(cmds.size(), 1u);
  EXPECT_EQ(Str(cmds[0].at("id")), "cmd1");
  json::array cmd_links = cmds[0].at("links").as_array();
  ASSERT_EQ(cmd_links.size(), 3u);
  EXPECT_EQ(Str(cmd_links[1].at("rel")), "applications");
  EXPECT_EQ(Str(cmd_links[2].at("href")), base_ + "/api/v3/commands/cmd1/clusters{?status}");
  EXPECT_TRUE(GetJson("/api/v3/applications/a1/commands?status=INACTIVE").as_array().empty());
  EXPECT_EQ(GetJson("/api/v3/applications/a1/commands?status=ACTIVE&status=INACTIVE")
                .as_array()
                .size(),
            1u);
  EXPECT_EQ(Get("/api/v3/applications/a1/commands?status=UP").status, 400);

  // A linked application cannot be deleted.
  r = Del("/api/v3/applications/a1");
  EXPECT_EQ(r.status, 412);
  EXPECT_THAT(ErrorMessage(r), HasSubstr("a1"));
  EXPECT_EQ(Del("/api/v3/applications").status, 412);

  // Remove one, then all.
  EXPECT_EQ(Del(path + "/a3").status, 204);
  EXPECT_EQ(Del(path + "/a2").status, 204) << "not linked: nothing to do";
  EXPECT_EQ(Del(path + "/ghost").status, 404);
  ids.clear();
  got = GetJson(path);
  for (const auto& a : got.as_array()) ids.push_back(Str(a.at("id")));
  EXPECT_THAT(ids, ElementsAre("a1"));
  EXPECT_EQ(Del(path).status, 204);
  EXPECT_EQ(Get(path).body, "[]");
  EXPECT_EQ(Del("/api/v3/applications/a1").status, 204);
}

TEST_F(ConfigRoutesTest, ClusterCommandsAreOrderedLinksWithStatusFilter) {
  Cmd("c1", "one", "ACTIVE");
  Cmd("c2", "two", "INACTIVE");
  Cmd("c3", "three", "DEPRECATED");
  Cluster("k1");
  Cluster("k2", "other", "TERMINATED");
  std::string path = "/api/v3/clusters/k1/commands";
  EXPECT_EQ(Post(path, R"(["c3","c1"])").status, 204);
  EXPECT_EQ(Post(path, R"(["c2"])").status, 204);
  auto ids = [&](const std::string& q) {
    std::vector<std::string> out;
    json::value v = GetJson(path + q);
    for (const auto& c : v.as_array()) out.push_back(Str(c.at("id")));
    return out;
  };
  EXPECT_THAT(ids(""), ElementsAre("c3", "c1", "c2"));
  EXPECT_THAT(ids("?status=INACTIVE"), ElementsAre("c2"));
  EXPECT_THAT(ids("?status=ACTIVE&status=DEPRECATED"), ElementsAre("c3", "c1"));
  EXPECT_EQ(Get(path + "?status=UP").status, 400);
  json::array list = GetJson(path).as_array();
  EXPECT_EQ(Str(list[0].at("links").at(0).at("href")), base_ + "/api/v3/commands/c3");

  EXPECT_EQ(Put(path, R"(["c2","c1"])").status, 204);
  EXPECT_THAT(ids(""), ElementsAre("c2", "c1"));
  EXPECT_EQ(Put("/api/v3/clusters/k2/commands", R"(["c1"])").status, 204);

  // Reverse lookup with status.
  auto clusters = [&](const std::string& q) {
    std::vector<std::string> out;
    json::value v = GetJson("/api/v3/commands/c1/clusters" + q);
    for (const auto& c : v.as_array()) {
      out.push_back(Str(c.at("id")));
    }
    std::sort(out.begin(), out.end());
    return out;
  };
  EXPECT_THAT(clusters(""), ElementsAre("k1", "k2"));
  EXPECT_THAT(clusters("?status=UP"), ElementsAre("k1"));
  EXPECT_EQ(Get("/api/v3/commands/c1/clusters?status=ACTIVE").status, 400);
  json::array cl = GetJson("/api/v3/commands/c1/clusters?status=UP").as_array();
  EXPECT_EQ(Str(cl[0].at("links").at(1).at("rel")), "commands");

  EXPECT_EQ(Post(path, R"(["nope"])").status, 412);
  EXPECT_EQ(Del(path + "/c2").status, 204);
  EXPECT_THAT(ids(""), ElementsAre("c1"));
  EXPECT_EQ(Del(path).status, 204);
  EXPECT_TRUE(ids("").empty());

  // Deleting a command drops it from clusters.
  EXPECT_EQ(Del("/api/v3/commands/c1").status, 204);
  EXPECT_TRUE(GetJson("/api/v3/clusters/k2/commands").as_array().empty());
}

}  // namespace
}  // namespace weir::api

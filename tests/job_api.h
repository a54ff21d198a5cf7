// Job API calls the integration tests share (GoogleTest): the demo configuration's bash job
// request, submitting it, reading a resource, and waiting for a job's status. Failures of the
// HTTP exchange or an unexpected status fail the calling test with the response body.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <boost/json.hpp>
#include <chrono>
#include <string>
#include <thread>

#include "client/http_client.h"
#include "test_json.h"

namespace weir::testing {

// A job request for the demo configuration (docs/demo.yaml): the cluster tagged sched:sla, the
// command tagged type:bash, `script` as the one argument of `bash -c`. `extra` members are set
// over the defaults (name "t", user "tester", version "1").
inline boost::json::object BashJobRequest(const std::string& script,
                                          const boost::json::object& extra = {}) {
  namespace json = boost::json;
  json::object req{{"name", "t"},
                   {"user", "tester"},
                   {"version", "1"},
                   {"clusterCriterias", json::array{json::object{{"tags", {"sched:sla"}}}}},
                   {"commandCriteria", json::array{"type:bash"}},
                   {"commandArguments", json::array{json::value(script)}}};
  for (const auto& [k, v] : extra) req[k] = v;
  return req;
}

// The job id a 202 names in its Location header.
inline std::string JobIdOf(const client::Response& r) {
  std::string loc = r.Header("location").value_or("");
  return loc.substr(loc.rfind('/') + 1);
}

// POSTs `request` to /api/v3/jobs and expects 202; the new job's id ("" on failure).
inline std::string SubmitJob(client::HttpClient& http, const boost::json::object& request) {
  auto r = http.PostJson("/api/v3/jobs", boost::json::serialize(request));
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  if (!r.ok()) return "";
  EXPECT_EQ(r->status, 202) << r->body;
  return r->status == 202 ? JobIdOf(*r) : "";
}

// GETs `path`, expects 200 and a JSON body; the body parsed (null on failure).
inline boost::json::value GetJson(client::HttpClient& http, const std::string& path) {
  auto r = http.Get(path);
  EXPECT_TRUE(r.ok()) << path << ": " << r.status().ToString();
  if (!r.ok()) return {};
  EXPECT_EQ(r->status, 200) << path << ": " << r->body;
  return Parse(r->body);
}

// The job's status as /status answers it; "" when the request fails (no test failure: callers
// poll across restarts).
inline std::string JobStatus(client::HttpClient& http, const std::string& id) {
  auto r = http.Get("/api/v3/jobs/" + id + "/status");
  if (!r.ok() || r->status != 200) return "";
  return Str(Parse(r->body), "status");
}

// Polls the job's status until it is final (not INIT, RUNNING or unreadable) and returns it;
// after `limit` the test fails and the last status seen is returned.
inline std::string WaitJobFinal(client::HttpClient& http, const std::string& id,
                                std::chrono::seconds limit = std::chrono::seconds(60)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  std::string status;
  while (std::chrono::steady_clock::now() < end) {
    status = JobStatus(http, id);
    if (!status.empty() && status != "INIT" && status != "RUNNING") return status;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ADD_FAILURE() << "job " << id << " still '" << status << "' after " << limit.count() << " s";
  return status;
}

// Polls until the job is RUNNING; the test fails if it is not within `limit`.
inline void WaitJobRunning(client::HttpClient& http, const std::string& id,
                           std::chrono::seconds limit = std::chrono::seconds(30)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  std::string status;
  while (std::chrono::steady_clock::now() < end) {
    status = JobStatus(http, id);
    if (status == "RUNNING") return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ADD_FAILURE() << "job " << id << " never reached RUNNING (last '" << status << "')";
}

// The run script's process id from /execution (0 when the job has none yet).
inline pid_t JobProcessId(client::HttpClient& http, const std::string& id) {
  boost::json::value exec = GetJson(http, "/api/v3/jobs/" + id + "/execution");
  const boost::json::value* pid =
      exec.is_object() ? exec.as_object().if_contains("processId") : nullptr;
  return pid != nullptr && pid->is_number() ? static_cast<pid_t>(pid->to_number<int64_t>()) : 0;
}

}  // namespace weir::testing

// Fuzz target: the job request codec (api/job_codec.h), the JSON body of POST /api/v3/jobs.
// Input: the request document as sent.
// Invariants: a request that parses, written back with JobRequestToJson and parsed again, is the
// same request (what GET /jobs/{id}/request shows is what was submitted); every writer of the
// job's resources accepts whatever the parser accepted; the execution's kill date (started +
// timeout) is a date that parses, not before the start, for timeouts Validate accepts.
#include <boost/json.hpp>

#include "api/job_codec.h"
#include "common/time_format.h"
#include "fuzz_util.h"
#include "model/job.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace weir;
  if (size > 64 * 1024) return 0;
  auto parsed = api::ParseJobRequest(fuzz::AsText(data, size));
  if (!parsed.ok()) return 0;
  const model::JobRequest& req = *parsed;
  (void)model::Validate(req);
  (void)model::EffectiveCommandArgs(req);

  model::JobRecord rec;
  rec.id = req.id;
  rec.request = req;
  rec.created = FromEpochMillis(1767225600000);  // 2026-01-01
  rec.updated = rec.created;
  std::string written = boost::json::serialize(api::JobRequestToJson(rec));
  auto again = api::ParseJobRequest(written);
  FUZZ_CHECK(again.ok(), "written request does not parse: " + written);
  FUZZ_CHECK(*again == req, "round trip changed the request: " + written);

  // A running job with the request's timeout, then a finished one: the writers of the job's
  // resources (the execution's kill date is started + timeout).
  rec.job.status = model::JobStatus::kRunning;
  rec.job.started = rec.created;
  rec.execution.timeout = req.timeout;
  rec.execution.memory = req.memory;
  (void)boost::json::serialize(api::JobToJson(rec, rec.created));
  boost::json::object execution = api::JobExecutionToJson(rec);
  const bool positive_timeout = req.timeout && *req.timeout > 0;  // model::Validate's rule
  if (const auto* kill = execution["timeout"].if_string(); kill && positive_timeout) {
    // The kill date a client reads back must be a date, and not before the job started.
    auto at = ParseIso8601(std::string(*kill));
    FUZZ_CHECK(at.ok() && *at >= *rec.job.started,
               "execution timeout " + std::string(*kill) + " for a timeout of " +
                   std::to_string(req.timeout.value_or(0)) + " s");
  }
  (void)boost::json::serialize(api::JobMetadataToJson(rec));
  (void)boost::json::serialize(api::JobSearchResultToJson(rec, rec.created));
  return 0;
}

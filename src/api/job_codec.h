// JSON mapping of the job resources of Genie's REST API v3: JobRequest (in and out), Job,
// JobExecution, JobMetadata and JobSearchResult (out). Field names and shapes follow Genie 3.3;
// `commandArguments` (a list, each item shell-quoted) is weir's addition to JobRequest.
//
// Parsing is strict about types and lenient about presence: unknown fields are ignored, `null`
// reads as absent, a value of the wrong type is kInvalidArgument naming the field ("memory: must
// be an integer"). Required fields and ranges are checked later by model::Validate. The writers
// produce the fields only; the routes add `_links`. Pure functions, thread-safe.
#pragma once

#include <string>
#include <string_view>

#include <boost/json.hpp>

#include "common/clock.h"
#include "common/result.h"
#include "model/job.h"

namespace weir::api {

// Parses a JobRequest document (the JSON body or the multipart `request` part).
Result<model::JobRequest> ParseJobRequest(std::string_view json);

// ISO-8601 duration of a job: finished − started, or now − started while it runs; PT0S before
// it started.
std::string JobRuntime(const model::Job& job, TimePoint now);

// The request as submitted, with the record's id/created/updated.
boost::json::object JobRequestToJson(const model::JobRecord& r);
// The Job resource (status, times, resolution, runtime...).
boost::json::object JobToJson(const model::JobRecord& r, TimePoint now);
// The JobExecution resource; `timeout` is the date the job is killed (started + timeout), null
// before the start or when that date would be past 9999-12-31.
boost::json::object JobExecutionToJson(const model::JobRecord& r);
boost::json::object JobMetadataToJson(const model::JobRecord& r);
// One item of a job search: id, name, user, status, started, finished, clusterName,
// commandName, runtime.
boost::json::object JobSearchResultToJson(const model::JobRecord& r, TimePoint now);

}  // namespace weir::api

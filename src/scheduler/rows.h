// Private to src/scheduler/: conversions between the SchedulerStore's rows and the scheduler's
// own (DeploymentRow, InstanceRow, StepRow in scheduler_internal.h), defined in rows.cc with
// the Impl's single-row reads and writes and the views the public API returns.
//
// Contract: FromStore(ToStore(x)) gives back x for every row; a stored status or catch-up name
// the scheduler does not know reads as FAILED (statuses) or `latest` (catch-up). These are
// pure functions: they touch no store and need no lock.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "scheduler/scheduler_internal.h"
#include "store/scheduler_store.h"

namespace weir::scheduler {

// `s` in single quotes, for messages that name a workflow.
std::string Quote(std::string_view s);

DeploymentRow FromStore(const store::WfDeploymentRow& r);
store::WfDeploymentRow ToStore(const DeploymentRow& d);
InstanceRow FromStore(const store::WfInstanceRow& s);
store::WfInstanceRow ToStore(const InstanceRow& r);
StepRow FromStore(const store::WfStepRow& s);
store::WfStepRow ToStore(const StepRow& r);

// A version row (without the manifest) of the deployment `d`.
VersionInfo ToVersionInfo(const store::WfVersionRow& s, const DeploymentRow& d);

// JSON helpers for Params columns: an object of strings. A text that is not such an object
// reads as no parameters; values that are not strings are left out.
std::string ParamsToJson(const Params& p);
Params ParamsFromJson(std::string_view text);

}  // namespace weir::scheduler

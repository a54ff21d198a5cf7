// Fuzz target: workflow files (src/workflow): Render (asset and file variables) then
// ValidateWorkflow (YAML, schema, ids, graph, cron, zones, parameters), as `weir project test`
// and POST /api/weir/v1/workflows do; and ParseProject for dataflow.yaml.
// Input: a workflow file `flows/daily.sch.yaml`; an input starting with "#project" is a
// dataflow.yaml instead. Assets resolve against a fixed catalog; repository files under sql/
// exist, others do not.
// Invariants: rendering keeps the number of lines; a valid workflow has a workflow id, unique
// job ids, dependencies on existing jobs only, a schedule ParseCron accepts and a known zone.
#include <algorithm>
#include <set>
#include <string>

#include "assets/catalog.h"
#include "cron/cron.h"
#include "fuzz_util.h"
#include "workflow/project.h"
#include "workflow/render.h"
#include "workflow/validate.h"

namespace {

using namespace weir;

assets::MemoryCatalog& Catalog() {
  static assets::MemoryCatalog* catalog = [] {
    auto* c = new assets::MemoryCatalog;
    const char* uuids[] = {
        "dataflow.python.etl-lib.acme.pipelines.main.0a1b2c3d.1",
        "dataflow.python.etl-lib.acme.pipelines.feature%2Ffast.2c3d4e5f.1",
        "dataflow.jar.scala-workflow.user.stranger-data.master.39206ee8.11",
        "dataflow.sql.reports.acme.warehouse.main.5e6f7a8b.3",
    };
    int64_t created = 1000;
    for (const char* u : uuids) {
      assets::AssetRecord r;
      r.id = *assets::ParseUuid(u);
      r.uuid = u;
      r.sha256 = std::string(64, 'a');
      r.size = 100;
      r.uri = "s3://weir-assets/" + assets::LayoutPath(r.id, "bin");
      r.created = FromEpochMillis(created * 1000);
      created += 1000;
      c->Add(std::move(r));
    }
    return c;
  }();
  return *catalog;
}

Result<workflow::FileRef> FakeHash(const std::string& path) {
  if (path.rfind("sql/", 0) != 0) return NotFound("file '" + path + "': not found");
  workflow::FileRef f;
  f.sha256 = std::string(64, 'b');
  f.size = 42;
  return f;
}

size_t Lines(std::string_view s) {
  return static_cast<size_t>(std::count(s.begin(), s.end(), '\n'));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  const std::string_view text = fuzz::AsText(data, size);
  if (text.rfind("#project", 0) == 0) {
    workflow::ParsedProject p = workflow::ParseProject(text);
    FUZZ_CHECK(p.spec.has_value() == p.errors.empty(), "project: spec and errors disagree");
    if (p.spec) {
      for (std::string_view branch : {"main", "feature/x", "release-1"}) {
        std::string env = workflow::EnvironmentForBranch(*p.spec, branch);
        (void)workflow::ParamsForEnvironment(*p.spec, env);
      }
    }
    return 0;
  }

  workflow::CheckedWorkflow c =
      workflow::RenderAndValidate(text, "flows/daily.sch.yaml", Catalog(), FakeHash, {"TARGET_DB"});
  if (c.render.ok()) {
    FUZZ_CHECK(Lines(c.render.text) == Lines(text), "rendering changed the number of lines");
    for (const auto& shift : c.render.shifts) {
      (void)c.render.SourceColumn(shift.line, shift.rendered_column);
    }
  }
  if (!c.ok()) {
    FUZZ_CHECK(!c.validation.workflow.has_value(), "a workflow despite problems");
    return 0;
  }
  FUZZ_CHECK(c.validation.workflow.has_value(), "no workflow and no problems");
  const workflow::Workflow& wf = *c.validation.workflow;
  FUZZ_CHECK(workflow::IsWorkflowIdent(wf.id), "invalid workflow id accepted: " + wf.id);
  std::set<std::string> ids;
  for (const auto& job : wf.jobs) {
    FUZZ_CHECK(workflow::IsWorkflowIdent(job.id), "invalid job id accepted: " + job.id);
    FUZZ_CHECK(ids.insert(job.id).second, "duplicate job id accepted: " + job.id);
  }
  for (const auto& job : wf.jobs) {
    for (const auto& dep : job.depends_on) {
      FUZZ_CHECK(ids.count(dep) == 1, "dependency on an unknown job accepted: " + dep);
    }
  }
  if (wf.schedule) FUZZ_CHECK(cron::ParseCron(*wf.schedule).ok(), "bad schedule accepted");
  FUZZ_CHECK(cron::LocateZone(wf.timezone).ok(), "unknown zone accepted: " + wf.timezone);
  return 0;
}

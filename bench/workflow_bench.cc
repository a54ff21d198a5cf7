// W1 (docs/performance.md): render + validate 1,000 workflows with 20 asset references each
// against an in-memory catalog; target ≤ 1 s. Prints `name: value` lines, the last one the
// headline ratio (median seconds / 1 s target; ≤ 1 meets it). The same texts parsed once with
// yaml-cpp alone are measured alternately in the same rounds as the reference floor.
//
//   build/bench/workflow_bench [--workflows N] [--refs N] [--rounds N]
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "assets/catalog.h"
#include "workflow/validate.h"

namespace {

using weir::workflow::CheckedWorkflow;
using weir::workflow::FileHasher;
using weir::workflow::FileRef;

constexpr int kNamespaces = 50;

// 50 namespaces of type jar, each with builds 1..4 on main and 1..2 on dev.
std::vector<weir::assets::AssetRecord> Catalog() {
  std::vector<weir::assets::AssetRecord> records;
  int64_t t = 0;
  for (int n = 0; n < kNamespaces; ++n) {
    for (const char* branch : {"main", "dev"}) {
      int builds = std::string(branch) == "main" ? 4 : 2;
      for (int b = 1; b <= builds; ++b) {
        weir::assets::AssetRecord r;
        r.id = {"jar", "ns" + std::to_string(n), "acme", "pipelines", branch, "0a1b2c3d", b};
        r.uuid = weir::assets::FormatUuid(r.id);
        r.sha256 = std::string(64, 'a');
        r.size = 1000;
        r.uri = "s3://weir-assets/" + weir::assets::LayoutPath(r.id, "jar");
        r.created = weir::TimePoint(std::chrono::seconds(++t));
        records.push_back(std::move(r));
      }
    }
  }
  return records;
}

// A workflow of refs/2 jobs, each with two asset references in the four forms, runtime
// parameters, a schedule and a dag line per job.
std::string Workflow(int w, int refs) {
  int jobs = std::max(1, refs / 2);
  std::string s = "id: wf-" + std::to_string(w) + "\nschedule: \"15 */2 * * 1-5\"\n" +
                  "timezone: Europe/Amsterdam\nparams:\n  TABLE: events\njobs:\n";
  int ref = 0;
  auto next_ref = [&]() {
    int n = (w * 7 + ref) % kNamespaces;
    std::string ns = "ns" + std::to_string(n);
    std::string out;
    switch (ref++ % 4) {
      case 0:
        out = "${dataflow.jar." + ns + "}";
        break;
      case 1:
        out = "${dataflow.jar." + ns + "@main}";
        break;
      case 2:
        out = "${dataflow.jar." + ns + "@dev#2}";
        break;
      default:
        out = "${dataflow.jar." + ns + ".acme.pipelines.main.0a1b2c3d.3}";
        break;
    }
    return out;
  };
  for (int j = 0; j < jobs; ++j) {
    s += "  step" + std::to_string(j) + ":\n    command: [type:spark]\n" +
         "    cluster: [[sched:sla, type:yarn], [type:yarn]]\n    dependencies:\n";
    for (int k = 0; k < 2 && ref < refs; ++k) s += "      - \"" + next_ref() + "\"\n";
    s += "    args: [\"--date\", \"${EXECUTION_DATE}\", \"--table\", \"${TABLE}\", \"--db\", "
         "\"${TARGET_DB}\"]\n    timeout: 2h\n    retries: {count: 2, backoff: 1m}\n";
  }
  s += "dag:\n";
  for (int j = 1; j < jobs; ++j) {
    s += "  - step" + std::to_string(j - 1) + " -> step" + std::to_string(j) + "\n";
  }
  return s;
}

double Seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int workflows = 1000, refs = 20, rounds = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    int v = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--workflows") == 0)
      workflows = v;
    else if (std::strcmp(argv[i], "--refs") == 0)
      refs = v;
    else if (std::strcmp(argv[i], "--rounds") == 0)
      rounds = v;
  }
  std::vector<std::string> texts;
  for (int w = 0; w < workflows; ++w) texts.push_back(Workflow(w, refs));
  weir::assets::MemoryCatalog catalog(Catalog());
  FileHasher no_files = [](const std::string& p) -> weir::Result<FileRef> {
    return weir::NotFound(p);
  };

  std::vector<double> weir_s, yaml_s;
  size_t invalid = 0, resolved = 0;
  for (int r = 0; r < rounds; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    for (int w = 0; w < workflows; ++w) {
      CheckedWorkflow c =
          weir::workflow::RenderAndValidate(texts[w], "flows/wf-" + std::to_string(w) + ".sch.yaml",
                                            catalog, no_files, {"TARGET_DB"});
      if (!c.ok()) ++invalid;
      resolved += c.render.assets.size();
    }
    weir_s.push_back(Seconds(std::chrono::steady_clock::now() - t0));

    auto t1 = std::chrono::steady_clock::now();
    size_t nodes = 0;
    for (const std::string& t : texts) nodes += YAML::Load(t).size();
    yaml_s.push_back(Seconds(std::chrono::steady_clock::now() - t1));
    if (nodes == 0) std::printf("unexpected: empty documents\n");
  }
  if (invalid > 0) {
    std::printf("error: %zu of %d renders were invalid\n", invalid, workflows * rounds);
    return 1;
  }
  double median = Median(weir_s);
  std::printf("w1_workflows: %d\n", workflows);
  std::printf("w1_asset_refs_per_workflow: %d\n", refs);
  std::printf("w1_distinct_versions_per_workflow: %.1f\n",
              static_cast<double>(resolved) / (workflows * rounds));
  std::printf("w1_rounds: %d\n", rounds);
  std::printf("w1_render_validate_seconds_min: %.3f\n",
              *std::min_element(weir_s.begin(), weir_s.end()));
  std::printf("w1_render_validate_seconds_median: %.3f\n", median);
  std::printf("w1_reference_yaml_load_only_seconds_median: %.3f\n", Median(yaml_s));
  std::printf("w1_ratio_to_yaml_load_only: %.2f\n", median / Median(yaml_s));
  std::printf("w1_ratio_to_1s_target: %.3f\n", median / 1.0);
  return 0;
}

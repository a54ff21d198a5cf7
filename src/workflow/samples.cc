#include "workflow/samples.h"

namespace weir::workflow {
namespace {

using Files = std::map<std::string, std::string>;

constexpr char kGitignore[] = ".workflows/\ndist/\n__pycache__/\n";

Files BashRecipe() {
  return {
      {"dataflow.yaml",
       R"~(# A weir sample project (recipe: bash). Format: docs/dataflow.md in the weir repository.
project:
  owner: sample        # no origin remote needed: owner and repository are set here
  repo: bash-sample
  main_branch: main
assets:
  - name: greet
    type: bash
    namespace: sample-greet
    build: mkdir -p dist && cp src/greet.sh dist/greet.sh
    file: dist/greet.sh
    test: bash tests/test_greet.sh
workflows: [flows]
environments:
  prod:
    params: {GREETING: Hello}
  "branch:*":
    params: {GREETING: Hi from a branch}
)~"},
      {"src/greet.sh", R"~(#!/usr/bin/env bash
# Prints a greeting for a date: greet.sh GREETING DATE
set -euo pipefail
greeting="${1:?usage: greet.sh GREETING DATE}"
day="${2:?usage: greet.sh GREETING DATE}"
echo "$greeting, it is $day"
)~"},
      {"tests/test_greet.sh", R"~(#!/usr/bin/env bash
set -euo pipefail
out="$(bash src/greet.sh Hello 2024-01-01)"
if [ "$out" != "Hello, it is 2024-01-01" ]; then
  echo "greet.sh printed: $out" >&2
  exit 1
fi
echo "greet.sh: ok"
)~"},
      {"flows/hello.sch.yaml",
       R"~(# Greets every morning, then counts the greeting's words. Variables are replaced as text
# before the file is read as YAML, comments included: $${ writes a literal "${".
# $${dataflow.bash.sample-greet} becomes the URI of the newest greet.sh of the environment's
# branch; a dependency lands in the job folder under its asset's file name: greet.sh.
id: hello-bash
schedule: "0 6 * * *"
timezone: UTC
jobs:
  greet:
    command: [type:bash]
    cluster: [type:local]
    dependencies: ["${dataflow.bash.sample-greet}"]
    args: ["bash greet.sh '${GREETING}' ${EXECUTION_DATE}"]
    timeout: 5m
    retries: {count: 2, backoff: 10s}
  count:
    command: [type:bash]
    cluster: [type:local]
    args: ["echo '${GREETING}' | wc -w"]
dag:
  - greet -> count
)~"},
  };
}

Files PythonRecipe() {
  return {
      {"dataflow.yaml",
       R"~(# A weir sample project (recipe: python). Format: docs/dataflow.md in the weir repository.
project:
  owner: sample        # no origin remote needed: owner and repository are set here
  repo: python-sample
  main_branch: main
assets:
  - name: etl
    type: python
    namespace: sample-etl
    build: mkdir -p dist && python3 -m zipapp src -o dist/sample_etl.pyz -m 'sample_etl.cli:main'
    file: dist/sample_etl.pyz
    test: PYTHONPATH=src python3 -m unittest discover -s tests -v
workflows: [flows]
environments:
  # A relative TARGET_DIR is inside the step's own job folder; point it at shared storage for
  # real outputs.
  prod:
    params: {TARGET_DIR: out/prod}
  "branch:*":
    params: {TARGET_DIR: out/branch}
)~"},
      {"src/sample_etl/__init__.py",
       "\"\"\"A tiny ETL package, published as a zipapp asset.\"\"\"\n"},
      {"src/sample_etl/transform.py", R"~("""Pure transformations, unit-tested in tests/."""


def summarize(amounts):
    """Count, total and mean of a list of numbers."""
    total = sum(amounts)
    count = len(amounts)
    return {"count": count, "total": total, "mean": total / count if count else 0.0}
)~"},
      {"src/sample_etl/cli.py",
       R"~("""Entry point of the zipapp: python3 sample_etl.pyz --date D --out DIR."""
import argparse
import json
import os

from sample_etl.transform import summarize


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--date", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    summary = summarize([3, 5, 8, 13])
    summary["date"] = args.date
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "summary-%s.json" % args.date.replace(":", "-"))
    with open(path, "w") as f:
        json.dump(summary, f, sort_keys=True)
    print("wrote", path, json.dumps(summary, sort_keys=True))
)~"},
      {"tests/test_transform.py", R"~(import unittest

from sample_etl.transform import summarize


class SummarizeTest(unittest.TestCase):
    def test_counts_and_totals(self):
        self.assertEqual(summarize([1, 2, 3]), {"count": 3, "total": 6, "mean": 2.0})

    def test_empty_input(self):
        self.assertEqual(summarize([]), {"count": 0, "total": 0, "mean": 0.0})


if __name__ == "__main__":
    unittest.main()
)~"},
      {"flows/etl.sch.yaml",
       R"~(# Runs the ETL zipapp every hour; the asset variable becomes its URI at render time, and the
# zipapp lands in the job folder as sample_etl.pyz. It writes under ${TARGET_DIR} and lists it.
id: hourly-etl
schedule: "@hourly"
timezone: Europe/Amsterdam
run_strategy: first_only
jobs:
  summarize:
    command: [type:bash]
    cluster: [type:local]
    dependencies: ["${dataflow.python.sample-etl}"]
    args: ["python3 sample_etl.pyz --date ${EXECUTION_DATE} --out ${TARGET_DIR} && ls -l ${TARGET_DIR}"]
    timeout: 10m
    memory: 256
)~"},
  };
}

Files SqlRecipe() {
  return {
      {"dataflow.yaml",
       R"~(# A weir sample project (recipe: sql, SQLite). Format: docs/dataflow.md in the weir repository.
project:
  owner: sample        # no origin remote needed: owner and repository are set here
  repo: sql-sample
  main_branch: main
assets:
  - name: report
    type: sql
    namespace: sample-report
    build: mkdir -p dist && cp sql/report.sql dist/report.sql
    file: dist/report.sql
    test: bash tests/test_report.sh
workflows: [flows]
environments:
  # A relative TARGET_DB is inside the step's own job folder; point it at a shared database for
  # real reports.
  prod:
    params: {TARGET_DB: prod.db}
  "branch:*":
    params: {TARGET_DB: branch.db}
)~"},
      {"sql/report.sql", R"~(-- Totals per kind of event; the table is created by seed/events.sql.
SELECT kind, COUNT(*) AS events, SUM(amount) AS total
FROM events
GROUP BY kind
ORDER BY kind;
)~"},
      {"seed/events.sql",
       R"~(CREATE TABLE IF NOT EXISTS events (day TEXT, kind TEXT, amount INTEGER);
INSERT INTO events VALUES ('2024-01-01', 'click', 1), ('2024-01-01', 'click', 2),
                          ('2024-01-01', 'sale', 40);
)~"},
      {"tests/test_report.sh", R"~(#!/usr/bin/env bash
# The report over the seed data must give these exact rows.
set -euo pipefail
out="$(cat seed/events.sql sql/report.sql | sqlite3 -separator ' ' :memory:)"
expected="click 2 3
sale 1 40"
if [ "$out" != "$expected" ]; then
  printf 'report.sql printed:\n%s\n' "$out" >&2
  exit 1
fi
echo "report.sql: ok"
)~"},
      {"flows/report.sch.yaml",
       R"~(# Checks the seed data (a repository file, stored in the deployment bundle), then loads it into
# the environment's database and runs the report asset against it. Dependencies keep their
# names in the job folder: events.sql, report.sql.
id: daily-report
schedule: "30 5 * * *"
timezone: UTC
jobs:
  check-seed:
    command: [type:bash]
    cluster: [type:local]
    dependencies: ["${dataflow.file:../seed/events.sql}"]
    args: ["sqlite3 :memory: < events.sql && echo 'events.sql: ok'"]
  report:
    command: [type:bash]
    cluster: [type:local]
    dependencies: ["${dataflow.file:../seed/events.sql}", "${dataflow.sql.sample-report}"]
    args: ["sqlite3 ${TARGET_DB} < events.sql && sqlite3 -header ${TARGET_DB} < report.sql"]
    retries: 1
dag:
  - check-seed -> report
)~"},
  };
}

}  // namespace

std::vector<std::string> SampleRecipes() { return {"bash", "python", "sql"}; }

Result<Files> SampleProject(std::string_view recipe) {
  Files files;
  if (recipe == "bash") {
    files = BashRecipe();
  } else if (recipe == "python") {
    files = PythonRecipe();
  } else if (recipe == "sql") {
    files = SqlRecipe();
  } else {
    return InvalidArgument("sample: unknown recipe '" + std::string(recipe) +
                           "'; use bash, python or sql");
  }
  files[".gitignore"] = kGitignore;
  return files;
}

}  // namespace weir::workflow

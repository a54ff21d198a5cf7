#!/usr/bin/env python3
"""Mutation testing for weir: plants each small bug of a list, one at a time, and checks that a
test notices it.

For each mutation of the list (tests/mutations.toml), this script
  1. replaces one exact fragment of one source file (it must occur exactly once: a mutation
     whose fragment has gone stale is an error, not a silent pass),
  2. finds the test binaries whose build inputs include that file (`ninja -t inputs`, which
     also follows the integration tests' dependency on the `weir` binary),
  3. rebuilds and runs them one by one, the module's own tests first, until one fails
     (narrowed to the mutation's `tests` filter when it has one),
  4. restores the file, whatever happened.
A mutation is caught when a test binary fails (or does not finish in time); it survives when
all pass. The run ends non-zero when any mutation survived, went stale or did not build.

Usage: scripts/mutate.py [--build-dir build] [--list FILE] [--only ID[,ID...]] [--timeout S]
See docs/testing.md ("Mutations") for how to add one.
"""

import argparse
import fnmatch
import json
import os
import re
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def log(msg):
    print(msg, flush=True)


def load_mutations(path):
    with open(path, "rb") as f:
        data = tomllib.load(f)
    mutations = data.get("mutation", [])
    seen = set()
    for m in mutations:
        for key in ("id", "file", "find", "replace", "why"):
            if key not in m:
                sys.exit(f"{path}: mutation {m.get('id', '?')}: missing key '{key}'")
        if m["id"] in seen:
            sys.exit(f"{path}: mutation id '{m['id']}' appears twice")
        seen.add(m["id"])
        if m["find"] == m["replace"]:
            sys.exit(f"{path}: mutation {m['id']}: replace equals find")
    return mutations


def gtest_binaries(build_dir):
    """{binary path: (working dir, [test names])} for every GoogleTest binary CTest knows."""
    out = subprocess.run(["ctest", "--show-only=json-v1"], cwd=build_dir, check=True,
                         capture_output=True, text=True).stdout
    binaries = {}
    for test in json.loads(out)["tests"]:
        command = test.get("command") or []
        if not any(arg.startswith("--gtest_filter=") for arg in command):
            continue  # fuzz corpus replays and other non-gtest tests
        cwd = str(build_dir)
        for prop in test.get("properties", []):
            if prop["name"] == "WORKING_DIRECTORY":
                cwd = prop["value"]
        entry = binaries.setdefault(command[0], (cwd, []))
        entry[1].append(test["name"])
    return binaries


def inputs_of(build_dir, binary):
    target = os.path.relpath(binary, build_dir)
    out = subprocess.run(["ninja", "-C", str(build_dir), "-t", "inputs", target], check=True,
                         capture_output=True, text=True).stdout
    return {line.strip() for line in out.splitlines() if line.strip()}


def matches_filter(name, gtest_filter):
    """GoogleTest's filter syntax: positive patterns, then optional '-' and negative ones."""
    positive, _, negative = gtest_filter.partition("-")
    pos = [p for p in positive.split(":") if p] or ["*"]
    neg = [p for p in negative.split(":") if p]
    return (any(fnmatch.fnmatchcase(name, p) for p in pos)
            and not any(fnmatch.fnmatchcase(name, p) for p in neg))


def run_binary(binary, cwd, gtest_filter, timeout):
    """Returns (passed, failed test names, seconds)."""
    cmd = [binary]
    if gtest_filter:
        cmd.append(f"--gtest_filter={gtest_filter}")
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, errors="replace", start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return False, [f"(timed out after {timeout} s)"], time.monotonic() - start
    failed = re.findall(r"^\[  FAILED  \] (\S+)", output, re.M)
    failed = sorted({f for f in failed if "." in f})
    if proc.returncode != 0 and not failed:
        failed = [f"(exit code {proc.returncode})"]
    return proc.returncode == 0, failed, time.monotonic() - start


def restore_leftovers(backup_dir):
    """A run that died (SIGKILL, power loss) leaves its mutated file behind: put it back."""
    for saved in backup_dir.glob("*.orig"):
        target = ROOT / saved.read_text().split("\n", 1)[0]
        original = (backup_dir / (saved.stem + ".bytes")).read_bytes()
        target.write_bytes(original)
        log(f"mutate: restored {target} left mutated by an interrupted run")
        saved.unlink()
        (backup_dir / (saved.stem + ".bytes")).unlink()


def on_signal(signum, _frame):
    raise SystemExit(f"mutate: stopped by signal {signum}")  # runs the `finally` that restores


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build-dir", default="build")
    parser.add_argument("--list", default=str(ROOT / "tests" / "mutations.toml"))
    parser.add_argument("--only", default="", help="comma-separated mutation ids")
    parser.add_argument("--timeout", type=int, default=600, help="per test binary, seconds")
    args = parser.parse_args()

    build_dir = Path(args.build_dir).resolve()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    backup_dir = build_dir / "mutate-backup"
    backup_dir.mkdir(exist_ok=True)
    restore_leftovers(backup_dir)
    mutations = load_mutations(args.list)
    if args.only:
        wanted = set(args.only.split(","))
        unknown = wanted - {m["id"] for m in mutations}
        if unknown:
            sys.exit(f"--only: no mutation named {', '.join(sorted(unknown))}")
        mutations = [m for m in mutations if m["id"] in wanted]

    log(f"mutate: {len(mutations)} mutations from {args.list}; build dir {build_dir}")
    subprocess.run(["ninja", "-C", str(build_dir)], check=True, stdout=subprocess.DEVNULL)
    binaries = gtest_binaries(build_dir)
    inputs = {b: inputs_of(build_dir, b) for b in binaries}

    results = []  # (id, outcome, detail, seconds)
    total_start = time.monotonic()
    for i, m in enumerate(mutations, 1):
        start = time.monotonic()
        source = (ROOT / m["file"]).resolve()
        log(f"\n[{i}/{len(mutations)}] {m['id']}: {m['why']}")
        if not source.is_file():
            results.append((m["id"], "STALE", f"no file {m['file']}", 0))
            log(f"  STALE: no file {m['file']}")
            continue
        original = source.read_bytes()
        text = original.decode()
        count = text.count(m["find"])
        if count != 1:
            detail = f"fragment found {count} times in {m['file']} (must be exactly once)"
            results.append((m["id"], "STALE", detail, 0))
            log(f"  STALE: {detail}")
            continue

        # The module's own tests first, then other unit tests, then the integration tests: the
        # first failing binary ends the mutation's run.
        rel_parts = source.relative_to(ROOT).parts  # ("src", "store", "sqlite", "query.cc")
        module_dir = str(build_dir.joinpath(*rel_parts[:2]))

        def order(b):
            if b.startswith(module_dir + "/"):
                return (0, b)
            return (1, b) if "/src/" in b else (2, b)

        affected = sorted((b for b, ins in inputs.items() if str(source) in ins), key=order)
        test_filter = m.get("tests", "")
        if test_filter:
            affected = [b for b in affected
                        if any(matches_filter(n, test_filter) for n in binaries[b][1])]
        if not affected:
            results.append((m["id"], "SURVIVED", "no test binary is built from this file", 0))
            log("  SURVIVED: no test binary is built from this file")
            continue
        names = [os.path.relpath(b, build_dir) for b in affected]
        log(f"  tests: {', '.join(names)}" + (f" (filter {test_filter})" if test_filter else ""))

        outcome, detail = "SURVIVED", "every test passed"
        # Saved first, so that even a SIGKILL leaves a way back (restore_leftovers).
        (backup_dir / "current.bytes").write_bytes(original)
        (backup_dir / "current.orig").write_text(m["file"] + "\n")
        try:
            source.write_text(text.replace(m["find"], m["replace"], 1))
            # Built one at a time, in order, so a mutation the module's own tests catch costs
            # one link, not one per affected binary.
            for b, name in zip(affected, names):
                build = subprocess.run(["ninja", "-C", str(build_dir), name],
                                       capture_output=True, text=True)
                if build.returncode != 0:
                    outcome = "BUILD-FAILED"
                    errors = [l for l in build.stdout.splitlines() if "error" in l][:3]
                    detail = "; ".join(errors) or "ninja failed"
                    break
                ok, failed, secs = run_binary(b, binaries[b][0], test_filter, args.timeout)
                log(f"    {name}: {'pass' if ok else 'FAIL ' + ' '.join(failed[:4])} "
                    f"({secs:.0f} s)")
                if not ok:
                    outcome = "caught"
                    detail = f"{name}: {', '.join(failed[:3])}"
                    break  # one failing binary is enough
        finally:
            source.write_bytes(original)
            (backup_dir / "current.orig").unlink()
            (backup_dir / "current.bytes").unlink()
        results.append((m["id"], outcome, detail, time.monotonic() - start))
        log(f"  {outcome}: {detail}")

    # Leave the build matching the restored sources.
    subprocess.run(["ninja", "-C", str(build_dir)], stdout=subprocess.DEVNULL)

    log(f"\nmutate: {len(results)} mutations in {time.monotonic() - total_start:.0f} s")
    width = max((len(r[0]) for r in results), default=10)
    for mid, outcome, detail, secs in results:
        log(f"  {mid:<{width}}  {outcome:<12} {secs:5.0f} s  {detail}")
    bad = [r for r in results if r[1] != "caught"]
    if bad:
        log(f"mutate: {len(bad)} of {len(results)} not caught: "
            f"{', '.join(r[0] for r in bad)}")
        return 1
    log(f"mutate: all {len(results)} caught, zero survivors")
    return 0


if __name__ == "__main__":
    sys.exit(main())

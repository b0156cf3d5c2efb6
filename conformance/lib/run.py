#!/usr/bin/env python3
"""Orchestrator of the rulecast conformance suite: run every checker on every
artifact of a generated/ tree and print a summary table.

Runs on the system python3 (standard library only), so that it can still report
*which* tools are missing when the tools' venvs are not installed. The checkers
themselves run inside the pinned tool environments made by conformance/install.

Exit status: 0 only if every tool is present with its pinned version, every
checker checked at least one artifact, and nothing failed.

Usage: run.py GENERATED_DIR [--catalogue DIR] [--json SUMMARY.json] [--keep-work DIR]
"""
import argparse
import concurrent.futures
import gzip
import io
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

from rulecast_bin import rulecast_binary, target_files

HERE = pathlib.Path(__file__).resolve().parent.parent  # conformance/
LIB = HERE / "lib"
VENDOR = HERE / "vendor"
TOOLS = pathlib.Path(os.environ.get("RULECAST_TOOLS") or pathlib.Path.home() / ".cache" / "rulecast-tools")
SIGMA_VENV = TOOLS / "sigma" / "bin"
APPINSPECT_VENV = TOOLS / "appinspect" / "bin"
SQLITE_VENV = TOOLS / "sqlite" / "bin"
KQL_VENV = TOOLS / "kql" / "bin"
NODE_MODULES = TOOLS / "node" / "node_modules"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


# ------------------------------------------------------------------ plumbing



class Row:
    """One line of the summary table."""

    def __init__(self, checker, tool, version="", what="artifacts"):
        self.checker, self.tool, self.version, self.what = checker, tool, version, what
        self.artifacts = 0
        self.failures = 0
        self.missing = None  # reason the tool could not run
        self.seconds = 0.0
        # Set by --expect-fail: this checker must fail, for the reason given (a known bug in
        # a third-party tool). A pass is then a failure: the expectation has gone stale.
        self.expected_failure = None

    @property
    def ok(self):
        if self.missing is not None or self.artifacts == 0:
            return False
        if self.expected_failure:
            return self.failures > 0
        return self.failures == 0

    def status(self):
        if self.missing:
            return "MISSING"
        if self.artifacts == 0:
            return "FAIL (0 checked)"
        if self.expected_failure:
            return "expected failure" if self.failures > 0 else "FAIL (expected to fail, passed)"
        return "ok" if self.failures == 0 else "FAIL"


def run(cmd, env=None, cwd=None):
    """Run a command, return CompletedProcess with text output (never raises)."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    try:
        return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=full_env, cwd=cwd)
    except OSError as e:
        return subprocess.CompletedProcess(cmd, 127, "", f"{cmd[0]}: {e}")


def echo(text, prefix=""):
    for line in text.splitlines():
        if line.strip():
            print(prefix + line)


def pins(in_file):
    """name -> version from a requirements .in file (name==version lines)."""
    result = {}
    for line in (HERE / "requirements" / in_file).read_text().splitlines():
        line = line.split("#")[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            result[name.strip()] = version.strip()
    return result


def installed_versions(python, names):
    code = ("import importlib.metadata as m, json, sys\n"
            "out = {}\n"
            "for n in sys.argv[1:]:\n"
            "    try: out[n] = m.version(n)\n"
            "    except m.PackageNotFoundError: out[n] = None\n"
            "print(json.dumps(out))")
    proc = run([python, "-c", code, *names])
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError:
        return {n: None for n in names}


# ------------------------------------------------------------------ the suite

class Suite:
    def __init__(self, gen, work, allowed_issues=(), catalogue=None):
        self.gen = gen
        self.catalogue = catalogue
        self.work = work
        # SigmaHQ issue types accepted for this run (--allow-sigma-issue), e.g. the heuristics
        # that flag deliberately hostile values; each accepted issue is still printed.
        self.allowed_issues = set(allowed_issues)
        self.rows = {}
        self.notes = []
        self.versions = {}
        self.missing = {}
        # checker -> files it judges, from the targets' conformance hooks (discover_files);
        # and the same by target, for the checkers that report per target.
        self.files = {}
        self.files_by_target = {}

    def row(self, checker, tool, what="artifacts"):
        """Start a summary row; its time runs until the next row starts (or stop_clock)."""
        self.stop_clock()
        self.rows[checker] = Row(checker, tool, what=what)
        self._clock = (self.rows[checker], time.monotonic())
        return self.rows[checker]

    def stop_clock(self):
        if getattr(self, "_clock", None):
            row, t0 = self._clock
            row.seconds += time.monotonic() - t0
            self._clock = None

    def rel(self, path):
        try:
            return str(pathlib.Path(path).resolve().relative_to(self.gen.resolve()))
        except ValueError:
            return str(path)

    # ---------------------------------------------------------- tools present?
    def discover_tools(self):
        """Record tool versions; return {env: reason} for missing environments."""
        missing = {}
        # Node + Kusto.Language
        kusto_pkg = NODE_MODULES / "@kusto" / "language-service-next" / "package.json"
        if not shutil.which("node"):
            missing["node"] = "node is not on PATH"
        elif not kusto_pkg.exists() or not (NODE_MODULES / "js-yaml").exists():
            missing["node"] = f"node modules not installed in {NODE_MODULES}: run conformance/install"
        else:
            want = json.loads((HERE / "package.json").read_text())["dependencies"]["@kusto/language-service-next"]
            have = json.loads(kusto_pkg.read_text())["version"]
            self.versions["kusto"] = have
            if have != want:
                missing["node"] = f"@kusto/language-service-next {have} installed, {want} pinned: run conformance/install"
        # The sigma venv (sigma-cli, backends, validators, check-jsonschema, ksconf)
        expected = pins("sigma.in")
        if not (SIGMA_VENV / "python").exists():
            missing["sigma"] = f"venv {SIGMA_VENV.parent} missing: run conformance/install"
        else:
            have = installed_versions(SIGMA_VENV / "python", list(expected))
            self.versions.update({k.lower(): v for k, v in have.items()})
            wrong = [f"{n} {have.get(n)} (pinned {v})" for n, v in expected.items() if have.get(n) != v]
            if wrong:
                missing["sigma"] = "wrong versions in the sigma venv: " + ", ".join(wrong) + ": run conformance/install"
        # splunk-appinspect venv
        expected = pins("appinspect.in")
        if not (APPINSPECT_VENV / "splunk-appinspect").exists():
            missing["appinspect"] = f"venv {APPINSPECT_VENV.parent} missing: run conformance/install"
        else:
            have = installed_versions(APPINSPECT_VENV / "python", list(expected))
            self.versions.update({k.lower(): v for k, v in have.items()})
            wrong = [f"{n} {have.get(n)} (pinned {v})" for n, v in expected.items() if have.get(n) != v]
            if wrong:
                missing["appinspect"] = "wrong versions: " + ", ".join(wrong) + ": run conformance/install"
        # The venvs of the checks on the catalogue's test cases, only with --catalogue: sqlite
        # (pysigma-backend-sqlite, the Sigma oracle) and kql (duckdb-kql, the KQL execution).
        if self.catalogue is not None:
            for venv, python, expected in [
                ("sqlite", SQLITE_VENV / "python", {**pins("sqlite.in"), "pySigma": pins("sqlite.txt")["pySigma"]}),
                ("kql", KQL_VENV / "python", {n: pins("kql.txt")[n] for n in ("duckdb-kql", "duckdb")}),
            ]:
                if not python.exists():
                    missing[venv] = f"venv {python.parent.parent} missing: run conformance/install"
                    continue
                have = installed_versions(python, list(expected))
                self.versions.update({f"{venv}:{k.lower()}": v for k, v in have.items()})
                wrong = [f"{n} {have.get(n)} (pinned {v})" for n, v in expected.items() if have.get(n) != v]
                if wrong:
                    missing[venv] = (f"wrong versions in the {venv} venv: " + ", ".join(wrong)
                                     + ": run conformance/install")
        return missing

    def v(self, name):
        return self.versions.get(name.lower()) or "?"

    # ---------------------------------------------------------- which files each checker reads
    def discover_files(self):
        """checker -> [paths] from the targets' conformance hooks (`rulecast targets --format
        json`): a target names the format of each of its files, so a new target is judged by
        every checker of its formats. Returns None (with the reason) when rulecast cannot say."""
        by_checker, reason = target_files(self.gen)
        if by_checker is None:
            return None, reason
        self.files_by_target = by_checker
        return {checker: sorted({p for paths in by_target.values() for p in paths})
                for checker, by_target in by_checker.items()}, None

    def files_for(self, checker):
        return self.files.get(checker, [])

    # ---------------------------------------------------------- KQL
    def check_kql(self):
        kql = self.row("kql", "Kusto.Language (@kusto/language-service-next)", "queries")
        kql.version = self.v("kusto")
        out = self.work / "kql.json"
        listed = self.work / "kql-files.json"
        listed.write_text(json.dumps({checker: [str(p) for p in self.files_for(checker)]
                                      for checker in ("sentinel-rule-yaml", "arm-template")}))
        proc = run(["node", LIB / "kql_check.js", "--modules", NODE_MODULES, "--tables",
                    VENDOR / "kql-tables.json", "--json", out, "--files", listed, self.gen])
        echo(proc.stdout)
        cols = self.row("kql-columns", "Kusto.Language result columns", "rules")  # same run
        cols.version = kql.version
        if not out.exists():
            echo(proc.stderr, "kql: ")
            kql.failures += 1
            kql.artifacts = max(kql.artifacts, 1)
            return
        data = json.loads(out.read_text())
        kql.artifacts, kql.failures = data["queries"], data["query_failures"]
        cols.artifacts, cols.failures = data["column_checks"], data["column_failures"]
        if data["warnings"]:
            self.notes.append(f"kql: {data['warnings']} warning(s) reported above (not fatal)")

    # ---------------------------------------------------------- rulecast verify
    def check_rulecast(self):
        """rulecast's own checks (Sentinel template rules; Splunk .conf and SPL structure,
        macros and lookups; YAML/JSON syntax), the same Rust code `rulecast check` runs."""
        row = self.row("rulecast-verify", "rulecast verify (template rules, SPL structure)", "files")
        binary = rulecast_binary()
        if binary is None:
            row.missing = "rulecast binary not found (set RULECAST_BIN or build with cargo)"
            return
        version = run([binary, "--version"])
        row.version = version.stdout.strip().split()[-1] if version.returncode == 0 else "?"
        proc = run([binary, "verify", self.gen])
        echo(proc.stderr, "rulecast: ")
        # .rulecast-output marks the folder as rulecast's; it is not an artifact.
        row.artifacts = sum(1 for p in self.gen.rglob("*") if p.is_file() and p.name != ".rulecast-output")
        row.failures = sum(1 for line in proc.stderr.splitlines() if line.startswith("error:"))
        if proc.returncode != 0 and row.failures == 0:
            row.failures = 1

    def check_repositories(self):
        """Our replay of Sentinel Repositories' deployment script on the whole tree."""
        row = self.row("repositories", "ours: Sentinel Repositories deployment replay", "templates")
        row.version = "-"
        out = self.work / "repositories.json"
        proc = run([sys.executable, LIB / "repositories_check.py", self.gen, "--json", out])
        echo(proc.stdout)
        if not out.exists():
            echo(proc.stderr, "repositories: ")
            row.failures = row.artifacts = 1
            return
        data = json.loads(out.read_text())
        row.artifacts, row.failures = data["artifacts"], data["failures"]

    # ---------------------------------------------------------- ARM
    def check_arm(self):
        schema = self.row("arm-schema", "check-jsonschema + ARM schemas", "templates")
        schema.version = self.v("check-jsonschema")
        # arm-lint comes out of the same run as arm-schema; its time is counted there.
        lint = Row("arm-lint", "ours: ARM durations/limits", what="resources")
        lint.version = "-"
        self.rows["arm-lint"] = lint
        files = self.files_for("arm-template")
        local = self.work / "arm-schemas"
        proc = run([sys.executable, LIB / "arm_localize.py", VENDOR / "arm-schemas", local])
        if proc.returncode != 0:
            echo(proc.stdout + proc.stderr, "arm-schema: ")
            schema.failures = lint.failures = 1
            return
        out = self.work / "arm.json"
        proc = run([SIGMA_VENV / "python", LIB / "arm_check.py", "--check-jsonschema",
                    SIGMA_VENV / "check-jsonschema", "--schemas", local, "--json", out, "--root", self.gen, *files])
        echo(proc.stdout)
        if not out.exists():
            echo(proc.stderr, "arm: ")
            schema.failures, schema.artifacts = 1, len(files)
            return
        data = json.loads(out.read_text())
        schema.artifacts, schema.failures = data["arm-schema"]["artifacts"], data["arm-schema"]["failures"]
        lint.artifacts, lint.failures = data["arm-lint"]["artifacts"], data["arm-lint"]["failures"]

    # ---------------------------------------------------------- Sigma
    def sigma_env(self):
        """HOME for sigma-cli: a scratch dir whose SigmaHQ cache holds the vendored data."""
        home = self.work / "home"
        if not home.exists():
            proc = run([SIGMA_VENV / "python", LIB / "seed_sigmahq_cache.py", VENDOR / "sigma-offline-data",
                        home / ".cache" / "pysigma" / "sigmahq"])
            if proc.returncode != 0:
                echo(proc.stdout + proc.stderr, "sigma seed: ")
        return {"HOME": str(home), "NO_COLOR": "1"}

    def check_sigma(self):
        rules = self.files_for("sigma-rules")
        env = self.sigma_env()
        self._sigma_check(rules, env)
        docs = self._sigma_schema(rules)
        pipelines = self._sigma_pipelines()
        self._sigma_convert_splunk(rules, pipelines.get("splunk", []), env)
        self._sigma_convert_kusto([d for d in docs if d["kind"] == "rule"], pipelines.get("kusto", []), env)

    def _sigma_check(self, rules, env):
        row = self.row("sigma-check", "sigma check + SigmaHQ validators", "rule files")
        row.version = f"cli {self.v('sigma-cli')} / pySigma {self.v('pySigma')} / sigmahq {self.v('pySigma-validators-sigmahq')}"
        row.artifacts = len(rules)
        if not rules:
            return
        # Explicit file list: with a directory, sigma check would skip *.yaml silently.
        proc = run([SIGMA_VENV / "sigma", "check", "--fail-on-issues", "-c", HERE / "sigma-check.yml", *rules], env=env)
        text = ANSI.sub("", proc.stdout + proc.stderr)
        m = re.search(r"Found (\d+) errors, (\d+) condition errors and (\d+) issues", text)
        if not m:
            echo(text, "sigma-check: ")
            row.failures = max(1, row.failures)
            return
        problems = sum(map(int, m.groups()))
        allowed = 0
        if problems or proc.returncode != 0:
            for line in text.splitlines():
                if line.startswith("issue=") or " in /" in line or line.startswith("Condition error"):
                    # Issue lines embed whole parsed rules: keep them readable.
                    line = line.replace(str(self.gen) + "/", "")
                    kind = line.split()[0].removeprefix("issue=") if line.startswith("issue=") else ""
                    label = "ALLOWED" if kind in self.allowed_issues else "FAIL"
                    allowed += label == "ALLOWED"
                    print(f"{label} [sigma-check] " + (line if len(line) < 400 else line[:400] + " ..."))
        row.failures = problems - allowed
        if allowed:
            self.notes.append(f"sigma-check: {allowed} issue(s) of allowed types ({', '.join(sorted(self.allowed_issues))}) printed above, not counted")
        if proc.returncode != 0 and problems == 0:
            echo(text, "sigma-check: ")
            row.failures = 1

    def _sigma_schema(self, rules):
        row = self.row("sigma-schema", "check-jsonschema + Sigma schemas", "documents")
        row.version = self.v("check-jsonschema")
        if not rules:
            return []
        split_dir, manifest = self.work / "sigma-docs", self.work / "sigma-docs.json"
        proc = run([SIGMA_VENV / "python", LIB / "sigma_split.py", split_dir, manifest, *rules])
        if proc.returncode != 0 or not manifest.exists():
            echo(proc.stdout + proc.stderr, "sigma-schema: ")
            row.failures, row.artifacts = 1, len(rules)
            return []
        docs = json.loads(manifest.read_text())
        row.artifacts = len(docs)
        schema_of = {
            "rule": "sigma-detection-rule-schema.json",
            "correlation": "sigma-correlation-rules-schema.json",
            "filter": "sigma-filters-schema.json",
        }
        for d in docs:
            if d["kind"] == "invalid":
                row.failures += 1
                print(f"FAIL [sigma-schema] {self.rel(d['source'])}: document {d['doc']} is not a YAML mapping {d.get('error', '')}")
        for kind, schema in schema_of.items():
            group = [d for d in docs if d["kind"] == kind]
            if not group:
                continue
            proc = run([SIGMA_VENV / "check-jsonschema", "--output-format", "json", "--schemafile",
                        VENDOR / "sigma-schemas" / schema, *[d["path"] for d in group]])
            try:
                report = json.loads(proc.stdout)
            except json.JSONDecodeError:
                echo(proc.stdout + proc.stderr, "sigma-schema: ")
                row.failures += len(group)
                continue
            source = {d["path"]: f"{self.rel(d['source'])} (document {d['doc']}, {kind})" for d in group}
            bad = set()
            for err in report.get("errors", []) + report.get("parse_errors", []):
                bad.add(err["filename"])
                msg = err.get("message", "")
                leaf = err.get("best_deep_match") or {}
                if leaf.get("message") and len(msg) > 200:
                    msg = f"{leaf.get('path')}: {leaf['message']}"
                print(f"FAIL [sigma-schema] {source.get(err['filename'], err['filename'])}: {err.get('path', '')} {msg[:400]}")
            row.failures += len(bad)
        return docs

    def _sigma_pipelines(self):
        """backend -> [pipeline files] (by allowed_backends, else file name)."""
        files = self.files_for("sigma-pipelines")
        result = {"splunk": [], "kusto": []}
        if not files:
            return result
        code = ("import json, sys, yaml\n"
                "print(json.dumps({f: (yaml.safe_load(open(f)) or {}).get('allowed_backends') for f in sys.argv[1:]}))")
        proc = run([SIGMA_VENV / "python", "-c", code, *files])
        try:
            allowed = json.loads(proc.stdout)
        except json.JSONDecodeError:
            echo(proc.stderr, "sigma pipelines: ")
            allowed = {}
        for f in files:
            backends = allowed.get(str(f)) or []
            if not backends:  # no allowed_backends: fall back to the file name
                name = f.name.lower()
                backends = ["splunk"] if "splunk" in name else ["kusto"] if re.search(r"kusto|kql|sentinel|azure", name) else []
            used = [b for b in backends if b in result]
            for b in used:
                result[b].append(f)
            if not used:
                self.notes.append(f"sigma: pipeline {self.rel(f)} names no backend the suite converts with (splunk, kusto)")
        return result

    def _convert(self, row, target, pipelines, inputs, names, env, ext, per_file=True):
        """sigma convert every input file on its own (in parallel), writing <stem><ext>.

        One process per file when the queries are needed one by one (kusto: each is
        parsed afterwards): a batch run writes all queries into one stream, and the
        batch mode that writes one file per rule (-od/--output-dir) is broken in
        sigma-cli 3.1.0: it skips the pipeline's query postprocessing (so no table
        prefix) and turns conversion errors into a warning with exit status 0.
        With per_file=False (splunk) one batch run with --fail-unsupported proves
        that every rule converts (~1 s per rule faster); only if it fails are the
        files converted one by one to name the culprits.
        """
        row.artifacts = len(inputs)
        if not inputs:
            return None
        if not pipelines:
            row.failures = len(inputs)
            print(f"FAIL [{row.checker}] no {target} pipeline under sigma/pipelines/ (allowed_backends: [{target}])")
            return None
        out_dir = self.work / f"convert-{target}"
        shutil.rmtree(out_dir, ignore_errors=True)
        out_dir.mkdir(parents=True)
        pipe_args = [a for p in pipelines for a in ("-p", p)]

        def convert(src):
            out = out_dir / (pathlib.Path(src).stem + ext)
            proc = run([SIGMA_VENV / "sigma", "convert", "-t", target, *pipe_args, "--fail-unsupported",
                        "-o", out, src], env=env)
            if proc.returncode != 0:
                err = [line for line in ANSI.sub("", proc.stderr + proc.stdout).splitlines()
                       if line.strip() and "Parsing Sigma rules" not in line]
                return f"{' '.join(err)[-600:]}"
            if not out.exists() or not out.read_text().strip():
                return "produced no query"
            return None

        if not per_file:
            batch = out_dir / ("all" + ext)
            proc = run([SIGMA_VENV / "sigma", "convert", "-t", target, *pipe_args, "--fail-unsupported",
                        "-o", batch, *inputs], env=env)
            if proc.returncode == 0 and batch.exists() and batch.read_text().strip():
                return out_dir
        with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            results = list(pool.map(convert, inputs))
        for src, err in zip(inputs, results):
            if err:
                err = err.replace(str(src), names[src])
                row.failures += 1
                print(f"FAIL [{row.checker}] {names[src]}: {err}")
        return out_dir

    def _sigma_convert_splunk(self, rules, pipelines, env):
        row = self.row("sigma-splunk", "sigma convert -t splunk", "rule files")
        row.version = f"backend-splunk {self.v('pysigma-backend-splunk')}"
        # Copy to unique names: -od names outputs by file stem, and sections may repeat a stem.
        src_dir = self.work / "sigma-src"
        src_dir.mkdir(exist_ok=True)
        inputs, names = [], {}
        for n, f in enumerate(rules):
            copy = src_dir / f"{n:04d}_{f.stem}.yml"
            shutil.copyfile(f, copy)
            inputs.append(copy)
            names[copy] = self.rel(f)
        self._convert(row, "splunk", pipelines, inputs, names, env, ".spl", per_file=False)

    def _sigma_convert_kusto(self, docs, pipelines, env):
        row = self.row("sigma-kusto", "sigma convert -t kusto", "base rules")
        row.version = f"backend-kusto {self.v('pySigma-backend-kusto')}"
        self.notes.append("sigma-kusto: correlation documents are converted with splunk only "
                          "(the Kusto backend refuses correlation rules); their base rules are converted with both")
        names = {pathlib.Path(d["path"]): f"{self.rel(d['source'])} (document {d['doc']})" for d in docs}
        out_dir = self._convert(row, "kusto", pipelines, list(names), names, env, ".kql")
        kql = self.row("sigma-kusto-kql", "Kusto.Language on sigma->kusto output", "queries")
        kql.version = self.v("kusto")
        if "node" in self.missing:
            kql.missing = self.missing["node"]
            return
        if out_dir is None or not any(out_dir.glob("*.kql")):
            return
        out = self.work / "kql-sigma.json"
        proc = run(["node", LIB / "kql_check.js", "--modules", NODE_MODULES, "--tables",
                    VENDOR / "kql-tables.json", "--json", out, "--queries", out_dir])
        text = re.sub(r"^kql: ", "sigma-kusto-kql: ", proc.stdout.replace("FAIL [kql]", "FAIL [sigma-kusto-kql]"), flags=re.M)
        for src, name in names.items():  # name the Sigma source, not our scratch file
            text = text.replace(pathlib.Path(src).stem + ".kql:", f"{name} converted:")
        echo(text)
        if not out.exists():
            echo(proc.stderr, "sigma-kusto-kql: ")
            kql.failures = kql.artifacts = 1
            return
        data = json.loads(out.read_text())
        kql.artifacts, kql.failures = data["queries"], data["query_failures"]

    # ---------------------------------------------------------- checkers of the test cases
    def _case_checker(self, row, python, script, name, shown, extra=()):
        """Runs a checker of the catalogue's test cases (a script that writes a JSON summary,
        given the rulecast binary), printing its lines that start with `shown`. Its summary, or
        None when it could not run (the row says why, or counts one failure)."""
        binary = rulecast_binary()
        if binary is None:
            row.missing = "rulecast binary not found (set RULECAST_BIN or build with cargo)"
            return None
        out = self.work / f"{name}.json"
        proc = run([python, LIB / script, self.catalogue, self.gen, "--json", out, *extra],
                   env={"RULECAST_BIN": str(binary)})
        for line in proc.stdout.splitlines():
            if line.startswith(shown):
                print(line)
        if not out.exists():
            echo(proc.stdout[-3000:] + proc.stderr[-3000:], f"{name}: ")
            row.failures = row.artifacts = 1
            return None
        return json.loads(out.read_text())

    def check_oracle(self):
        """The generated Sigma rules, run by pySigma's SQLite backend on the catalogue's test
        cases, must raise the alerts `rulecast test` raises (lib/sigma_oracle.py)."""
        row = self.row("sigma-oracle", "pySigma SQLite backend vs rulecast test", "cases")
        row.version = f"backend-sqlite {self.v('sqlite:pysigma-backend-sqlite')} / pySigma {self.v('sqlite:pysigma')}"
        data = self._case_checker(row, SQLITE_VENV / "python", "sigma_oracle.py", "sigma-oracle", ("FAIL [", "    "))
        if data is None:
            return
        row.artifacts = data["cases"]
        row.failures = data["disagreements"] + (0 if data["ok"] or data["disagreements"] else 1)

    def check_kql_exec(self):
        """The generated Sentinel and Azure Monitor queries duckdb-kql can run, executed on the
        catalogue's test cases, must return the alerts `rulecast test` raises (lib/kql_exec.py);
        the queries it cannot run must be exactly those kql-exec-unsupported.txt lists."""
        row = self.row("kql-exec", "duckdb-kql execution vs rulecast test", "queries")
        row.version = f"duckdb-kql {self.v('kql:duckdb-kql')} / DuckDB {self.v('kql:duckdb')}"
        listed = self.work / "kql-exec-files.json"
        listed.write_text(json.dumps({checker: {t: [str(p) for p in paths] for t, paths in
                                                self.files_by_target.get(checker, {}).items()}
                                      for checker in ("kql-execution", "sentinel-watchlist")}))
        data = self._case_checker(row, KQL_VENV / "python", "kql_exec.py", "kql-exec", ("FAIL [", "kql-exec:"),
                                  extra=("--files", listed))
        if data is None:
            return
        row.artifacts = data["queries"]
        row.failures = data["failures"]
        self.notes.append(f"kql-exec: {data['executed']} of {data['queries']} queries executed on "
                          f"{data['cases']} cases; {data['unsupported']} that duckdb-kql cannot run are listed "
                          "by name in conformance/kql-exec-unsupported.txt")

    # ---------------------------------------------------------- Splunk
    def check_appinspect(self):
        folders = self.files_for("splunk-app")
        apps = [d for d in folders if (d / "default" / "app.conf").is_file()]
        apps.extend(self._other_flavour_apps())
        self._appinspect(apps)
        for d in folders:
            if d not in apps:
                print(f"FAIL [appinspect] {self.rel(d)}: an app folder without default/app.conf")
                self.rows["appinspect"].failures += 1

    def _other_flavour_apps(self):
        """The Splunk app in the flavour the catalogue does not choose (Enterprise Security or
        core Splunk), built from a copy of the catalogue, so AppInspect judges both."""
        if self.catalogue is None:
            self.notes.append("appinspect: one Splunk flavour checked (pass --catalogue DIR to check both)")
            return []
        binary = rulecast_binary()
        config = self.catalogue / "rulecast.yaml"
        if binary is None or not config.is_file():
            return []
        text = config.read_text(encoding="utf-8")
        other = "enterprise_security" if re.search(r"^    flavour: core\s*$", text, re.M) else "core"
        text = re.sub(r"^    flavour: \w+\s*\n", "", text, flags=re.M)
        changed = text.replace("\n  splunk:\n", f"\n  splunk:\n    flavour: {other}\n", 1)
        if changed == text:
            print("FAIL [appinspect] cannot set the Splunk flavour in a copy of rulecast.yaml")
            self.rows.setdefault("appinspect", Row("appinspect", "splunk-appinspect --mode precert", what="apps"))
            return []
        copy = self.work / f"catalogue-{other}"
        shutil.copytree(self.catalogue, copy)
        (copy / "rulecast.yaml").write_text(changed, encoding="utf-8")
        out = self.work / f"generated-{other}"
        proc = run([binary, "--quiet", "--catalogue", copy, "--output", out, "build"])
        if proc.returncode != 0:
            echo(proc.stderr, "appinspect: ")
            return []
        return [d for d in (out / "splunk").iterdir() if (d / "default" / "app.conf").is_file()]

    def check_ksconf(self):
        self._ksconf()

    def _package(self, app):
        """Deterministic .tgz of the app folder (sorted, owner 0, mtime 0, fixed modes)."""
        target = self.work / "apps" / f"{app.name}.tgz"
        target.parent.mkdir(exist_ok=True)
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for path in [app, *sorted(app.rglob("*"))]:
                info = tar.gettarinfo(str(path), arcname=str(path.relative_to(app.parent)))
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                info.mtime = 0
                info.mode = 0o755 if path.is_dir() else 0o644
                if path.is_file():
                    with open(path, "rb") as fh:
                        tar.addfile(info, fh)
                else:
                    tar.addfile(info)
        with open(target, "wb") as fh, gzip.GzipFile(fileobj=fh, mode="wb", mtime=0, filename="") as gz:
            gz.write(buf.getvalue())
        return target

    def _appinspect(self, apps):
        row = self.row("appinspect", "splunk-appinspect --mode precert", "apps")
        row.version = self.v("splunk-appinspect")
        row.artifacts = len(apps)
        for app in apps:
            pkg = self._package(app)
            report = self.work / "apps" / f"{app.name}.json"
            proc = run([APPINSPECT_VENV / "splunk-appinspect", "inspect", pkg, "--mode", "precert",
                        "--skip-trusted-libraries-update", "--ci", "--max-messages", "all",
                        "--output-file", report, "--data-format", "json"])
            try:
                data = json.loads(report.read_text())
            except (OSError, json.JSONDecodeError):
                row.failures += 1
                print(f"FAIL [appinspect] {self.rel(app)}: no report (exit {proc.returncode})")
                echo((proc.stderr or proc.stdout)[-3000:], "appinspect: ")
                continue
            bad = 0
            for report_ in data.get("reports", []):
                for group in report_.get("groups", []):
                    for check in group.get("checks", []):
                        result = check.get("result")
                        if result in ("failure", "error", "warning", "future_failure"):
                            bad += 1
                            msgs = [m.get("message", "") for m in check.get("messages", [])] or [check.get("description", "")]
                            for m in msgs:
                                where = next((f" ({x.get('message_filename')}:{x.get('message_line')})"
                                              for x in check.get("messages", []) if x.get("message_filename")), "")
                                print(f"FAIL [appinspect] {self.rel(app)}: {result} {check.get('name')}{where}: {' '.join(m.split())[:500]}")
            if bad == 0 and proc.returncode != 0:
                bad = 1
                print(f"FAIL [appinspect] {self.rel(app)}: exit {proc.returncode} although the report lists no problem")
            summary = (data.get("summary") or {})
            if summary.get("manual_check"):
                self.notes.append(f"appinspect: {self.rel(app)} has {summary['manual_check']} manual check(s) (informational)")
            row.failures += 1 if bad else 0

    def _ksconf(self):
        row = self.row("ksconf", "ksconf check", ".conf files")
        row.version = self.v("ksconf")
        files = self.files_for("splunk-conf")
        row.artifacts = len(files)
        if not files:
            return
        proc = run([SIGMA_VENV / "ksconf", "check", *files])
        text = proc.stdout + proc.stderr
        m = re.search(r"(\d+) files failed", text)
        row.failures = int(m.group(1)) if m else (0 if proc.returncode == 0 else 1)
        if proc.returncode != 0:
            for line in text.splitlines():
                if line.startswith("Error in file"):
                    print(f"FAIL [ksconf] {line.replace(str(self.gen) + '/', '')}")
            if not m:
                echo(text, "ksconf: ")


# ------------------------------------------------------------------ main

def print_table(rows):
    headers = ["checker", "tool", "version", "checked", "failures", "time", "status"]
    lines = [[r.checker, r.tool, r.version or "?", f"{r.artifacts} {r.what}", str(r.failures),
              f"{r.seconds:.1f}s", r.status()] for r in rows]
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(headers)]

    def fmt(cells):
        return " | ".join(c.ljust(w) for c, w in zip(cells, widths))

    print(fmt(headers))
    print("-+-".join("-" * w for w in widths))
    for line in lines:
        print(fmt(line))


def main():
    ap = argparse.ArgumentParser(description="rulecast conformance suite")
    ap.add_argument("generated", type=pathlib.Path, help="the generated/ directory rulecast wrote")
    ap.add_argument("--catalogue", type=pathlib.Path,
                    help="the catalogue GENERATED_DIR was built from: also run the Sigma oracle on its test cases")
    ap.add_argument("--json", type=pathlib.Path, help="also write the summary as JSON here")
    ap.add_argument("--keep-work", type=pathlib.Path, help="keep intermediate files (packages, conversions) here")
    ap.add_argument("--allow-sigma-issue", action="append", default=[], metavar="TYPE",
                    help="accept (print, but do not count) sigma check issues of this type")
    ap.add_argument("--expect-fail", action="append", default=[], metavar="CHECKER=REASON",
                    help="this checker must fail, for a known reason (a third-party bug); passing is then a failure")
    args = ap.parse_args()
    gen = args.generated.resolve()
    if not gen.is_dir():
        sys.exit(f"run: {args.generated} is not a directory")

    work = args.keep_work.resolve() if args.keep_work else pathlib.Path(tempfile.mkdtemp(prefix="rulecast-conformance-"))
    work.mkdir(parents=True, exist_ok=True)
    catalogue = args.catalogue.resolve() if args.catalogue else None
    if catalogue is not None and not catalogue.is_dir():
        sys.exit(f"run: {args.catalogue} is not a directory")
    suite = Suite(gen, work, args.allow_sigma_issue, catalogue)
    started = time.monotonic()
    print(f"rulecast conformance: checking {gen}")
    print(f"tools: {TOOLS}")
    missing = suite.missing = suite.discover_tools()
    suite.files, no_files = suite.discover_files()
    if suite.files is None:
        suite.files = {}
        for env in ("node", "sigma", "appinspect"):
            missing.setdefault(env, no_files)

    # (checker function, environments it needs, rows it fills)
    plan = [
        (suite.check_kql, ["node"], [("kql", "Kusto.Language (@kusto/language-service-next)"), ("kql-columns", "Kusto.Language result columns")]),
        (suite.check_rulecast, [], [("rulecast-verify", "rulecast verify (template rules, SPL structure)")]),
        (suite.check_repositories, [], [("repositories", "ours: Sentinel Repositories deployment replay")]),
        (suite.check_arm, ["sigma"], [("arm-schema", "check-jsonschema + ARM schemas"), ("arm-lint", "ours: ARM durations/limits")]),
        (suite.check_sigma, ["sigma"], [("sigma-check", "sigma check + SigmaHQ validators"),
                                                ("sigma-schema", "check-jsonschema + Sigma schemas"),
                                                ("sigma-splunk", "sigma convert -t splunk"),
                                                ("sigma-kusto", "sigma convert -t kusto"),
                                                ("sigma-kusto-kql", "Kusto.Language on sigma->kusto output")]),
        (suite.check_appinspect, ["appinspect"], [("appinspect", "splunk-appinspect --mode precert")]),
        (suite.check_ksconf, ["sigma"], [("ksconf", "ksconf check")]),
    ]
    if catalogue is not None:
        plan.append((suite.check_oracle, ["sqlite"], [("sigma-oracle", "pySigma SQLite backend vs rulecast test")]))
        plan.append((suite.check_kql_exec, ["kql"], [("kql-exec", "duckdb-kql execution vs rulecast test")]))
    else:
        suite.notes.append("sigma-oracle, kql-exec: not run (pass --catalogue DIR to run the Sigma oracle and the "
                           "KQL execution on the catalogue's test cases, or run conformance/oracle or "
                           "conformance/kql-exec CATALOGUE_DIR GENERATED_DIR)")
    try:
        for func, envs, rows in plan:
            absent = [missing[e] for e in envs if e in missing]
            if absent:
                for checker, tool in rows:
                    r = suite.row(checker, tool)
                    r.missing = "; ".join(absent)
                continue
            func()
            suite.stop_clock()
    finally:
        if not args.keep_work:
            shutil.rmtree(work, ignore_errors=True)

    rows = list(suite.rows.values())
    for expectation in args.expect_fail:
        checker, _, reason = expectation.partition("=")
        if checker not in suite.rows:
            sys.exit(f"run: --expect-fail names an unknown checker: {checker}")
        suite.rows[checker].expected_failure = reason or "expected"
        suite.notes.append(f"{checker}: expected to fail: {reason}")
    print()
    print_table(rows)
    for reason in dict.fromkeys(r.missing for r in rows if r.missing):
        print(f"MISSING ({', '.join(r.checker for r in rows if r.missing == reason)}): {reason}")
    for note in dict.fromkeys(suite.notes):
        print(f"note: {note}")
    failed = [r for r in rows if not r.ok]
    total = time.monotonic() - started
    print(f"total time {total:.1f}s")
    # Alone on its line, in the form CI runners recognise.
    print(f"{len(rows) - len(failed)} passed, {len(failed)} failed")
    if args.json:
        args.json.write_text(json.dumps({
            "ok": not failed,
            "seconds": round(total, 1),
            "rows": [{"checker": r.checker, "tool": r.tool, "version": r.version, "artifacts": r.artifacts,
                      "failures": r.failures, "missing": r.missing, "status": r.status()} for r in rows],
        }, indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

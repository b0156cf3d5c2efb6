#!/usr/bin/env python3
"""The Sigma oracle: evaluate the generated Sigma rules, correlations included, with pySigma's
SQLite backend on every test case of the catalogue, and require the same verdicts (and the
same alerts) as `rulecast test`.

Runs in the `sqlite` venv of conformance/install (pysigma-backend-sqlite on pySigma 2).

For each detection and each test case:
  1. every event (a Log Analytics row) is flattened to the detection's Sigma fields by
     sigma_flatten.py, our own Python reading of the log source's `value:` specs, so rulecast's
     Rust extraction is double-checked too;
  2. the events go into a fresh in-memory SQLite table laid out as the backend expects
     (its defaults, as in its own tests): table `logs`, ISO-8601 event time in `timestamp`,
     one `TEXT COLLATE NOCASE` column per Sigma field (Zircolite's layout: Sigma compares
     strings case-insensitively), NULL for "no value", `row_id INTEGER PRIMARY KEY` (the rowid
     the backend reads evidence from) = the event's 1-based position in the case;
  3. the detection's Sigma file is converted with sqliteBackend() (one query per rule; a
     threshold file gives one event_count correlation query per tier, the backend's sliding
     window: COUNT(*) OVER (PARTITION BY group ORDER BY ts RANGE BETWEEN span PRECEDING AND
     CURRENT ROW)), and the SQL is run;
  4. the oracle's alerts: a plain rule alerts once per matching row; a correlation alerts
     once per episode of a (tier, group): its qualifying windows in time order, a window whose
     end is at most the timespan after the previous one's joining its episode (the windows
     overlap or touch), with start = the earliest event of the episode's first window, end =
     the end of its last window, and its events = the tier's matching events of that group
     between start and end;
  5. compared with the case's expectation (expect_alert, alerts) and with what
     `rulecast test --format json` reported: the number of alerts, and per alert its events
     (positions), and for thresholds its tier, required count, group, start and end.

Any difference is printed with details and makes the exit status non-zero. A case the oracle
cannot evaluate (no Sigma file, a conversion error, an event without a usable time for a
correlation) is a failure too: nothing is skipped silently.

Usage:
  sigma_oracle.py CATALOGUE_DIR GENERATED_DIR [--rulecast-json FILE] [--json SUMMARY]
                  [--detection NAME]... [--verbose]
  sigma_oracle.py CATALOGUE_DIR GENERATED_DIR --selftest

Without --rulecast-json the rulecast binary is run ($RULECAST_BIN, else target/release or
target/debug of this repository, else PATH): rulecast test --catalogue C --output G --format json.
"""
import argparse
import copy
import importlib.metadata
import json
import os
import pathlib
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

from rulecast_bin import checker_files, rulecast_binary

import yaml
from sigma.backends.sqlite import sqliteBackend
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import ValueListPlaceholderTransformation

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import sigma_flatten as flat  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent.parent  # conformance/
FIXTURES = HERE / "fixtures" / "oracle"
TIME_COLUMN = sqliteBackend.timestamp_field  # "timestamp", the backend's default
ID_COLUMN = "row_id"


def quote(name):
    return "`" + name.replace("`", "``") + "`"


def ascii_lower(text):
    """SQLite's lower() (no ICU): ASCII letters only, as the backend's group keys are."""
    return text.translate(ASCII_LOWER) if isinstance(text, str) else text


ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")

_REGEX_CACHE = {}


def regexp(pattern, value):
    """SQLite's REGEXP (X REGEXP Y calls regexp(Y, X)); false for NULL, as the backend asks."""
    if value is None or pattern is None:
        return False
    compiled = _REGEX_CACHE.get(pattern)
    if compiled is None:
        compiled = _REGEX_CACHE[pattern] = re.compile(pattern)
    return compiled.search(str(value)) is not None


def epoch_ms(text):
    """Unix milliseconds of an ISO-8601 time as rulecast prints it (2025-03-10T10:05:12.118Z)."""
    m = re.fullmatch(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)", text or "")
    if not m:
        return None
    import calendar
    y, mo, d, h, mi, s = map(int, m.groups()[:6])
    seconds = calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0))
    fraction = float(m.group(7) or 0)
    zone = m.group(8)
    if zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        seconds -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    return int(round((seconds + fraction) * 1000))


def show_ms(ms):
    if ms is None:
        return "?"
    import datetime
    t = datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


# ------------------------------------------------------------------ Sigma side

def list_pipeline(lists):
    """The one processing step the generated rules need before any backend: their `expand`
    placeholders (%tier0_roles%) replaced by the catalogue lists' values, read here from
    rulecast.yaml by our own reader rather than from the shipped pipelines. pySigma reads a
    placeholder value as a Sigma string, so wildcard characters are escaped."""
    escaped = {name: [re.sub(r"([*?\\])", r"\\\1", v) for v in values] for name, values in lists.items()}
    return ProcessingPipeline(
        items=[ProcessingItem(ValueListPlaceholderTransformation(), identifier="rulecast_lists")],
        vars=escaped,
    )


class SigmaPlan:
    """A detection's Sigma file converted with the SQLite backend."""

    def __init__(self, path, text, backend=sqliteBackend, lists=None):
        self.path = path
        docs = list(yaml.safe_load_all(text))
        self.name = docs[0].get("name")
        pipeline = list_pipeline(lists or {})
        backend_of = lambda: backend(processing_pipeline=pipeline)  # noqa: E731
        collection = SigmaCollection.from_yaml(text)
        queries = backend_of().convert(collection)
        correlations = [r for r in collection if isinstance(r, SigmaCorrelationRule)]
        self.rules = []          # plain rule: list of SELECTs
        self.correlations = []   # per tier: dict
        if not correlations:
            self.rules = list(queries)
            return
        if len(queries) != len(correlations):
            raise ValueError(f"{len(correlations)} correlation rules converted to {len(queries)} queries")
        by_name = {d.get("name"): d for d in docs if "correlation" not in d}
        for rule, sql, doc in zip(correlations, queries, [d for d in docs if "correlation" in d]):
            corr = doc["correlation"]
            if corr.get("type") != "event_count":
                raise ValueError(f"correlation type {corr.get('type')} is not one the oracle reads")
            (base_name,) = corr["rules"]
            # The tier's own base rule on its own: the events a window may count.
            base_sql = backend_of().convert(SigmaCollection.from_dicts([by_name[base_name]]))
            stem = doc.get("name", "").removesuffix("_correlation")
            tier = "default" if stem == self.name else stem.removeprefix(f"{self.name}_")
            self.correlations.append({
                "name": doc.get("name"), "tier": tier, "required": int(corr["condition"]["gte"]),
                "group_by": list(corr["group-by"]), "timespan": corr["timespan"],
                "seconds": rule.timespan.seconds, "sql": sql, "base_sql": base_sql, "table": backend_of().table,
            })


def sigma_index(generated):
    """Detection id (lower case) -> Sigma file, from the id of each file's first document."""
    index = {}
    for path in checker_files(generated, "sigma-rules"):
        text = path.read_text(encoding="utf-8")
        first = next(yaml.safe_load_all(text))
        index.setdefault(str(first.get("id")).lower(), []).append((path, text))
    return index


# ------------------------------------------------------------------ evaluation of one case

def load_case(logsource, events):
    con = sqlite3.connect(":memory:")
    con.create_function("regexp", 2, regexp, deterministic=True)
    fields = list(logsource.fields)
    if TIME_COLUMN in fields or ID_COLUMN in fields:
        raise ValueError(f"a Sigma field is named {TIME_COLUMN} or {ID_COLUMN}")
    con.execute(f"CREATE TABLE logs ({ID_COLUMN} INTEGER PRIMARY KEY, {TIME_COLUMN} TEXT, "
                + ", ".join(f"{quote(f)} TEXT COLLATE NOCASE" for f in fields) + ")")
    insert = (f"INSERT INTO logs ({ID_COLUMN}, {TIME_COLUMN}, {', '.join(map(quote, fields))}) "
              f"VALUES ({', '.join('?' * (len(fields) + 2))})")
    flattened = []
    for position, event in enumerate(events, 1):
        row = logsource.flatten(event)
        flattened.append(row)
        con.execute(insert, [position, logsource.time(event), *(row[f] for f in fields)])
    return con, flattened


def rows_of(con, sql):
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, r)) for r in cursor]


def evaluate(plan, logsource, events):
    """The oracle's alerts for one case, and problems that make it unusable."""
    con, flattened = load_case(logsource, events)
    problems = []
    try:
        if not plan.correlations:
            positions = []
            for sql in plan.rules:
                positions += [r[ID_COLUMN] for r in rows_of(con, sql)]
            return [{"events": [p]} for p in sorted(positions)], problems, flattened
        ts_expr = sqliteBackend()._correlation_timestamp()
        ts = {rid: t for rid, t in con.execute(f"SELECT {ID_COLUMN}, {ts_expr} FROM logs")}
        alerts = []
        for corr in plan.correlations:
            base = rows_of(con, corr["base_sql"][0])
            untimed = [r[ID_COLUMN] for r in base if ts.get(r[ID_COLUMN]) is None]
            if untimed:
                problems.append(f"{corr['name']}: matching events {untimed} have no time SQLite can read "
                                f"(column {logsource.time_column}); the backend skips them")
            windows = {}
            for row in rows_of(con, corr["sql"]):
                keys = json.loads(row["group_keys"])
                group = tuple(keys.get(f) for f in corr["group_by"])
                windows.setdefault(group, []).append(row)
            episodes = []
            for group, rows in sorted(windows.items(), key=lambda kv: str(kv[0])):
                rows.sort(key=lambda r: r["occurrence_time"])
                for row in rows:
                    if episodes and episodes[-1][0] == group and \
                            row["occurrence_time"] - episodes[-1][1][-1]["occurrence_time"] <= corr["seconds"]:
                        episodes[-1][1].append(row)
                    else:
                        episodes.append((group, [row]))
            for group, rows in episodes:
                first_ids = [int(e.split(":", 1)[1]) for e in json.loads(rows[0]["event_ids"])]
                start = min(ts[i] for i in first_ids)
                end = max(r["occurrence_time"] for r in rows)
                evidence = sorted({int(e.split(":", 1)[1]) for r in rows for e in json.loads(r["event_ids"])})
                in_span = sorted(
                    r[ID_COLUMN] for r in base
                    if tuple(ascii_lower(r.get(f)) for f in corr["group_by"]) == group
                    and ts.get(r[ID_COLUMN]) is not None and start <= ts[r[ID_COLUMN]] <= end)
                if not set(evidence) <= set(in_span):
                    problems.append(f"{corr['name']}: window evidence {evidence} is not within the "
                                    f"span's matching events {in_span} (oracle bug)")
                alerts.append({
                    "tier": corr["tier"], "required": corr["required"],
                    "group": dict(zip(corr["group_by"], group)),
                    "start": int(round(start * 1000)), "end": int(round(end * 1000)),
                    "events": in_span, "windows": len(rows),
                })
        return alerts, problems, flattened
    finally:
        con.close()


def normalise_rulecast(alert, threshold):
    events = sorted(e["position"] for e in alert.get("events", []))
    if not threshold:
        return {"events": events}
    tier = alert.get("tier") or {}
    return {
        "tier": tier.get("name"), "required": tier.get("required"),
        "group": {k: ascii_lower(v) for k, v in (alert.get("group") or {}).items()},
        "start": epoch_ms(alert.get("start")), "end": epoch_ms(alert.get("end")),
        "events": events, "event_count": alert.get("event_count"),
    }


def describe(alert):
    if "group" not in alert:
        return f"event {alert['events']}"
    group = ", ".join(f"{k}={v}" for k, v in alert["group"].items())
    extra = f", {alert['windows']} qualifying window end(s)" if "windows" in alert else ""
    return (f"tier {alert['tier']} (>= {alert['required']}), {group}: {show_ms(alert['start'])} .. "
            f"{show_ms(alert['end'])}, events {alert['events']}{extra}")


def compare(oracle, rulecast, threshold):
    """Differences between the oracle's alerts and rulecast's (empty when they agree)."""
    diffs = []
    theirs = [normalise_rulecast(a, threshold) for a in rulecast]
    if not threshold:
        mine = sorted(tuple(a["events"]) for a in oracle)
        their = sorted(tuple(a["events"]) for a in theirs)
        if mine != their:
            diffs.append(f"alerts on events: oracle {[list(m) for m in mine]}, rulecast {[list(t) for t in their]}")
        return diffs
    for a in theirs:
        if a["event_count"] != len(a["events"]):
            diffs.append(f"rulecast alert says event_count {a['event_count']} but lists {len(a['events'])} events")

    # A group alerts once per episode: its alerts are paired in time order.
    def keyed(alerts):
        seen = {}
        out = {}
        for a in sorted(alerts, key=lambda a: (str(a["tier"]), str(sorted(a["group"].items())), a["start"] or 0)):
            group = (a["tier"], tuple(sorted(a["group"].items())))
            seen[group] = seen.get(group, 0) + 1
            out[group + (seen[group],)] = a
        return out
    mine = keyed(oracle)
    their = keyed(theirs)
    for k in sorted(set(mine) | set(their), key=str):
        m, t = mine.get(k), their.get(k)
        if t is None:
            diffs.append(f"only the oracle alerts: {describe(m)}")
        elif m is None:
            diffs.append(f"only rulecast alerts: {describe(t)}")
        else:
            for field in ("required", "start", "end", "events"):
                if m[field] != t[field]:
                    shown = (show_ms if field in ("start", "end") else str)
                    diffs.append(f"{describe(m)}: {field} differs: oracle {shown(m[field])}, rulecast {shown(t[field])}")
    return diffs


def verdict(count, case):
    if case["expect_alert"]:
        return count >= 1 and (case["alerts"] is None or count == case["alerts"])
    return count == 0


# ------------------------------------------------------------------ the run

def rulecast_report(catalogue, generated, detections=()):
    binary = rulecast_binary()
    if binary is None:
        raise SystemExit("sigma-oracle: rulecast binary not found (set RULECAST_BIN or cargo build --release)")
    cmd = [str(binary), "test", "--catalogue", str(catalogue), "--output", str(generated), "--format", "json", "--quiet"]
    for d in detections:
        cmd += ["--detection", d]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise SystemExit(f"sigma-oracle: `{' '.join(cmd)}` exited {proc.returncode} without a JSON report:\n{proc.stderr[-3000:]}")
    version = subprocess.run([str(binary), "--version"], capture_output=True, text=True).stdout.strip()
    return report, version


class Result:
    def __init__(self):
        self.rows = []          # per detection
        self.failures = []      # (detection, case, message)
        self.cases = 0
        self.agree = 0


def run_oracle(catalogue, generated, report, only=(), flatten_override=None, verbose=False):
    logsources = flat.load_logsources(catalogue)
    lists = flat.load_lists(catalogue)
    if flatten_override:
        for source in logsources.values():
            flatten_override(source)
    index = sigma_index(generated)
    reported = {d["name"]: d for d in report["detections"]}
    result = Result()
    for name, path in flat.detection_files(catalogue):
        if only and name not in only:
            continue
        started = time.monotonic()
        doc = flat.load_yaml(path)
        row = {"detection": name, "sigma": "-", "documents": 0, "cases": 0, "agree": 0,
               "expected_ok": 0, "failures": 0, "seconds": 0.0}
        result.rows.append(row)

        def fail(case, message):
            result.failures.append((name, case, message))
            row["failures"] += 1

        cases = flat.cases_of(path, doc)
        rc = reported.get(name)
        if rc is None:
            fail(None, "rulecast test did not report this detection")
            continue
        if len(rc["cases"]) != len(cases) or any(a["name"] != b["name"] for a, b in zip(rc["cases"], cases)):
            fail(None, f"the cases differ: catalogue {[c['name'] for c in cases]}, rulecast {[c['name'] for c in rc['cases']]}")
            continue
        files = index.get(str(doc["id"]).lower(), [])
        if len(files) != 1:
            fail(None, f"{len(files)} Sigma files carry the detection id {doc['id']} (expected 1)")
            continue
        sigma_path, text = files[0]
        row["sigma"] = str(sigma_path.relative_to(generated / "sigma" / "rules"))
        row["documents"] = sum(1 for _ in yaml.safe_load_all(text))
        logsource = logsources[doc["logsource"]]
        try:
            plan = SigmaPlan(sigma_path, text, lists=lists)
        except Exception as e:  # conversion errors of any kind are findings
            fail(None, f"{row['sigma']}: conversion with the SQLite backend failed: {type(e).__name__}: {e}")
            continue
        threshold = bool(plan.correlations)
        for case, their in zip(cases, rc["cases"]):
            result.cases += 1
            row["cases"] += 1
            try:
                mine, problems, flattened = evaluate(plan, logsource, case["events"])
            except Exception as e:
                fail(case["name"], f"evaluation failed: {type(e).__name__}: {e}")
                continue
            for p in problems:
                fail(case["name"], p)
            ok_expected = verdict(len(mine), case)
            rc_passed = bool(their.get("passed"))
            diffs = compare(mine, their.get("alerts", []), threshold)
            if ok_expected:
                row["expected_ok"] += 1
            else:
                want = ("at least one alert" if case["alerts"] is None else f"{case['alerts']} alert(s)") if case["expect_alert"] else "no alert"
                diffs.insert(0, f"oracle verdict differs from the case: expected {want}, the oracle raised {len(mine)}")
            if ok_expected != rc_passed:
                diffs.insert(0, f"verdicts differ: oracle {'pass' if ok_expected else 'FAIL'}, rulecast {'pass' if rc_passed else 'FAIL'}")
            if diffs:
                fail(case["name"], "; ".join(diffs) + "\n" + details(mine, their, flattened, verbose))
            elif not problems:
                row["agree"] += 1
                result.agree += 1
        row["seconds"] = time.monotonic() - started
    return result


def details(mine, their, flattened, verbose):
    lines = [f"    oracle   ({len(mine)}): " + ("; ".join(describe(a) for a in mine) or "no alert"),
             f"    rulecast ({len(their.get('alerts', []))}): " + ("; ".join(
                 describe(normalise_rulecast(a, "tier" in a and a["tier"] is not None)) for a in their.get("alerts", [])) or "no alert")]
    if their.get("failures"):
        lines.append("    rulecast's own failures: " + " | ".join(their["failures"])[:600])
    for i, row in enumerate(flattened, 1):
        shown = {k: v for k, v in row.items() if v is not None and (verbose or k != "TargetResourcesText")}
        lines.append(f"    event {i} as Sigma fields: {json.dumps(shown, ensure_ascii=False)[:800]}")
    return "\n".join(lines)


def print_table(result):
    headers = ["detection", "sigma file", "docs", "cases", "oracle = expected", "oracle = rulecast", "time", "status"]
    lines = [[r["detection"], r["sigma"], str(r["documents"]), str(r["cases"]), f"{r['expected_ok']}/{r['cases']}",
              f"{r['agree']}/{r['cases']}", f"{r['seconds']:.2f}s", "ok" if not r["failures"] and r["cases"] else
              ("FAIL (0 cases)" if not r["failures"] else "FAIL")] for r in result.rows]
    widths = [max(len(h), *(len(line[i]) for line in lines)) if lines else len(h) for i, h in enumerate(headers)]
    fmt = lambda cells: " | ".join(c.ljust(w) for c, w in zip(cells, widths))  # noqa: E731
    print(fmt(headers))
    print("-+-".join("-" * w for w in widths))
    for line in lines:
        print(fmt(line))


def versions():
    v = {n: importlib.metadata.version(n) for n in ("pySigma", "pySigma-backend-sqlite")}
    v["sqlite"] = sqlite3.sqlite_version
    return v


def main_run(args):
    catalogue, generated = args.catalogue.resolve(), args.generated.resolve()
    started = time.monotonic()
    if args.rulecast_json:
        report, rc_version = json.loads(args.rulecast_json.read_text()), "(from --rulecast-json)"
    else:
        report, rc_version = rulecast_report(catalogue, generated, args.detection)
    tools = versions()
    print(f"sigma-oracle: {catalogue} + {generated}")
    print(f"tools: pySigma {tools['pySigma']}, pysigma-backend-sqlite {tools['pySigma-backend-sqlite']}, "
          f"SQLite {tools['sqlite']}; {rc_version}")
    result = run_oracle(catalogue, generated, report, args.detection, verbose=args.verbose)
    for name, case, message in result.failures:
        where = f"{name} / {case}" if case else name
        print(f"FAIL [sigma-oracle] {where}: {message}")
    print()
    print_table(result)
    empty = [r["detection"] for r in result.rows if r["cases"] == 0 and not r["failures"]]
    failed = len(result.failures) + len(empty)
    if not result.rows:
        failed += 1
        print("sigma-oracle: no detection was checked")
    total = time.monotonic() - started
    print(f"total time {total:.1f}s")
    print(f"{result.cases} cases, {result.agree} agree, {len(result.failures)} disagreement(s)"
          f"{f', {len(empty)} detection(s) without cases' if empty else ''}")
    if args.json:
        args.json.write_text(json.dumps({
            "ok": failed == 0, "cases": result.cases, "agree": result.agree,
            "disagreements": len(result.failures), "seconds": round(total, 1), "tools": tools,
            "rows": [{k: (round(v, 2) if isinstance(v, float) else v) for k, v in r.items()} for r in result.rows],
            "failures": [{"detection": n, "case": c, "message": m} for n, c, m in result.failures],
        }, indent=1))
    return 1 if failed else 0


# ------------------------------------------------------------------ self-test

def selftest(args):
    """Proves the oracle fails when it should: every mutant must be reported."""
    catalogue, generated = args.catalogue.resolve(), args.generated.resolve()
    report, _ = rulecast_report(catalogue, generated)
    outcomes = []

    def check(name, result, expect):
        got = {(n, c) for n, c, _ in result.failures}
        ok = expect(got)
        outcomes.append(ok)
        print(f"{'PASS' if ok else 'FAIL'} {name}: {len(result.failures)} disagreement(s) reported")
        for n, c, m in result.failures[:3]:
            print(f"    {n} / {c}: {m.splitlines()[0][:200]}")
        return ok

    baseline = run_oracle(catalogue, generated, report)
    check("baseline: the shipped catalogue and generated/ agree", baseline, lambda got: not got)

    # 1. A wrong verdict: the first case rulecast says alerts is reported as alerting nowhere.
    wrong = copy.deepcopy(report)
    det, idx = next((d, i) for d in wrong["detections"] for i, c in enumerate(d["cases"]) if c["alerts"])
    target = (det["name"], det["cases"][idx]["name"])
    det["cases"][idx]["alerts"], det["cases"][idx]["passed"] = [], False
    check(f"wrong verdict in rulecast's report ({target[0]} / {target[1]})",
          run_oracle(catalogue, generated, wrong), lambda got: got == {target})

    # 2. An alert count off by one (rulecast reports the same alert twice).
    dup = copy.deepcopy(report)
    det, idx = next((d, i) for d in dup["detections"] for i, c in enumerate(d["cases"]) if c["alerts"] and c["expect_alert"])
    dup_target = (det["name"], det["cases"][idx]["name"])
    det["cases"][idx]["alerts"].append(det["cases"][idx]["alerts"][0])
    check(f"an extra alert in rulecast's report ({dup_target[0]} / {dup_target[1]})",
          run_oracle(catalogue, generated, dup), lambda got: got == {dup_target})

    # 3-5. Mutated Sigma rules in a copy of generated/.
    def mutant(label, pick, edit):
        with tempfile.TemporaryDirectory() as tmp:
            copy_dir = pathlib.Path(tmp) / "generated"
            shutil.copytree(generated / "sigma", copy_dir / "sigma")
            files = checker_files(copy_dir, "sigma-rules")
            path = next((p for p in files if pick(p)), None)
            if path is None:
                outcomes.append(False)
                print(f"FAIL {label}: no Sigma file to mutate")
                return
            text = path.read_text()
            new = edit(text)
            if new == text:
                outcomes.append(False)
                print(f"FAIL {label}: the mutation changed nothing in {path.name}")
                return
            path.write_text(new)
            detection_id = str(next(yaml.safe_load_all(text))["id"]).lower()
            name = next(n for n, p in flat.detection_files(catalogue) if str(flat.load_yaml(p)["id"]).lower() == detection_id)
            check(f"{label} ({path.name})", run_oracle(catalogue, copy_dir, report),
                  lambda got: bool(got) and {n for n, _ in got} == {name})

    def bump_first_gte(text):
        return re.sub(r"(\n        gte: )(\d+)", lambda m: f"{m.group(1)}{int(m.group(2)) + 1}", text, count=1)

    def double_timespan(text):
        def double(m):
            value, unit = int(m.group(2)), m.group(3)
            return f'{m.group(1)}"{value * 2}{unit}"'
        return re.sub(r'(\n    timespan: )"(\d+)([smhd])"', double, text)

    def break_first_value(text):
        # The first detection item's first value of a plain rule becomes a value no event has.
        return re.sub(r"(\ndetection:\n    \w+:\n        - ?\w[\w|]*: |\ndetection:\n    \w+:\n        \w[\w|]*: )([^\n]+)",
                      lambda m: m.group(1) + "rulecast-oracle-mutant", text, count=1)

    is_corr = lambda p: p.name.startswith("correlation_")  # noqa: E731
    mutant("mutated threshold: the first correlation needs one event more", is_corr, bump_first_gte)
    mutant("mutated window: the correlation timespans doubled", is_corr, double_timespan)
    mutant("mutated rule: the first value of a plain rule replaced", lambda p: not is_corr(p), break_first_value)

    # 6. A broken extractor: Actor (a group-by field) reads nothing, so no window ever counts.
    def no_actor(source):
        if "Actor" in source.fields:
            source.fields["Actor"] = {"column": "NoSuchColumn"}
    result = run_oracle(catalogue, generated, report, flatten_override=no_actor)
    check("broken extractor: Actor reads nothing", result,
          lambda got: any(n for n, _ in got))

    # 7. Probes: edge cases of extraction, matching and windows appended to the catalogue's
    # tests (and tests for tests/fixtures/hostile), where exactly the known differences listed
    # in fixtures/oracle/expect must be reported.
    expected = set()
    for line in (FIXTURES / "expect").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            label, det, case, _why = (part.strip() for part in line.split("|", 3))
            expected.add((label, det, case))
    with tempfile.TemporaryDirectory() as tmp:
        for label, source in (("detections", catalogue), ("hostile", HERE.parent / "tests" / "fixtures" / "hostile")):
            result = probe_run(pathlib.Path(tmp) / label, source, FIXTURES / label)
            want = {(d, c) for lab, d, c in expected if lab == label}
            got = {(n, c) for n, c, _ in result.failures}
            ok = got == want
            outcomes.append(ok)
            print(f"{'PASS' if ok else 'FAIL'} probes on {label} ({result.cases} cases): "
                  f"{len(got)} disagreement(s) reported, {len(want)} expected")
            for n, c, m in result.failures:
                mark = "expected" if (n, c) in want else "UNEXPECTED"
                print(f"    {mark}: {n} / {c}: {m.splitlines()[0][:160]}")
            for n, c in sorted(want - got):
                print(f"    MISSING (expected, not reported): {n} / {c}")

    print(f"{sum(outcomes)} passed, {len(outcomes) - sum(outcomes)} failed")
    return 0 if all(outcomes) else 1


def probe_run(work, source_catalogue, overlay):
    """Run the oracle on a copy of a catalogue with the probe cases of `overlay` added: a test
    file that exists already gets the probes appended (so they can use its anchors), any other
    is copied in. generated/ is rendered from the copy."""
    catalogue, generated = work / "catalogue", work / "generated"
    shutil.copytree(source_catalogue, catalogue)
    for probe in sorted(overlay.rglob("*.tests.yaml")):
        target = catalogue / probe.relative_to(overlay)
        if target.exists():
            target.write_text(target.read_text(encoding="utf-8").rstrip("\n") + "\n" + probe.read_text(encoding="utf-8"), encoding="utf-8")
        else:
            shutil.copyfile(probe, target)
    binary = rulecast_binary()
    proc = subprocess.run([str(binary), "--catalogue", str(catalogue), "--output", str(generated), "build", "--quiet"],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"sigma-oracle: rulecast build of the probe catalogue failed:\n{proc.stderr[-3000:]}")
    report, _ = rulecast_report(catalogue, generated)
    return run_oracle(catalogue, generated, report)


def check_pins():
    """The sqlite venv must hold the pinned versions (requirements/sqlite.in and .txt)."""
    wanted = {}
    for name in ("sqlite.in", "sqlite.txt"):
        for line in (HERE / "requirements" / name).read_text().splitlines():
            line = line.split("#")[0].strip()
            if "==" in line:
                n, v = line.split("==", 1)
                wanted[n.strip().lower()] = v.strip()
    problems = []
    for n in ("pysigma", "pysigma-backend-sqlite"):
        have = importlib.metadata.version(n)
        if wanted.get(n) != have:
            problems.append(f"{n} {have} installed, {wanted.get(n)} pinned")
    if problems:
        raise SystemExit("sigma-oracle: wrong versions in the sqlite venv: " + ", ".join(problems) + ": run conformance/install")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("catalogue", type=pathlib.Path)
    ap.add_argument("generated", type=pathlib.Path)
    ap.add_argument("--rulecast-json", type=pathlib.Path, help="rulecast test --format json output to use instead of running rulecast")
    ap.add_argument("--json", type=pathlib.Path, help="write the summary as JSON here")
    ap.add_argument("--detection", action="append", default=[], help="only this detection (section/name); repeatable")
    ap.add_argument("--verbose", action="store_true", help="show every Sigma field of the events of a disagreeing case")
    ap.add_argument("--selftest", action="store_true", help="prove the oracle reports wrong verdicts and mutated rules")
    args = ap.parse_args()
    check_pins()
    for d in (args.catalogue, args.generated):
        if not d.is_dir():
            sys.exit(f"sigma-oracle: {d} is not a directory")
    return selftest(args) if args.selftest else main_run(args)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""KQL execution: run the generated Sentinel and Azure Monitor queries with duckdb-kql on every
test case of the catalogue, and require the rows `rulecast test` reports as alerts.

Runs in the `kql` venv of conformance/install (duckdb-kql 1.1.2 on DuckDB).

Which files hold the queries, and which the watchlists, the targets say through their
conformance hooks (`rulecast targets --format json`: `kql-execution` files hold one detection's
query each, a rule template with its `id` or an ARM template whose rule is tagged `rulecast-id`;
`sentinel-watchlist` files are the watchlists), so a new KQL target is executed with no change
here. A query found in several files of one target (a combined template) is executed once, and
its copies must be identical. For each detection and each target's query of it:
  1. the query is translated by duckdb-kql. duckdb-kql 1.1.2 cannot translate some operators
     (mv-apply, prev(), take_anyif, ...), and says which; such a query is listed by name in
     conformance/kql-exec-unsupported.txt. The list must be exact: a query that cannot run and is
     not listed fails (the list cannot grow silently), and a listed query that now runs fails too
     (the entry is stale: remove it, and the query is executed from then on);
  2. every test case's events (Log Analytics rows) are loaded into fresh DuckDB tables laid out as
     the Log Analytics tables (column types from vendor/kql-tables.json: dynamic columns as JSON,
     parsed from text as Log Analytics parses them), the Sentinel watchlists are supplied as the
     `_GetWatchlist` stored function (duckdb_kql.set_functions) from the watchlist files rulecast
     generated, and the query is run;
  3. the rows are compared with the alerts `rulecast test --format json` reported for the case:
     as many rows as alerts, and per row every output column rulecast also reports (the alert's
     fields, and its time, start, end and event count) with the same value.

Any difference, translation surprise or error is printed and makes the exit status non-zero.

Usage:
  kql_exec.py CATALOGUE_DIR GENERATED_DIR [--files FILES.json] [--rulecast-json FILE] [--json SUMMARY] [--detection NAME]...
  kql_exec.py CATALOGUE_DIR GENERATED_DIR --selftest
    (FILES.json: {"kql-execution": {target: [paths]}, "sentinel-watchlist": {target: [paths]}},
     the targets' hooks as conformance/run found them; without it they are asked of rulecast)
"""
import argparse
import csv
import datetime
import importlib.metadata
import json
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

import duckdb_kql
from duckdb_kql import KqlUnsupportedError

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import sigma_flatten as flat  # noqa: E402
from rulecast_bin import rulecast_binary, target_files  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent.parent  # conformance/
UNSUPPORTED = HERE / "kql-exec-unsupported.txt"
TABLES = HERE / "vendor" / "kql-tables.json"
DUCK_TYPES = {"string": "VARCHAR", "datetime": "TIMESTAMP", "dynamic": "JSON", "long": "BIGINT",
              "real": "DOUBLE", "bool": "BOOLEAN", "int": "INTEGER"}
QUERIES, WATCHLISTS = "kql-execution", "sentinel-watchlist"


# ------------------------------------------------------------------ the queries

def hooked_files(generated, files_json=None):
    """{checker: {target: [paths]}} of the KQL execution's checkers: from FILES.json when
    conformance/run passes it, else from the targets' hooks."""
    if files_json is not None:
        data = json.loads(pathlib.Path(files_json).read_text(encoding="utf-8"))
        return {c: {t: [pathlib.Path(p) for p in paths] for t, paths in data.get(c, {}).items()}
                for c in (QUERIES, WATCHLISTS)}
    by_checker, reason = target_files(generated)
    if by_checker is None:
        raise SystemExit(f"kql-exec: {reason}")
    return {c: by_checker.get(c, {}) for c in (QUERIES, WATCHLISTS)}


def queries_in(path):
    """[(detection id, query)] of one file: a rule template's `id` and `query`, or each rule of
    an ARM template (a Sentinel alert rule or an Azure Monitor log search alert) by its
    `rulecast-id` tag."""
    if path.suffix in (".yaml", ".yml"):
        doc = flat.load_yaml(path)
        return [(str(doc.get("id")), doc.get("query"))]
    template = json.loads(path.read_text(encoding="utf-8"))
    found = []
    for resource in template.get("resources", []):
        props = resource.get("properties", {})
        queries = [c.get("query") for c in props.get("criteria", {}).get("allOf", [])]
        if "query" in props:
            queries.append(props["query"])
        for query in queries:
            found.append((str((resource.get("tags") or {}).get("rulecast-id")), query))
    return found


def queries_by_target(files):
    """({(target, detection id): (path, query)}, failures) of the kql-execution files."""
    queries, failures = {}, []
    for target, paths in sorted(files.items()):
        for path in paths:
            for detection_id, query in queries_in(path):
                key = (target, detection_id.lower())
                if key in queries and queries[key][1] != query:
                    failures.append(f"{target} {path.name}: the query of detection {detection_id} differs from "
                                    f"the one in {queries[key][0].name}")
                queries.setdefault(key, (path, query))
    return queries, failures


def watchlist_function(paths):
    """Sentinel's `_GetWatchlist(alias)` over the watchlist files rulecast generated (named
    `<alias>.csv`): the first CSV column is the search key (what the queries read as SearchKey),
    and every column is a key of WatchlistItem, as Sentinel gives them."""
    rows = []
    for path in sorted(paths):
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            header = next(reader, [])
            for record in reader:
                if record:
                    rows.append((path.stem, record[0], json.dumps(dict(zip(header, record)))))
    literal = lambda s: "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"  # noqa: E731
    values = ", ".join(f"{literal(alias)}, {literal(key)}, {literal(item)}" for alias, key, item in rows)
    return ("function _GetWatchlist(watchlistAlias:string) { datatable(_rc_alias:string, SearchKey:string, "
            "_rc_item:string)[" + values + "] | where _rc_alias == watchlistAlias"
            " | extend WatchlistItem = parse_json(_rc_item) | project SearchKey, WatchlistItem }")


def translatable(query, tables):
    """None if duckdb-kql translates the query, else the construct it cannot translate."""
    schema = {name: list(columns) for name, columns in tables.items() if not name.startswith("_")}
    try:
        duckdb_kql.to_sql(query, schema=schema)
        return None
    except KqlUnsupportedError as e:
        text = str(e).splitlines()[0]
        # "unsupported KQL construct 'MvapplyOperator' at 3:2 (...)" -> MvapplyOperator
        if "'" in text:
            return text.split("'")[1]
        return text


# ------------------------------------------------------------------ one case

def parse_time(value):
    if not isinstance(value, str) or not value:
        return None
    text = value.rstrip("Z")
    if "." in text:
        head, frac = text.split(".", 1)
        text = f"{head}.{frac[:6]}"
    return datetime.datetime.fromisoformat(text)


def as_dynamic(value):
    """What Log Analytics stores for a dynamic column: JSON text parsed, other values as they are."""
    if isinstance(value, str):
        try:
            return json.dumps(json.loads(value))
        except ValueError:
            return json.dumps(value)
    return json.dumps(value)


def load_case(tables, events):
    con = duckdb_kql.connect()
    for table, columns in tables.items():
        if table.startswith("_"):
            continue
        cols = ", ".join(f'"{c}" {DUCK_TYPES[t]}' for c, t in columns.items())
        con.execute(f'CREATE TABLE "{table}" ({cols})')
    for event in events:
        table = event.get("Type")
        if table not in tables:
            raise ValueError(f"an event of table {table!r}, which vendor/kql-tables.json does not describe")
        columns = tables[table]
        names = [c for c in columns if c in event]
        values = []
        for c in names:
            v = event[c]
            kind = columns[c]
            if v is None:
                values.append(None)
            elif kind == "dynamic":
                values.append(as_dynamic(v))
            elif kind == "datetime":
                values.append(parse_time(v))
            else:
                values.append(v if isinstance(v, str) else json.dumps(v))
        placeholders = ", ".join("?" for _ in names)
        quoted = ", ".join(f'"{c}"' for c in names)
        con.execute(f'INSERT INTO "{table}" ({quoted}) VALUES ({placeholders})', values)
    return con


def norm(value):
    """A cell or an alert field as comparable text: None for no value, times in rulecast's form."""
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    if isinstance(value, (list, dict)):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value)
    return text if text != "" else None


def norm_set(value):
    """A make_set column (JSON text or a list) as sorted JSON text, None when empty: a set's
    order is the engine's. Empty texts are left out: a Kusto string is never null, so
    make_set lists an event without a value as "", where rulecast lists nothing."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return norm(value)
    values = sorted(v for v in (norm(x) for x in value or []) if v is not None)
    return json.dumps(values) if values else None


def labels(value):
    """AllFindings as single labels: each element of the query's list holds the labels of one
    event, joined by "; " (the row's Findings); rulecast lists the labels themselves."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            value = [value]
    return sorted({label for joined in (value or []) for label in str(joined).split("; ") if label})


def row_view(row):
    view = {k: (norm_set(v) if k.startswith("All") else norm(v)) for k, v in row.items()}
    if "AllFindings" in row:
        view["AllFindings"] = norm_set(labels(row["AllFindings"]))
    return view


def alert_view(alert, time_column):
    """An alert as the columns a query row has for it."""
    view = {k: norm(v) for k, v in (alert.get("fields") or {}).items()}
    view[time_column] = norm(alert.get("end"))
    findings = alert.get("findings") or []
    tier = alert.get("tier")
    if tier is None:
        view["Findings"] = norm("; ".join(findings))
        return view
    # A threshold alert: its group, its window and the values of the group's events.
    view.update({k: norm(v) for k, v in (alert.get("group") or {}).items()})
    view["StartTime"], view["EndTime"] = norm(alert.get("start")), norm(alert.get("end"))
    view["EventCount"] = norm(alert.get("event_count"))
    view["Tier"], view["RequiredCount"] = norm(tier.get("name")), norm(tier.get("required"))
    # A Sentinel query whose tiers raise the severity outputs it as AlertSeverity.
    view["AlertSeverity"] = norm(str(alert.get("severity", "")).title())
    for field, values in (alert.get("all_values") or {}).items():
        view[f"All{field}"] = norm_set(values)
    view["AllFindings"] = norm_set(findings)
    return view


def compare(rows, alerts, time_column):
    """Differences between a query's rows and rulecast's alerts for one case (empty: agree)."""
    if len(rows) != len(alerts):
        return [f"{len(rows)} row(s), rulecast reported {len(alerts)} alert(s)"]
    mine = sorted((row_view(r) for r in rows), key=lambda v: json.dumps(v, sort_keys=True, default=str))
    theirs = [alert_view(a, time_column) for a in alerts]
    diffs = []
    unmatched = list(theirs)
    for row in mine:
        best, best_bad = None, None
        for candidate in unmatched:
            bad = [k for k in candidate if k in row and row[k] != candidate[k]]
            if best is None or len(bad) < len(best_bad):
                best, best_bad = candidate, bad
            if not bad:
                break
        unmatched.remove(best)
        for k in best_bad:
            diffs.append(f"{k}: query {row[k]!r}, rulecast {best[k]!r}")
    return diffs


# ------------------------------------------------------------------ the run

def read_unsupported(path):
    """{(target, detection): construct} of the committed list."""
    listed = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            target, rest = line.split(None, 1)
            name, construct = (part.strip() for part in rest.split(":", 1))
        except ValueError:
            raise SystemExit(f"{path}:{number}: expected `TARGET SECTION/SLUG: CONSTRUCT`, got {line!r}")
        listed[(target, name)] = construct
    return listed


def rulecast_report(catalogue, generated):
    binary = rulecast_binary()
    if binary is None:
        raise SystemExit("kql-exec: rulecast binary not found (set RULECAST_BIN or build with cargo)")
    proc = subprocess.run([str(binary), "--catalogue", str(catalogue), "--output", str(generated),
                           "test", "--format", "json"], capture_output=True, text=True)
    try:
        return json.loads(proc.stdout)
    except ValueError:
        raise SystemExit(f"kql-exec: rulecast test gave no JSON report: {proc.stderr[-2000:]}")


def whole_data(query, time_column):
    """The query as `rulecast test` evaluates it: over every event of a case. A deployed rule
    reads its look-back before now and reports what arrived since its previous run (`ago()`
    against `TimeGenerated` and `ingestion_time()`); test events are old and have no ingestion
    time. Every such filter is a `| where` line of its own with `ago(` in it (the compiler keeps
    it so, src/lang/kql.rs): drop those lines, keeping a `;` that ends a `let`, and read an
    event's arrival as its time."""
    kept = []
    for line in query.split("\n"):
        if line.startswith("| where ") and "ago(" in line:
            if line.rstrip().endswith(";") and kept:
                kept[-1] += ";"
            continue
        kept.append(line)
    return "\n".join(kept).replace("ingestion_time()", time_column)


def run(catalogue, files, report, unsupported_path=UNSUPPORTED, only=()):
    """(summary, failures): summary counts, failures as printable lines. `files`: the hooked
    files ({checker: {target: [paths]}})."""
    tables = json.loads(TABLES.read_text(encoding="utf-8"))
    listed = read_unsupported(unsupported_path)
    duckdb_kql.set_functions([watchlist_function(p for ps in files[WATCHLISTS].values() for p in ps)])
    queries, failures = queries_by_target(files[QUERIES])
    targets = sorted(files[QUERIES])
    if not targets:
        failures.append("no target names a kql-execution file: nothing to execute")
    reported = {d["name"]: d for d in report["detections"]}
    summary = {"queries": 0, "executed": 0, "unsupported": 0, "cases": 0, "agree": 0}
    seen = set()
    for name, path in flat.detection_files(catalogue):
        if only and name not in only:
            continue
        doc = flat.load_yaml(path)
        cases = flat.cases_of(path, doc)
        time_column = flat.load_logsources(catalogue)[doc["logsource"]].time_column
        for target in targets:
            found = queries.get((target, str(doc["id"]).lower()))
            if found is None:
                failures.append(f"{target} {name}: no generated query")
                continue
            query = whole_data(found[1], time_column)
            summary["queries"] += 1
            key = (target, name)
            seen.add(key)
            construct = translatable(query, tables)
            if construct is not None:
                summary["unsupported"] += 1
                if key not in listed:
                    failures.append(f"{target} {name}: duckdb-kql cannot run it ({construct}) and "
                                    f"{unsupported_path.name} does not list it: add `{target} {name}: {construct}`")
                continue
            if key in listed:
                failures.append(f"{target} {name}: listed in {unsupported_path.name} as unsupported "
                                f"({listed[key]}), but duckdb-kql runs it now: remove the entry")
            summary["executed"] += 1
            theirs = reported.get(name)
            if theirs is None or len(theirs["cases"]) != len(cases):
                failures.append(f"{target} {name}: rulecast test did not report its {len(cases)} case(s)")
                continue
            for case, their in zip(cases, theirs["cases"]):
                summary["cases"] += 1
                try:
                    con = load_case(tables, case["events"])
                    result = duckdb_kql.kql(con, query)
                    columns = [c for c in result.columns]
                    rows = [dict(zip(columns, r)) for r in result.fetchall()]
                except Exception as e:  # an execution error is a finding, never a skip
                    failures.append(f"{target} {name} / {case['name']}: execution failed: {type(e).__name__}: {e}")
                    continue
                diffs = compare(rows, their.get("alerts", []), time_column)
                if diffs:
                    failures.append(f"{target} {name} / {case['name']}: " + "; ".join(diffs))
                else:
                    summary["agree"] += 1
    if not only:
        for key in sorted(set(listed) - seen):
            failures.append(f"{key[0]} {key[1]}: listed in {unsupported_path.name}, but no such query exists")
    return summary, failures


def versions():
    return {n: importlib.metadata.version(n) for n in ("duckdb-kql", "duckdb")}


def report_and_exit(summary, failures, json_path=None):
    for line in failures:
        print(f"FAIL [kql-exec] {line}")
    v = versions()
    print(f"kql-exec: duckdb-kql {v['duckdb-kql']} on DuckDB {v['duckdb']}: {summary['queries']} queries, "
          f"{summary['executed']} executed on {summary['cases']} cases ({summary['agree']} agree with rulecast test), "
          f"{summary['unsupported']} listed as unsupported; {len(failures)} failure(s)")
    if json_path:
        json_path.write_text(json.dumps({**summary, "failures": len(failures), "versions": v}, indent=1))
    return 1 if failures else 0


# ------------------------------------------------------------------ self-test

def selftest(catalogue, generated):
    """The checker must fail on a wrong result, an unlisted unsupported query and a stale entry."""
    report = rulecast_report(catalogue, generated)
    files = hooked_files(generated)
    summary, failures = run(catalogue, files, report)
    problems = [f"the shipped content does not pass: {f}" for f in failures]
    if summary["executed"] == 0:
        problems.append("no query was executed")
    work = pathlib.Path(tempfile.mkdtemp(prefix="rulecast-kql-exec-selftest-"))
    try:
        # 1. A wrong result: an executed query whose condition is turned round must disagree.
        listed = read_unsupported(UNSUPPORTED)
        queries, _ = queries_by_target(files[QUERIES])
        ids = {str(flat.load_yaml(p)["id"]).lower(): n for n, p in flat.detection_files(catalogue)}
        runnable = sorted((t, ids[i], path) for (t, i), (path, _) in queries.items()
                          if i in ids and (t, ids[i]) not in listed)
        target, name, original = runnable[0]
        mutated = work / original.name
        text = original.read_text(encoding="utf-8")
        # The first condition of the detection's own, not a schedule filter that whole_data drops
        # (one with `ago(` before its line ends, a newline or, in JSON, an escaped one).
        changed = re.sub(r"\| where (?![^\n\\]*ago\()", "| where not ", text, count=1)
        if changed == text:
            problems.append(f"could not mutate {original}")
        mutated.write_text(changed, encoding="utf-8")
        # Only the mutated file of its target: a combined template would still hold the original.
        only_mutated = {QUERIES: {target: [mutated]}, WATCHLISTS: files[WATCHLISTS]}
        _, found = run(catalogue, only_mutated, report, only=(name,))
        if not any(f.startswith(f"{target} {name} / ") for f in found):
            problems.append(f"a query with its condition negated ({target} {name}) was not reported: {found}")
        else:
            print(f"PASS kql-exec selftest: a wrong result is caught ({target} {name})")
        # 2. An unsupported query missing from the list, and 3. a stale entry.
        if listed:
            (t, n), construct = next(iter(listed.items()))
            shorter = work / "shorter.txt"
            shorter.write_text("".join(f"{k[0]} {k[1]}: {v}\n" for k, v in listed.items() if k != (t, n)))
            _, found = run(catalogue, files, report, unsupported_path=shorter)
            if not any(f.startswith(f"{t} {n}: duckdb-kql cannot run it") for f in found):
                problems.append(f"an unlisted unsupported query ({t} {n}) was not reported: {found}")
            else:
                print(f"PASS kql-exec selftest: an unlisted unsupported query is caught ({t} {n})")
        stale = work / "stale.txt"
        stale.write_text(UNSUPPORTED.read_text(encoding="utf-8") + f"{target} {name}: MvapplyOperator\n")
        _, found = run(catalogue, files, report, unsupported_path=stale)
        if not any("runs it now: remove the entry" in f for f in found):
            problems.append(f"a stale entry ({target} {name}) was not reported: {found}")
        else:
            print(f"PASS kql-exec selftest: a stale entry is caught ({target} {name})")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for p in problems:
        print(f"FAIL kql-exec selftest: {p}")
    print(f"kql-exec selftest: {'ok' if not problems else f'{len(problems)} problem(s)'}")
    return 1 if problems else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("catalogue", type=pathlib.Path)
    ap.add_argument("generated", type=pathlib.Path)
    ap.add_argument("--files", type=pathlib.Path, help="the hooked files as conformance/run found them (default: ask rulecast)")
    ap.add_argument("--rulecast-json", type=pathlib.Path, help="rulecast test --format json output (default: run it)")
    ap.add_argument("--json", type=pathlib.Path, help="write the summary here")
    ap.add_argument("--detection", action="append", default=[], help="only this SECTION/SLUG (repeatable)")
    ap.add_argument("--selftest", action="store_true")
    args = ap.parse_args()
    catalogue, generated = args.catalogue.resolve(), args.generated.resolve()
    if args.selftest:
        return selftest(catalogue, generated)
    report = (json.loads(args.rulecast_json.read_text()) if args.rulecast_json
              else rulecast_report(catalogue, generated))
    files = hooked_files(generated, args.files)
    summary, failures = run(catalogue, files, report, only=tuple(args.detection))
    return report_and_exit(summary, failures, args.json)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""The pySigma SQLite route on an exported log, timed, for comparison with `rulecast scan`.

What a user without rulecast's evaluator would do with the shipped Sigma rules: convert them
with pysigma-backend-sqlite (correlations included), load the JSON lines into SQLite
(flattened to the rules' field names by lib/sigma_flatten.py, since the rules use rulecast's
fields), run every query. Runs in the `sqlite` venv of conformance/install.

Layout (the backend's conventions, as in the Sigma oracle): one table per rulecast log source,
named after it (the backend's `table` option for the rules of that log source), ISO time in
`timestamp`, one TEXT COLLATE NOCASE column per Sigma field, NULL for no value,
`row_id INTEGER PRIMARY KEY` = the event's position in the file (1-based, as rulecast scan
reports it). Events go to the log source whose table their `Type` column names (how Log
Analytics rows say it); others are counted and skipped. No indexes (Zircolite adds none).

Phases, each timed (wall and CPU) with the process's peak RSS after it:
  convert  every generated Sigma file -> SQL (one statement per rule; one per correlation)
  load     read, parse, flatten, insert (batches of 10,000 rows, one transaction)
  query    run every statement; plain rules alert per row, correlations per (tier, group)
Then, untimed, the alerts are compared with `rulecast scan --format json` on the same file
(--rulecast-json), per detection: the events of plain alerts, and the tier, group and events
of threshold alerts.

Usage: sigma_bench.py CATALOGUE GENERATED EVENTS.jsonl [--db FILE] [--rulecast-json FILE]
                      [--json RESULT.json]
"""
import argparse
import json
import os
import pathlib
import resource
import sqlite3
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import sigma_flatten as flat  # noqa: E402
import sigma_oracle as oracle  # noqa: E402
from rulecast_bin import checker_files  # noqa: E402
import yaml  # noqa: E402
from sigma.backends.sqlite import sqliteBackend  # noqa: E402

BATCH = 10_000


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class Phase:
    def __init__(self, results, name):
        self.results, self.name = results, name

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), cpu()
        return self

    def __exit__(self, *exc):
        self.results[self.name] = {"seconds": round(time.perf_counter() - self.wall, 3),
                                   "cpu_seconds": round(cpu() - self.cpu, 3),
                                   "peak_rss_mb_after": round(peak_rss_mb(), 1)}
        return False


def convert_all(catalogue, generated, logsources):
    """[(detection name, SigmaPlan-like dict)] for every generated Sigma file."""
    by_sigma = {(s.product, s.service): s for s in logsources.values()}
    names = {str(flat.load_yaml(p)["id"]).lower(): n for n, p in flat.detection_files(catalogue)}
    lists = flat.load_lists(catalogue)
    plans = []
    for path in checker_files(generated, "sigma-rules"):
        text = path.read_text(encoding="utf-8")
        first = next(yaml.safe_load_all(text))
        source = by_sigma[(first["logsource"]["product"], first["logsource"]["service"])]
        plan = oracle.SigmaPlan(path, text, lists=lists,
                                backend=lambda source=source, **kw: sqliteBackend(table=source.id, **kw))
        plans.append((names[str(first["id"]).lower()], source, plan))
    return plans


def load(db, path, logsources):
    by_table = {s.table.lower(): s for s in logsources.values()}
    inserts, pending = {}, {}
    for source in logsources.values():
        fields = list(source.fields)
        db.execute(f"CREATE TABLE {oracle.quote(source.id)} ({oracle.ID_COLUMN} INTEGER PRIMARY KEY, "
                   f"{oracle.TIME_COLUMN} TEXT, " + ", ".join(f"{oracle.quote(f)} TEXT COLLATE NOCASE" for f in fields) + ")")
        inserts[source.id] = (f"INSERT INTO {oracle.quote(source.id)} VALUES ({', '.join('?' * (len(fields) + 2))})")
        pending[source.id] = []
    counts = {"events": 0, "skipped": 0, "bytes": 0}
    # Where the load goes (wall seconds): reading + JSON parsing, flattening, SQLite inserts.
    split = {"read_parse": 0.0, "flatten": 0.0, "insert": 0.0}
    clock = time.perf_counter
    db.execute("BEGIN")
    t0 = clock()
    with open(path, "rb") as fh:
        for line in fh:
            counts["bytes"] += len(line)
            if not line.strip():
                continue
            counts["events"] += 1
            event = json.loads(line)
            t1 = clock()
            split["read_parse"] += t1 - t0
            source = by_table.get(str(event.get("Type", "")).lower())
            if source is None:
                counts["skipped"] += 1
                t0 = clock()
                continue
            row = source.flatten(event)
            rows = pending[source.id]
            rows.append((counts["events"], source.time(event), *row.values()))
            t0 = clock()
            split["flatten"] += t0 - t1
            if len(rows) >= BATCH:
                db.executemany(inserts[source.id], rows)
                rows.clear()
                t1, t0 = t0, clock()
                split["insert"] += t0 - t1
    t1 = clock()
    for sid, rows in pending.items():
        if rows:
            db.executemany(inserts[sid], rows)
    db.execute("COMMIT")
    split["insert"] += clock() - t1
    counts["load_split_seconds"] = {k: round(v, 2) for k, v in split.items()}
    return counts


def run_queries(db, plans):
    """Alerts per detection, in the oracle's shape; time per detection."""
    alerts, timings = {}, {}
    ts_cache = {}
    for name, source, plan in plans:
        started = time.perf_counter()
        found = []
        if not plan.correlations:
            for sql in plan.rules:
                found += [{"events": [r[0]]} for r in db.execute(f"SELECT {oracle.ID_COLUMN} FROM ({sql})")]
        else:
            for corr in plan.correlations:
                rows = oracle.rows_of(db, corr["sql"])
                windows = {}
                for row in rows:
                    keys = json.loads(row["group_keys"])
                    windows.setdefault(tuple(keys.get(f) for f in corr["group_by"]), []).append(row)
                for group, rows in windows.items():
                    rows.sort(key=lambda r: r["occurrence_time"])
                    found.append({"tier": corr["tier"], "required": corr["required"],
                                  "group": dict(zip(corr["group_by"], group)),
                                  "first_ids": [int(e.split(":", 1)[1]) for e in json.loads(rows[0]["event_ids"])],
                                  "end": max(r["occurrence_time"] for r in rows), "windows": len(rows),
                                  "corr": corr})
        alerts[name] = found
        timings[name] = round(time.perf_counter() - started, 3)
    return alerts, timings


def span_events(db, source, alerts):
    """Untimed: complete threshold alerts with start and the events of the span (as the
    oracle does), from the base rule of the tier."""
    ts_expr = sqliteBackend()._correlation_timestamp()
    for name, found in alerts.items():
        for a in found:
            corr = a.pop("corr", None)
            if corr is None:
                continue
            base = corr["base_sql"][0]
            ids = a.pop("first_ids")
            table = corr["table"]
            times = dict(db.execute(f"SELECT {oracle.ID_COLUMN}, {ts_expr} FROM {oracle.quote(table)} "
                                    f"WHERE {oracle.ID_COLUMN} IN ({','.join(map(str, ids))})"))
            start = min(times.values())
            conds = " AND ".join(f"lower({oracle.quote(f)}) = ?" for f in corr["group_by"])
            rows = db.execute(f"SELECT {oracle.ID_COLUMN} FROM ({base}) WHERE {conds} AND {ts_expr} BETWEEN ? AND ?",
                              [*a["group"].values(), start, a["end"]]).fetchall()
            a["start"], a["end"] = int(round(start * 1000)), int(round(a["end"] * 1000))
            a["events"] = sorted(r[0] for r in rows)


def compare(alerts, scan, plans):
    threshold = {name: bool(plan.correlations) for name, _, plan in plans}
    theirs = {}
    for a in scan["alerts"]:
        theirs.setdefault(a["detection"]["name"], []).append(a)
    rows, diffs = [], []
    for name in sorted(set(alerts) | set(theirs)):
        mine, their = alerts.get(name, []), theirs.get(name, [])
        d = oracle.compare(mine, their, threshold.get(name, False))
        rows.append({"detection": name, "sqlite": len(mine), "rulecast": len(their), "same": not d})
        diffs += [f"{name}: {x}" for x in d]
    return rows, diffs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("catalogue", type=pathlib.Path)
    ap.add_argument("generated", type=pathlib.Path)
    ap.add_argument("events", type=pathlib.Path)
    ap.add_argument("--db", default=":memory:", help="SQLite database file (default: in memory, as Zircolite)")
    ap.add_argument("--rulecast-json", type=pathlib.Path, help="rulecast scan --format json of the same file, to compare alerts")
    ap.add_argument("--json", type=pathlib.Path, help="write the measurements here")
    args = ap.parse_args()
    oracle.check_pins()
    if args.db != ":memory:" and os.path.exists(args.db):
        os.remove(args.db)
    results = {"phases": {}, "file": str(args.events), "db": args.db, "tools": oracle.versions()}
    phases = results["phases"]
    started = time.perf_counter()
    logsources = flat.load_logsources(args.catalogue)
    with Phase(phases, "convert"):
        plans = convert_all(args.catalogue, args.generated, logsources)
    db = sqlite3.connect(args.db, isolation_level=None)
    db.create_function("regexp", 2, oracle.regexp, deterministic=True)
    with Phase(phases, "load"):
        counts = load(db, args.events, logsources)
    with Phase(phases, "query"):
        alerts, timings = run_queries(db, plans)
    total = time.perf_counter() - started
    results.update(counts)
    results["total_seconds"] = round(total, 3)
    results["peak_rss_mb"] = round(peak_rss_mb(), 1)
    results["query_seconds_by_detection"] = timings
    mb = counts["bytes"] / 1e6
    print(f"pySigma SQLite route: {counts['events']} events ({mb:.1f} MB, {counts['skipped']} of no log source), "
          f"{sum(len(p.rules) + len(p.correlations) for _, _, p in plans)} statements from {len(plans)} Sigma files")
    for name, p in phases.items():
        print(f"  {name:8} {p['seconds']:9.2f} s wall {p['cpu_seconds']:9.2f} s CPU   peak RSS so far {p['peak_rss_mb_after']:8.1f} MB")
        if name == "load":
            print("           (" + ", ".join(f"{k.replace('_', ' + ')} {v:.2f} s" for k, v in counts["load_split_seconds"].items()) + ")")
    print(f"  total    {total:9.2f} s  -> {mb / total:.1f} MB/s, {counts['events'] / total:,.0f} events/s; peak RSS {results['peak_rss_mb']:.1f} MB")
    slow = sorted(timings.items(), key=lambda kv: -kv[1])[:5]
    print("  slowest queries: " + ", ".join(f"{n} {s:.2f} s" for n, s in slow))
    span_events(db, None, alerts)
    results["alerts"] = {n: len(a) for n, a in alerts.items()}
    print(f"  alerts: {sum(results['alerts'].values())} "
          f"({sum(len(a) for n, a in alerts.items() if a and 'tier' in a[0])} threshold alerts, one per tier and group)")
    if args.rulecast_json:
        scan = json.loads(args.rulecast_json.read_text())
        rows, diffs = compare(alerts, scan, plans)
        results["comparison"] = {"rows": rows, "differences": diffs, "rulecast_alerts": len(scan["alerts"])}
        print(f"  rulecast scan: {len(scan['alerts'])} alerts; per detection (sqlite/rulecast): " +
              ", ".join(f"{r['detection'].split('/')[-1]} {r['sqlite']}/{r['rulecast']}{'' if r['same'] else ' DIFFERENT'}" for r in rows))
        for d in diffs[:20]:
            print(f"  DIFFERENT: {d[:400]}")
        print(f"  same alerts as rulecast scan: {'yes' if not diffs else f'no, {len(diffs)} difference(s)'}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

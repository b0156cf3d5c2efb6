#!/usr/bin/env python3
"""Replay of what Microsoft Sentinel Repositories deploys from a generated/ tree.

Written from Repositories' deployment script (azure-sentinel-deploy-<id>.ps1, the
generation in Azure/Azure-Sentinel e8bd9b1b), not from rulecast's code, so that a
layout or a template rulecast gets wrong is caught here even if rulecast's own check
agrees with it. The repository root is taken to be the parent of GENERATED_DIR (the
layout rulecast documents: generated/ at the root of the connected repository).

What the script does, and this replay with it:
- walk every *.json below the root, recursively, except names ending in
  metadata.json and names matching *.parameters*.json;
- skip the paths listed in <root>/sentinel-deployment.config `excludecontentfiles`
  (repo-relative, forward slashes, case-insensitive prefix match); entries that name
  no existing path are dropped (Test-Path). rulecast writes the config into
  generated/sentinel/, to be copied to the root, so it is read from there;
- deploy a file only when every entry of its `resources` has a type of the selected
  content; for analytics rules Microsoft.OperationalInsights/workspaces/providers/alertRules
  (or .../alertRules/actions); otherwise skip it with a warning;
- pass only the `workspace` parameter.

Failures: a file under generated/sentinel/ that Repositories would skip (so its rule
would never deploy), a deployed template without a `workspace` parameter or with another
parameter lacking a defaultValue, a rule id deployed by two files, no rule at all.
Files of other targets (Azure Monitor's scheduledQueryRules) are skipped by Repositories
with a warning; they are counted, not failed.

Usage: repositories_check.py GENERATED_DIR --json OUT
"""
import argparse
import fnmatch
import json
import pathlib
import re
import sys

ANALYTICS_RULE = {"microsoft.operationalinsights/workspaces/providers/alertrules",
                  "microsoft.operationalinsights/workspaces/providers/alertrules/actions"}
RULE_NAME = re.compile(r"/Microsoft\.SecurityInsights/([0-9A-Fa-f-]{36})'")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("generated", type=pathlib.Path)
    parser.add_argument("--json", type=pathlib.Path, required=True)
    args = parser.parse_args()
    gen = args.generated.resolve()
    root = gen.parent
    sentinel = gen / "sentinel"
    failures = []
    excludes = []
    config = sentinel / "sentinel-deployment.config"
    if config.exists():
        entries = json.loads(config.read_text(encoding="utf-8")).get("excludecontentfiles") or []
        excludes = [e.lower() for e in entries if (root / e).exists()]
    elif sentinel.exists():
        failures.append("generated/sentinel/sentinel-deployment.config is missing")
    files = checked = 0
    deployed_by = {}
    for path in sorted(gen.rglob("*.json")):
        rel = path.relative_to(root).as_posix()
        if path.name.lower().endswith("metadata.json") or fnmatch.fnmatch(path.name.lower(), "*.parameters*.json"):
            continue
        if any(rel.lower().startswith(e) for e in excludes):
            continue
        files += 1
        in_sentinel = sentinel in path.parents
        try:
            template = json.loads(path.read_text(encoding="utf-8"))
            types = [r["type"].lower() for r in template["resources"]]
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            if in_sentinel:
                failures.append(f"{rel}: Repositories cannot check its resource types ({e!r}); it is skipped")
            continue
        if not all(t in ANALYTICS_RULE for t in types):
            if in_sentinel:
                failures.append(f"{rel}: Repositories skips it: resource types {sorted(set(types) - ANALYTICS_RULE)}")
            continue
        checked += 1
        params = {k.lower(): v for k, v in (template.get("parameters") or {}).items()}
        if "workspace" not in params:
            failures.append(f"{rel}: no `workspace` parameter (the only one Repositories passes)")
        for name, spec in params.items():
            if name != "workspace" and "defaultValue" not in spec:
                failures.append(f"{rel}: parameter {name} has no defaultValue; Repositories cannot fill it")
        for resource in template["resources"]:
            m = RULE_NAME.search(resource.get("name", ""))
            if not m:
                failures.append(f"{rel}: rule name {resource.get('name')!r} is not <workspace>/Microsoft.SecurityInsights/<id>")
                continue
            rule = m.group(1).lower()
            if rule in deployed_by:
                failures.append(f"rule {rule} is deployed twice: by {deployed_by[rule]} and by {rel}")
            else:
                deployed_by[rule] = rel
    if sentinel.exists() and not deployed_by:
        failures.append("Repositories would deploy no analytics rule")
    for f in failures:
        print(f"FAIL [repositories] {f}")
    args.json.write_text(json.dumps({"artifacts": checked, "files": files, "rules": len(deployed_by),
                                     "failures": len(failures)}))
    print(f"repositories: {files} JSON files walked, {checked} deployed, {len(deployed_by)} rules, "
          f"{len(failures)} failures")


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Split Sigma rule files into one file per YAML document.

Why: a threshold detection is one file holding two documents (the base rule, then
a correlation rule). JSON Schema validators check one document per file, and the
Kusto backend refuses correlation rules, so both the schema check and the Kusto
conversion need the documents apart.

The raw text of each document is copied verbatim (cut at the parser's document
boundaries), so the schema check sees exactly what rulecast wrote, YAML dates,
quoting and all.

Usage: sigma_split.py OUT_DIR MANIFEST.json FILE...
  Writes OUT_DIR/<n>_<stem>.doc<k>.yml per document, and MANIFEST.json: a list of
  {"source": FILE, "doc": k, "path": ..., "kind": "rule"|"correlation"|"filter"|"invalid"}.
"""
import json
import pathlib
import sys

import yaml


def documents(text):
    """Yield (start, end) character offsets of each YAML document in text."""
    start = None
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.DocumentStartEvent):
            start = event.start_mark.index
        elif isinstance(event, yaml.DocumentEndEvent):
            yield start, event.end_mark.index


def kind_of(doc):
    if not isinstance(doc, dict):
        return "invalid"
    if "correlation" in doc:
        return "correlation"
    if "filter" in doc and "detection" not in doc:
        return "filter"
    return "rule"


def main():
    out_dir = pathlib.Path(sys.argv[1])
    manifest_path = pathlib.Path(sys.argv[2])
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = []
    for n, name in enumerate(sys.argv[3:]):
        source = pathlib.Path(name)
        text = source.read_text(encoding="utf-8")
        try:
            spans = list(documents(text))
        except yaml.YAMLError as e:
            manifest.append({"source": name, "doc": 0, "path": None, "kind": "invalid",
                             "error": f"YAML error: {e}"})
            continue
        for k, (start, end) in enumerate(spans):
            chunk = text[start:end]
            # Drop a leading '---' marker so every piece is a plain single document.
            lines = chunk.splitlines(keepends=True)
            if lines and lines[0].rstrip() == "---":
                chunk = "".join(lines[1:])
            target = out_dir / f"{n:04d}_{source.stem}.doc{k}.yml"
            target.write_text(chunk, encoding="utf-8")
            doc = yaml.safe_load(chunk)
            manifest.append({"source": name, "doc": k, "path": str(target), "kind": kind_of(doc)})
    manifest_path.write_text(json.dumps(manifest, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()

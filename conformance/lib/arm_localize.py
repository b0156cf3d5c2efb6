#!/usr/bin/env python3
"""Write a copy of the vendored ARM JSON schemas whose $refs point at local files.

Why: every $ref in Azure's ARM schemas is an absolute https URL
(https://schema.management.azure.com/schemas/...). check-jsonschema would try to
download them, and CI has no network besides package registries. We rewrite each
such URL to a file:// URL inside DEST, so the whole schema graph resolves offline.

Each file's own "id" is also set to its local file:// URL. That matters for the
files whose upstream "id" does not match where they live (Sendgrid.Email.json
claims to be 2014-04-01-preview/Sendgrid.json): local "#/definitions/..." refs are
resolved against the id, so a wrong id would send the validator to a missing file.

Usage: arm_localize.py SRC_DIR DEST_DIR      (DEST_DIR is created / overwritten)
"""
import json
import pathlib
import sys

PREFIXES = (
    "https://schema.management.azure.com/schemas/",
    "http://schema.management.azure.com/schemas/",
)


def localize(node, dest_uri):
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                for prefix in PREFIXES:
                    if value.startswith(prefix):
                        value = dest_uri + value[len(prefix):]
                        break
            out[key] = localize(value, dest_uri)
        return out
    if isinstance(node, list):
        return [localize(item, dest_uri) for item in node]
    return node


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    src = pathlib.Path(sys.argv[1]).resolve()
    dest = pathlib.Path(sys.argv[2]).resolve()
    dest_uri = dest.as_uri() + "/"
    count = 0
    for path in sorted(src.rglob("*.json")):
        rel = path.relative_to(src)
        schema = json.loads(path.read_text(encoding="utf-8"))
        schema = localize(schema, dest_uri)
        own_uri = (dest / rel).as_uri() + "#"
        for id_key in ("id", "$id"):
            if id_key in schema:
                schema[id_key] = own_uri
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(schema, indent=1), encoding="utf-8")
        count += 1
    # Fail loudly if any remote reference survived (a new upstream host, say).
    leftovers = [p for p in dest.rglob("*.json") if '"$ref": "http' in p.read_text(encoding="utf-8")]
    if leftovers:
        sys.exit(f"arm_localize: remote $ref left in {', '.join(map(str, leftovers))}")
    print(f"arm_localize: {count} schema files written to {dest}")


if __name__ == "__main__":
    main()

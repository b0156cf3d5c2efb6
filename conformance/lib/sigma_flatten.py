"""Flatten Log Analytics rows to the Sigma fields of a rulecast log source.

An independent Python implementation of the `value:` forms of detections/logsources/*.yaml,
written from their documented meaning (not from rulecast's Rust code), so that the Sigma
oracle and the pySigma SQLite benchmark double-check rulecast's own extraction:

  {column: C}                       the column C
  {column: C, path: a.b}            the value at a.b inside the dynamic column C
  {element: {column, where, path}}  the first element of the array C whose `where` keys all
                                    equal (case-insensitively) the given values, then `path`
  {at: {column, index, path}}       the element at `index` of the array C, then `path`
  {modified_property: {column, name, side}}
                                    the old/new value of the first modifiedProperties entry
                                    (of any element of C) whose displayName equals `name`
                                    case-insensitively, with JSON quoting removed
  {text: C}                         the whole column as compact JSON text
  {first_of: [...]}                 the first of the values that is present and not empty

Missing, null and "" all mean "no value" (None here, NULL in SQLite). Scalars become text
the way Log Analytics' tostring() writes them (true/false, numbers as JSON), objects and
arrays become compact JSON.

Also here: a YAML loader with YAML 1.2 core scalars (PyYAML's safe_load is YAML 1.1, which
would read `no`/`on` as booleans, `12:30` as a number and bare dates as datetimes; rulecast
reads YAML 1.2), and the catalogue readers both tools share. Standard library + PyYAML only.
"""
import json
import pathlib
import re

import yaml


# ------------------------------------------------------------------ YAML 1.2 core scalars

class Yaml12Loader(yaml.SafeLoader):
    """SafeLoader with the YAML 1.2 core schema's implicit scalars (merge keys `<<` kept)."""


Yaml12Loader.yaml_implicit_resolvers = {}
for _tag, _regex, _first in [
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", list("tTfF")),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", list("-+0123456789")),
    ("tag:yaml.org,2002:float",
     r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
     list("-+0123456789.")),
    ("tag:yaml.org,2002:merge", r"^<<$", ["<"]),
]:
    Yaml12Loader.add_implicit_resolver(_tag, re.compile(_regex), _first)


def _construct_int(loader, node):
    text = loader.construct_scalar(node)
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text)


Yaml12Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)


def load_yaml(path):
    with open(path, encoding="utf-8") as fh:
        return yaml.load(fh, Loader=Yaml12Loader)


# ------------------------------------------------------------------ values

def present(value):
    return value is not None and value != ""


def as_text(value):
    """A value as the text a Sigma field holds, or None for "no value"."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value if value != "" else None
    if isinstance(value, (int, float)):
        return json.dumps(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def as_dynamic(value):
    """A dynamic column's value; a JSON object/array written as a string is decoded
    (Log Analytics exports dynamic columns either way)."""
    if isinstance(value, str) and value.lstrip()[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def walk(value, path):
    """The value at a dotted path of object keys (case-sensitive, like KQL), or None."""
    if not path:
        return value
    for key in path.split("."):
        if isinstance(value, dict) and key in value:
            value = value[key]
        else:
            return None
    return value


def _same(a, b):
    a, b = as_text(a), as_text(b)
    return a is not None and b is not None and a.lower() == b.lower()


def _unquote(value):
    """A modifiedProperties value: "\"Global Administrator\"" -> Global Administrator."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        try:
            decoded = json.loads(value)
        except ValueError:
            return value
        if isinstance(decoded, str):
            return decoded
    return value


def extract(spec, event):
    """The value (raw JSON value, not yet text) of a `value:` spec in an event."""
    if "first_of" in spec:
        for option in spec["first_of"]:
            value = extract(option, event)
            if present(as_text(value)):
                return value
        return None
    if "column" in spec:
        value = event.get(spec["column"])
        path = spec.get("path")
        return walk(as_dynamic(value), path) if path else value
    if "element" in spec:
        lookup = spec["element"]
        array = as_dynamic(event.get(lookup["column"]))
        if not isinstance(array, list):
            return None
        for item in array:
            if isinstance(item, dict) and all(k in item and _same(item[k], v) for k, v in lookup["where"].items()):
                return walk(item, lookup.get("path"))
        return None
    if "at" in spec:
        lookup = spec["at"]
        array = as_dynamic(event.get(lookup["column"]))
        index = int(lookup["index"])
        if not isinstance(array, list) or not 0 <= index < len(array):
            return None
        return walk(array[index], lookup.get("path"))
    if "modified_property" in spec:
        lookup = spec["modified_property"]
        array = as_dynamic(event.get(lookup["column"]))
        side = {"new": "newValue", "old": "oldValue"}[lookup["side"]]
        if not isinstance(array, list):
            return None
        for item in array:
            props = as_dynamic(item.get("modifiedProperties")) if isinstance(item, dict) else None
            for prop in props if isinstance(props, list) else []:
                if isinstance(prop, dict) and _same(prop.get("displayName"), lookup["name"]):
                    value = _unquote(prop.get(side))
                    if present(as_text(value)):
                        return value
        return None
    if "text" in spec:
        value = as_dynamic(event.get(spec["text"]))
        if value is None:
            return None
        if isinstance(value, str):
            return value
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    raise ValueError(f"unknown value form: {sorted(spec)}")


# ------------------------------------------------------------------ log sources

class LogSource:
    """One detections/logsources/<id>.yaml: its Sigma fields and how to compute them."""

    def __init__(self, path):
        doc = load_yaml(path)
        self.id = doc["id"]
        self.table = doc["table"]
        self.time_column = doc["time_column"]
        # The Sigma target's entry: the logsource, and Sigma names that differ from the fields'.
        sigma_target = doc["targets"]["sigma"]
        self.product = sigma_target["product"]
        self.service = sigma_target["service"]
        renamed = sigma_target.get("fields") or {}
        # Sigma name -> value spec, in file order.
        self.fields = {}
        for name, field in doc["fields"].items():
            sigma = renamed.get(name) or name
            if sigma in self.fields:
                raise ValueError(f"{path}: two fields share the Sigma name {sigma}")
            self.fields[sigma] = field["value"]

    def flatten(self, event):
        """{sigma field: text or None} of one Log Analytics row."""
        return {name: as_text(extract(spec, event)) for name, spec in self.fields.items()}

    def time(self, event):
        value = event.get(self.time_column)
        return value if isinstance(value, str) and value else None


def load_logsources(catalogue):
    return {s.id: s for s in (LogSource(p) for p in sorted((catalogue / "logsources").glob("*.yaml")))}


def load_lists(catalogue):
    """{placeholder: [values]} of detections/rulecast.yaml's `lists:` (a value is a text or
    {value, name}): what a rule's `expand` placeholder stands for, %name% the values and
    %name.name% the names of a list."""
    config = load_yaml(catalogue / "rulecast.yaml") or {}
    lists = {}
    for name, spec in (config.get("lists") or {}).items():
        entries = spec.get("inline") or []
        lists[name] = [v["value"] if isinstance(v, dict) else v for v in entries]
        lists[f"{name}.name"] = [v["name"] for v in entries if isinstance(v, dict)]
    return lists


# ------------------------------------------------------------------ detections and cases

def detection_files(catalogue):
    """(section/slug, path) of every detection file of the catalogue."""
    out = []
    for section in sorted(p for p in catalogue.iterdir() if p.is_dir() and p.name != "logsources"):
        for path in sorted(section.glob("*.yaml")):
            if not path.name.endswith(".tests.yaml"):
                out.append((f"{section.name}/{path.name[:-len('.yaml')]}", path))
    return out


def read_events_file(path):
    events = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            events.append(json.loads(line))
    return events


def cases_of(detection_path, detection_doc):
    """The detection's test cases as rulecast orders them: inline `tests:`, then the
    `<slug>.tests.yaml` file. Each: {name, expect_alert, alerts, events}."""
    out = []
    sources = [(detection_path, detection_doc.get("tests") or [])]
    tests_path = detection_path.with_name(detection_path.name[:-len(".yaml")] + ".tests.yaml")
    if tests_path.exists():
        sources.append((tests_path, (load_yaml(tests_path) or {}).get("tests") or []))
    for origin, cases in sources:
        for case in cases:
            events = case.get("events") or []
            if case.get("events_file"):
                events = read_events_file(origin.parent / case["events_file"])
            out.append({"name": case["name"], "expect_alert": bool(case["expect_alert"]),
                        "alerts": case.get("alerts"), "events": events})
    return out

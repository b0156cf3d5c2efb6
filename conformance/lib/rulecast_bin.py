"""Where the conformance scripts find the rulecast binary, and which generated files each
checker reads, from the targets' conformance hooks (shared by run.py, sigma_oracle.py and
kql_exec.py)."""
import json
import os
import pathlib
import shutil
import subprocess

REPO = pathlib.Path(__file__).resolve().parent.parent.parent


def rulecast_binary():
    """The rulecast binary: $RULECAST_BIN, else the cargo build in this repository, else PATH."""
    explicit = os.environ.get("RULECAST_BIN")
    if explicit:
        return pathlib.Path(explicit)
    for profile in ("release", "debug"):
        candidate = REPO / "target" / profile / "rulecast"
        if candidate.is_file():
            return candidate
    found = shutil.which("rulecast")
    return pathlib.Path(found) if found else None


def target_files(generated, binary=None):
    """({checker: {target: [paths]}}, None) from the targets' conformance hooks (`rulecast
    targets --format json`): each target names the format of each of its files (a glob below its
    folder of `generated`; one ending in `/` names folders). (None, reason) when rulecast cannot
    say."""
    binary = binary or rulecast_binary()
    if binary is None:
        return None, "rulecast binary not found (set RULECAST_BIN or build with cargo); it lists each target's files"
    try:
        proc = subprocess.run([str(binary), "targets", "--format", "json"], capture_output=True, text=True)
        targets = json.loads(proc.stdout)["targets"]
    except (OSError, json.JSONDecodeError, KeyError) as e:
        return None, f"`rulecast targets --format json` failed: {e}"
    files = {}
    for target in targets:
        root = pathlib.Path(generated) / target["folder"]
        for hook in target["conformance"]:
            pattern = hook["files"]
            if pattern.endswith("/"):
                found = [p for p in root.glob(pattern.rstrip("/")) if p.is_dir()]
            else:
                found = [p for p in root.glob(pattern) if p.is_file()]
            files.setdefault(hook["checker"], {}).setdefault(target["name"], set()).update(found)
    return {c: {t: sorted(paths) for t, paths in by_target.items()} for c, by_target in files.items()}, None


def checker_files(generated, checker, binary=None):
    """Every file of `generated` that the targets' hooks give to `checker`, sorted; raises
    RuntimeError when rulecast cannot say, so a caller never silently checks nothing."""
    files, reason = target_files(generated, binary)
    if files is None:
        raise RuntimeError(reason)
    return sorted(p for paths in files.get(checker, {}).values() for p in paths)

"""Where the conformance scripts find the rulecast binary (shared by run.py and sigma_oracle.py)."""
import os
import pathlib
import shutil

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

#!/usr/bin/env python3
"""Seed the SigmaHQ validators' data cache from the vendored JSON files.

Why: pySigma-validators-sigmahq 0.21 downloads its reference data (log-source
taxonomy, filename conventions, Windows event-id/provider lists) from GitHub the
first time a validator needs it, and `sigma check` crashes without network. The
loaders in sigma.validators.sigmahq.data keep what they downloaded in a diskcache
(default ~/.cache/pysigma/sigmahq) under the key "<prefix>_default"; we put the
vendored data there in exactly the parsed form the loaders would have stored.

run.py points HOME at a scratch directory for `sigma check`, so the data the
suite validates against is always the vendored copy (never a newer or older one
a developer happens to have in ~/.cache), and the user's real cache is untouched.

Usage: seed_sigmahq_cache.py DATA_DIR CACHE_DIR   (run with the "sigma" venv python)
"""
import json
import pathlib
import sys

from sigma.validators.sigmahq.data import (
    data_filename,
    data_taxonomy,
    data_windows_eventid,
    data_windows_provider,
)

# loader module -> vendored file (the Windows file feeds both Windows loaders)
SOURCES = [
    (data_filename, "sigmahq_filename.json"),
    (data_taxonomy, "sigmahq_taxonomy.json"),
    (data_windows_eventid, "sigmahq_windows_validator.json"),
    (data_windows_provider, "sigmahq_windows_validator.json"),
]


def loader_class(module):
    classes = [v for k, v in vars(module).items() if k.startswith("_") and k.endswith("Loader")]
    if len(classes) != 1:
        sys.exit(f"seed: cannot find the loader class in {module.__name__} (pySigma-validators-sigmahq changed?)")
    return classes[0]


def main():
    data_dir, cache_dir = pathlib.Path(sys.argv[1]), sys.argv[2]
    for module, filename in SOURCES:
        cls = loader_class(module)
        loader = cls()
        loader.set_cache_dir(cache_dir)
        parsed = loader._parse(json.loads((data_dir / filename).read_text(encoding="utf-8")))
        loader._get_cache().set(f"{cls._cache_prefix}_default", parsed)


if __name__ == "__main__":
    main()

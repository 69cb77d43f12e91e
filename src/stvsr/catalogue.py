"""`stvsr models` without importing torch: the learned architectures and the shipped weights as a committed index.

Listing them from the registry imports every model module and torch with them, which took 1.1-2.2 s of the
listing's 1.7-2.6 s on a 2-core VM (`python -X importtime -m stvsr models`); reading this index takes milliseconds.
`python scripts/update_catalogue.py` writes it from the registry, and `tests/test_cli.py` fails whenever the two
differ, so it cannot go stale unnoticed. Anything that needs a built network (`--flops`, `--details`) still builds it.
"""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path

from .zoo import CATALOGUE, locate


def build() -> dict:
    """The index from the live registry (imports torch): every learned architecture's row of `stvsr models`, and
    every declared shipped weights file with its role."""
    from .models import list_models
    from .models.info import describe
    from .models.shipped import SHIPPED

    rows = []
    for entry in list_models(learned=True):
        info = describe(entry, flops=False)
        rows.append({key: info[key] for key in ("name", "task", "scale", "time_factor", "params")})
    return {"models": rows, "shipped": [_weights_row(s) for s in SHIPPED.values()]}


def _weights_row(entry) -> dict:
    """A shipped file's row: what it is, where it ships, and its size and sha256 (what a download is checked
    against, stvsr.zoo)."""
    import hashlib

    data = entry.path.read_bytes()
    return {"name": entry.name, "role": entry.role, "home": entry.home, "study": entry.study, "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest()}


def write() -> None:
    CATALOGUE.write_text(json.dumps(build(), indent=1) + "\n")


def _load() -> dict:
    return json.loads(CATALOGUE.read_text())


def models(pattern: str = "*") -> list[dict]:
    """Rows of the learned architectures whose names match `pattern` (fnmatch, as `list_models`), sorted by name."""
    return [row for row in _load()["models"] if fnmatch.fnmatch(row["name"], pattern)]


def shipped_weights() -> list[dict]:
    """Every declared shipped weights file, in declaration order, with `here`: whether a folder of the search path
    (stvsr.zoo) holds it."""
    return [{**s, "here": locate(f"{s['name']}.safetensors") is not None} for s in _load()["shipped"]]

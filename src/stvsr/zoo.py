"""Where shipped weights live: the wheel carries what the defaults and the shipped features need; the research zoo
(the reports' other models, the study exhibits) is resolved by name, timm's way, from the first place that has it:

1. the package's own `weights/` folder (in the wheel);
2. the folder named by `STVSR_WEIGHTS` (a shared drive, an offline copy of the zoo);
3. the repository's `zoo/` folder, when stvsr runs from a clone (an editable install);
4. the user cache (platformdirs: ~/.cache/stvsr/weights on Linux), where downloads go;
5. a download from `STVSR_ZOO_URL` + `NAME.safetensors` into that cache, checked against the sha256 recorded in
   the committed catalogue (`catalogue.json`), so a mirror cannot hand over other weights.

The download is torch.hub's `download_url_to_file` (a temporary file, the hash checked, then renamed): no
half-written file is ever found by name. Finding a file imports nothing heavy, so `stvsr models` stays torch-free.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from .errors import UsageError, WeightsError

PACKAGE_WEIGHTS = Path(__file__).resolve().parent / "weights"
REPO_ZOO = Path(__file__).resolve().parents[2] / "zoo"  # src/stvsr/zoo.py -> the repository root
CATALOGUE = Path(__file__).resolve().parent / "catalogue.json"  # sizes and sha256 of every shipped file
WEIGHTS_ENV = "STVSR_WEIGHTS"
URL_ENV = "STVSR_ZOO_URL"


def cache_dir() -> Path:
    from platformdirs import user_cache_path

    return user_cache_path("stvsr") / "weights"


def search_path() -> list[Path]:
    """The folders searched for `NAME.safetensors`, first match wins."""
    folders = [PACKAGE_WEIGHTS]
    if os.environ.get(WEIGHTS_ENV):
        folders.append(Path(os.environ[WEIGHTS_ENV]).expanduser())
    folders += [REPO_ZOO, cache_dir()]
    return folders


def locate(filename: str) -> Path | None:
    """The first `filename` on the search path, or None (nothing is downloaded)."""
    for folder in search_path():
        if (folder / filename).is_file():
            return folder / filename
    return None


def records() -> list[dict]:
    """The catalogue's rows of the declared shipped weights: name, role, home (wheel | zoo), study, bytes, sha256."""
    return json.loads(CATALOGUE.read_text())["shipped"]


def record(name: str) -> dict | None:
    return next((row for row in records() if row["name"] == name), None)


def how_to_get(name: str) -> str:
    """What a user does to have research-zoo weights `name` that no folder here holds."""
    return (f"set {WEIGHTS_ENV} to a folder holding {name}.safetensors (the repository's zoo/), or {URL_ENV} to a "
            f"mirror to download it from")


def fetch(name: str) -> Path:
    """The local file of shipped weights `name`, downloaded into the cache from STVSR_ZOO_URL when no folder has it.
    One-line errors: not declared, no URL to fetch from, a failed download, a wrong hash."""
    filename = f"{name}.safetensors"
    found = locate(filename)
    if found is not None:
        return found
    row = record(name)
    if row is None:
        raise UsageError(f"no shipped weights called {name!r} (`stvsr models` lists them)")
    base = os.environ.get(URL_ENV, "").strip()
    if not base:
        raise UsageError(f"{name} is in the research zoo, not in the installed package: {how_to_get(name)}")
    url = base.rstrip("/") + "/" + filename
    target = cache_dir() / filename
    target.parent.mkdir(parents=True, exist_ok=True)
    print(f"downloading {name} ({row['bytes'] / 1e6:.1f} MB) from {url} into {target.parent}", file=sys.stderr)
    from torch.hub import download_url_to_file

    try:
        download_url_to_file(url, str(target), hash_prefix=row["sha256"], progress=sys.stderr.isatty())
    except RuntimeError as error:  # torch.hub's hash check
        target.unlink(missing_ok=True)
        raise WeightsError(f"the download of {name} from {url} does not match its sha256 ({error}); nothing kept") \
            from None
    except OSError as error:  # URLError is an OSError: no route, refused, 404
        target.unlink(missing_ok=True)
        raise UsageError(f"could not download {name} from {url}: {getattr(error, 'reason', error)}") from None
    return target

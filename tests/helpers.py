"""Small helpers shared by the tests."""

import hashlib
from pathlib import Path


def digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def leftovers(folder: Path) -> list[str]:
    """Temporary files or folders a writer may have left behind."""
    return [p.name for p in Path(folder).iterdir() if "stvsr-partial" in p.name or p.name.startswith(".full")]

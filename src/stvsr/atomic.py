"""Writing a file so that no reader ever sees half of it: write a temporary beside it, then rename it into place.

The temporary is hidden, per process (`.NAME.<pid>.partial`: two processes writing the same file, e.g. DDP ranks
filling one cache, never share one) and removed when the write fails. Video outputs have their own, richer
temporaries (`io.outputs`: host and pid, cleaned after kill -9); everything else uses this.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


NAME_MAX = 255  # bytes in one file name (ext4, XFS, APFS, NTFS)


def fitted_stem(stem: str, extra: int) -> str:
    """`stem` where `extra` bytes of stvsr's tags still fit beside it in one file name; else its first bytes and
    a hash of the whole, so that an output name near the limit still gets its temporaries, work folder and claim."""
    raw = stem.encode()
    if len(raw) + extra <= NAME_MAX:
        return stem
    digest = hashlib.sha1(raw).hexdigest()[:12]
    return f"{raw[:max(NAME_MAX - extra - 13, 1)].decode(errors='ignore')}~{digest}"


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside `path` for the block to write; renamed onto `path` when the block ends without an
    error, removed when it raises."""
    path = Path(path)
    partial = path.with_name(f".{fitted_stem(path.name, 20)}.{os.getpid()}.partial")
    try:
        yield partial
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def atomic_write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as partial:
        partial.write_text(text)

"""Claims: the right of one process to write one output, so that two runs (two `batch` workers, two `upscale
--resume`, processes on machines sharing a file system) never write the same file.

A claim is `.NAME.stvsr-claim` beside the output, created atomically (O_EXCL), naming its host and process, and
refreshed while the output is worked on. A claim whose process is gone (same host) or that has not been refreshed
for CLAIM_STALE_SECONDS (any host) is taken over.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import OutputError
from .outputs import sidecar

CLAIM_TAG = ".stvsr-claim"
CLAIM_REFRESH_SECONDS = 10.0
CLAIM_STALE_SECONDS = 60.0


def _host() -> str:
    return socket.gethostname()


class Claim:
    """The right to work on one output; `release()` (or leaving `with`) removes it. A thread keeps it fresh."""

    def __init__(self, path: Path, token: str):
        self.path, self.token = path, token
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._refresh, name="stvsr-claim", daemon=True)
        self._thread.start()

    def _refresh(self) -> None:
        while not self._stop.wait(CLAIM_REFRESH_SECONDS):
            try:
                os.utime(self.path)
            except OSError:
                return

    def release(self) -> None:
        self._stop.set()
        self._thread.join()
        if _read_claim(self.path).get("token") == self.token:
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> Claim:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _read_claim(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _claim_is_stale(path: Path, holder: dict) -> bool:
    try:
        age = time.time() - path.stat().st_mtime
    except OSError:
        return False
    if holder.get("host") == _host() and isinstance(holder.get("pid"), int):
        try:
            os.kill(holder["pid"], 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass
    return age > CLAIM_STALE_SECONDS


def _create_claim(path: Path) -> Claim | None:
    token = uuid.uuid4().hex
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return None
    with os.fdopen(fd, "w") as handle:
        json.dump({"host": _host(), "pid": os.getpid(), "token": token, "since": time.time()}, handle)
    return Claim(path, token)


@contextmanager
def exclusive(output: Path) -> Iterator[None]:
    """Hold `output`'s claim while writing it, so that two runs never write one output: a no-op where this process
    holds it already (a batch worker), an `OutputError` naming the holder where another live process does."""
    path = claim_path(output)
    holder = _read_claim(path)
    if holder.get("host") == _host() and holder.get("pid") == os.getpid():
        yield
        return
    claim, _ = try_claim(output)
    if claim is None:
        holder = _read_claim(path)
        raise OutputError(f"another stvsr (pid {holder.get('pid', '?')} on {holder.get('host', '?')}) is writing "
                          f"{output}")
    with claim:
        yield


def claim_path(output: Path) -> Path:
    return sidecar(output, CLAIM_TAG)


def try_claim(output: Path) -> tuple[Claim | None, str]:
    """Claim `output` for this process: (claim, note) or (None, who holds it)."""
    path = claim_path(output)
    claim = _create_claim(path)
    if claim is not None:
        return claim, ""
    holder = _read_claim(path)
    if not _claim_is_stale(path, holder):
        return None, f"claimed by {holder.get('host', '?')} pid {holder.get('pid', '?')}"
    # Take over: move the stale claim aside under a name of our own, then check that what moved is the claim
    # judged stale (a faster successor may have replaced it meanwhile: then put theirs back and step aside).
    aside = path.with_name(f"{path.name}.{uuid.uuid4().hex}")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return None, "claimed by another worker"
    moved = _read_claim(aside)
    if moved.get("token") != holder.get("token"):
        try:
            os.link(aside, path)
        except FileExistsError:
            pass
        aside.unlink(missing_ok=True)
        return None, "claimed by another worker"
    aside.unlink(missing_ok=True)
    claim = _create_claim(path)
    if claim is None:
        return None, "claimed by another worker"
    return claim, f"took over from {holder.get('host', '?')} pid {holder.get('pid', '?')}, which stopped"

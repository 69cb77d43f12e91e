"""A run's checkpoint (`RUN/checkpoint.pt`): written atomically, read without running code.

`torch.load` with `weights_only=False` unpickles anything, so a crafted checkpoint from a shared folder or a
colleague's run would run its code before stvsr could refuse it. Checkpoints are read with `weights_only=True`
instead, allowing only the NumPy types the RNG state holds (`numpy.random.get_state()` is a tuple with a uint32
array). Any file that does not read as one, or lacks a key the caller needs, is one `WeightsError` line (exit 5).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..errors import WeightsError
from ..atomic import atomic_path

CHECKPOINT = "checkpoint.pt"

# What a run's RNG state pickles to beyond tensors and plain containers (NumPy's MT19937 key and scalars).
_NUMPY_GLOBALS = [np.ndarray, np.dtype, type(np.dtype(np.uint32)), type(np.dtype(np.float64)),
                  np._core.multiarray._reconstruct, np._core.multiarray.scalar]


def save_checkpoint(path: Path, payload: dict) -> None:
    with atomic_path(path) as partial:
        torch.save(payload, partial)


def load_checkpoint(path: Path, needs: tuple[str, ...] = ("model", "ema", "step", "config")) -> dict:
    """The checkpoint at `path` as a dict holding at least the keys in `needs`; a `WeightsError` otherwise."""
    unreadable = f"{path} is not a readable stvsr checkpoint"
    try:
        with torch.serialization.safe_globals(_NUMPY_GLOBALS):
            state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise WeightsError(f"{path} not found") from None
    except Exception as error:  # torch raises many types (EOFError, UnpicklingError, RuntimeError ...)
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        if "weights_only" in str(error) or "Unsupported global" in str(error):
            reason = "it holds objects other than tensors and plain values, refused: loading them could run code"
        raise WeightsError(f"{unreadable} ({reason[:200]})") from None
    if not isinstance(state, dict):
        raise WeightsError(f"{unreadable} (not a mapping)")
    missing = [key for key in needs if key not in state]
    if missing:
        raise WeightsError(f"{unreadable} (no {missing[0]!r})")
    return state

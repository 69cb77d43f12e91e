"""Weights that carry their contract: safetensors tensors plus JSON metadata (CONTRIBUTING.md §3).

The metadata names the registered model and its constructor arguments, the task, scale and time factor, the
input convention, how it was trained and what it reached on which protocol. Loading rebuilds the model from the
registry, checks every tensor's name and shape, and says clearly what does not match.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from ..errors import WeightsError
from ..atomic import atomic_path
from .registry import find_model

FORMAT = "stvsr-weights/1"
INPUT_CONVENTION = "float32 RGB in [0, 1], clips (N, T, C, H, W)"


def model_contract(model: nn.Module, name: str, kwargs: dict) -> dict:
    entry = find_model(name)
    time_factor = int(getattr(model, "time_factor", 1))
    # a space-time architecture built with time factor 1 (propstvsr.x4) does video SR
    task = "vsr" if entry.task == "stvsr" and time_factor == 1 else entry.task
    return {"format": FORMAT, "model": name, "kwargs": kwargs, "task": task,
            "scale": int(getattr(model, "scale", 1)), "time_factor": time_factor, "input": INPUT_CONVENTION}


def save_weights(model: nn.Module, path: str | Path, *, name: str, kwargs: dict, extra: dict | None = None) -> Path:
    """Write `model`'s state dict and its contract to `path` (.safetensors), atomically."""
    path = Path(path)
    metadata = {**model_contract(model, name, kwargs), **(extra or {})}
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    with atomic_path(path) as partial:
        save_file(tensors, str(partial), metadata={"stvsr": json.dumps(metadata)})
    return path


def read_metadata(path: str | Path) -> dict:
    """The contract stored in a weights file; `WeightsError` if the file is missing, corrupt or not stvsr's."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weights not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as handle:
            raw = (handle.metadata() or {}).get("stvsr")
    except (SafetensorError, OSError, ValueError) as error:
        raise WeightsError(f"not a readable safetensors file (corrupt or truncated?): {path} ({error})") from None
    if raw is None:
        raise WeightsError(f"{path} has no stvsr metadata: which model it belongs to is unknown")
    try:
        metadata = json.loads(raw)
    except json.JSONDecodeError:
        raise WeightsError(f"{path}: its stvsr metadata is not valid JSON") from None
    if metadata.get("format") != FORMAT:
        raise WeightsError(f"{path}: unsupported weights format {metadata.get('format')!r} (expected {FORMAT})")
    return metadata


def read_tensors(path: str | Path) -> dict[str, torch.Tensor]:
    """Every tensor of a stvsr weights file (its metadata checked first); NaN or infinite values are refused (they
    would make a black video that passes every check of its container)."""
    read_metadata(path)
    try:
        with safe_open(str(path), framework="pt") as handle:
            tensors = {k: handle.get_tensor(k) for k in handle.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as error:
        raise WeightsError(f"cannot read the tensors of {path} (corrupt or truncated?): {error}") from None
    broken = [k for k, v in tensors.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if broken:
        raise WeightsError(f"{path} holds NaN or infinite values in {len(broken)} tensors (e.g. {broken[0]}): "
                           f"the weights are damaged (a diverged run?)")
    return tensors


def check_fit(path: Path, name: str, tensors: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> None:
    """Every tensor `name`'s state dict `expected` holds, of the same shape, and no other; a `WeightsError` naming the
    first misfit otherwise."""
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    wrong = [k for k in expected if k in tensors and tensors[k].shape != expected[k].shape]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} tensors (e.g. {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {unexpected[0]})")
        if wrong:
            k = wrong[0]
            parts.append(f"{len(wrong)} of the wrong shape (e.g. {k}: {tuple(tensors[k].shape)} in the file, "
                         f"{tuple(expected[k].shape)} in {name})")
        raise WeightsError(f"{path} does not match {name}: " + "; ".join(parts))


def check_factors(path: Path, name: str, model: nn.Module, scale: int | None, time_factor: int | None) -> None:
    """The model's scale and time factor are those the caller asked for (None: any)."""
    for key, wanted in (("scale", scale), ("time_factor", time_factor)):
        have = int(getattr(model, key, 1))
        if wanted is not None and have != wanted:
            label = "--scale" if key == "scale" else "--time-factor"
            raise WeightsError(f"{path} holds {name} for {key.replace('_', ' ')} {have}, not {label} {wanted}")


def load_model(path: str | Path, *, scale: int | None = None, time_factor: int | None = None,
               device: torch.device | str = "cpu") -> tuple[nn.Module, dict]:
    """Rebuild the model a weights file describes, load its tensors, and check it against what the caller needs."""
    path = Path(path)
    metadata = read_metadata(path)
    name, kwargs = metadata.get("model"), metadata.get("kwargs", {})
    if find_model(name) is None:
        raise WeightsError(f"{path} is for model {name!r}, which this version of stvsr does not have")
    builder = find_model(name).build
    # The file's shapes are compared with the model's built on the meta device, where nothing is allocated: a file
    # whose metadata asks for an absurd size (features: 200000) is refused, not allocated (terabytes).
    try:
        with torch.device("meta"):
            skeleton = builder(**kwargs)
    except (TypeError, ValueError) as error:
        raise WeightsError(f"{path}: cannot build {name} with {kwargs}: {error}") from None
    except Exception:  # noqa: BLE001  a constructor that cannot run on the meta device is checked after building
        skeleton = None
    tensors = read_tensors(path)
    if skeleton is not None:
        check_factors(path, name, skeleton, scale, time_factor)
        check_fit(path, name, tensors, skeleton.state_dict())
    try:
        model = builder(**kwargs)
    except (TypeError, ValueError) as error:
        raise WeightsError(f"{path}: cannot build {name} with {kwargs}: {error}") from None
    check_factors(path, name, model, scale, time_factor)
    check_fit(path, name, tensors, model.state_dict())
    model.load_state_dict(tensors)
    return model.to(device).eval(), metadata

"""One registry for every method stvsr can run, classical or learned (timm-style).

Adding a model is one decorated function plus one import line in `models/__init__.py`.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from ..errors import UsageError

TASKS = ("sr", "vsr", "vfi", "stvsr", "critic")  # critic: discriminators, used in training only


@dataclass(frozen=True)
class ModelEntry:
    name: str
    task: str  # sr: frame -> larger frame; vsr: frames -> larger frames; vfi: more frames; stvsr: both; critic
    description: str
    build: Callable[..., nn.Module]
    learned: bool


_REGISTRY: dict[str, ModelEntry] = {}


def register_model(name: str, *, task: str, description: str, learned: bool = True):
    """Decorator registering `build(**kwargs) -> nn.Module` under `name`."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}")

    def wrap(build: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is registered twice")
        _REGISTRY[name] = ModelEntry(name=name, task=task, description=description, build=build, learned=learned)
        return build

    return wrap


def find_model(name: str) -> ModelEntry | None:
    """The registered entry called `name`, or None."""
    return _REGISTRY.get(name)


def model_entry(name: str) -> ModelEntry:
    """The registered entry called `name`; a one-line error naming close matches when there is none."""
    try:
        return _REGISTRY[name]
    except KeyError:
        close = fnmatch.filter(_REGISTRY, f"*{name}*")[:5]
        hint = f"; did you mean {', '.join(close)}?" if close else "; `stvsr methods` lists them"
        raise UsageError(f"unknown method {name!r}{hint}") from None


def create_model(name: str, **kwargs) -> nn.Module:
    """Build the registered model `name` with keyword arguments."""
    entry = model_entry(name)
    try:
        return entry.build(**kwargs)
    except (TypeError, ValueError) as error:  # an unknown or out-of-range argument: the caller's config
        raise UsageError(f"{name}: {error}") from None


def list_models(pattern: str = "*", *, task: str | None = None, learned: bool | None = None) -> list[ModelEntry]:
    return [e for n, e in sorted(_REGISTRY.items())
            if fnmatch.fnmatch(n, pattern) and (task is None or e.task == task)
            and (learned is None or e.learned == learned)]

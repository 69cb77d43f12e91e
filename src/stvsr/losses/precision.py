"""Losses that are not safe in half precision run in float32, even inside autocast.

SSIM's variances (E[x²] − E[x]²), ratios, the cycle loss's resampling and the warping loss's exp and division lose
everything to cancellation or overflow in fp16/bf16: a TP-net run with fp16 autocast collapsed to 22.9 dB on dev
because of its SSIM term (issue 11). The network runs in reduced precision; its loss does not.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
from torch import Tensor


def _full(value):
    if isinstance(value, Tensor) and value.is_floating_point() and value.dtype not in (torch.float32, torch.float64):
        return value.float()
    if isinstance(value, dict):
        return {k: _full(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_full(v) for v in value)
    return value


def float32_loss(fn: Callable) -> Callable:
    """Decorate a loss so that its tensor arguments are cast to float32 and autocast is off while it runs."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with torch.autocast("cpu", enabled=False), _cuda_autocast_off():
            return fn(*_full(args), **_full(kwargs))

    return wrapper


def _cuda_autocast_off():
    if torch.cuda.is_available():
        return torch.autocast("cuda", enabled=False)
    return _Nothing()


class _Nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None

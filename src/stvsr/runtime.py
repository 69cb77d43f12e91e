"""Where computation runs, and the choices a run is made of (device, precision, quality level, source kind).

Importing it does not import torch (the functions do), so that a command checks its options before torch loads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import UsageError

if TYPE_CHECKING:
    import torch

# --quality: which shipped model the default takes when no method is named (inference.QUALITY_MODELS).
QUALITY_LEVELS = ("fast", "best")
DEFAULT_QUALITY = "best"
# --source: how the input was coded, which picks the model; auto reads it from the stream (io/compression.py).
SOURCES = ("auto", "clean", "compressed")
DEFAULT_SOURCE = "auto"


def pick_device(name: str = "auto") -> torch.device:
    """'auto' is CUDA when a GPU is visible, else CPU; 'cpu', 'cuda' and 'cuda:N' are taken as given."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UsageError(f"unknown device {name!r}; use auto, cpu or cuda[:N]") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda asked for, but PyTorch sees no CUDA GPU (is a CUDA build installed?)")
    return device


PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def native_bf16(device: torch.device) -> bool:
    """Whether `device` computes bfloat16 natively: CUDA GPUs that support it, CPUs with AMX or AVX512-BF16
    (elsewhere bf16 is emulated, and slower than fp32)."""
    import torch

    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        checks = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")  # private, present since torch 2.1
        return any(getattr(torch.cpu, name, lambda: False)() for name in checks)
    return False


def resolve_precision(precision: str, device: torch.device) -> str:
    """The precision learned models run at: 'auto' is bf16 where the device computes it natively (measured on a
    2-core AMX CPU: imdn.x4 2.8x faster, output 54.5 dB PSNR from the fp32 output), else fp32. fp16 needs CUDA;
    bf16 needs native support. Classical methods always compute in fp32."""
    if precision not in PRECISIONS:
        raise UsageError(f"precision must be one of {', '.join(PRECISIONS)}")
    if precision == "auto":
        return "bf16" if native_bf16(device) else "fp32"
    if precision == "fp16" and device.type != "cuda":
        raise UsageError(f"--precision fp16 needs a CUDA device; on {device.type} use bf16 (where native) or fp32")
    if precision == "bf16" and not native_bf16(device):
        raise UsageError(f"--precision bf16: this {device.type} has no native bfloat16 (AMX, AVX512-BF16 or a "
                         f"recent GPU), so it would be slower than fp32; use fp32")
    return precision

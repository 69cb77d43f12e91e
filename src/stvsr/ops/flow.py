"""Classical dense optical flow with OpenCV (DIS and Farneback), on float RGB tensors.

Flow convention: `flow(a, b)` is (N, 2, H, W) in pixels, x then y, such that a(p) ≈ b(p + flow(p)); this is the
flow that `warp(b, flow)` needs to bring b onto a.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
from torch import Tensor

from .color import LUMA

DIS_PRESETS = {"ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
               "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}




def to_gray_u8(frames: Tensor) -> list[np.ndarray]:
    """(N, 3, H, W) float RGB in [0, 1] -> N gray uint8 arrays (BT.601 luma weights, as cv2.COLOR_RGB2GRAY)."""
    # One weighted sum over the channels (einsum) instead of a weighted copy and a sum: several times faster, and
    # it runs twice per frame pair for every flow (docs/experiments/cpu-speed.md).
    weights = torch.tensor(LUMA, dtype=torch.float32, device=frames.device)
    gray = torch.einsum("nchw,c->nhw", frames.float().clamp(0, 1), weights)
    return list(gray.mul_(255).round_().to(torch.uint8).cpu().numpy())


DIS_BACKENDS = ("auto", "opencv", "torch")  # where DIS runs (dis_flow)


def check_dis_backend(backend: str) -> None:
    if backend not in DIS_BACKENDS:
        raise ValueError(f"backend must be 'auto', 'opencv' or 'torch', not {backend!r}")


def _on_torch(frames: Tensor, backend: str) -> bool:
    check_dis_backend(backend)
    return backend == "torch" or (backend == "auto" and frames.device.type != "cpu")


def _check_pair(a: Tensor, b: Tensor) -> None:
    if a.shape != b.shape or a.dim() != 4:
        raise ValueError(f"expected two (N, 3, H, W) batches of equal shape, got {tuple(a.shape)}, {tuple(b.shape)}")


def _to_tensor(flows: list[np.ndarray], device: torch.device) -> Tensor:
    return torch.from_numpy(np.stack(flows)).permute(0, 3, 1, 2).to(device, torch.float32)


def _batched(a: Tensor, b: Tensor, one) -> Tensor:
    _check_pair(a, b)
    return _to_tensor([one(x, y) for x, y in zip(to_gray_u8(a), to_gray_u8(b))], a.device)


def dis_flow(a: Tensor, b: Tensor, preset: str = "medium", backend: str = "auto") -> Tensor:
    """DIS optical flow (Kroeger et al., ECCV 2016) from frames `a` to `b`, each (N, 3, H, W). `backend`: 'opencv'
    (CPU; frames elsewhere are copied over), 'torch' (`ops.torch_flow`, on the frames' device), or 'auto': torch
    for frames on a GPU, so that no frame leaves it, OpenCV on the CPU, where it is 10x faster."""
    if _on_torch(a, backend):
        from .torch_flow import dis_flow_torch

        return dis_flow_torch(a, b, preset)
    dis = cv2.DISOpticalFlow_create(DIS_PRESETS[preset])
    return _batched(a, b, lambda x, y: dis.calc(x, y, None))


def dis_flows(a: Tensor, b: Tensor, preset: str = "medium", backend: str = "auto") -> tuple[Tensor, Tensor]:
    """DIS flow both ways, `dis_flow(a, b)` and `dis_flow(b, a)`, converting each frame to gray once."""
    if _on_torch(a, backend):
        from .torch_flow import dis_flows_torch

        return dis_flows_torch(a, b, preset)
    _check_pair(a, b)
    dis = cv2.DISOpticalFlow_create(DIS_PRESETS[preset])
    ga, gb = to_gray_u8(a), to_gray_u8(b)
    forward = [dis.calc(x, y, None) for x, y in zip(ga, gb)]
    backward = [dis.calc(y, x, None) for x, y in zip(ga, gb)]
    return _to_tensor(forward, a.device), _to_tensor(backward, a.device)


def farneback_flow(a: Tensor, b: Tensor) -> Tensor:
    """Farneback optical flow from `a` to `b` with the parameters of TecoGAN's tOF metric (OpenCV defaults there)."""
    return _batched(a, b, lambda x, y: cv2.calcOpticalFlowFarneback(x, y, None, 0.5, 3, 15, 3, 5, 1.2, 0))


FLOW_BACKENDS = {"dis": dis_flow, "farneback": farneback_flow}

"""Dense Inverse Search optical flow (Kroeger et al., ECCV 2016) as torch ops, for the GPU-resident path.

OpenCV's DIS runs on the CPU only (its CUDA optical-flow classes are not in the pip wheels), so on a GPU machine
every frame pair would cross to the host and back; no installable library computes classical dense flow in torch
(kornia has none, torchvision's RAFT needs downloaded weights). So DIS is written here, the same three steps at
each level of an image pyramid as OpenCV's presets run them:

1. *inverse search*: every patch on a grid (8×8, stride 3 or 4) finds its displacement by inverse-compositional
   Gauss–Newton on mean-normalised intensities, starting from the coarser level's flow or, if it matches better,
   a neighbour patch's (OpenCV propagates neighbours in a sequential sweep; here every patch looks at its four
   neighbours at once, twice, which is what a GPU can do in parallel);
2. *densification*: each pixel averages the flows of the patches covering it, weighted by how well each one
   explains that pixel (1 / max(1, |I1(x + u) − I0(x)|));
3. *variational refinement*: a few fixed-point iterations of the Brox et al. energy (intensity and gradient
   constancy, robust smoothness) solved by red–black SOR, again the same work on every pixel.

Flow convention as `ops.flow`: `a(p) ≈ b(p + flow(p))`, (N, 2, H, W) in pixels, x then y. DIS through OpenCV stays
the CPU path (`ops.flow.dis_flows`); `tests/test_torch_flow.py` states how closely the two agree.
"""

from __future__ import annotations

import math
import warnings
from collections import OrderedDict
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from .eager import eager
from .color import LUMA
from .warp import warp


@dataclass(frozen=True)
class DISPreset:
    finest_scale: int  # the finest pyramid level the flow is computed at; it is resized up from there
    patch: int
    stride: int
    iterations: int  # Gauss–Newton steps per patch and level
    refinement: int  # variational refinement iterations per level (0: none)


# OpenCV's three presets (DISOpticalFlow::create; patch 8 in all three).
PRESETS = {"ultrafast": DISPreset(2, 8, 4, 12, 0), "fast": DISPreset(2, 8, 4, 16, 5),
           "medium": DISPreset(1, 8, 3, 25, 5)}
# OpenCV's refinement defaults are alpha 20, gamma 10, delta 5; alpha (smoothness) is higher here, chosen by frame
# interpolation PSNR on the training footage (never dev), as this energy's weights are not scaled as OpenCV's are
# (the sweep: docs/experiments/gpu-speed.md).
ALPHA, GAMMA, DELTA = 160.0, 10.0, 5.0  # smoothness, gradient constancy, intensity constancy
SOR_ITERATIONS, SOR_OMEGA, EPSILON = 5, 1.6, 1e-3
PROPAGATION_ROUNDS = 2
DAMPING = 0.25  # added to the patch Hessian's diagonal per pixel: as if every pixel had a gradient of 0.5 levels


# Here and in `_resize_flow` constants enter as Python numbers, not as tensors made from lists: a list copied to the
# device is a host sync that also rules out capturing the flow in a CUDA graph.
def _gray255(frames: Tensor) -> Tensor:
    x = frames.float().clamp(0, 1) * 255
    return x[:, 0:1] * LUMA[0] + x[:, 1:2] * LUMA[1] + x[:, 2:3] * LUMA[2]


def _gradients(x: Tensor) -> tuple[Tensor, Tensor]:
    """Sobel derivatives normalised to intensity per pixel, replicated borders."""
    p = F.pad(x, (1, 1, 1, 1), mode="replicate")
    gx = (p[..., :-2, 2:] + 2 * p[..., 1:-1, 2:] + p[..., 2:, 2:] - p[..., :-2, :-2] - 2 * p[..., 1:-1, :-2]
          - p[..., 2:, :-2]) / 8
    gy = (p[..., 2:, :-2] + 2 * p[..., 2:, 1:-1] + p[..., 2:, 2:] - p[..., :-2, :-2] - 2 * p[..., :-2, 1:-1]
          - p[..., :-2, 2:]) / 8
    return gx, gy


def _resize_flow(flow: Tensor, size: tuple[int, int]) -> Tensor:
    out = F.interpolate(flow, size=size, mode="bilinear", align_corners=False)
    return torch.cat([out[:, 0:1] * (size[1] / flow.shape[-1]), out[:, 1:2] * (size[0] / flow.shape[-2])], dim=1)


class _Patches:
    """The patch grid of one level: positions, templates (I0 patches) and their gradients."""

    def __init__(self, i0: Tensor, patch: int, stride: int):
        h, w = i0.shape[-2:]
        self.patch, self.stride, self.size = patch, stride, (h, w)
        self.rows, self.cols = (h - patch) // stride + 1, (w - patch) // stride + 1
        self.template = F.unfold(i0, patch, stride=stride)  # (N, p², P)
        gx, gy = _gradients(i0)
        self.gx, self.gy = F.unfold(gx, patch, stride=stride), F.unfold(gy, patch, stride=stride)
        ys = torch.arange(self.rows, device=i0.device) * stride
        xs = torch.arange(self.cols, device=i0.device) * stride
        offset = torch.arange(patch, device=i0.device, dtype=torch.float32)
        # pixel coordinates of every patch's pixels, in unfold's order: (p², P)
        py = ys.view(-1, 1).float() + offset.view(1, -1)  # (rows, p)
        px = xs.view(-1, 1).float() + offset.view(1, -1)  # (cols, p)
        self.y = py.view(self.rows, 1, patch, 1).expand(-1, self.cols, -1, patch).permute(2, 3, 0, 1)
        self.x = px.view(1, self.cols, 1, patch).expand(self.rows, -1, patch, -1).permute(2, 3, 0, 1)
        self.y, self.x = self.y.reshape(patch * patch, -1), self.x.reshape(patch * patch, -1)
        centre = (patch - 1) / 2
        self.centre = (ys.float() + centre, xs.float() + centre)

    def sample(self, i1: Tensor, flow: Tensor) -> tuple[Tensor, Tensor]:
        """I1 at every patch pixel displaced by its patch's flow (N, 2, P), bilinear: (N, p², P), and whether each
        sample fell inside the frame (1.0) or outside it (0.0: a pixel that left the frame tells nothing)."""
        h, w = self.size
        x = self.x.unsqueeze(0) + flow[:, 0:1]
        y = self.y.unsqueeze(0) + flow[:, 1:2]
        inside = ((x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)).float()
        grid = torch.stack([2 * x / max(w - 1, 1) - 1, 2 * y / max(h - 1, 1) - 1], dim=-1)  # (N, p², P, 2)
        return F.grid_sample(i1, grid, mode="bilinear", padding_mode="border", align_corners=True)[:, 0], inside

    def residual(self, i1: Tensor, flow: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """The mean-normalised residual I1(x + u) − I0(x) over each patch's in-frame pixels (zero elsewhere),
        the in-frame mask, and the number of in-frame pixels (N, P)."""
        warped, inside = self.sample(i1, flow)
        count = inside.sum(1)
        r = (warped - self.template) * inside
        r = (r - (r.sum(1) / count.clamp_min(1)).unsqueeze(1)) * inside
        return r, inside, count

    def cost(self, i1: Tensor, flow: Tensor) -> Tensor:
        """Mean squared residual per in-frame pixel of every patch under `flow`: (N, P); a patch with less than
        half its pixels in the frame costs infinity."""
        r, _, count = self.residual(i1, flow)
        cost = r.square().sum(1) / count.clamp_min(1)
        return torch.where(count * 2 >= self.patch ** 2, cost, torch.full_like(cost, math.inf))

    def neighbours(self, flow: Tensor) -> list[Tensor]:
        """The flows of each patch's four grid neighbours (edges repeat their own)."""
        grid = flow.view(flow.shape[0], 2, self.rows, self.cols)
        p = F.pad(grid, (1, 1, 1, 1), mode="replicate")
        shifted = [p[..., 1:-1, :-2], p[..., 1:-1, 2:], p[..., :-2, 1:-1], p[..., 2:, 1:-1]]
        return [s.reshape(flow.shape) for s in shifted]


def _propagate(patches: _Patches, i1: Tensor, flow: Tensor) -> Tensor:
    """Each patch takes whichever of its own and its neighbours' flows matches it best."""
    candidates = [flow, *patches.neighbours(flow)]
    costs = torch.stack([patches.cost(i1, c) for c in candidates])  # (5, N, P)
    costs[0] = torch.where(costs[0].isinf(), torch.zeros_like(costs[0]), costs[0])  # unmeasurable: keep its own
    best = costs.argmin(0)  # (N, P)
    stacked = torch.stack(candidates)  # (5, N, 2, P)
    return stacked.gather(0, best.view(1, best.shape[0], 1, -1).expand(1, -1, 2, -1))[0]


def _inverse_search(patches: _Patches, i1: Tensor, start: Tensor, iterations: int) -> Tensor:
    """Per-patch flows (N, 2, P) from `start` (the same shape) by inverse-compositional Gauss–Newton on the
    mean-normalised, in-frame pixels of each patch."""
    damping = DAMPING * patches.patch ** 2
    flow = start
    rounds = max(1, min(PROPAGATION_ROUNDS, iterations))
    for part in [iterations // rounds + (k < iterations % rounds) for k in range(rounds)]:
        flow = initial = _propagate(patches, i1, flow)
        for _ in range(part):
            r, inside, count = patches.residual(i1, flow)
            n = count.clamp_min(1).unsqueeze(1)
            gx = (patches.gx - (patches.gx * inside).sum(1, keepdim=True) / n) * inside
            gy = (patches.gy - (patches.gy * inside).sum(1, keepdim=True) / n) * inside
            h11, h12, h22 = (gx * gx).sum(1) + damping, (gx * gy).sum(1), (gy * gy).sum(1) + damping
            b1, b2 = (gx * r).sum(1), (gy * r).sum(1)
            det = (h11 * h22 - h12 * h12).clamp_min(1e-6)
            step = torch.stack([(h22 * b1 - h12 * b2) / det, (h11 * b2 - h12 * b1) / det], dim=1)
            measurable = (count * 2 >= patches.patch ** 2).unsqueeze(1)
            flow = torch.where(measurable, flow - step, flow)
        # a patch that wandered further than its own size found another structure: keep where it started
        far = (flow - initial).norm(dim=1, keepdim=True) > patches.patch
        flow = torch.where(far, initial, flow)
    return flow


def _densify(patches: _Patches, i1: Tensor, sparse: Tensor, fallback: Tensor) -> Tensor:
    """Dense flow (N, 2, H, W): each pixel's covering patches averaged by 1 / max(1, |I1(x + u) − I0(x)|); a
    sample that left the frame counts a thousandth (it decides only where no patch stays inside)."""
    warped, inside = patches.sample(i1, sparse)
    weight = (inside + 1e-3 * (1 - inside)) / (warped - patches.template).abs().clamp_min(1)  # (N, p², P)
    size = dict(output_size=patches.size, kernel_size=patches.patch, stride=patches.stride)
    total = F.fold(weight, **size)
    flow = torch.cat([F.fold(weight * sparse[:, k:k + 1], **size) for k in range(2)], dim=1)
    covered = total > 0  # pixels past the last patch row/column keep the coarser level's flow
    return torch.where(covered, flow / total.clamp_min(1e-12), fallback)


def _refine(i0: Tensor, i1: Tensor, flow: Tensor, iterations: int) -> Tensor:
    """Brox et al.'s energy linearised around `flow` (I1 warped once), an increment solved by `iterations` outer
    fixed-point iterations, each re-weighting the robust penalties and then running `SOR_ITERATIONS` red–black
    over-relaxation sweeps with those weights: intensity (DELTA) and gradient (GAMMA) constancy under Charbonnier
    penalties, and Charbonnier smoothness of the flow (ALPHA)."""
    n, _, h, w = i0.shape
    yy, xx = torch.meshgrid(torch.arange(h, device=i0.device), torch.arange(w, device=i0.device), indexing="ij")
    colours = [((yy + xx) % 2 == c).view(1, 1, h, w) for c in (0, 1)]
    gx0, gy0 = _gradients(i0)
    i1w = warp(i1, flow)
    gx1, gy1 = _gradients(i1w)
    ix, iy, iz = (gx0 + gx1) / 2, (gy0 + gy1) / 2, i1w - i0
    ixx, ixy = _gradients(ix)
    _, iyy = _gradients(iy)
    ixz, iyz = gx1 - gx0, gy1 - gy0
    # where x + u has left the frame the warped image is padding: no data term there, the smoothness fills in
    x_to = xx.view(1, 1, h, w) + flow[:, 0:1]
    y_to = yy.view(1, 1, h, w) + flow[:, 1:2]
    inside = ((x_to >= 0) & (x_to <= w - 1) & (y_to >= 0) & (y_to <= h - 1)).float()
    d = torch.zeros_like(flow)
    for _ in range(iterations):
        du, dv = d[:, 0:1], d[:, 1:2]
        psi_c = inside * DELTA / torch.sqrt((iz + ix * du + iy * dv).square() + EPSILON ** 2)
        psi_g = inside * GAMMA / torch.sqrt((ixz + ixx * du + ixy * dv).square()
                                            + (iyz + ixy * du + iyy * dv).square() + EPSILON ** 2)
        a11 = psi_c * ix * ix + psi_g * (ixx * ixx + ixy * ixy)
        a12 = psi_c * ix * iy + psi_g * (ixx * ixy + ixy * iyy)
        a22 = psi_c * iy * iy + psi_g * (ixy * ixy + iyy * iyy)
        b1 = -(psi_c * ix * iz + psi_g * (ixx * ixz + ixy * iyz))
        b2 = -(psi_c * iy * iz + psi_g * (ixy * ixz + iyy * iyz))
        ux, uy = _forward_differences(flow + d)
        psi_s = ALPHA / torch.sqrt(ux.square().sum(1, keepdim=True) + uy.square().sum(1, keepdim=True)
                                   + EPSILON ** 2)
        # edge weights to the right and lower neighbours (zero past the border), and the same edges seen back
        right = F.pad((psi_s[..., :, :-1] + psi_s[..., :, 1:]) / 2, (0, 1))
        down = F.pad((psi_s[..., :-1, :] + psi_s[..., 1:, :]) / 2, (0, 0, 0, 1))
        left, up = F.pad(right[..., :, :-1], (1, 0)), F.pad(down[..., :-1, :], (0, 0, 1, 0))
        weight_sum = right + down + left + up
        m11, m22 = a11 + weight_sum, a22 + weight_sum
        det = (m11 * m22 - a12 * a12).clamp_min(1e-9)
        for _ in range(SOR_ITERATIONS):
            for colour in colours:
                total = flow + d
                pull = (_shift(total, 0, -1) * right + _shift(total, 0, 1) * left
                        + _shift(total, -1, 0) * down + _shift(total, 1, 0) * up) - flow * weight_sum
                r1, r2 = b1 + pull[:, 0:1], b2 + pull[:, 1:2]
                new = torch.cat([(m22 * r1 - a12 * r2) / det, (m11 * r2 - a12 * r1) / det], dim=1)
                d = torch.where(colour, d + SOR_OMEGA * (new - d), d)
    return flow + d


def _forward_differences(f: Tensor) -> tuple[Tensor, Tensor]:
    fx = F.pad(f[..., :, 1:] - f[..., :, :-1], (0, 1))
    fy = F.pad(f[..., 1:, :] - f[..., :-1, :], (0, 0, 0, 1))
    return fx, fy


def _shift(f: Tensor, dy: int, dx: int) -> Tensor:
    """f moved so that out[y, x] = f[y - dy, x - dx] (edges replicated; their weights are zero anyway)."""
    h, w = f.shape[-2:]
    p = F.pad(f, (1, 1, 1, 1), mode="replicate")
    return p[..., 1 - dy:1 - dy + h, 1 - dx:1 - dx + w]


def dis_flow_torch(a: Tensor, b: Tensor, preset: str = "medium") -> Tensor:
    """DIS flow from frames `a` to `b` (each (N, 3, H, W) in [0, 1], any device), as `ops.flow.dis_flow`."""
    if a.shape != b.shape or a.dim() != 4:
        raise ValueError(f"expected two (N, 3, H, W) batches of equal shape, got {tuple(a.shape)}, {tuple(b.shape)}")
    if preset not in PRESETS:
        raise ValueError(f"DIS preset must be one of {', '.join(PRESETS)}, not {preset!r}")
    p = PRESETS[preset]
    n, _, h, w = a.shape
    g0, g1 = _gray255(a), _gray255(b)
    coarsest = min(int(math.log2(max(w, h) / (4 * p.patch)) + 0.5), int(math.log2(min(w, h) / p.patch)))
    finest = min(p.finest_scale, max(coarsest, 0))
    coarsest = max(coarsest, finest)
    flow = None
    for level in range(coarsest, finest - 1, -1):
        size = (max(h >> level, 1), max(w >> level, 1))
        i0 = F.interpolate(g0, size=size, mode="area") if level else g0
        i1 = F.interpolate(g1, size=size, mode="area") if level else g1
        flow = torch.zeros(n, 2, *size, device=a.device) if flow is None else _resize_flow(flow, size)
        if min(size) >= p.patch:
            patches = _Patches(i0, p.patch, p.stride)
            start = _sample_at_centres(flow, patches)
            sparse = _inverse_search(patches, i1, start, p.iterations)
            flow = _densify(patches, i1, sparse, flow)
        if p.refinement:
            flow = _refine(i0, i1, flow, p.refinement)
    return _resize_flow(flow, (h, w)) if flow.shape[-2:] != (h, w) else flow


def _sample_at_centres(flow: Tensor, patches: _Patches) -> Tensor:
    """The dense flow at each patch's centre: (N, 2, P)."""
    cy, cx = patches.centre
    h, w = flow.shape[-2:]
    gy, gx = torch.meshgrid(2 * cy / max(h - 1, 1) - 1, 2 * cx / max(w - 1, 1) - 1, indexing="ij")
    grid = torch.stack([gx, gy], dim=-1).unsqueeze(0).expand(flow.shape[0], -1, -1, -1)
    return F.grid_sample(flow, grid, mode="bilinear", align_corners=True).flatten(2)


def dis_flows_torch(a: Tensor, b: Tensor, preset: str = "medium") -> tuple[Tensor, Tensor]:
    """DIS flow both ways, `dis_flow_torch(a, b)` and `dis_flow_torch(b, a)`, in one batch; on a CUDA GPU replayed
    from a captured graph (`CUDA_GRAPHS`)."""
    x, y = torch.cat([a, b]), torch.cat([b, a])
    both = _graphs.run(x, y, preset) if _graphable(x) else dis_flow_torch(x, y, preset)
    return both[: len(a)], both[len(a):]


# DIS launches about a thousand small kernels per call, so on a GPU the host's launching is the bottleneck: replayed
# from a CUDA graph it runs several times faster, with the same flows to the bit (`python benchmarks/gpu_profile.py
# --device cuda`; docs/experiments/gpu-speed.md).
CUDA_GRAPHS = True
GRAPH_CACHE_SIZE = 8  # captured graphs kept (each holds its own memory pool); the least recently used goes first


def _graphable(x: Tensor) -> bool:
    return (CUDA_GRAPHS and x.device.type == "cuda" and not torch.is_grad_enabled() and eager()
            and not torch.cuda.is_current_stream_capturing())


def bucket(n: int) -> int:
    """The batch a graph is captured for: the next power of two, so that the short windows at the ends of shots
    share a few graphs instead of capturing one per length."""
    return 1 << max(0, n - 1).bit_length()


class _GraphCache:
    """Captured `dis_flow_torch` calls, one per (device, batch bucket, frame size, preset): the batch is padded to
    its bucket by repeating the last pair (pairs do not interact), copied into the graph's input buffers, replayed,
    and the flows copied out (the graph's own output buffers are overwritten by its next replay)."""

    def __init__(self, size: int):
        self.size = size
        self.graphs: OrderedDict[tuple, tuple[torch.cuda.CUDAGraph, Tensor, Tensor, Tensor]] = OrderedDict()

    def run(self, x: Tensor, y: Tensor, preset: str) -> Tensor:
        n = len(x)
        padded = bucket(n)
        # inference mode is in the key: its tensors cannot be written outside it
        key = (x.device, padded, tuple(x.shape[1:]), x.dtype, preset, torch.is_inference_mode_enabled())
        if key not in self.graphs:
            try:
                self.graphs[key] = self._capture(x, padded, preset)
            except RuntimeError as error:  # a torch or driver that cannot capture: stay eager, correct and slower
                global CUDA_GRAPHS
                CUDA_GRAPHS = False
                warnings.warn(f"DIS flow runs without CUDA graphs (capture failed: {error})", stacklevel=2)
                return dis_flow_torch(x, y, preset)
            while len(self.graphs) > self.size:
                self.graphs.popitem(last=False)
        self.graphs.move_to_end(key)
        graph, x_in, y_in, out = self.graphs[key]
        x_in[:n].copy_(x)
        y_in[:n].copy_(y)
        if padded > n:
            x_in[n:].copy_(x[-1:].expand(padded - n, -1, -1, -1))
            y_in[n:].copy_(y[-1:].expand(padded - n, -1, -1, -1))
        graph.replay()
        return out[:n].clone()

    @staticmethod
    def _capture(x: Tensor, padded: int, preset: str):
        x_in = x[-1:].expand(padded, -1, -1, -1).clone()
        y_in = x_in.clone()
        graph, out = capture_graph(lambda: dis_flow_torch(x_in, y_in, preset), x.device)
        return graph, x_in, y_in, out


def capture_graph(fn, device: torch.device):
    """`fn()` (reading and writing tensors that outlive it) captured as a CUDA graph on `device`: (the graph, fn's
    output, which each `graph.replay()` overwrites). Warmed up on a side stream first, as capture requires."""
    side = torch.cuda.Stream(device)
    side.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.stream(side):
        fn()
    torch.cuda.current_stream(device).wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = fn()
    return graph, out


_graphs = _GraphCache(GRAPH_CACHE_SIZE)

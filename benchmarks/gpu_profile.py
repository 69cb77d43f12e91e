"""The fast x4 x2 path above 720p output (`dis+imdn.x4`: DIS at the input size, then imdn.x4 on every frame), taken
apart on one device: what each piece costs per output frame, which variants of it are faster, and how busy the
device is over a whole streamed run.

    python benchmarks/gpu_profile.py --device cuda [--size 1080p] [--frames 33]

Pieces (milliseconds, device time by events on CUDA, wall time elsewhere; the median of `--repeat` runs after a
warm-up):
- DIS as torch ops on 8 pairs at once (as the streaming window gives them), fast and medium presets, eager and
  replayed from a captured CUDA graph (how much of it is launch overhead);
- the whole interpolation (flow + warps + blend) per pair;
- imdn.x4 per frame at fp32 / bf16 / fp16, 1 and 4 frames a call, NCHW and channels-last, cuDNN autotuning on;
- bringing an output frame to the host: float32, and uint8 (converted on the device, as the writer does);
- the fast model over a synthetic clip as `stvsr bench` times it, with the DIS CUDA graphs off and on (frames/s,
  and the largest difference between the two outputs), and the device's busy fraction from the profiler.
Runs unchanged on CPU (for a dry run; the graph capture is skipped there).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from stvsr.jobs.bench import OUTPUT_SIZES, handed_over
from stvsr.errors import UsageError
from stvsr.data.synthetic import translating_clip
from stvsr.inference import prepare
from stvsr.models.classical import FlowInterpolation
from stvsr.ops import torch_flow
from stvsr.ops.torch_flow import capture_graph, dis_flows_torch
from stvsr.runtime import pick_device


def timer(device: torch.device, fn, repeat: int) -> float:
    """Median milliseconds of fn() after one warm-up call."""
    fn()
    times = []
    for _ in range(repeat):
        if device.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end))
        else:
            started = time.perf_counter()
            fn()
            times.append(1000 * (time.perf_counter() - started))
    return statistics.median(times)


def graphed(device: torch.device, fn):
    """fn captured once as a CUDA graph: (replay, the graph's output tensors); None off CUDA."""
    if device.type != "cuda":
        return None, None
    graph, out = capture_graph(fn, device)
    return graph.replay, out


def row(name: str, ms: float, per: int, unit: str) -> None:
    print(f"| {name} | {ms:.2f} | {ms / per:.2f} ms per {unit} |", flush=True)


def flow_pieces(device, h, w, pairs, repeat):
    clip = translating_clip(pairs + 1, h, w, velocity=(3, 1)).to(device)
    a, b = clip[:-1], clip[1:]
    with torch.inference_mode():
        for preset in ("fast", "medium"):
            run = lambda: dis_flows_torch(a, b, preset)  # noqa: E731
            torch_flow.CUDA_GRAPHS = False  # the library's own graphs off: eager, and the capture below is ours
            row(f"DIS {preset}, {pairs} pairs both ways, eager", timer(device, run, repeat), pairs, "pair")
            try:
                replay, static = graphed(device, run)
                if replay is not None:
                    row(f"DIS {preset}, {pairs} pairs, CUDA graph replay", timer(device, replay, repeat), pairs, "pair")
                    eager = run()
                    gap = max(float((s - e).abs().max()) for s, e in zip(static, eager))
                    print(f"| DIS {preset}: graph replay vs eager, largest flow difference | {gap:.2e} px |")
            except Exception as error:  # a capture that fails says why, the rest still runs
                print(f"| DIS {preset} CUDA graph | failed: {type(error).__name__}: {str(error)[:120]} |")
        torch_flow.CUDA_GRAPHS = True
        for preset in ("fast", "medium"):
            interp = FlowInterpolation(time_factor=2, preset=preset, backend="torch")
            row(f"interpolation ({preset}), {pairs} pairs", timer(device, lambda: interp.interpolate(a, b, [0.5]),
                                                                  repeat), pairs, "pair")


def network_pieces(device, h, w, repeat):
    clip = translating_clip(4, h, w).to(device)
    precisions = ("fp32", "bf16", "fp16") if device.type == "cuda" else ("fp32",)
    for benchmark in (False, True):
        torch.backends.cudnn.benchmark = benchmark
        for precision in precisions:
            model = prepare("imdn.x4", scale=4, time_factor=1, device=device, tile="auto", precision=precision)
            with torch.inference_mode():
                for n in (1, 4):
                    x = clip[:n][None]
                    ms = timer(device, lambda: model(x), repeat)
                    row(f"imdn.x4 {precision}, {n} a call, cudnn.benchmark {benchmark}", ms, n, "frame")
    torch.backends.cudnn.benchmark = False


def transfer_pieces(device, h, w, repeat):
    frame = torch.rand(3, 4 * h, 4 * w, device=device)
    row("to host, float32 frame", timer(device, lambda: frame.cpu(), repeat), 1, "frame")
    row("to host, uint8 frame (converted on the device)",
        timer(device, lambda: frame.mul(255).round_().to(torch.uint8).cpu(), repeat), 1, "frame")
    if device.type == "cuda":
        pinned = torch.empty(3, 4 * h, 4 * w, dtype=torch.uint8, pin_memory=True)
        row("to host, uint8 into pinned memory",
            timer(device, lambda: pinned.copy_(frame.mul(255).round_().to(torch.uint8)), repeat), 1, "frame")


def streamed(device, h, w, frames, precision, graphs):
    """`stvsr bench`'s measurement of the fast model (frames handed over as 8-bit host arrays), with the DIS CUDA
    graphs on or off; returns the model, the clip and the last output frames for comparison."""
    torch_flow.CUDA_GRAPHS = graphs
    model = prepare("dis+imdn.x4", scale=4, time_factor=2, device=device, tile="auto", precision=precision)
    clip = translating_clip(frames, h, w, velocity=(2, 1))

    list(handed_over(model, clip, device))
    if device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    arrays = list(handed_over(model, clip, device))
    seconds = time.perf_counter() - started
    print(f"| dis+imdn.x4 {precision}, DIS CUDA graphs {graphs} | {len(arrays)} frames | "
          f"{len(arrays) / seconds:.1f} output frames/s |", flush=True)
    torch_flow.CUDA_GRAPHS = True
    return model, clip, arrays


def busy_fraction(device, model, clip):
    """Share of a streamed run's wall time that the device spent in kernels, and the kernels that took it."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        started = time.perf_counter()
        count = sum(1 for _ in handed_over(model, clip, device))
        if device.type == "cuda":
            torch.cuda.synchronize()
        wall = time.perf_counter() - started
    if device.type == "cuda":
        kernels = [e for e in prof.events() if e.device_type.name == "CUDA"]
        busy = sum(e.device_time for e in kernels) / 1e6  # µs -> s (kernels do not overlap on one stream)
        print(f"device busy {100 * busy / wall:.0f} % of {wall:.2f} s wall ({count} frames, {len(kernels)} kernels, "
              f"{len(kernels) / count:.0f} per output frame)")
    sort = "cuda_time_total" if device.type == "cuda" else "cpu_time_total"
    print(prof.key_averages().table(sort_by=sort, row_limit=25, max_name_column_width=60))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--size", default="1080p", choices=list(OUTPUT_SIZES))
    parser.add_argument("--frames", type=int, default=33)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--parts", default="flow,network,transfer,stream,profile")
    args = parser.parse_args()
    try:
        device = pick_device(args.device)
    except UsageError as error:
        raise SystemExit(f"gpu_profile: {error}") from None
    height, width = OUTPUT_SIZES[args.size]
    h, w = height // 4, width // 4
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"device {name}, torch {torch.__version__}, input {w}x{h} -> {width}x{height} output\n")
    parts = args.parts.split(",")
    if "flow" in parts:
        flow_pieces(device, h, w, 8, args.repeat)
    if "network" in parts:
        network_pieces(device, h, w, args.repeat)
    if "transfer" in parts:
        transfer_pieces(device, h, w, args.repeat)
    model = clip = None
    if "stream" in parts:
        for precision in ("fp32", "bf16") if device.type == "cuda" else ("fp32",):
            outputs = {}
            for graphs in (False, True):
                model, clip, outputs[graphs] = streamed(device, h, w, args.frames, precision, graphs)
            gap = max(int(np.abs(x.astype(int) - y.astype(int)).max()) for x, y in zip(*outputs.values()))
            print(f"| {precision}: largest 8-bit difference, graphs on vs off | {gap} levels |")
    if "profile" in parts and model is not None:
        busy_fraction(device, model, clip)


if __name__ == "__main__":
    main()

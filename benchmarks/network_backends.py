"""Is ONNX Runtime or OpenVINO faster than PyTorch for the network part on this CPU? (issue 14's `--backend`)

    python benchmarks/network_backends.py [--model imdn.x4] [--frames 8] [--sizes 320x180,480x270]

The shipped per-frame network is exported as `stvsr export` does (ONNX, dynamic sizes) and run one frame per call,
as `stvsr upscale` runs it, on the first `--frames` frames of samples/dog.mp4 (resized to each input size):
PyTorch as `stvsr upscale` prepares it (fp32 and, where native, bf16 autocast; channels-last), ONNX Runtime (CPU
provider, fp32) and OpenVINO (CPU, f32 and bf16 inference precision). Printed: ms per frame (best of 2 after a
warm-up) and PSNR of the 8-bit output against PyTorch fp32. OpenVINO is not a dependency of stvsr: `pip install
openvino` to include it.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from _sizes import parse_sizes
from stvsr.errors import StvsrError
from stvsr.jobs.export import export_model
from stvsr.inference import prepare
from stvsr.io import VideoReader
from stvsr.ops.color import quantize
from stvsr.metrics.fidelity import mse
from stvsr.ops.resize import imresize
from stvsr.runtime import native_bf16

SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "dog.mp4"
THREADS = torch.get_num_threads()


def timed(run: Callable[[np.ndarray], np.ndarray], frames: np.ndarray) -> tuple[float, np.ndarray]:
    best, outputs = float("inf"), []
    for attempt in range(3):  # the first is a warm-up
        started = time.perf_counter()
        outputs = [run(frame[None]) for frame in frames]
        if attempt:
            best = min(best, time.perf_counter() - started)
    return best / len(frames) * 1000, np.concatenate(outputs)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR (RGB, dB) between two runs' outputs, both rounded to 8 bits, over all frames."""
    error = mse(torch.from_numpy(a), quantize(torch.from_numpy(b)), channel="rgb").mean()
    return float(-10 * torch.log10(error))  # inf where equal


def torch_runner(name: str, precision: str) -> Callable[[np.ndarray], np.ndarray]:
    model = prepare(name, scale=4, time_factor=1, device=torch.device("cpu"), tile="auto", precision=precision)

    def run(frame: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return model(torch.from_numpy(frame)[:, None])[:, 0].numpy()
    return run


def onnxruntime_runner(path: Path) -> Callable[[np.ndarray], np.ndarray]:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = THREADS
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda frame: session.run(None, {name: frame})[0]


def openvino_runner(path: Path, precision: str) -> Callable[[np.ndarray], np.ndarray]:
    import openvino

    compiled = openvino.Core().compile_model(str(path), "CPU", {
        "INFERENCE_PRECISION_HINT": precision, "INFERENCE_NUM_THREADS": THREADS, "PERFORMANCE_HINT": "LATENCY"})
    request = compiled.create_infer_request()
    return lambda frame: request.infer({0: frame})[compiled.output(0)].copy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="imdn.x4")
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--sizes", type=parse_sizes, default="320x180,480x270", help="input sizes, WxH")
    args = parser.parse_args()
    with VideoReader(SAMPLE) as reader:
        sample = torch.stack([f for _, f in zip(range(args.frames), reader)])
    with tempfile.TemporaryDirectory() as tmp:
        onnx = Path(tmp) / "model.onnx"
        try:
            export_model(args.model, "onnx", onnx)
        except StvsrError as error:
            raise SystemExit(f"network_backends: {error}") from None
        runners = {"torch fp32": torch_runner(args.model, "fp32")}
        if native_bf16(torch.device("cpu")):
            runners["torch bf16"] = torch_runner(args.model, "bf16")
        runners["onnxruntime fp32"] = onnxruntime_runner(onnx)
        try:
            runners["openvino f32"] = openvino_runner(onnx, "f32")
            runners["openvino bf16"] = openvino_runner(onnx, "bf16")
        except ImportError:
            print("openvino is not installed (pip install openvino): its rows are left out")
        print(f"{args.model}, one frame per call, {THREADS} threads; ms per frame (PSNR against torch fp32)")
        print("| input | " + " | ".join(runners) + " |")
        print("|---|" + "---:|" * len(runners))
        for width, height in args.sizes:
            size = f"{width}x{height}"
            frames = imresize(sample, size=(height, width)).clamp(0, 1).numpy()
            results = {name: timed(run, frames) for name, run in runners.items()}
            reference = results["torch fp32"][1]
            cells = [f"{ms:.1f}" + ("" if name == "torch fp32" else f" ({psnr(out, reference):.1f} dB)")
                     for name, (ms, out) in results.items()]
            print(f"| {size} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()

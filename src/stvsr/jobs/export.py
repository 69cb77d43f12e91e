"""`stvsr export`: the shipped networks as ONNX or TorchScript files for other tools (ONNX Runtime, vs-mlrt,
TensorRT, spandrel-style loaders), with dynamic batch, height and width.

Every graph takes and returns NCHW float32 RGB in [0, 1], as the ONNX convention of those tools expects. OpenCV
steps are not tensors and stay out of the graph: a flow-guided model exports its network part, with the flow
and warping left to the caller, and says so.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from ..errors import OutputError, UsageError
from ..atomic import atomic_path
from ..io.outputs import check_writable_folder
from ..models.checkpoint import load_model
from ..models.flowsr import FlowRefineVFI, FlowVSR
from ..models.base import SpatialModel
from ..models.propagation import PropagationSTVSR
from ..models.shipped import weights_file
from ..ops.resize import imresize

FORMATS = ("onnx", "torchscript")
SUFFIXES = {"onnx": (".onnx",), "torchscript": (".pt", ".pth", ".ts")}  # what each format's users name its files
# Largest difference from PyTorch allowed when the exported file is checked at a second input size (float32
# kernels of another runtime reorder sums, far below this).
TOLERANCE = 1e-4


@dataclass
class Interface:
    module: nn.Module
    inputs: list[str]
    output: str
    scale: int
    note: str

    def describe(self) -> str:
        shapes = ", ".join(f"{name} (N, 3, H, W)" for name in self.inputs)
        return (f"inputs {shapes} -> {self.output} (N, 3, {self.scale}H, {self.scale}W); float32 RGB in [0, 1], "
                f"NCHW; N, H and W dynamic. {self.note}")


class _Frames(nn.Module):
    """A per-frame SR model's frame function: (N, 3, H, W) -> (N, 3, sH, sW)."""

    def __init__(self, model: SpatialModel):
        super().__init__()
        self.model = model

    def forward(self, frames: Tensor) -> Tensor:
        return self.model.upscale_frames(frames)


class _Backbone(nn.Module):
    """bicubic(frames) + backbone(frames): the per-frame SR part of a model built on the cascade."""

    def __init__(self, net: nn.Module, scale: int):
        super().__init__()
        self.net, self.scale = net, scale

    def forward(self, frames: Tensor) -> Tensor:
        return imresize(frames, self.scale) + self.net(frames)


class _FlowVSRNetwork(nn.Module):
    """FlowVSR's network: a frame and its two neighbours, already warped onto it -> the frame super-resolved."""

    def __init__(self, model: FlowVSR):
        super().__init__()
        self.net, self.scale = model.net, model.scale

    def forward(self, frame: Tensor, previous: Tensor, following: Tensor) -> Tensor:
        return imresize(frame, self.scale) + self.net(torch.cat([frame, previous, following], dim=1))


class _VFIRefinement(nn.Module):
    """FlowRefineVFI's network: both inputs and the DIS-interpolated frame -> the refined frame."""

    def __init__(self, model: FlowRefineVFI):
        super().__init__()
        self.refine = model.refine

    def forward(self, first: Tensor, second: Tensor, interpolated: Tensor) -> Tensor:
        return interpolated + self.refine(torch.cat([first, second, interpolated], dim=1))


def interface_of(model: nn.Module) -> Interface:
    """What of `model` can be exported, under which names, and what the caller must do around it."""
    if isinstance(model, SpatialModel):
        return Interface(_Frames(model), ["frames"], "upscaled", model.scale, "The whole model.")
    if isinstance(model, PropagationSTVSR):
        return Interface(_Backbone(model.net, model.scale), ["frames"], "upscaled", model.scale,
                         "Only its per-frame SR part (the frozen imdn.x4 network): the propagation and the "
                         "interpolation run on OpenCV DIS flow between frames, which is not a tensor operation.")
    if isinstance(model, FlowVSR):
        extra = (" For x2 frame rate, first make the missing frames by DIS interpolation at the input size."
                 if model.time_factor == 2 else "")
        return Interface(_FlowVSRNetwork(model), ["frame", "previous", "following"], "upscaled", model.scale,
                         "The network part: give the neighbours already warped onto `frame` with OpenCV DIS flow "
                         "(medium preset; a clip's end frames use their one neighbour twice)." + extra)
    if isinstance(model, FlowRefineVFI):
        return Interface(_VFIRefinement(model), ["first", "second", "interpolated"], "interpolated_refined", 1,
                         "The network part: `interpolated` is the DIS interpolation of the two frames at t = 0.5 "
                         "(stvsr's `dis` method), which it refines.")
    raise UsageError(f"{type(model).__name__} has no export interface yet (export covers the shipped models)")


def _examples(interface: Interface, height: int, width: int, batch: int = 1) -> tuple[Tensor, ...]:
    generator = torch.Generator().manual_seed(height * 1000 + width)
    return tuple(torch.rand(batch, 3, height, width, generator=generator) for _ in interface.inputs)


def export_model(name: str, fmt: str, destination: Path, *, overwrite: bool = False) -> tuple[Interface, float]:
    """Export shipped weights `name` (or a .safetensors path) to `destination`; returns the interface and the
    largest difference from PyTorch measured on inputs of another size than the one traced."""
    if fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}")
    found = weights_file(name)  # shipped weights: installed, or the research zoo's fetched by name
    path = found if found is not None else Path(name)
    if found is None and path.suffix != ".safetensors":
        raise UsageError(f"unknown model {name!r}: give a shipped model (`stvsr models`) or a .safetensors file")
    if destination.suffix.lower() not in SUFFIXES[fmt]:
        raise UsageError(f"a {fmt} file ends in {' or '.join(SUFFIXES[fmt])}, not {destination.suffix or '(none)'}: "
                         f"{destination}")
    if destination.exists() and not overwrite:
        raise OutputError(f"output exists: {destination} (use --overwrite to replace it)")
    check_writable_folder(destination.parent if str(destination.parent) else Path("."), "output")  # before tracing
    model, _ = load_model(path)
    interface = interface_of(model.eval())
    module = interface.module.eval()
    with atomic_path(destination) as partial:  # renamed into place only once checked
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer and exporter chatter about shapes it handles
            if fmt == "onnx":
                with contextlib.redirect_stdout(io.StringIO()):  # the exporter prints its progress
                    _to_onnx(module, interface, partial)
            else:
                torch.jit.trace(module, _examples(interface, 32, 40)).save(str(partial))
        error = _check(module, interface, fmt, partial)
        if error > TOLERANCE:
            raise UsageError(f"the exported {fmt} graph differs from PyTorch by {error:.2e} on another input size: "
                             f"this model does not export with dynamic sizes")
    return interface, error


def _to_onnx(module: nn.Module, interface: Interface, path: Path) -> None:
    try:
        import onnxscript  # noqa: F401  (the exporter's dependency; imported here for a clear message)
    except ImportError:
        raise UsageError("ONNX export needs the onnx extras: pip install 'stvsr[export]'") from None
    from torch.export import Dim

    # The exporter logs a warning per torchvision operator it cannot register when torchvision is absent; stvsr's
    # graphs use none of them.
    logging.getLogger("torch.onnx._internal.exporter._registration").setLevel(logging.ERROR)

    dims = {0: Dim.AUTO, 2: Dim.AUTO, 3: Dim.AUTO}
    names = list(inspect.signature(module.forward).parameters)
    program = torch.onnx.export(module, _examples(interface, 32, 40), dynamo=True, verbose=False,
                                input_names=interface.inputs, output_names=[interface.output],
                                dynamic_shapes={n: dims for n in names})
    program.save(str(path))


def _check(module: nn.Module, interface: Interface, fmt: str, path: Path) -> float:
    """Largest absolute difference between PyTorch and the exported file, on a batch of 2 at 50x37."""
    inputs = _examples(interface, 50, 37, batch=2)
    with torch.no_grad():
        expected = module(*inputs)
    if fmt == "onnx":
        try:
            import onnxruntime
        except ImportError:
            raise UsageError("checking the ONNX file needs ONNX Runtime: pip install 'stvsr[export]'") from None
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        got = torch.from_numpy(session.run(None, {n: x.numpy() for n, x in zip(interface.inputs, inputs)})[0])
    else:
        with torch.no_grad():
            got = torch.jit.load(str(path))(*inputs)
    return float((got - expected).abs().max())

"""The recognition axis of the trade-off study: does a method's output keep what a classifier needs?

Two-stream action recognition reads appearance from frames and motion from optical flow. A method that adds
plausible detail can help the frame stream; one that flickers corrupts the flow and hurts the flow stream. The
axis reports each stream's error rate (1 − accuracy) on a labelled set after the method's upscaling.

Classifiers are pluggable (`Classifier`): a shipped tiny network trained here on the procedural action set
(`stvsr.data.actions`), or any TorchScript module that maps frames (N, T, 3, H, W) — or, for the flow stream,
flows (N, T − 1, 2, H, W) in pixels — to class scores (N, C). See the README for plugging in a real classifier.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import Tensor, nn

from ..data.actions import APPEARANCES, FRAMES, MOTIONS, ActionClip, action_set
from ..data.clips import Clip
from ..errors import UsageError, WeightsError
from ..evaluate.tasks import Task, run_task
from ..models.shipped import WEIGHTS_DIR
from ..ops.flow import dis_flow

STREAMS = ("frame", "flow")
FLOW_SCALE = 0.25  # flows of a few pixels, scaled to about unit range for the network


class StreamNet(nn.Module):
    """A small CNN: four 3×3 conv layers (three with stride 2), global average pooling, one linear layer."""

    def __init__(self, c_in: int, classes: int, features: int = 32):
        super().__init__()
        widths = [features, features, features * 2, features * 2]
        layers, c = [], c_in
        for i, w in enumerate(widths):
            layers += [nn.Conv2d(c, w, 3, stride=1 if i == 0 else 2, padding=1), nn.BatchNorm2d(w), nn.ReLU(True)]
            c = w
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(c, classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


def clip_flows(frames: Tensor) -> Tensor:
    """(N, T, 3, H, W) -> DIS flows between consecutive frames (N, T − 1, 2, H, W), in pixels."""
    n, t = frames.shape[:2]
    a, b = frames[:, :-1].flatten(0, 1), frames[:, 1:].flatten(0, 1)
    return dis_flow(a, b).view(n, t - 1, 2, *frames.shape[-2:])


@dataclass
class Classifier:
    """One stream's classifier: `scores(frames)` maps (N, T, 3, H, W) to class scores (N, C)."""

    stream: str  # frame | flow
    classes: tuple[str, ...]
    module: nn.Module
    shipped_net: bool = True  # a StreamNet (frames averaged per frame / flows stacked) or a user's TorchScript

    def scores(self, frames: Tensor) -> Tensor:
        with torch.no_grad():
            if not self.shipped_net:  # a user's TorchScript module takes frames or flows as they are
                return self.module(frames if self.stream == "frame" else clip_flows(frames))
            return net_scores(self.module, stream_inputs(frames, self.stream), self.stream)


def stream_inputs(frames: Tensor, stream: str) -> Tensor:
    """What a shipped StreamNet reads from clips (N, T, 3, H, W): the frames, or the stacked scaled flows."""
    if stream == "frame":
        return frames
    return clip_flows(frames).flatten(1, 2) * FLOW_SCALE


def net_scores(net: nn.Module, inputs: Tensor, stream: str) -> Tensor:
    """Class scores (N, C) of a StreamNet; the frame stream averages its per-frame scores over the clip."""
    if stream == "frame":
        n, t = inputs.shape[:2]
        return net(inputs.flatten(0, 1)).view(n, t, -1).mean(1)
    return net(inputs)


def label_of(clip: ActionClip, stream: str) -> int:
    return clip.appearance if stream == "frame" else clip.motion


def shipped_classifier_path(stream: str) -> Path:
    return WEIGHTS_DIR / f"action_{stream}.safetensors"


def load_classifier(stream: str, path: str | Path | None = None) -> Classifier:
    """The shipped classifier of `stream`, or the one at `path` (stvsr safetensors or TorchScript .pt)."""
    if stream not in STREAMS:
        raise UsageError(f"stream must be one of {', '.join(STREAMS)}")
    path = Path(path) if path else shipped_classifier_path(stream)
    if not path.is_file():
        raise WeightsError(f"classifier not found: {path}")
    if path.suffix in (".pt", ".pth"):
        try:
            module = torch.jit.load(str(path), map_location="cpu").eval()
        except (RuntimeError, ValueError) as error:
            raise WeightsError(f"{path} is not a TorchScript module: {str(error).splitlines()[0]}") from None
        classes = tuple(APPEARANCES if stream == "frame" else MOTIONS)
        return Classifier(stream, classes, module, shipped_net=False)
    try:
        with safe_open(str(path), framework="pt") as handle:
            meta = json.loads((handle.metadata() or {}).get("stvsr_classifier", "{}"))
            tensors = {k: handle.get_tensor(k) for k in handle.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as error:
        raise WeightsError(f"cannot read classifier {path} (corrupt or truncated?): {error}") from None
    if meta.get("stream") != stream:
        raise WeightsError(f"{path} is not a {stream}-stream classifier")
    net = StreamNet(meta["c_in"], len(meta["classes"]), meta.get("features", 32))
    try:
        net.load_state_dict(tensors)
    except RuntimeError as error:
        raise WeightsError(f"{path} does not match its classifier: {str(error).splitlines()[0]}") from None
    return Classifier(stream, tuple(meta["classes"]), net.eval())


def recognition_errors(method: nn.Module | None, clips: list[ActionClip], task: Task,
                       classifiers: list[Classifier], device: torch.device) -> dict[str, float]:
    """Error rate (1 − accuracy) of each classifier on the method's outputs for `clips` under `task`; with
    `method` None, on the ground-truth clips themselves (the classifiers' own error, the floor of the axis)."""
    wrong = {c.stream: 0 for c in classifiers}
    for i, action in enumerate(clips):
        clip = Clip(name=f"action{i}", frames=action.frames.mul(255).round().to(torch.uint8))
        if method is None:
            output = clip.float_frames()
        else:
            output = run_task(method, clip, task, device).prediction.clamp(0, 1)
        # The study scores what the method made: the rounded 8-bit frames a user would see.
        output = output.mul(255).round().div(255)[None]
        for classifier in classifiers:
            predicted = int(classifier.scores(output).argmax(1))
            wrong[classifier.stream] += predicted != label_of(action, classifier.stream)
    return {f"{stream}_err": count / len(clips) for stream, count in wrong.items()}


def train_classifiers(out: Path, *, clips: int = 1200, val_clips: int = 256, epochs: int = 12, seed: int = 0,
                      log=print) -> dict[str, float]:
    """Train both streams on clean full-resolution clips of the action set; returns held-out accuracies.

    The study asks how far a method's output is from real footage for a classifier trained on real footage, so
    the classifiers never see upscaled frames. Validation clips come from another seed.
    """
    torch.manual_seed(seed)
    started = time.perf_counter()
    train_set, val_set = action_set(clips, seed=seed), action_set(val_clips, seed=seed + 1000)
    log(f"generated {clips} + {val_clips} clips in {time.perf_counter() - started:.0f} s")
    out.mkdir(parents=True, exist_ok=True)
    accuracies = {}
    for stream in STREAMS:
        inputs, val_inputs = _stream_inputs(train_set, stream), _stream_inputs(val_set, stream)
        labels = torch.tensor([label_of(c, stream) for c in train_set])
        val_labels = torch.tensor([label_of(c, stream) for c in val_set])
        classes = APPEARANCES if stream == "frame" else MOTIONS
        net = StreamNet(inputs.shape[-3], len(classes))
        optimizer = torch.optim.Adam(net.parameters(), lr=2e-3)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs)
        for epoch in range(epochs):
            net.train()
            for batch in torch.randperm(len(inputs)).split(32):
                x, y = inputs[batch], labels[batch]
                if stream == "frame":  # any single frame of the clip
                    x = x[torch.arange(len(x)), torch.randint(0, FRAMES, (len(x),))]
                loss = F.cross_entropy(net(x), y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            schedule.step()
            net.eval()
            with torch.no_grad():
                predicted = net_scores(net, val_inputs, stream).argmax(1)
            accuracies[stream] = float((predicted == val_labels).float().mean())
            log(f"{stream} stream epoch {epoch + 1}/{epochs}: loss {loss.item():.3f}, "
                f"held-out accuracy {accuracies[stream]:.3f}")
        meta = {"stream": stream, "classes": list(classes), "c_in": inputs.shape[-3], "features": 32,
                "trained_on": f"stvsr.data.actions, {clips} clips, seed {seed}, clean {FRAMES}-frame clips",
                "held_out_accuracy": accuracies[stream], "epochs": epochs,
                "wall_seconds": round(time.perf_counter() - started, 1)}
        save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(out / f"action_{stream}.safetensors"),
                  metadata={"stvsr_classifier": json.dumps(meta)})
    return accuracies


def _stream_inputs(clips: list[ActionClip], stream: str) -> Tensor:
    frames = torch.stack([c.frames for c in clips])
    return torch.cat([stream_inputs(chunk, stream) for chunk in frames.split(64)])

"""What a training step optimises, per task: which tensors go in, what they are compared with, and the loss terms.

A loss name may carry a stage output: `l1@tpsrm` compares `model.stages(x)["tpsrm"]` with the target resized to
that output's size (TP-net's staged training); plain names use the model's final output.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..errors import UsageError
from ..losses import (FeatureLoss, adversarial_loss, charbonnier, cycle_loss, dual_stream_losses, error_flicker_loss,
                      feature_matching_loss, l1, load_feature_network, load_vgg19, mse, occlusion_weight, ssim_loss,
                      warping_loss)
from ..ops.flow import dis_flow
from ..ops.resize import imresize
from .data import Sample

SIMPLE = {"l1": l1, "charbonnier": charbonnier, "mse": mse, "ssim": ssim_loss}
# `perceptual`: stvsr's shipped detail network (trained here, works offline); `vgg`: VGG-19 from a local file.
# `error_flicker`: the warping term of the output's error (output minus ground truth), so that only flicker the
# ground truth does not have is penalised; plain `warp` is lowest for a video frozen along the flow, and at the weight
# that met the flicker target it damped motion (tOF worse on every dev clip).
# `warp_new`: the same warping term with the frames at input positions held fixed (STVSR: the even frames), so that
# only the interpolated frames are pulled towards their neighbours; the super-resolved input frames, where plain
# `warp` cost PSNR, keep what the fidelity term gives them.
# `texture`: the detail network's local Gram matrices (EnhanceNet's texture loss) at the same blocks, over windows of
# TEXTURE_PATCH feature pixels (EnhanceNet's 16 x 16).
TEXTURE_PATCH = 16
KNOWN = set(SIMPLE) | {"perceptual", "texture", "vgg", "cycle", "dual_stream", "adversarial", "feature_matching", "warp",
                       "warp_new", "error_flicker"}
CRITIC_TERMS = ("adversarial", "feature_matching")  # the losses that need a critic, trained alongside
# `dual_stream` is the sum of the dual-stream report's terms (Eq. 11-17); `dual_stream@spatial` etc. one of them,
# for its staged training (pretrain M_S and M_T, then fusion and refinement, then everything).
DUAL_STREAM_TERMS = ("out", "fused", "st", "ts", "spatial", "temporal", "mask")


@dataclass
class Batch:
    inputs: Tensor  # (B, T_in, 3, h, w)
    target: Tensor  # (B, T_out, 3, H, W)
    lr: Tensor  # the low-resolution frames the inputs came from


def task_batch(sample: Sample, task: str) -> Batch:
    """stvsr: even LR frames in, all HR out; vsr/sr: LR in, HR out; vfi: even HR frames in, all HR out."""
    hr, lr = sample.hr, sample.lr
    if task == "stvsr":
        return Batch(lr[:, 0::2], hr, lr)
    if task in ("vsr", "sr"):
        return Batch(lr, hr, lr)
    if task == "vfi":
        return Batch(hr[:, 0::2], hr, lr)
    raise UsageError(f"cannot train task {task!r}")


class Objective:
    """The weighted loss terms of one stage."""

    def __init__(self, weights: dict[str, float], *, scale: int, vgg_weights: str = "", perceptual_weights: str = "",
                 perceptual_layers: list[int] | None = None):
        for name in weights:
            base, _, part = name.partition("@")
            if base not in KNOWN:
                raise UsageError(f"unknown loss {name!r}; choose from {', '.join(sorted(KNOWN))} "
                                 f"(optionally name@stage)")
            if base == "dual_stream" and part and part not in DUAL_STREAM_TERMS:
                raise UsageError(f"unknown dual-stream term {part!r}; choose from {', '.join(DUAL_STREAM_TERMS)}")
        self.weights, self.scale = weights, scale
        self.vgg = FeatureLoss(load_vgg19(vgg_weights or None)) if any(n.startswith("vgg") for n in weights) else None
        detail = load_feature_network(perceptual_weights or None) \
            if any(n.startswith(("perceptual", "texture")) for n in weights) else None  # one network for both
        if detail is not None and perceptual_layers:
            with torch.no_grad():
                returned = len(detail(torch.zeros(1, 3, 16, 16)))
            if max(perceptual_layers) >= returned:
                raise UsageError(f"config perceptual_layers {list(perceptual_layers)}: the feature network returns "
                                 f"{returned} layers (0-{returned - 1})")
        self.detail = FeatureLoss(detail, layers=perceptual_layers) \
            if any(n.startswith("perceptual") for n in weights) else None
        self.texture = FeatureLoss(detail, layers=perceptual_layers, texture_patch=TEXTURE_PATCH) \
            if any(n.startswith("texture") for n in weights) else None

    def to(self, device: torch.device) -> Objective:
        if self.vgg is not None:
            self.vgg.to(device)
        for loss in (self.detail, self.texture):
            if loss is not None:
                loss.to(device)
        return self

    @property
    def adversarial(self) -> bool:
        """Whether this stage trains against a critic (the loop then also updates the critic)."""
        return any(name in self.weights for name in CRITIC_TERMS)

    def __call__(self, model: nn.Module, batch: Batch, critic: nn.Module | None = None
                 ) -> tuple[Tensor, dict[str, float]]:
        """The stage's weighted loss and its terms; the final output is kept in `self.output` for the critic."""
        core = getattr(model, "module", model)  # unwrapped under DDP, for stages() and streams()
        wanted = [name.partition("@")[2] for name in self.weights if "@" in name and not name.startswith("dual")]
        unknown = [w for w in wanted if w not in core.STAGES]
        if unknown:
            raise UsageError(f"{type(core).__name__} has no stage {unknown[0]!r}"
                             + (f"; its stages: {', '.join(core.STAGES)}" if core.STAGES else ""))
        stages = core.stages(batch.inputs, until=max(wanted, key=core.STAGES.index)) if wanted else None
        output = model(batch.inputs) if any("@" not in n and n != "dual_stream" for n in self.weights) else None
        self.output, self._terms = output, None
        total, parts = 0.0, {}
        for name, weight in self.weights.items():
            base, _, stage = name.partition("@")
            if base == "dual_stream":
                terms = self._dual_stream(core, batch)
                if (stage or "total") not in terms:
                    raise UsageError(f"loss {name}: this model has no {stage!r} term")
                value = terms[stage or "total"]
            elif base == "adversarial":  # the generator's term: the critic should take its frames for real ones
                value = adversarial_loss(critic(output.flatten(0, 1)))
            elif base == "feature_matching":  # the critic's layers as the feature network of a perceptual loss
                value = feature_matching_loss(critic, output.flatten(0, 1), batch.target.flatten(0, 1))
            else:
                pred = stages[stage] if stage else output
                target = batch.target
                if pred.shape[1] != target.shape[1]:  # a centre-frame stage (2D+3D `centre`): the clip's middle
                    if pred.shape[1] != 1 or target.shape[1] % 2 == 0:
                        raise UsageError(f"loss {name}: {pred.shape[1]} output frames for {target.shape[1]} "
                                         f"target frames")
                    middle = target.shape[1] // 2
                    target = target[:, middle:middle + 1]
                if pred.shape[-2:] != target.shape[-2:]:
                    target = imresize(target, size=tuple(pred.shape[-2:]))
                value = self._term(base, pred, target, batch)
            parts[name] = float(value.detach())
            total = total + weight * value
        return total, parts

    def _term(self, base: str, pred: Tensor, target: Tensor, batch: Batch) -> Tensor:
        if base in SIMPLE:
            return SIMPLE[base](pred, target)
        if base == "vgg":
            return self.vgg(pred, target)
        if base == "perceptual":
            return self.detail(pred, target)
        if base == "texture":
            try:
                return self.texture(pred, target)
            except ValueError as error:  # a config mistake (patch too small for the windows), not a bug
                raise UsageError(f"loss texture: {error}; train on larger patches") from None
        if base == "cycle":
            return cycle_loss(pred, batch.inputs, scale=self.scale)
        if base == "warp":
            return _warp_term(pred, target)
        if base == "error_flicker":
            return _warp_term(pred, target, of_error=True)
        if base == "warp_new":
            if pred.shape[1] != 2 * batch.inputs.shape[1] - 1:
                raise UsageError(f"loss {base}: needs a x2 space-time output ({pred.shape[1]} frames for "
                                 f"{batch.inputs.shape[1]} inputs)")
            held = torch.stack([f.detach() if t % 2 == 0 else f for t, f in enumerate(pred.unbind(1))], 1)
            return _warp_term(held, target)
        raise AssertionError(base)

    def _dual_stream(self, core: nn.Module, batch: Batch) -> dict[str, Tensor]:
        if self._terms is None:  # one pass through both streams serves every dual-stream term of the step
            parts = core.streams(batch.inputs[:, 0], batch.inputs[:, 1])
            hr = batch.target
            self._terms = dual_stream_losses(parts, hr[:, 0], hr[:, 1], hr[:, 2], scale=self.scale)
        return self._terms


def _warp_term(pred: Tensor, target: Tensor, *, of_error: bool = False) -> Tensor:
    """The trade-off study's E_warp: each output frame against the next one warped onto it, with the ground
    truth's DIS flow and occlusion weight, averaged over the consecutive pairs of (B, T, 3, H, W) clips; with
    `of_error`, the same of the output's error (`error_flicker`)."""
    a, b = target[:, :-1].flatten(0, 1), target[:, 1:].flatten(0, 1)
    with torch.no_grad():
        flow = dis_flow(a.float(), b.float())
        weight = occlusion_weight(a.float(), b.float(), flow)
    if of_error:
        return error_flicker_loss(pred[:, :-1].flatten(0, 1), pred[:, 1:].flatten(0, 1), a, b, flow, weight)
    return warping_loss(pred[:, :-1].flatten(0, 1), pred[:, 1:].flatten(0, 1), flow, weight)  # fp32 inside

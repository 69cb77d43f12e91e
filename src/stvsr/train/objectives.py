"""What a training step optimises, per task: which tensors go in, what they are compared with, and the loss terms.

Every loss a config may name is declared once, in `LOSSES`: how it is computed, what it needs (a feature network,
the critic, the model's streams) and a line saying what it is. Validation, the critic's training and dispatch all
derive from that table, so adding a loss is adding one row.

A loss name may carry a stage output: `l1@tpsrm` compares `model.stages(x)["tpsrm"]` with the target resized to
that output's size (TP-net's staged training); plain names use the model's final output.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..errors import UsageError
from ..losses import (FeatureLoss, adversarial_loss, charbonnier, cycle_loss, dual_stream_losses, error_flicker_loss,
                      feature_matching_loss, l1, load_feature_network, load_vgg19, mse, occlusion_weight,
                      periodic_loss, psnr_loss, ssim_loss, warping_loss)
from ..ops.flow import dis_flow
from ..ops.resize import imresize
from .data import Sample

# `texture` compares local Gram matrices over windows of this many feature pixels (EnhanceNet's 16 x 16).
TEXTURE_PATCH = 16
# `dual_stream@TERM`: one of the dual-stream report's terms, for its staged training (pretrain M_S and M_T, then
# fusion and refinement, then everything); plain `dual_stream` is their sum.
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


@dataclass
class TermInputs:
    """What a loss term may look at in one step."""
    pred: Tensor | None  # the output it scores (the final one, or a stage's for `name@stage`)
    target: Tensor | None  # the ground truth at that output's frames and size
    batch: Batch
    model: nn.Module  # unwrapped (DDP), for the terms that run parts of it
    critic: nn.Module | None
    part: str  # what follows `@` in the loss name ("" for none)


@dataclass(frozen=True)
class LossTerm:
    """One loss a config may name: how it is computed from the step's inputs, what it needs, and what it is."""
    compute: Callable[[Objective, TermInputs], Tensor]
    doc: str
    needs: frozenset[str] = frozenset()  # "vgg", "detail" (the shipped detail network), "critic", "streams"
    parts: tuple[str, ...] = ()  # a term of the model's own parts (`dual_stream@TERM`): the parts it has

    @property
    def scores_output(self) -> bool:
        """It compares an output (the final one, or a stage's with `@stage`) with the target; the others run the
        model's parts themselves."""
        return "streams" not in self.needs


def _texture(objective: Objective, x: TermInputs) -> Tensor:
    try:
        return objective.texture(x.pred, x.target)
    except ValueError as error:  # a config mistake (patch too small for the windows), not a bug
        raise UsageError(f"loss texture: {error}; train on larger patches") from None


def _warp_new(objective: Objective, x: TermInputs) -> Tensor:
    inputs = x.batch.inputs.shape[1]
    if x.pred.shape[1] != 2 * inputs - 1:
        raise UsageError(f"loss warp_new: needs a x2 space-time output ({x.pred.shape[1]} frames for {inputs} "
                         f"inputs)")
    held = torch.stack([f.detach() if t % 2 == 0 else f for t, f in enumerate(x.pred.unbind(1))], 1)
    return _warp_term(held, x.target)


def _dual_stream(objective: Objective, x: TermInputs) -> Tensor:
    terms = objective.dual_stream_terms(x.model, x.batch)
    if (x.part or "total") not in terms:
        raise UsageError(f"loss dual_stream@{x.part}: this model has no {x.part!r} term")
    return terms[x.part or "total"]


LOSSES: dict[str, LossTerm] = {
    "l1": LossTerm(lambda o, x: l1(x.pred, x.target), "mean absolute error"),
    "charbonnier": LossTerm(lambda o, x: charbonnier(x.pred, x.target),
                            "sqrt(d^2 + eps^2): L1 that is smooth at zero"),
    "mse": LossTerm(lambda o, x: mse(x.pred, x.target), "mean squared error, what PSNR measures"),
    "psnr": LossTerm(lambda o, x: psnr_loss(x.pred, x.target),
                     "-PSNR in dB averaged over samples: each sample's dB counts alike, as in a benchmark's mean "
                     "(weight about 0.007 matches mse 15's pull)"),
    "periodic": LossTerm(lambda o, x: periodic_loss(x.pred, x.target, o.scale),
                         "the error's local bias by sub-pixel phase: keeps a sub-pixel upsampler from drawing a "
                         "checkerboard (beside an adversarial term)"),
    "ssim": LossTerm(lambda o, x: ssim_loss(x.pred, x.target), "1 - SSIM (computed in fp32 inside autocast)"),
    "perceptual": LossTerm(lambda o, x: o.detail(x.pred, x.target),
                           "feature distance in the shipped detail network (trained here, so it works offline)",
                           frozenset({"detail"})),
    "texture": LossTerm(_texture, "the detail network's local Gram matrices (EnhanceNet's texture loss)",
                        frozenset({"detail"})),
    "vgg": LossTerm(lambda o, x: o.vgg(x.pred, x.target), "feature distance in VGG-19 (weights from a local file)",
                    frozenset({"vgg"})),
    "cycle": LossTerm(lambda o, x: cycle_loss(x.pred, x.batch.inputs, scale=o.scale),
                      "the output downscaled again against the input (TP-net's cycle term)"),
    "warp": LossTerm(lambda o, x: _warp_term(x.pred, x.target),
                     "each output frame against the next one warped onto it by the ground truth's flow (E_warp); "
                     "lowest for a video frozen along the flow, so strong weights damp motion"),
    "warp_new": LossTerm(_warp_new, "warp with the input-position frames held fixed: only the frames made between "
                                    "them are pulled towards their neighbours"),
    "error_flicker": LossTerm(lambda o, x: _warp_term(x.pred, x.target, of_error=True),
                              "warp of the output's error: only flicker the ground truth lacks is penalised"),
    "adversarial": LossTerm(lambda o, x: adversarial_loss(x.critic(x.pred.flatten(0, 1))),
                            "the generator's term: the critic should take its frames for real ones",
                            frozenset({"critic"})),
    "feature_matching": LossTerm(lambda o, x: feature_matching_loss(x.critic, x.pred.flatten(0, 1),
                                                                     x.target.flatten(0, 1)),
                                 "the critic's layers as the feature network of a perceptual loss",
                                 frozenset({"critic"})),
    "dual_stream": LossTerm(_dual_stream, "the dual-stream report's terms (Eq. 11-17), or one of them with @TERM",
                            frozenset({"streams"}), DUAL_STREAM_TERMS),
}
CRITIC_TERMS = tuple(name for name, term in LOSSES.items() if "critic" in term.needs)  # a critic trains alongside


def _uses(weights: dict[str, float], need: str) -> bool:
    return any(need in LOSSES[name.partition("@")[0]].needs for name in weights)


class Objective:
    """The weighted loss terms of one stage."""

    def __init__(self, weights: dict[str, float], *, scale: int, vgg_weights: str = "", perceptual_weights: str = "",
                 perceptual_layers: list[int] | None = None):
        for name in weights:
            base, _, part = name.partition("@")
            if base not in LOSSES:
                raise UsageError(f"unknown loss {name!r}; choose from {', '.join(sorted(LOSSES))} "
                                 f"(optionally name@stage)")
            if LOSSES[base].parts and part and part not in LOSSES[base].parts:
                raise UsageError(f"unknown {base} term {part!r}; choose from {', '.join(LOSSES[base].parts)}")
        self.weights, self.scale = weights, scale
        self.vgg = FeatureLoss(load_vgg19(vgg_weights or None)) if _uses(weights, "vgg") else None
        detail = load_feature_network(perceptual_weights or None) if _uses(weights, "detail") else None
        if detail is not None and perceptual_layers:
            with torch.no_grad():
                returned = len(detail(torch.zeros(1, 3, 16, 16)))
            if max(perceptual_layers) >= returned:
                raise UsageError(f"config perceptual_layers {list(perceptual_layers)}: the feature network returns "
                                 f"{returned} layers (0-{returned - 1})")
        bases = {name.partition("@")[0] for name in weights}
        self.detail = FeatureLoss(detail, layers=perceptual_layers) if "perceptual" in bases else None
        self.texture = FeatureLoss(detail, layers=perceptual_layers, texture_patch=TEXTURE_PATCH) \
            if "texture" in bases else None

    def to(self, device: torch.device) -> Objective:
        for loss in (self.vgg, self.detail, self.texture):
            if loss is not None:
                loss.to(device)
        return self

    @property
    def adversarial(self) -> bool:
        """Whether this stage trains against a critic (the loop then also updates the critic)."""
        return _uses(self.weights, "critic")

    def __call__(self, model: nn.Module, batch: Batch, critic: nn.Module | None = None
                 ) -> tuple[Tensor, dict[str, float]]:
        """The stage's weighted loss and its terms; the final output is kept in `self.output` for the critic."""
        core = getattr(model, "module", model)  # unwrapped under DDP, for stages() and streams()
        on_output = {name: LOSSES[name.partition("@")[0]].scores_output for name in self.weights}
        wanted = [name.partition("@")[2] for name, scored in on_output.items() if scored and "@" in name]
        unknown = [w for w in wanted if w not in core.STAGES]
        if unknown:
            raise UsageError(f"{type(core).__name__} has no stage {unknown[0]!r}"
                             + (f"; its stages: {', '.join(core.STAGES)}" if core.STAGES else ""))
        stages = core.stages(batch.inputs, until=max(wanted, key=core.STAGES.index)) if wanted else None
        final = any(scored and "@" not in name for name, scored in on_output.items())
        output = model(batch.inputs) if final else None
        self.output, self._terms = output, None
        total, parts = 0.0, {}
        for name, weight in self.weights.items():
            base, _, part = name.partition("@")
            pred = target = None
            if on_output[name]:
                pred = stages[part] if part else output
                target = _target_for(name, pred, batch.target)
            value = LOSSES[base].compute(self, TermInputs(pred, target, batch, core, critic, part))
            parts[name] = float(value.detach())
            total = total + weight * value
        return total, parts

    def dual_stream_terms(self, core: nn.Module, batch: Batch) -> dict[str, Tensor]:
        if self._terms is None:  # one pass through both streams serves every dual-stream term of the step
            parts = core.streams(batch.inputs[:, 0], batch.inputs[:, 1])
            hr = batch.target
            self._terms = dual_stream_losses(parts, hr[:, 0], hr[:, 1], hr[:, 2], scale=self.scale)
        return self._terms


def _target_for(name: str, pred: Tensor, target: Tensor) -> Tensor:
    """The ground truth at `pred`'s frames and size: a centre-frame stage (2D+3D `centre`) scores the clip's middle
    frame, a stage at a lower resolution the target resized to it."""
    if pred.shape[1] != target.shape[1]:
        if pred.shape[1] != 1 or target.shape[1] % 2 == 0:
            raise UsageError(f"loss {name}: {pred.shape[1]} output frames for {target.shape[1]} target frames")
        middle = target.shape[1] // 2
        target = target[:, middle:middle + 1]
    if pred.shape[-2:] != target.shape[-2:]:
        target = imresize(target, size=tuple(pred.shape[-2:]))
    return target


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

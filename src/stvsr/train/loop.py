"""`stvsr train`: one readable training loop (CONTRIBUTING.md §9) — batches in, loss, step, EMA, log, validate, checkpoint.

Runs on one device, or as one process per device under `torchrun` (DDP: gloo on CPU, NCCL on CUDA; only rank 0
writes). A checkpoint holds the unwrapped model, its EMA, optimiser, scheduler, step, RNG states and the config,
written atomically; since every sample is a pure function of (seed, index), `--resume` continues exactly.
"""

from __future__ import annotations

import copy
import csv
import fnmatch
import math
import os
import random
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.utils.data import DataLoader, Sampler

from ..data.clips import open_clips
from ..degrade import parse_protocol
from ..errors import InputError, StvsrError, UsageError, WeightsError
from ..evaluate.runner import score
from ..evaluate.tasks import Task, run_task
from ..atomic import atomic_path
from ..losses import discriminator_loss
from ..models import create_model, model_entry, save_weights
from ..models.checkpoint import read_tensors
from ..io import pyav_installed
from ..runtime import native_bf16, resolve_precision
from .checkpoint import CHECKPOINT, load_checkpoint, save_checkpoint
from .config import DataConfig, StageConfig, TrainConfig, dump_config, parse_config
from .data import FrameStore, TrainSamples, collate, find_sources, load_photos
from .objectives import CRITIC_TERMS, Objective, task_batch



class TrainingError(StvsrError):
    """Training cannot go on (the loss diverged); exit 6."""

    exit_code = 6


class StepSampler(Sampler):
    """Sample indices for steps `start`, `start` + 1, …: step s, rank r takes s·B·W + r·B … + B − 1."""

    def __init__(self, start: int, total: int, batch: int, world: int, rank: int):
        self.start, self.total, self.batch, self.world, self.rank = start, total, batch, world, rank

    def __iter__(self):
        for step in range(self.start, self.total):
            first = (step * self.world + self.rank) * self.batch
            yield from range(first, first + self.batch)

    def __len__(self) -> int:
        return (self.total - self.start) * self.batch


@dataclass
class Runtime:
    rank: int
    world: int
    device: torch.device

    @property
    def main(self) -> bool:
        return self.rank == 0


def start_runtime() -> Runtime:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Runtime(0, 1, torch.device("cuda" if torch.cuda.is_available() else "cpu"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(local)
    dist.init_process_group("nccl" if cuda else "gloo")
    return Runtime(dist.get_rank(), world, torch.device(f"cuda:{local}" if cuda else "cpu"))


def build_model(config: TrainConfig) -> tuple[nn.Module, dict]:
    entry = model_entry(config.model)
    kwargs = dict(config.model_kwargs)
    if entry.task != "vfi":
        kwargs.setdefault("scale", config.scale)
    return create_model(config.model, **kwargs), kwargs


def init_from(model: nn.Module, path: str, prefix: str = "", exclude: list[str] | tuple[str, ...] = ()) -> None:
    """Start from the weights in `path` (e.g. an SR model before its adversarial stage, or a VSR model before its
    space-time fine-tuning): every tensor in the file, its name after `prefix` (`spatial.`: a shipped imdn.x4 as
    the dual-stream network's M_S), must exist in `model` with the same shape; tensors the file lacks keep their
    initialisation. Names matching a glob in `exclude` are left out of the file first."""
    tensors = {prefix + name: value for name, value in read_tensors(path).items()
               if not any(fnmatch.fnmatch(name, pattern) for pattern in exclude)}
    tensors = model.adapt_init(tensors)  # VideoModel's hook: e.g. an old upsampler's tensors into a new one
    own = model.state_dict()
    foreign = [k for k in tensors if k not in own or own[k].shape != tensors[k].shape]
    if foreign:
        raise WeightsError(f"init weights {path} do not fit {type(model).__name__}: {len(foreign)} tensors "
                           f"missing or of another shape (e.g. {foreign[0]})")
    model.load_state_dict(tensors, strict=False)


def set_trainable(model: nn.Module, patterns: list[str]) -> int:
    count = 0
    for name, param in model.named_parameters():
        param.requires_grad = any(fnmatch.fnmatch(name, p) or name.startswith(p + ".") for p in patterns)
        count += param.numel() if param.requires_grad else 0
    if count == 0:
        raise UsageError(f"stage trains nothing: no parameter matches {patterns}")
    return count


def make_optimizer(model: nn.Module, config: TrainConfig, stage: StageConfig):
    params = [p for p in model.parameters() if p.requires_grad]
    lr = stage.lr or config.optim.lr
    kinds = {"adam": torch.optim.Adam, "radam": torch.optim.RAdam}
    if config.optim.name not in kinds:
        raise UsageError(f"optim.name must be one of {', '.join(kinds)}")
    optimizer = kinds[config.optim.name](params, lr=lr, betas=config.optim.betas,
                                         weight_decay=config.optim.weight_decay)
    if config.optim.schedule == "cosine":
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(stage.steps, 1),
                                                               eta_min=config.optim.min_lr)
    elif config.optim.schedule == "step":
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, config.optim.step_size, config.optim.gamma)
    elif config.optim.schedule == "constant":
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
    else:
        raise UsageError("optim.schedule must be cosine, step or constant")
    return optimizer, scheduler


@torch.no_grad()
def update_ema(ema: nn.Module, model: nn.Module, decay: float, step: int) -> None:
    """EMA with warm-up (decay (1 + step) / (10 + step) until it reaches `decay`): a plain 0.999 EMA would still
    be 60% random initialisation after 500 steps, and 5% after 3000."""
    decay = min(decay, (1 + step) / (10 + step))
    for e, p in zip(ema.parameters(), model.parameters()):
        e.lerp_(p.detach(), 1 - decay)
    for e, b in zip(ema.buffers(), model.buffers()):
        # BatchNorm's running statistics are averaged like the weights (as timm's ModelEmaV2): copied from the live
        # model they describe its activations, not the averaged weights' (it cost srresnet.x4 dev PSNR)
        if e.is_floating_point():
            e.lerp_(b, 1 - decay)
        else:
            e.copy_(b)


def critic_step(critic: nn.Module, optimizer, real: Tensor, fake: Tensor) -> float:
    """One discriminator update on real high-resolution frames against the generator's (detached) output."""
    optimizer.zero_grad(set_to_none=True)
    loss = discriminator_loss(critic(real.flatten(0, 1)), critic(fake.flatten(0, 1).float()))
    loss.backward()
    optimizer.step()
    return float(loss.detach())


def _unwrapped(module: nn.Module | None) -> nn.Module | None:
    return getattr(module, "module", module)


def rng_state() -> dict:
    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if state["cuda"]:
        torch.cuda.set_rng_state_all(state["cuda"])


def validate(model: nn.Module, config: TrainConfig, clips: list, device: torch.device) -> dict[str, float]:
    """Dev-set PSNR/SSIM on Y and warping error under the task's evaluation protocol."""
    task = Task("vsr" if config.task == "sr" else config.task, config.scale, config.val.degradation)
    metrics = ["psnr_y", "ssim_y", "warp_err@dis"]
    totals = {m: 0.0 for m in metrics}
    model.eval()
    with torch.no_grad():
        for clip in clips:
            run = run_task(model, clip, task, device)
            values, _ = score(run, metrics, 0, {})
            for m in metrics:
                totals[m] += values[m] / len(clips)
    model.train()
    return totals


def train(config: TrainConfig, *, resume: bool = False, command: str = "", max_steps: int | None = None,
          max_minutes: float | None = None, total_steps: int | None = None) -> Path:
    """Train `config` (or continue the run in `config.out` with `resume`); returns the run folder.

    `max_steps` stops early (after that many steps in this call), for tests and time-boxed sessions; `max_minutes`
    stops after the first step past that much wall-clock time in the loop (a lent GPU's fixed budget). Either way
    the call ends with a checkpoint and `snapshot.safetensors` (the EMA weights), and `--resume` continues.
    `total_steps` (with `resume`) moves the end of the run: see `replan`.
    """
    for stage in config.stages:  # a bad loss name fails before anything is written or loaded
        Objective(stage.losses, scale=config.scale, vgg_weights=config.vgg_weights,
                  perceptual_weights=config.perceptual_weights, perceptual_layers=config.perceptual_layers)
    runtime = start_runtime()
    checkpoint = Path(config.out) / CHECKPOINT
    state = None
    if resume:
        if not checkpoint.is_file():
            raise UsageError(f"nothing to resume: {checkpoint} not found")
        state = load_checkpoint(checkpoint)
        config = parse_config(state["config"])
        if total_steps is not None:  # every rank plans the same end; the main one rewrites the files
            replan(state, config, total_steps, checkpoint.parent if runtime.main else None)
    elif runtime.main and checkpoint.exists():
        raise UsageError(f"{checkpoint.parent} already holds a run; use --resume {checkpoint.parent} or another "
                         f"train.out")
    trainer = Trainer(config, runtime, command)
    if state is not None:
        trainer.restore(state)
    elif config.init:
        trainer.start_from(config.init, config.init_prefix, config.init_exclude)
    trainer.run(max_steps, max_minutes)
    if runtime.world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return trainer.run_dir


def replan(state: dict, config: TrainConfig, total_steps: int, run: Path | None) -> None:
    """End a resumed run at `total_steps` in all: its last stage lengthened or shortened, and, when the run is in
    that stage, its cosine refitted from the current learning rate (PyTorch's schedule is recursive, so with the new
    `T_max` it falls smoothly from where it is to its floor at the new end). A long run planned for days can thus
    end annealed within a session, or, before it ends, go on longer than planned. The plans in `run`'s checkpoint
    and config.yaml are rewritten (None: in memory only)."""
    start_of_last = sum(s.steps for s in config.stages[:-1])
    if state["step"] >= start_of_last + config.stages[-1].steps:  # its cosine is at its floor: it would stay there
        raise UsageError(f"the run has finished (step {state['step']}); to train on, start a new run from its "
                         f"last.safetensors (--set init=...) with a fresh schedule")
    if total_steps <= max(state["step"], start_of_last):
        raise UsageError(f"--total-steps must be above the step the run is at ({state['step']}) and the start of its "
                         f"last stage ({start_of_last})")
    config.stages[-1].steps = total_steps - start_of_last
    state["config"] = dump_config(config)
    if state["stage"] == len(config.stages) - 1 and state.get("scheduler", {}).get("T_max") is not None:
        state["scheduler"]["T_max"] = config.stages[-1].steps
    if run is not None:
        save_checkpoint(run / CHECKPOINT, state)
        (run / "config.yaml").write_text(dump_config(config))


def training_sources(data: DataConfig, scale: int) -> tuple:
    """The clips (an object with `.clips`, and `.degraded` inputs or None) and stills a run at ×`scale` samples
    from: the pack in `data.packed`, or the source videos and photos decoded and cached at training resolution."""
    if data.packed:
        from .pack import PackedStore

        pack = PackedStore(data.packed)
        if abs(pack.hr_downscale - data.hr_downscale) > 1e-9:
            raise UsageError(f"the pack {data.packed} holds sources at ×{pack.hr_downscale}, the config asks for "
                             f"data.hr_downscale {data.hr_downscale}")
        if pack.degradation and (pack.degradation, pack.scale) != (data.degradation, scale):
            raise UsageError(f"the pack {data.packed} holds inputs degraded by {pack.degradation!r} at ×{pack.scale}, "
                             f"the config asks for data.degradation {data.degradation!r} at ×{scale}")
        if not pack.degradation and parse_protocol(data.degradation).video_coded and not pyav_installed():
            raise UsageError(f"data.degradation {data.degradation!r} runs a video codec, which needs PyAV (not "
                             f"installed here); the pack {data.packed} holds clean clips only: make it with that "
                             f"degradation (scripts/gpu_train.py bundle --degradation)")
        return pack, pack.photos if data.photo_share > 0 else []
    sources = find_sources(data.videos, exclude=data.photos)
    if not sources:
        raise InputError(f"no video files or frame folders in {', '.join(data.videos)}")
    store = FrameStore(sources, downscale=data.hr_downscale, cache=data.cache or None)
    if data.photo_share == 0:
        return store, []
    scales = [data.hr_downscale] + [f for f in data.photo_scales if abs(f - data.hr_downscale) > 1e-9]
    return store, [photo for factor in scales for photo in load_photos(data.photos, factor)]


def training_precision(precision: str, device: torch.device, announce: bool = True) -> str:
    """The precision a run trains at: `resolve_precision`'s, except that a recipe's bf16 becomes fp32 on a device
    without native bfloat16 instead of an error (emulated bf16 ran srunet x2 at 0.6 samples/s against 9 in fp32 on
    a 2-core AVX2 CPU, and the recipes' losses were checked against fp32 anyway)."""
    if precision != "bf16":
        return resolve_precision(precision, device)
    if not native_bf16(device):
        if announce:
            print(f"precision: this {device.type} has no native bfloat16 (AMX, AVX512-BF16 or a recent GPU); "
                  f"training in fp32", flush=True)
        return "fp32"
    return "bf16"


class Trainer:
    """One training run: setup (`__init__`), stage entry (`enter_stage`), one optimisation step (`step`), the step
    loop (`run`), and the checkpoint's one save/restore pair (`save`, `restore`)."""

    def __init__(self, config: TrainConfig, runtime: Runtime, command: str):
        self.config, self.runtime, self.command = config, runtime, command
        self.precision = training_precision(config.precision, runtime.device, announce=runtime.main)  # fails fast
        self.run_dir = Path(config.out)
        torch.manual_seed(config.seed)
        np.random.seed(config.seed)
        random.seed(config.seed)
        self.model, self.kwargs = build_model(config)
        self.model.to(runtime.device).train()
        self.ema = copy.deepcopy(self.model).eval().requires_grad_(False)
        self.step_count, self.stage_index, self.best, self.pending_rng = 0, -1, -math.inf, None
        self.wall_before = 0.0  # seconds spent by earlier calls of this run (resumes): learning curves by wall-clock
        self.started: float | None = None  # when this call's loop began
        self.critic = self.critic_optimizer = None
        if any(t in s.losses for s in config.stages for t in CRITIC_TERMS):  # a discriminator trains alongside
            self.critic = create_model(config.critic, **config.critic_kwargs).to(runtime.device).train()
            self.critic_optimizer = torch.optim.Adam(self.critic.parameters(), lr=config.critic_lr or config.optim.lr,
                                                     betas=config.optim.betas)
            if runtime.world > 1:
                self.critic = nn.parallel.DistributedDataParallel(self.critic)
        self.val_clips = []
        if runtime.main and config.val.every > 0 and config.val.data:
            source = open_clips(config.val.data, config.val.layout)
            self.val_clips = [c for i, c in enumerate(source) if not config.val.clips or i < config.val.clips]
        store, photos = training_sources(config.data, config.scale)
        self.samples = TrainSamples(store, photos, config.data, scale=config.scale, seed=config.seed)
        self.bounds = np.cumsum([s.steps for s in config.stages])
        self.total = int(self.bounds[-1])
        self.autocast = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[self.precision]
        self.scaler = torch.amp.GradScaler(enabled=self.precision == "fp16")
        self.optimizer = self.scheduler = self.objective = self.wrapped = None

    def start_from(self, path: str, prefix: str = "", exclude: list[str] | tuple[str, ...] = ()) -> None:
        """A new run's starting weights (`init`), for the model and its EMA; a resumed run `restore`s instead."""
        init_from(self.model, path, prefix, exclude)
        self.ema.load_state_dict(self.model.state_dict())

    def enter_stage(self, index: int) -> None:
        """What trains, the optimiser and its schedule, the losses: everything a stage changes."""
        self.stage_index, stage = index, self.config.stages[index]
        set_trainable(self.model, stage.train)
        self.wrapped = self.model if self.runtime.world == 1 else nn.parallel.DistributedDataParallel(
            self.model, find_unused_parameters=True)
        self.optimizer, self.scheduler = make_optimizer(self.model, self.config, stage)
        self.objective = Objective(stage.losses, scale=self.config.scale, vgg_weights=self.config.vgg_weights,
                                   perceptual_weights=self.config.perceptual_weights,
                                   perceptual_layers=self.config.perceptual_layers).to(self.runtime.device)
        if self.runtime.main:
            print(f"stage {stage.name}: steps {int(self.bounds[index] - stage.steps)}-{int(self.bounds[index])}, "
                  f"losses {stage.losses}, training {stage.train}", flush=True)

    @property
    def stage(self) -> StageConfig:
        return self.config.stages[self.stage_index]

    def step(self, batch_sample) -> tuple[Tensor, dict[str, float]]:
        """One optimisation step of the generator (and of the critic after it, in adversarial stages)."""
        config, device = self.config, self.runtime.device
        batch = task_batch(batch_sample, config.task)
        batch.inputs, batch.target = batch.inputs.to(device), batch.target.to(device)
        with torch.autocast(device.type, dtype=self.autocast, enabled=self.autocast is not None):
            loss, parts = self.objective(self.wrapped, batch, self.critic)
        if not torch.isfinite(loss):
            raise TrainingError(f"loss became {loss.item()} at step {self.step_count} (stage {self.stage.name}, "
                                f"terms {parts}); lower optim.lr or check the data")
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(self.optimizer)
        nn.utils.clip_grad_norm_([p for p in self.model.parameters() if p.requires_grad], config.optim.clip_grad)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        if self.objective.adversarial:
            base_lr = self.stage.lr or config.optim.lr
            self.critic_optimizer.param_groups[0]["lr"] = ((config.critic_lr or config.optim.lr)
                                                           * self.optimizer.param_groups[0]["lr"] / base_lr)
            parts["critic"] = critic_step(self.critic, self.critic_optimizer, batch.target,
                                          self.objective.output.detach())
        update_ema(self.ema, self.model, config.optim.ema, self.step_count)
        self.step_count += 1
        return loss, parts

    def run(self, max_steps: int | None, max_minutes: float | None = None) -> None:
        config, main, run = self.config, self.runtime.main, self.run_dir
        if self.step_count == 0 and main:  # only now: a bad model, init, critic or data leaves no run folder behind
            run.mkdir(parents=True, exist_ok=True)
            (run / "config.yaml").write_text(dump_config(config))
        log = run / "log.csv"
        if self.step_count and main:  # rows logged after the checkpoint would be logged again
            truncate_log(log, self.step_count)
        stop = self.total if max_steps is None else min(self.total, self.step_count + max_steps)
        loader = DataLoader(self.samples, batch_size=config.batch, collate_fn=collate,
                            num_workers=config.data.workers, worker_init_fn=_ignore_stop_signals,
                            sampler=StepSampler(self.step_count, stop, config.batch, self.runtime.world,
                                                self.runtime.rank))
        writer = _tensorboard(run) if main else None
        self.started, seen = time.perf_counter(), 0
        batches = iter(loader)
        if self.pending_rng is not None:  # after the loader has drawn its worker seeds, as the first run did
            set_rng_state(self.pending_rng)
        deadline = None if max_minutes is None else self.started + 60 * max_minutes
        for batch_sample in batches:
            index = int(np.searchsorted(self.bounds, self.step_count, side="right"))
            if index != self.stage_index:
                self.enter_stage(index)
            loss, parts = self.step(batch_sample)
            step, seen = self.step_count, seen + config.batch * self.runtime.world
            out_of_time = deadline is not None and self._any_rank(time.perf_counter() >= deadline)
            if out_of_time:
                stop = step  # this step is the call's last: logged, validated, checkpointed, a snapshot
            lr = self.optimizer.param_groups[0]["lr"]
            if main and (step % config.log_every == 0 or step == stop):
                _log(log, writer, step, self.stage.name, loss.item(), parts, lr,
                     seen / (time.perf_counter() - self.started))
            if main and self.val_clips and (step % config.val.every == 0 or step == self.total or out_of_time):
                metrics = validate(self.ema, config, self.val_clips, self.runtime.device)
                _log(log, writer, step, self.stage.name, loss.item(), {f"val_{k}": v for k, v in metrics.items()}
                     | {"wall_s": self.wall_seconds}, lr, None)
                if metrics["psnr_y"] > self.best:
                    self.best = metrics["psnr_y"]
                    self.export(run / "best.safetensors", metrics)
            if main and len(config.stages) > 1 and step == int(self.bounds[self.stage_index]):
                self.export(run / f"stage_{self.stage.name}.safetensors", None, self.stage_kwargs())
            if main and (step % config.checkpoint_every == 0 or step == stop):
                self.save(run / CHECKPOINT)
            if step >= stop:
                break
        if main and self.step_count == self.total:
            self.export(run / "last.safetensors", None)
        elif main and self.step_count == stop:  # a time-boxed call (--max-steps): a milestone of a long run
            self.export(run / "snapshot.safetensors", None)

    def _any_rank(self, flag: bool) -> bool:
        """True on every rank when it is true on one (asked each step, so the ranks stop at the same step)."""
        if self.runtime.world == 1:
            return flag
        value = torch.tensor([float(flag)], device=self.runtime.device)
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return bool(value.item())

    @property
    def wall_seconds(self) -> float:
        """Wall-clock seconds this run has trained, over every call (`started` is set when a call's loop begins)."""
        return self.wall_before + (time.perf_counter() - self.started if self.started is not None else 0.0)

    def save(self, path: Path) -> None:
        """The whole state of the run, atomically: `restore` of it continues exactly (even after kill -9)."""
        critic = _unwrapped(self.critic)
        save_checkpoint(path, {
            "model": self.model.state_dict(), "ema": self.ema.state_dict(), "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(), "scaler": self.scaler.state_dict(), "step": self.step_count,
            "stage": self.stage_index, "best": self.best, "rng": rng_state(), "config": dump_config(self.config),
            "wall_seconds": self.wall_seconds,
            "critic": critic.state_dict() if critic else None,
            "critic_optimizer": self.critic_optimizer.state_dict() if critic else None})

    def restore(self, state: dict) -> None:
        """The inverse of `save`: the saved stage is entered and its optimiser and schedule loaded; the RNG state
        waits for the data loader (`run`)."""
        self.model.load_state_dict(state["model"])
        self.ema.load_state_dict(state["ema"])
        self.step_count, self.best, self.pending_rng = state["step"], state["best"], state["rng"]
        self.wall_before = state.get("wall_seconds", 0.0)  # checkpoints before it was kept: the curve starts at 0
        if self.critic is not None:
            _unwrapped(self.critic).load_state_dict(state["critic"])
            self.critic_optimizer.load_state_dict(state["critic_optimizer"])
        if state["step"] < self.total:
            self.enter_stage(state["stage"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])
            self.scaler.load_state_dict(state["scaler"])

    def export(self, path: Path, metrics: dict | None, kwargs: dict | None = None) -> None:
        _export(self.ema, path, self.config, self.kwargs if kwargs is None else kwargs, self.step_count, metrics,
                self.command, self.wall_seconds, self.runtime)

    def stage_kwargs(self) -> dict:
        """The model arguments of a stage's weights: a stage whose losses all look at one stage output (TP-net's
        `l1@tpsrm`) is written as the pipeline up to that output (`upto`, when the model takes it), so that
        evaluating the file measures what the stage trained (the report's stage ablation)."""
        targets = {name.partition("@")[2] for name in self.stage.losses}
        if len(targets) == 1 and "" not in targets and self.model.upto is not None:
            return {**self.kwargs, "upto": targets.pop()}
        return self.kwargs


def _export(ema, path: Path, config: TrainConfig, kwargs: dict, step: int, metrics, command: str, wall_seconds: float,
            runtime: Runtime) -> None:
    """Weights with what made them: data, steps, the wall-clock seconds of every call of the run, the machine."""
    data = [config.data.packed] if config.data.packed else config.data.videos + config.data.photos
    extra = {"training": {"data": data, "steps": step, "command": command, "wall_seconds": round(wall_seconds, 1),
                          "device": _device_name(runtime), "config": dump_config(config)},
             "validation": {"metrics": metrics, "protocol": f"{config.task} on {config.val.data}, LR by "
                                                            f"{config.val.degradation}"} if metrics else None}
    save_weights(ema, path, name=config.model, kwargs=kwargs, extra=extra)


def _device_name(runtime: Runtime) -> str:
    """'2 CPU threads' or '1 × NVIDIA H200': what a card says the weights were trained on."""
    if runtime.device.type == "cuda":
        return f"{runtime.world} × {torch.cuda.get_device_name(runtime.device)}"
    return f"{torch.get_num_threads()} CPU threads" + (f" × {runtime.world} processes" if runtime.world > 1 else "")


def _ignore_stop_signals(worker_id: int) -> None:
    """Data workers leave Ctrl-C, kill and a closed terminal to the main process, which stops them itself: a
    signal sent to the whole process group (a terminal, systemd, Kubernetes) would otherwise kill a worker first
    and bury the one-line message under a DataLoader traceback."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    sys.excepthook = _quiet_when_the_main_process_is_gone


def _quiet_when_the_main_process_is_gone(kind, value, traceback) -> None:
    """A worker hands each batch's shared memory to the main process through multiprocessing's resource-sharer
    thread, which reports its errors through sys.excepthook. When the main process stops mid-handover (Ctrl-C,
    kill), that thread's connection breaks, and its traceback would follow the one-line message (seen in CI)."""
    if issubclass(kind, (EOFError, ConnectionError)):
        return
    sys.__excepthook__(kind, value, traceback)


def read_dev_curve(path: Path) -> list[tuple[int, float, float | None]]:
    """(step, dev PSNR-Y, wall-clock seconds of training or None) at each validation of a run's log.csv (long
    format: one row per step and key): the learning curve cards and the GPU script report."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    walls = {int(r["step"]): float(r["value"]) for r in rows if r["key"] == "wall_s"}
    return [(int(r["step"]), float(r["value"]), walls.get(int(r["step"]))) for r in rows if r["key"] == "val_psnr_y"]


def truncate_log(path: Path, step: int) -> None:
    """Drop the rows of `path` (log.csv) after `step`: a killed run logged them, and its resume logs them again."""
    if not path.is_file():
        return
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    kept = rows[:1] + [r for r in rows[1:] if r and r[0].isdigit() and int(r[0]) <= step]
    if len(kept) == len(rows):
        return
    with atomic_path(path) as partial, open(partial, "w", newline="") as handle:
        csv.writer(handle).writerows(kept)


def _tensorboard(run: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # optional: `pip install tensorboard`; the CSV log is always written
        return None
    return SummaryWriter(str(run / "tensorboard"))


def _log(path: Path, writer, step: int, stage: str, loss: float, parts: dict, lr: float, rate: float | None) -> None:
    line = f"step {step:>7} [{stage}] loss {loss:.5f} " + " ".join(f"{k} {v:.4f}" for k, v in parts.items())
    line += f" lr {lr:.2e}" + (f" {rate:.1f} samples/s" if rate else "")
    print(line, file=sys.stdout, flush=True)
    new = not path.exists()
    with open(path, "a", newline="") as handle:
        out = csv.writer(handle)
        if new:
            out.writerow(["step", "stage", "key", "value"])
        out.writerow([step, stage, "loss", loss])
        for key, value in parts.items():
            out.writerow([step, stage, key, value])
    if writer is not None:
        writer.add_scalar("loss", loss, step)
        for key, value in parts.items():
            writer.add_scalar(key, value, step)

"""Typed training configuration: defaults < YAML file < `--set key=value` overrides (CONTRIBUTING.md §7).

Unknown keys are errors; values are coerced to the field's type, so `lr: 2e-4` (which YAML reads as a string)
is a float. The resolved config is saved with every run.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..degrade.protocol import parse_protocol
from ..errors import InputError, UsageError


AUGMENTATIONS = ("hflip", "vflip", "transpose", "reverse")  # the 8 rotations and mirrorings, and time reversal


@dataclass
class DataConfig:
    videos: list[str] = field(default_factory=lambda: ["../shared/data/train"])  # video files and frame folders
    photos: list[str] = field(default_factory=lambda: ["../shared/data/train/photos"])  # stills, for camera motion
    hr_downscale: float = 0.5  # antialiased: the sources' compression artefacts must not be learned as detail
    patch: int = 32  # low-resolution patch size; the high-resolution patch is patch * scale
    frames: int = 7  # high-resolution frames per sample (stvsr: 7 -> the 4 even ones are the input)
    # Source frames between consecutive sample frames: 2 trains a VSR model on the frame spacing it sees as the
    # space half of an x2 cascade (the 4 input frames of a septuplet).
    frame_step: int = 1
    # Random frame spacing (more motion per sample than the footage has): each sample draws its spacing from this
    # list, in place of frame_step; empty: every sample at frame_step.
    frame_steps: list[int] = field(default_factory=list)
    # Which of the geometric and temporal augmentations run, each on half the samples (an ablation turns one off).
    augment: list[str] = field(default_factory=lambda: list(AUGMENTATIONS))
    photo_share: float = 0.1  # share of samples made from still photos with synthetic camera motion
    # Downscale factors the photos are also used at, beside hr_downscale (each photo once per factor, drawn
    # alike): the same scenes with their texture at other frequencies.
    photo_scales: list[float] = field(default_factory=list)
    degradation: str = "BI"
    # Low-resolution side of the region the degradation chain sees, around the crop (0: the crop itself): a codec
    # then codes a frame of about a real clip's size, with its macroblocks and motion search, not a patch of a few
    # macroblocks, and the crop falls anywhere on its block grid.
    coded_patch: int = 0
    workers: int = 2
    cache: str = ""  # folder for the decoded, downscaled sources (default: a temp folder)
    # A training pack (`stvsr.train.pack`) in place of videos and photos: the same clips at training resolution,
    # read with OpenCV, for machines without PyAV or ../shared (scripts/gpu_train.py).
    packed: str = ""


@dataclass
class OptimConfig:
    name: str = "adam"  # adam | radam
    lr: float = 2e-4
    betas: tuple[float, float] = (0.9, 0.99)
    weight_decay: float = 0.0
    schedule: str = "cosine"  # cosine | step | constant
    step_size: int = 10_000
    gamma: float = 0.5
    min_lr: float = 1e-7
    clip_grad: float = 1.0
    ema: float = 0.999


@dataclass
class StageConfig:
    name: str = "main"
    steps: int = 10_000
    train: list[str] = field(default_factory=lambda: ["*"])  # parameter-name patterns to train; others frozen
    losses: dict[str, float] = field(default_factory=lambda: {"l1": 1.0})
    lr: float | None = None


@dataclass
class ValConfig:
    data: str = "../shared/data/dev/vimeo_septuplet"
    layout: str = "vimeo"
    every: int = 1000
    clips: int = 0  # 0: all
    degradation: str = "BI"  # the evaluation protocol validation runs (fixed values: degrade/protocol.py)


@dataclass
class TrainConfig:
    model: str = "tpnet"
    model_kwargs: dict = field(default_factory=dict)
    task: str = "stvsr"
    scale: int = 4
    batch: int = 8
    seed: int = 0
    precision: str = "fp32"  # fp32 | bf16 (autocast; fp32 where not native) | fp16 (CUDA, gradient scaler) | auto
    stages: list[StageConfig] = field(default_factory=lambda: [StageConfig()])
    optim: OptimConfig = field(default_factory=OptimConfig)
    data: DataConfig = field(default_factory=DataConfig)
    val: ValConfig = field(default_factory=ValConfig)
    log_every: int = 50
    checkpoint_every: int = 500
    out: str = "runs/train"
    vgg_weights: str = ""
    perceptual_weights: str = ""  # the `perceptual` loss's detail network; default: the shipped one
    # Which of the detail network's blocks (0: full resolution, 1: /2, 2: /4) the `perceptual` loss compares;
    # empty: all. The pooled blocks see a 2- and 4-pixel grid, and matching them stamped a periodic pattern.
    perceptual_layers: list[int] = field(default_factory=list)
    critic: str = "srgan_discriminator"  # the discriminator of stages with an `adversarial` loss
    critic_kwargs: dict = field(default_factory=dict)
    # The critic's learning rate (default: optim.lr), scaled by the generator's schedule at every step. A critic
    # left at full rate while the generator's decays wins outright (srgan_x4: critic loss 1.3 -> 0.004, adversarial
    # term 0.6 -> 11 over 400 steps) and its gradients stamp the upsampler's period into the output.
    critic_lr: float | None = None
    init: str = ""  # weights (.safetensors) to start from: every tensor in the file must fit the model
    init_prefix: str = ""  # prepended to the file's tensor names: a shipped part inside a composite model
    # Glob patterns of the file's tensor names to leave out (before `init_prefix`): a trained trunk under a new
    # upsampler, e.g. srresnet.x4's body for the resize-convolution SRResNet (`up.0.*`, `up.3.*` are its sub-pixel convs).
    init_exclude: list[str] = field(default_factory=list)


def _coerce(value, hint, where: str):
    """`value` as the type `hint` describes (dataclasses recursively), or a UsageError naming `where`."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise UsageError(f"{where}: expected a mapping")
        return _build(hint, value, where)
    if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        if value is None and type(None) in args:
            return None
        return _coerce(value, next(a for a in args if a is not type(None)), where)
    if origin is list:
        if not isinstance(value, (list, tuple)):
            value = [value]
        return [_coerce(v, args[0], f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is tuple:
        if not isinstance(value, (list, tuple)) or len(value) != len(args):
            raise UsageError(f"{where}: expected {len(args)} values")
        return tuple(_coerce(v, a, where) for v, a in zip(value, args))
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise UsageError(f"{where}: expected a mapping")
        value_type = args[1] if args else None
        return {str(k): _coerce(v, value_type, f"{where}.{k}") if value_type else v for k, v in value.items()}
    if hint is bool:
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
            return value.lower() in ("true", "yes", "1")
        if isinstance(value, bool):
            return value
        raise UsageError(f"{where}: expected true or false, got {value!r}")
    if hint in (int, float, str):
        try:
            if hint is int and isinstance(value, float) and not value.is_integer():
                raise ValueError
            return hint(value)
        except (TypeError, ValueError):
            raise UsageError(f"{where}: expected {hint.__name__}, got {value!r}") from None
    return value


def _build(cls, values: dict, where: str = ""):
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        prefix = f"{where}." if where else ""
        raise UsageError(f"unknown config key {prefix}{unknown[0]}; valid keys: {', '.join(sorted(names))}")
    kwargs = {k: _coerce(v, hints[k], f"{where}.{k}" if where else k) for k, v in values.items()}
    return cls(**kwargs)


def _set(tree: dict, dotted: str, raw: str) -> None:
    """`a.b.c=v`; a number indexes a list (`stages.0.steps=100`: the first stage's steps)."""
    keys = dotted.split(".")
    node = tree
    for key in keys[:-1]:
        if isinstance(node, list):
            node = node[_index(node, key, dotted)]
        else:
            node = node.setdefault(key, {})
        if not isinstance(node, (dict, list)):
            raise UsageError(f"--set {dotted}: {key} is not a section")
    value = yaml.safe_load(raw) if raw != "" else ""
    if isinstance(node, list):
        node[_index(node, keys[-1], dotted)] = value
    else:
        node[keys[-1]] = value


def _index(items: list, key: str, dotted: str) -> int:
    if not key.isdigit() or int(key) >= len(items):
        raise UsageError(f"--set {dotted}: {key!r} is not an index of a list of {len(items)}")
    return int(key)


# Allowed values and ranges: checked before anything is built, so a typo fails in a second with one line (exit 2)
# instead of a torch traceback minutes later.
CHOICES = {"task": ("sr", "vsr", "vfi", "stvsr"), "precision": ("auto", "fp32", "bf16", "fp16"),
           "optim.name": ("adam", "radam"), "optim.schedule": ("cosine", "step", "constant")}


def validate_config(config: TrainConfig) -> TrainConfig:
    """Refuse values out of range or not among the choices (a UsageError naming the key); returns `config`."""
    def need(ok: bool, key: str, rule: str, value) -> None:
        if not ok:
            raise UsageError(f"config {key} must be {rule}, got {value!r}")

    for key, allowed in CHOICES.items():
        section, _, name = key.rpartition(".")
        value = getattr(getattr(config, section) if section else config, name)
        need(value in allowed, key, f"one of {', '.join(allowed)}", value)
    o, d, v = config.optim, config.data, config.val
    parse_protocol(d.degradation)  # a UsageError naming the wrong part (degrade/protocol.py)
    need(not parse_protocol(v.degradation).random, "val.degradation", "a protocol with fixed values", v.degradation)
    need(o.lr > 0 and math.isfinite(o.lr), "optim.lr", "a positive number", o.lr)
    need(0 <= o.min_lr < o.lr, "optim.min_lr", "at least 0 and below optim.lr", o.min_lr)
    need(all(0 <= b < 1 for b in o.betas), "optim.betas", "two numbers in [0, 1)", list(o.betas))
    need(o.weight_decay >= 0, "optim.weight_decay", "at least 0", o.weight_decay)
    need(o.clip_grad > 0, "optim.clip_grad", "a positive number", o.clip_grad)
    need(config.critic_lr is None or (config.critic_lr > 0 and math.isfinite(config.critic_lr)), "critic_lr",
         "a positive number", config.critic_lr)
    need(0 <= o.ema < 1, "optim.ema", "in [0, 1)", o.ema)
    need(o.step_size >= 1, "optim.step_size", "at least 1", o.step_size)
    need(0 < o.gamma <= 1, "optim.gamma", "in (0, 1]", o.gamma)
    need(1 <= config.scale <= 8, "scale", "an integer from 1 to 8", config.scale)
    need(config.batch >= 1, "batch", "at least 1", config.batch)
    need(config.log_every >= 1, "log_every", "at least 1", config.log_every)
    need(config.checkpoint_every >= 1, "checkpoint_every", "at least 1", config.checkpoint_every)
    need(bool(config.stages), "stages", "a non-empty list", config.stages)
    for i, stage in enumerate(config.stages):
        need(stage.steps >= 1, f"stages[{i}].steps", "at least 1", stage.steps)
        need(stage.lr is None or (stage.lr > 0 and math.isfinite(stage.lr)), f"stages[{i}].lr",
             "a positive number (or absent)", stage.lr)
        need(bool(stage.losses), f"stages[{i}].losses", "a non-empty mapping of loss name to weight", stage.losses)
        for name, weight in stage.losses.items():
            need(isinstance(weight, (int, float)) and weight >= 0 and math.isfinite(weight),
                 f"stages[{i}].losses.{name}", "a weight of at least 0", weight)
        need(bool(stage.train), f"stages[{i}].train", "a non-empty list of parameter patterns", stage.train)
    # how many layers the feature network has is checked when it is loaded (train/objectives.py)
    need(all(isinstance(k, int) and k >= 0 for k in config.perceptual_layers),
         "perceptual_layers", "a list of feature-network layer indices from 0 (empty: all)", config.perceptual_layers)
    need(d.patch >= 4, "data.patch", "at least 4 pixels", d.patch)
    need(d.coded_patch == 0 or d.coded_patch >= d.patch, "data.coded_patch", "0 or at least data.patch",
         d.coded_patch)
    need(d.frames >= 1, "data.frames", "at least 1", d.frames)
    need(d.frame_step >= 1, "data.frame_step", "at least 1", d.frame_step)
    need(all(isinstance(k, int) and k >= 1 for k in d.frame_steps), "data.frame_steps",
         "a list of spacings of at least 1 (empty: frame_step)", d.frame_steps)
    need(all(a in AUGMENTATIONS for a in d.augment), "data.augment", f"a list of {', '.join(AUGMENTATIONS)}",
         d.augment)
    need(0 <= d.photo_share <= 1, "data.photo_share", "in [0, 1]", d.photo_share)
    need(0 < d.hr_downscale <= 1, "data.hr_downscale", "in (0, 1]", d.hr_downscale)
    need(all(isinstance(f, (int, float)) and 0 < f <= 1 for f in d.photo_scales), "data.photo_scales",
         "a list of factors in (0, 1] (empty: hr_downscale only)", d.photo_scales)
    need(not (d.packed and d.photo_scales), "data.photo_scales", "empty with data.packed (a pack holds its photos "
         "at hr_downscale only)", d.photo_scales)
    need(d.workers >= 0, "data.workers", "at least 0", d.workers)
    need(bool(d.videos), "data.videos", "a non-empty list of folders or files", d.videos)
    need(v.every >= 0, "val.every", "at least 0 (0: no validation)", v.every)
    need(v.clips >= 0, "val.clips", "at least 0 (0: all)", v.clips)
    return config


def check_paths(config: TrainConfig, *, resuming: bool = False) -> None:
    """The files and folders `config` reads must exist (an InputError names the first that does not). A resumed
    run starts from its checkpoint, not from `init`, so that file may have moved since."""
    if config.data.packed:
        wanted = [("training pack", config.data.packed)]
    else:
        wanted = [("training data", p) for p in config.data.videos]
        if config.data.photo_share > 0:
            wanted += [("training photos", p) for p in config.data.photos]
    if config.val.every > 0 and config.val.data:
        wanted.append(("validation data", config.val.data))
    if config.init and not resuming:
        wanted.append(("init weights", config.init))
    if config.vgg_weights:
        wanted.append(("VGG weights", config.vgg_weights))
    if config.perceptual_weights:
        wanted.append(("detail-feature weights", config.perceptual_weights))
    for what, path in wanted:
        if not Path(path).exists():
            raise InputError(f"{what} not found: {path}")


def load_config(path: str | Path | None = None, overrides: list[str] = ()) -> TrainConfig:
    """Defaults, then the YAML file at `path`, then each `key=value` override."""
    tree: dict = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise UsageError(f"config not found: {path}")
        try:
            tree = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as error:
            raise UsageError(f"config {path} is not valid YAML: {str(error).splitlines()[0]}") from None
        if not isinstance(tree, dict):
            raise UsageError(f"config {path} must be a mapping of keys to values")
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--set takes key=value, got {item!r}")
        _set(tree, key.strip(), value.strip())
    return validate_config(_build(TrainConfig, tree))


def parse_config(text: str) -> TrainConfig:
    """A config from YAML text (as `dump_config` writes it)."""
    tree = yaml.safe_load(text) or {}
    if not isinstance(tree, dict):
        raise UsageError("a config must be a mapping of keys to values")
    return validate_config(_build(TrainConfig, tree))


def dump_config(config: TrainConfig) -> str:
    """The resolved config as YAML (saved in every run folder)."""
    return yaml.safe_dump(_plain(dataclasses.asdict(config)), sort_keys=False)


def _plain(value):
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value

"""`stvsr study tradeoff`: is a method tuned for per-frame quality also temporally consistent?

Every method is scored on spatial axes (MSE on RGB, 1 − SSIM on Y, NIQE, frame-stream recognition error) and
temporal axes (warping error, tOF, flow-stream recognition error), all lower-is-better. One scatter plot per
(spatial, temporal) pair marks the Pareto front, as the trade-off study's Figure 1 does.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from ..data.actions import action_set
from ..errors import UsageError
from ..evaluate.runner import EvalConfig, evaluate
from ..evaluate.tables import fmt, json_safe
from ..evaluate.tasks import Task
from ..atomic import atomic_write_text
from ..models import build_method
from ..models.shipped import SHIPPED
from ..runtime import pick_device
from .plots import tradeoff_plot
from .recognition import load_classifier, recognition_errors, shipped_classifier_path

SPATIAL_AXES = {"mse_rgb": "MSE on RGB (x1e-3)", "1-ssim_y": "1 - SSIM on Y", "niqe": "NIQE",
                "frame_err": "frame-stream recognition error"}
TEMPORAL_AXES = {"warp_err@dis": "warping error (x1e-3)", "tof": "tOF", "flow_err": "flow-stream recognition error"}
METRICS = ["psnr_y", "ssim_y", "mse_rgb", "niqe", "warp_err@dis", "tof"]
ACTION_SEED = 7  # the recognition test clips: a seed the classifiers never trained on


@dataclass
class TradeoffConfig:
    data: Path
    layout: str
    task: str = "stvsr"
    methods: list[str] = field(default_factory=list)
    out: Path = Path("study")
    scale: int = 4
    max_clips: int | None = None
    device: str = "auto"
    classifiers: dict[str, str] = field(default_factory=dict)  # stream -> weights path ("" = shipped)
    recognition: bool = True
    action_clips: int = 64
    visuals: int = 4
    progress: bool = False


def default_study_methods(task: str, scale: int = 4) -> list[str]:
    """Bicubic, every shipped per-frame SR model (pixel- and GAN-trained), the multi-frame and space-time models
    trained for `scale`; for the space-time task, per-frame and multi-frame SR models are paired with DIS
    interpolation at high resolution (the x4 x2 default is one: propstvsr.x4_l+dis), and the classical cascades are
    included."""
    available = {s.name: s for s in SHIPPED.values() if s.available and s.scale == scale}
    per_frame = [n for n, s in available.items() if s.task == "sr"]
    if task == "vsr":
        return ["bicubic", *per_frame, *(n for n, s in available.items() if s.task == "vsr")]
    if task == "stvsr":
        multi_frame = [n for n, s in available.items() if s.task == "vsr"]
        return ["bicubic+dis", "dis+bicubic", "blend+bicubic", *(f"{n}+dis" for n in per_frame + multi_frame),
                *(n for n, s in available.items() if s.task == "stvsr")]
    raise UsageError("the trade-off study runs the vsr or stvsr task")


def axis_values(means: dict[str, float]) -> dict[str, float]:
    """The study's lower-is-better axes from an evaluation's means (display units: MSE and warping error x1e3)."""
    return {"mse_rgb": means["mse_rgb"] * 1e3, "1-ssim_y": 1 - means["ssim_y"], "niqe": means["niqe"],
            "warp_err@dis": means["warp_err@dis"] * 1e3, "tof": means["tof"], "psnr_y": means["psnr_y"]}


def tradeoff(config: TradeoffConfig, log=print) -> dict:
    """Run the study; writes the evaluation files, study.json, study.md and plots/*.png into `config.out`."""
    if config.task not in ("vsr", "stvsr"):
        raise UsageError("the trade-off study runs the vsr or stvsr task")
    methods = config.methods or default_study_methods(config.task, config.scale)
    streams = _streams(config)
    # Classifiers load first: a bad --classifier file fails in a second, not after the whole evaluation.
    classifiers = [load_classifier(stream, path or None) for stream, path in streams.items()]
    result = evaluate(EvalConfig(data=config.data, layout=config.layout, task=config.task, methods=methods,
                                 scale=config.scale, metrics=METRICS, out=config.out, device=config.device,
                                 max_clips=config.max_clips, visuals=config.visuals, progress=config.progress))
    points = {m: axis_values(result.means[m]) for m in methods}
    recognition = {}
    if streams:
        task = Task(config.task, config.scale)
        device = pick_device(config.device)
        clips = action_set(config.action_clips, seed=ACTION_SEED)
        for method in methods:
            model = build_method(method, scale=task.model_scale, time_factor=task.time_factor).to(device).eval()
            errors = recognition_errors(model, clips, task, classifiers, device)
            points[method].update(errors)
            log(f"recognition {method}: " + ", ".join(f"{k} {v:.3f}" for k, v in errors.items()))
        reference = recognition_errors(None, clips, task, classifiers, device)
        recognition = {"clips": len(clips), "seed": ACTION_SEED, "ground_truth_errors": reference,
                       "classifiers": {c.stream: str(streams[c.stream] or shipped_classifier_path(c.stream))
                                       for c in classifiers}}
    # An axis is plotted when every method has it and it is a number for at least two (NIQE is undefined on
    # frames smaller than its 96x96 blocks).
    def usable(axis: str) -> bool:
        values = [p.get(axis) for p in points.values()]
        return all(v is not None for v in values) and sum(not math.isnan(v) for v in values) >= 2

    spatial = [a for a in SPATIAL_AXES if usable(a)]
    temporal = [a for a in TEMPORAL_AXES if usable(a)]
    fronts, plots = {}, []
    for s in spatial:
        for t in temporal:
            name = f"{_slug(s)}__{_slug(t)}"
            path = config.out / "plots" / f"{name}.png"
            front = tradeoff_plot({m: (points[m][s], points[m][t]) for m in methods}, path,
                                  xlabel=SPATIAL_AXES[s], ylabel=TEMPORAL_AXES[t],
                                  title=f"{config.task} on {config.data.name}")
            fronts[name] = front
            plots.append({"file": f"plots/{name}.png", "x": s, "y": t, "front": front})
    study = {"kind": "tradeoff", "task": config.task, "data": str(config.data), "methods": methods,
             "axes": {"spatial": {a: SPATIAL_AXES[a] for a in spatial},
                      "temporal": {a: TEMPORAL_AXES[a] for a in temporal}},
             "points": points, "plots": plots, "recognition": recognition, "protocol": result.protocol}
    atomic_write_text(config.out / "study.json", json.dumps(json_safe(study), indent=2))
    atomic_write_text(config.out / "study.md", study_table(study))
    return study


def study_table(study: dict) -> str:
    axes = {**study["axes"]["spatial"], **study["axes"]["temporal"]}
    on_any_front = {m for p in study["plots"] for m in p["front"]}
    head = ["method", "PSNR-Y", *axes.values(), "on a Pareto front"]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 2) + "---|"]
    for method in study["methods"]:
        p = study["points"][method]
        fronts = sum(method in plot["front"] for plot in study["plots"])
        cells = [method, f"{p['psnr_y']:.2f}", *(_fmt(p.get(a)) for a in axes),
                 f"{fronts}/{len(study['plots'])}" if method in on_any_front else "–"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _streams(config: TradeoffConfig) -> dict[str, str]:
    """stream -> classifier path ("" for the shipped one) of the recognition axis; empty when it is off."""
    if not config.recognition:
        return {}
    streams = {s: config.classifiers.get(s, "") for s in ("frame", "flow")}
    missing = [s for s, p in streams.items() if not p and not shipped_classifier_path(s).is_file()]
    return {} if missing else streams


def _slug(axis: str) -> str:
    return axis.replace("@", "_").replace("-", "_")


def _fmt(value) -> str:
    return fmt(value, digits=4 if value is None or abs(value) < 10 else 2)

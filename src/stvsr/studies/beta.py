"""`stvsr study beta`: move the siamese two-frame model along the spatial–temporal frontier with β.

For each β, ToSR is trained on frame pairs with the joint loss
    L = α‖Î_t − I_t‖² + α‖Î_{t+1} − I_{t+1}‖² + β·E_warp(Î_t, Î_{t+1}),   α = 0.5
(= `mse` with weight 2α plus `warp` with weight β in `stvsr train` terms), with the same seed, data and step budget,
then scored on the dev set: MSE, 1 − SSIM and warping error against β on a log axis (the study's Figure 2).
Runs live in OUT/beta_<β>/ and are resumed where they stopped; a point short of its budget is plotted hollow.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UsageError
from ..evaluate.runner import EvalConfig, evaluate
from ..evaluate.tables import json_safe
from ..atomic import atomic_write_text
from ..models import save_weights
from ..train.config import DataConfig, OptimConfig, StageConfig, TrainConfig, ValConfig
from ..train.checkpoint import CHECKPOINT, load_checkpoint
from ..train.loop import build_model, train
from .plots import beta_plot

ALPHA = 0.5
METRICS = ["mse_rgb", "ssim_y", "warp_err@dis", "psnr_y"]


@dataclass
class BetaConfig:
    betas: list[float] = field(default_factory=lambda: [0.0, 0.01, 0.1, 1.0, 10.0])
    out: Path = Path("beta-study")
    steps: int = 400  # per β: a short CPU budget; raise it for a smoother curve
    max_steps: int | None = None  # stop each run after this many steps in this call (resume later)
    videos: list[str] = field(default_factory=lambda: ["../shared/data/train"])
    photos: list[str] = field(default_factory=list)  # folders of stills under `videos`, excluded (not clips)
    cache: str = ""
    data: Path = Path("../shared/data/dev/vimeo_septuplet")  # where each β is scored
    layout: str = "vimeo"
    max_clips: int | None = None
    model_kwargs: dict = field(default_factory=lambda: {"features": 32, "blocks": 4})
    batch: int = 8
    patch: int = 32
    seed: int = 0
    workers: int = 1


def run_config(config: BetaConfig, beta: float) -> TrainConfig:
    return TrainConfig(
        model="tosr", model_kwargs=dict(config.model_kwargs), task="vsr", scale=4, batch=config.batch,
        seed=config.seed,
        stages=[StageConfig(name="joint", steps=config.steps, losses={"mse": 2 * ALPHA, "warp": beta}
                            if beta > 0 else {"mse": 2 * ALPHA})],
        optim=OptimConfig(lr=5e-4),
        data=DataConfig(videos=list(config.videos), photos=list(config.photos), photo_share=0.0,
                        patch=config.patch, frames=2, workers=config.workers, cache=config.cache),
        val=ValConfig(every=0), checkpoint_every=50, log_every=50, out=str(run_folder(config, beta)))


def run_folder(config: BetaConfig, beta: float) -> Path:
    return config.out / f"beta_{beta:g}"


def beta_study(config: BetaConfig, log=print) -> dict:
    """Train (or resume) every β, score each, write beta.json, beta.md and beta.png into `config.out`."""
    config.out.mkdir(parents=True, exist_ok=True)
    weights = {}
    for beta in config.betas:
        run = run_folder(config, beta)
        done = run / "last.safetensors"
        if not done.exists() and config.max_steps != 0:  # --max-steps 0: plot what exists, train nothing
            resume = (run / CHECKPOINT).exists()
            log(f"β = {beta:g}: {'resuming' if resume else 'training'} ({config.steps} steps)")
            train(run_config(config, beta), resume=resume, max_steps=config.max_steps,
                  command=f"stvsr study beta (β = {beta:g})")
        if done.exists():
            weights[beta] = done
        elif (run / CHECKPOINT).exists():
            weights[beta] = _export_partial(run, config, beta)
        else:  # not a single step yet (e.g. --max-steps 0): nothing to score
            log(f"β = {beta:g}: not started, left out of the plot")
    if not weights:
        raise UsageError("no β run has trained a step yet: run without --max-steps 0")
    rows = []
    result = evaluate(EvalConfig(data=config.data, layout=config.layout, task="vsr",
                                 methods=[str(w) for w in weights.values()], metrics=METRICS,
                                 max_clips=config.max_clips))
    for beta in weights:
        means = result.means[str(weights[beta])]
        steps = _steps(run_folder(config, beta))
        rows.append({"beta": beta, "steps": steps, "complete": steps >= config.steps,
                     "mse_rgb": means["mse_rgb"] * 1e3, "1-ssim_y": 1 - means["ssim_y"],
                     "warp_err@dis": means["warp_err@dis"] * 1e3, "psnr_y": means["psnr_y"]})
    beta_plot(rows, config.out / "beta.png", metrics={"mse_rgb": "MSE on RGB (x1e-3)", "1-ssim_y": "1 - SSIM on Y",
                                                       "warp_err@dis": "warping error (x1e-3)"})
    study = {"kind": "beta", "alpha": ALPHA, "steps_per_beta": config.steps, "rows": rows,
             "not_started": [b for b in config.betas if b not in weights],
             "plots": [{"file": "beta.png"}], "protocol": result.protocol, "data": str(config.data)}
    atomic_write_text(config.out / "study.json", json.dumps(json_safe(study), indent=2))
    lines = ["| β | steps | MSE-RGB x1e3 | 1 − SSIM-Y | WarpErr x1e3 | PSNR-Y |", "|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['beta']:g} | {r['steps']}{'' if r['complete'] else ' (partial)'} | {r['mse_rgb']:.4f} | "
              f"{r['1-ssim_y']:.4f} | {r['warp_err@dis']:.4f} | {r['psnr_y']:.2f} |" for r in rows]
    atomic_write_text(config.out / "study.md", "\n".join(lines) + "\n")
    return study


def _steps(run: Path) -> int:
    if (run / CHECKPOINT).exists():
        return int(load_checkpoint(run / CHECKPOINT, needs=("step",))["step"])
    return 0


def _export_partial(run: Path, config: BetaConfig, beta: float) -> Path:
    """The EMA weights of an unfinished run, so its point can be plotted (hollow)."""
    state = load_checkpoint(run / CHECKPOINT)
    model, kwargs = build_model(run_config(config, beta))
    model.load_state_dict(state["ema"])
    path = run / "partial.safetensors"
    save_weights(model, path, name="tosr", kwargs=kwargs,
                 extra={"training": {"steps": state["step"], "note": f"partial run, beta {beta:g}"}})
    return path

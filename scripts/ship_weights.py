"""Install trained weights as a shipped model and write its model card from a fresh dev-set evaluation.

    python scripts/ship_weights.py NAME RUN/last.safetensors [--data ../shared/data/dev/vimeo_septuplet]
    python scripts/ship_weights.py NAME --card-only      # re-evaluate the installed weights, rewrite the card

NAME is one of stvsr.models.shipped.SHIPPED. Ship the end-of-schedule weights (last.safetensors), not the run's
best.safetensors: that one was picked by dev-set PSNR, and the card reports dev-set PSNR. The card holds what the
weights file says about its training (data, steps, wall time, command, config) and a table of the model against
the classical baselines for its task, all measured in this run with `stvsr evaluate`'s runner on the dev set
(never trained on).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch
import yaml

from stvsr import catalogue
from stvsr.evaluate.runner import EvalConfig, evaluate
from stvsr.evaluate.tables import markdown_tables
from stvsr.metrics import METRICS as METRIC_REGISTRY
from stvsr.models import read_metadata
from stvsr.models.checkpoint import load_model
from stvsr.models.info import describe
from stvsr.models.registry import model_entry
from stvsr.models.shipped import SHIPPED

BASELINES = {
    "stvsr": ["blend+bicubic", "dis+bicubic", "bicubic+dis"],
    "vsr": ["bicubic", "imdn.x4"],
    "vfi": ["blend", "dis"],
}
METRICS = ["psnr_y", "ssim_y", "warp_err@dis", "tof"]
CLASSICAL_BASELINE = {"bicubic", "bicubic+dis", "dis"}  # the classical reference each card's gain is stated against


def dev_curve(log: Path) -> list[str]:
    """The run's dev-set PSNR-Y at each validation (from log.csv), by step and, where the run logged it, by
    wall-clock hours of training (all calls of the run): where the curve flattened, and at what cost."""
    from stvsr.train.loop import read_dev_curve

    points = read_dev_curve(log)
    if not points:
        return []
    lines = ["## Dev-set curve (validation during training, EMA weights)", "",
             "| step | " + " | ".join(str(s) for s, _, _ in points) + " |",
             "|---|" + "---:|" * len(points),
             "| PSNR-Y | " + " | ".join(f"{v:.2f}" for _, v, _ in points) + " |"]
    if all(wall is not None for _, _, wall in points):
        lines.append("| hours | " + " | ".join(f"{wall / 3600:.2f}" for _, _, wall in points) + " |")
    return lines + [""]


def baselines(task: str, scale: int | None) -> list[str]:
    """The task's baselines that run at the model's scale: classical ones always, shipped ones at their own."""
    return [m for m in BASELINES[task] if m not in SHIPPED or scale is None or SHIPPED[m].scale == scale]


ROOT = Path(__file__).resolve().parent.parent


def repo_relative(text: str) -> str:
    """Paths of the training machine as a clone of the repository names them: the root dropped, and the run folders
    and decoded-source cache kept beside the clone (ROOT/../runs, ROOT/../cache) named as their place in a clone
    (runs/, runs/cache). Cards and the weights' own metadata carry no machine's folders."""
    text = text.replace(str(ROOT) + "/", "")
    text = text.replace(str(ROOT.parent / "runs") + "/", "runs/").replace(str(ROOT.parent / "cache"), "runs/cache")
    return text


STORAGE = {"fp32": torch.float32, "fp16": torch.float16}


def install(weights: Path, destination: Path, storage: str = "fp32") -> None:
    """Copy `weights` to `destination` atomically, its metadata made repository-relative. `storage` fp16 halves the
    file (a wheel's size budget): floating tensors are rounded to fp16 and loading casts them back into the model's
    fp32 parameters (load_state_dict copies), so only the rounding of the weights changes, which the card's fresh
    evaluation of the installed file measures. The metadata records it."""
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    with safe_open(str(weights), "pt") as handle:
        metadata = {key: repo_relative(value) for key, value in (handle.metadata() or {}).items()}
    tensors = load_file(str(weights))
    if storage != "fp32":
        tensors = {k: v.to(STORAGE[storage]) if v.is_floating_point() else v for k, v in tensors.items()}
        contract = json.loads(metadata["stvsr"])
        metadata["stvsr"] = json.dumps({**contract, "storage": storage})
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(f".{destination.name}.partial")
    save_file(tensors, str(partial), metadata=metadata)
    partial.replace(destination)


def starts_from(recipe: str) -> str:
    """Where the recipe's `init` weights come from, as it is written in configs/ (the run's own config holds the
    path it was given on the command line): a shipped file names that model's recipe, a run folder its config."""
    path = Path(__file__).resolve().parent.parent / "configs" / f"{recipe}.yaml"
    recipe_config = (yaml.safe_load(path.read_text()) or {}) if path.is_file() else {}
    init = str(recipe_config.get("init", ""))
    if not init:
        return ""
    left_out = recipe_config.get("init_exclude") or []
    but = f", all but {', '.join(f'`{p}`' for p in left_out)}" if left_out else ""
    name = Path(init).name.removesuffix(".safetensors")
    if init.startswith(("src/stvsr/weights/", "zoo/")) and name in SHIPPED:
        return f" (after `configs/{SHIPPED[name].recipe}.yaml`: it starts from {name}'s weights{but})"
    parts = Path(init).parts
    if len(parts) >= 2 and parts[0] == "runs":
        return f" (after `configs/{parts[1]}.yaml`, whose run's last weights it starts from{but})"
    return f" (it starts from `{init}`{but})"


def task_of(model_task: str) -> str:
    return "vsr" if model_task == "sr" else model_task


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", choices=sorted(SHIPPED))
    parser.add_argument("weights", nargs="?", type=Path, help="trained weights to install")
    parser.add_argument("--card-only", action="store_true", help="keep the installed weights; rewrite the card")
    parser.add_argument("--data", type=Path, default=Path("../shared/data/dev/vimeo_septuplet"))
    parser.add_argument("--layout", default="vimeo")
    parser.add_argument("--extra", default="", help="more methods for the table, comma-separated")
    parser.add_argument("--note", default="", help="known limitations, added to the card as written")
    parser.add_argument("--log", type=Path, help="the run's log.csv: its dev-set curve goes into the card")
    parser.add_argument("--degradation", action="append", default=[], metavar="PROTOCOL",
                        help="also evaluate with LR made by this protocol (e.g. BI+h264:crf=26; repeatable): one "
                             "more table each, with the blockiness metric")
    parser.add_argument("--degradation-metrics", default="psnr_y,ssim_y,warp_err@dis,blockiness",
                        help="the metrics of those tables, comma-separated (a GAN-trained model: add niqe,checker)")
    parser.add_argument("--storage", choices=sorted(STORAGE), default="fp32",
                        help="the installed file's float type (fp16: half the size; the card measures that file)")
    args = parser.parse_args()
    unknown = [m for m in args.degradation_metrics.split(",") if m and m not in METRIC_REGISTRY]
    if unknown:  # before the first evaluation, not minutes into the run
        parser.error(f"--degradation-metrics: unknown metric {unknown[0]!r}; choose from {', '.join(METRIC_REGISTRY)}")
    entry = SHIPPED[args.name]
    if args.weights is None and not args.card_only:
        parser.error("give the weights to install, or --card-only")
    if args.weights is not None:
        load_model(args.weights)  # refuses corrupt or mismatched files before anything is replaced
        install(args.weights, entry.path, args.storage)

    metadata = read_metadata(entry.path)
    model_name, kwargs = metadata["model"], metadata.get("kwargs", {})
    task = task_of(metadata.get("task") or model_entry(model_name).task)
    methods = [args.name] + [m for m in baselines(task, metadata.get("scale")) if m != args.name]
    methods = list(dict.fromkeys(methods + [m for m in args.extra.split(",") if m]))
    started = time.perf_counter()
    # per-frame detail: NIQE tells GAN-trained apart; the checkerboard measure catches sub-pixel artefacts
    metrics = METRICS + (["niqe", "checker"] if task == "vsr" else [])
    result = evaluate(EvalConfig(data=args.data, layout=args.layout, task=task, methods=methods,
                                 metrics=metrics, scale=metadata.get("scale") if task != "vfi" else 4))
    seconds = time.perf_counter() - started
    compressed = []
    for protocol in args.degradation:  # the same methods on inputs made another way (issue 39)
        extra_metrics = [m for m in args.degradation_metrics.split(",") if m]
        compressed.append((protocol, extra_metrics, evaluate(EvalConfig(
            data=args.data, layout=args.layout, task=task, methods=methods, metrics=extra_metrics,
            degradation=protocol, scale=metadata.get("scale") if task != "vfi" else 4))))
    info = describe(model_entry(model_name), **kwargs)
    card = repo_relative(render_card(entry, metadata, info, result, task, args, seconds, metrics, compressed))
    partial = entry.card_path.with_name(f".{entry.card_path.name}.partial")
    partial.write_text(card)
    partial.replace(entry.card_path)
    catalogue.write()  # `stvsr models` lists from the index: keep it in step with the declared weights
    print(card)
    return 0


def render_card(entry, metadata: dict, info: dict, result, task: str, args, seconds: float,
                metrics: list[str], compressed: list | None = None) -> str:
    training = metadata.get("training") or {}
    config = yaml.safe_load(training.get("config", "")) or {}
    size = entry.path.stat().st_size / 1e6
    ours = result.means[entry.name]
    lines = [
        f"# {entry.name}",
        "",
        f"{entry.role}. Model `{metadata['model']}` {json.dumps(metadata.get('kwargs', {}))}: "
        f"{model_entry(metadata['model']).description}.",
        "",
        f"- Parameters: {info['params']:,}; {info['gflops']:.2f} GFLOPs per output frame at 180x144 input; "
        f"weights file {size:.2f} MB (safetensors, EMA of the trained weights"
        + (f", stored in {metadata['storage']} and computed in fp32" if metadata.get("storage") else "") + ").",
        f"- Scale x{metadata.get('scale')}, time x{metadata.get('time_factor')}; input "
        f"{metadata.get('input')}.",
        "",
        "## Training",
        "",
        f"- Recipe: `configs/{entry.recipe}.yaml`; reproduce with `stvsr train --config configs/{entry.recipe}.yaml`"
        + starts_from(entry.recipe) + ".",
        f"- Data: {', '.join(training.get('data', []))} (antialiased x0.5 HR; LR by "
        f"`{config.get('data', {}).get('degradation', 'BI')}` on the fly, degrade/protocol.py); never the dev set.",
        f"- Steps: {training.get('steps')} x batch {config.get('batch')} "
        f"(LR patch {config.get('data', {}).get('patch')}, precision {config.get('precision')}); "
        f"wall time {training.get('wall_seconds', 0) / 60:.0f} min"
        + (f" on {training['device']}." if training.get("device") else " on a 2-core CPU (no GPU), sharing it with "
           "the other shipped models' training runs."),
        "- Losses: " + "; ".join(f"{s.get('name')}: {s.get('losses')}" for s in config.get("stages", [])) + ".",
        f"- Command: `{training.get('command')}`",
        "",
        f"## Dev-set results ({task} protocol)",
        "",
        f"Measured {time.strftime('%Y-%m-%d')} by `python scripts/ship_weights.py {entry.name} --card-only` on "
        f"{result.protocol['dataset']['clips']} clips of {args.data} ({args.layout} layout), with the baselines "
        f"in the same run ({seconds:.0f} s, {platform.machine()}, {torch.get_num_threads()} thread"
        f"{'s' if torch.get_num_threads() != 1 else ''}). "
        "Warping error x1e-3, tOF and NIQE: lower is better.",
        "",
        markdown_tables(result, metrics).split("\n\nPer clip")[0],
        "",
        f"Protocol: {json.dumps(result.protocol['task'])}.",
        "",
    ]
    measured = [m for m in baselines(task, metadata.get("scale")) if m != entry.name and m in result.means]
    best_baseline = max(measured, key=lambda m: result.means[m]["psnr_y"])
    gain = ours["psnr_y"] - result.means[best_baseline]["psnr_y"]
    summary = f"PSNR-Y {ours['psnr_y']:.2f} dB: {gain:+.2f} dB against the best baseline here ({best_baseline})"
    classical = [m for m in measured if m in CLASSICAL_BASELINE]
    if classical and classical[0] != best_baseline:
        summary += f", {ours['psnr_y'] - result.means[classical[0]]['psnr_y']:+.2f} dB against {classical[0]}"
    lines += [summary + ".", ""]
    for protocol, extra_metrics, other in compressed or []:
        mine = other.means[entry.name]["psnr_y"]
        bicubic = next((m for m in other.means if m in CLASSICAL_BASELINE), None)
        lines += [f"## Dev-set results, LR through `{protocol}` ({task} protocol)", "",
                  "Ground truth clean; LR made by the protocol (degrade/protocol.py); blockiness: codec block "
                  "edges in 8-bit levels, lower is better." + (" NIQE and the checkerboard: lower is better."
                                                               if "niqe" in extra_metrics else ""), "",
                  markdown_tables(other, extra_metrics).split("\n\nPer clip")[0], ""]
        if bicubic is not None:
            lines += [f"PSNR-Y {mine:.2f} dB: {mine - other.means[bicubic]['psnr_y']:+.2f} dB against {bicubic}.", ""]
    if args.log is not None:
        lines += dev_curve(args.log)
    if args.note:
        lines += ["## Known limitations", "", args.note, ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

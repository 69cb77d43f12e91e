"""The `stvsr` command: thin subcommands over library functions (CONTRIBUTING.md §8).

Exit codes: 0 done; 1 internal error (a bug: please report it); 2 bad arguments; 3 unusable input;
4 output cannot be written; 5 bad weights; 6 training diverged; 129 terminal closed (SIGHUP); 130 interrupted
(Ctrl-C); 143 terminated.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from fractions import Fraction
from pathlib import Path

from . import __version__
from .errors import EXIT_INTERRUPTED, InputError, OutputError, StvsrError, UsageError
from .runtime import PRECISIONS, QUALITY_LEVELS, SOURCES


def _fraction(text: str) -> Fraction:
    try:
        value = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"not a frame rate: {text!r} (e.g. 25, 30000/1001)") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("frame rate must be positive")
    return value


def _human_bytes(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"


def _rate(fps: Fraction) -> str:
    return f"{fps.numerator}/{fps.denominator} ({float(fps):.3f} fps)" if fps.denominator != 1 else f"{fps} fps"


# Subcommands ---------------------------------------------------------------------------------------------------

def _preflight_upscale(args: argparse.Namespace):
    """The job read from the command line and validated before torch loads: a mistake fails in a fraction of a
    second, not after seconds of imports. The job carries the input's probe, which the run reuses."""
    from .io.outputs import check_writable_folder
    from .io.probe import probe
    from .jobs.options import UpscaleJob

    if (args.preview_start is not None or args.preview_seconds is not None) and not args.preview:
        raise UsageError("--preview-start and --preview-seconds go with --preview")
    if args.segment_seconds is not None and not args.resume:
        raise UsageError("--segment-seconds goes with --resume")
    job = UpscaleJob.from_args(args)
    job.info = probe(job.input, folder_fps=job.input_fps)
    job.validate()
    if args.report is not None:
        check_writable_folder(args.report.parent, "report")  # before the work, not after it
        if args.report.resolve() in (job.input.resolve(), job.destination.resolve()):
            raise UsageError("--report must name a file of its own, not the input or the output")
    return job


def cmd_upscale(args: argparse.Namespace) -> int:
    job = _preflight_upscale(args)
    from .jobs.upscale import upscale_video

    if args.resume:
        args.interrupt_note = "finished segments are kept: the same command (with --resume) continues"
    try:
        summary = upscale_video(job)
    except OutputError as error:  # a failed self-check is reported too
        if args.report is not None and getattr(error, "check", None) is not None:
            _write_json(args.report, {"output": str(job.output), "ok": False, "error": str(error),
                                      "self_check": error.check.as_dict()})
        raise
    if args.report is not None:
        _write_json(args.report, {"ok": True, **summary.as_dict()})
    if not args.quiet:
        (w0, h0), (w1, h1) = summary.size_in, summary.size_out
        print(f"wrote {summary.output} ({_human_bytes(summary.output_bytes)}) with {summary.method} on "
              f"{summary.device} in {summary.seconds:.1f} s")
        print(f"  frames      {summary.frames_in} -> {summary.frames_out}")
        print(f"  frame rate  {_rate(summary.fps_in)} -> {_rate(summary.fps_out)}")
        print(f"  size        {w0}x{h0} -> {w1}x{h1}")
        print(f"  speed       {summary.frames_out / max(summary.seconds, 1e-9):.1f} output frames/s")
        if summary.check is not None:
            print(f"  self-check  {summary.check.summary()}")
        for note in summary.notes:
            print(f"  note: {note}")
    return 0


def _write_json(path: Path, data: dict) -> None:
    """Write `data` to `path` atomically (a reader never sees half a report)."""
    from .atomic import atomic_write_text

    path = Path(path)
    try:
        atomic_write_text(path, json.dumps(data, indent=2) + "\n")
    except OSError as error:
        raise OutputError(f"cannot write the report {path}: {error.strerror or error}") from None


def cmd_batch(args: argparse.Namespace) -> int:
    from .io.probe import probe
    from .jobs.batch import check_unique_outputs, list_videos, output_for
    from .jobs.options import UpscaleJob

    if args.engine == "local" and (args.address or args.workers or args.gpus_per_worker):
        raise UsageError("--address, --workers and --gpus-per-worker go with --engine ray")
    if args.max_retries < 0 or args.gpus_per_worker < 0:
        raise UsageError("--max-retries and --gpus-per-worker must not be negative")
    sources = list_videos(args.input)  # before torch loads: a wrong folder fails at once
    check_unique_outputs(sources, args.output, args.ext)
    template = UpscaleJob.from_args(args, input=Path(), output=Path())
    template.method.validate()
    if sources:
        template.encoder.validate(output_for(sources[0], args.output, args.ext))
    args.interrupt_note = "finished files and segments are kept: the same command continues"
    from tqdm import tqdm

    from .jobs.batch import run_batch

    def frames_of(source: Path) -> int:
        try:
            return probe(source).frame_count * template.method.time_factor
        except StvsrError:
            return 0

    total = sum(frames_of(s) for s in sources if not output_for(s, args.output, args.ext).exists())
    show = not args.quiet and sys.stderr.isatty()
    engine = {"engine": "local"}
    with tqdm(total=total, unit="frame", disable=not show, dynamic_ncols=True) as bar:
        if args.engine == "ray":
            from .jobs.ray_batch import run_ray_batch

            # one line for the whole cluster: files and segments done, output frames/s over all workers, ETA
            result, engine = run_ray_batch(args.input, args.output, template, ext=args.ext, address=args.address,
                                           workers=args.workers, gpus_per_worker=args.gpus_per_worker,
                                           max_retries=args.max_retries, progress=bar.update,
                                           on_status=bar.set_description)
        else:
            result = run_batch(args.input, args.output, template, ext=args.ext, progress=bar.update,
                               on_file=lambda name, n: bar.set_description(name))
    if args.report is not None:
        files = [vars(r) | engine.get("files", {}).get(r.name, {}) for r in result.results]
        _write_json(args.report, {"ok": result.exit_code == 0, **{k: v for k, v in engine.items() if k != "files"},
                                  "files": files})
    if not args.quiet:
        print(result.table())
    return result.exit_code


def cmd_export(args: argparse.Namespace) -> int:
    from .jobs.export import export_model

    interface, error = export_model(args.name, args.format, args.output, overwrite=args.overwrite)
    print(f"wrote {args.output} ({args.format}): {interface.describe()}")
    print(f"checked against PyTorch on another input size: largest difference {error:.1e}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from .jobs.bench import bench, default_methods, table

    methods = default_methods()
    if args.methods:
        wanted = _split(args.methods)
        known = {x[0] for x in methods}
        methods = [m for m in methods if m[0] in wanted] + [
            (m, args.scale, args.time_factor or (2 if "+" in m else 1)) for m in wanted if m not in known]
    rows = bench(methods, output=args.output, frames=args.frames, device=args.device, precision=args.precision)
    print(table(rows, args.output))
    print(f"\nModel only (decode and encode excluded; each frame handed over as 8-bit RGB on the host), "
          f"{args.frames} input frames after a warm-up, one process per method; precision {args.precision}.")
    return 0 if all(r.fps is not None for r in rows) else 1


def cmd_info(args: argparse.Namespace) -> int:
    from .io import probe

    from .io.probe import DEFAULT_MAX_PIXELS, check_pixel_budget

    info = probe(Path(args.input), folder_fps=args.input_fps)
    cuts, skipped = None, ""
    if not args.no_scene_detect:
        try:
            check_pixel_budget(info, args.max_pixels or DEFAULT_MAX_PIXELS)  # finding cuts decodes every frame
        except InputError as error:
            args.no_scene_detect, skipped = True, f"not looked for: {error}"
    if not args.no_scene_detect:  # decodes every frame (at most 256 pixels wide for the detector)
        from .io import VideoReader
        from .jobs.scenes import find_cuts

        with VideoReader(info.path, folder_fps=args.input_fps, info=info) as reader:
            cuts = find_cuts(reader, *([args.scene_threshold] if args.scene_threshold is not None else []))
    from .inference import default_method, for_source
    from .io.compression import assess_source

    # For x4 and x2: how the input was coded (the rate that counts as clean depends on the scale), the default
    # that a plain `upscale --scale S --time-factor 2` runs, and what this input gets instead.
    runs = {}
    for scale in (4, 2):
        found = assess_source(info, scale)
        usual = default_method(scale, 2, info.width * info.height * scale * scale)
        runs[scale] = (found, usual, for_source(usual, found.compressed))
    source = runs[4][0]
    if args.json:
        data = {"path": str(info.path), "container": info.container, "codec": info.codec, "width": info.width,
                "height": info.height, "fps": str(info.fps), "fps_decimal": float(info.fps),
                "frame_count": info.frame_count, "duration": info.duration, "vfr": info.vfr,
                "rotation": info.rotation, "pix_fmt": info.pix_fmt, "bit_depth": info.bit_depth,
                "source": {"kind": source.kind, "bits_per_pixel": source.bits_per_pixel, "reason": source.reason},
                "model_x4x2": runs[4][2], "source_x2": {"kind": runs[2][0].kind, "reason": runs[2][0].reason},
                "model_x2x2": runs[2][2],
                "streams": [vars(s) for s in info.streams],
                "scene_cuts": None if cuts is None else [{"frame": c, "time": round(c / float(info.fps), 3)}
                                                         for c in cuts]}
        print(json.dumps(data, indent=2))
        return 0
    rate = "variable" if info.vfr else "constant"
    if info.vfr:
        rate += (f" ({1 / info.frame_interval[1]:.2f} to {1 / info.frame_interval[0]:.2f} fps; "
                 f"stvsr reads it at a constant {info.fps})")
    rows = [("file", str(info.path)), ("container", info.container),
            ("video", f"{info.codec} {info.width}x{info.height} {info.pix_fmt} ({info.bit_depth}-bit)"
                      + (f", rotated {info.rotation} degrees on display" if info.rotation else "")),
            ("frame rate", _rate(info.fps)), ("rate", rate), ("frames", str(info.frame_count)),
            ("duration", f"{info.duration:.3f} s")]
    if cuts is not None:
        rows.append(("scene cuts", f"{len(cuts)}" + (": before frames " + ", ".join(
            f"{c} ({c / float(info.fps):.2f} s)" for c in cuts) if cuts else "")))
    elif skipped:
        rows.append(("scene cuts", skipped))
    rows.append(("coding", f"{source.kind} ({source.reason})"))
    for scale, (found, usual, model) in runs.items():
        judged = "" if found.kind == source.kind else f"; at x{scale} {found.kind}: {found.reason.split(': ')[-1]}"
        rows.append(("model" if scale == 4 else "", f"--scale {scale} --time-factor 2 runs {model}"
                     + (f" (made for compressed input{judged}; --source clean runs {usual})" if model != usual
                        else f" ({judged[2:]})" if judged else "")))
    for key, value in rows:
        print(f"{key:<11} {value}")
    if info.streams:
        print("streams")
        for s in info.streams:
            print(f"  #{s.index} {s.kind:<8} {s.codec} {s.details}".rstrip())
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    if not (args.init or args.details or args.flops):
        return _list_models(args.pattern, everything=args.all)
    from .models import create_model, list_models, model_entry
    from .models.checkpoint import save_weights
    from .models.info import describe

    if args.init:
        entry = model_entry(args.init)
        if args.out is None:
            raise UsageError("--init needs --out FILE.safetensors")
        if args.out.suffix != ".safetensors":
            raise UsageError(f"--out must end in .safetensors, not {args.out.suffix or '(none)'}")
        if args.out.exists() and not args.overwrite:
            raise UsageError(f"{args.out} exists (use --overwrite)")
        import torch

        torch.manual_seed(args.seed)
        kwargs = {"scale": args.scale} if args.scale is not None else {}
        model = create_model(entry.name, **kwargs)
        save_weights(model, args.out, name=entry.name, kwargs=kwargs,
                     extra={"training": {"steps": 0, "note": f"freshly initialised, seed {args.seed}"}})
        print(f"wrote {args.out}: {entry.name} {kwargs or ''} with random weights (seed {args.seed})")
        return 0
    if args.details:
        return _model_details(args.details)
    # Counting FLOPs runs every network once (minutes for the heavy ones), so only --flops does it.
    _print_rows([describe(e, flops=True) for e in list_models(args.pattern, learned=True)
                 if args.all or "tiny" in args.pattern or not e.name.endswith("_tiny")], flops=True)
    _print_shipped()
    return 0


def _list_models(pattern: str, *, everything: bool = False) -> int:
    """The plain listing, from the committed index (`stvsr.catalogue`): no torch import, so it answers at once.
    The `*_tiny` variants (test fixtures of each family) only with `everything` (--all)."""
    from . import catalogue

    everything = everything or "tiny" in pattern  # asked for by name
    rows = [r for r in catalogue.models(pattern) if everything or not r["name"].endswith("_tiny")]
    _print_rows(rows, flops=False)
    if not everything:
        print("Tiny test variants of each family (*_tiny): stvsr models --all.")
    _print_shipped()
    return 0


def _print_shipped() -> None:
    from . import catalogue
    from .zoo import URL_ENV, WEIGHTS_ENV

    rows = catalogue.shipped_weights()
    width = max(len(s["name"]) for s in rows)

    def line(s: dict) -> str:
        where = "" if s["here"] else "  [not here]"
        return f"  {s['name']:<{width}}  {s['role']}{where}"

    print("\nShipped weights, ARCH.TAG (use as --method NAME, or a bare ARCH for its first weights; model card: "
          "stvsr models --details NAME). In the package:")
    print("\n".join(line(s) for s in rows if s["home"] == "wheel"))
    print(f"\nThe research zoo (found by name in ${WEIGHTS_ENV}, the repository's zoo/ or the user cache, or "
          f"downloaded from ${URL_ENV}):")
    print("\n".join(line(s) for s in rows if s["home"] == "zoo" and not s["study"]))
    print("Study exhibits (another model dominates them; kept to reproduce the reports' tables):")
    print("\n".join(line(s) for s in rows if s["home"] == "zoo" and s["study"]))


def _print_rows(rows: list[dict], *, flops: bool) -> None:
    header = f"{'name':<26} {'task':<7} {'scale':>5} {'time':>5} {'params':>12}"
    print(header + (f" {'GFLOPs/frame':>13}" if flops else ""))
    for r in rows:
        line = f"{r['name']:<26} {r['task']:<7} {r['scale'] or '-':>5} {r['time_factor'] or '-':>5} {r['params']:>12,}"
        print(line + (f" {r['gflops']:>13.2f}" if flops else ""))
    print("\n" + ("GFLOPs per output frame at 180x144 input (2 FLOPs per multiply-add). " if flops else
                  "GFLOPs per output frame: --flops, or `stvsr models --details NAME`. ") +
          "Classical methods: `stvsr methods`.")


def _model_details(name: str) -> int:
    from .models import model_entry
    from .models.registry import find_model, list_models
    from .models.info import describe
    from .models.shipped import SHIPPED, model_card, pretrained_tags

    if name not in SHIPPED and find_model(name) is None:
        close = [n for n in (*SHIPPED, *(e.name for e in list_models())) if name in n][:5]
        hint = f"; did you mean {', '.join(close)}?" if close else "; `stvsr models` lists them"
        raise UsageError(f"unknown model {name!r}{hint}")
    card = model_card(name) if name in SHIPPED else ""  # ARCH.TAG: its card; a bare ARCH: the architecture
    if card:
        print(card.rstrip())
        if not SHIPPED[name].available:  # a research-zoo file not on this machine: say where it comes from
            from .zoo import how_to_get

            print(f"\nThe weights are not here: {how_to_get(name)}.")
            return 0
        from .jobs.export import interface_of
        from .models.checkpoint import load_model

        model, _ = load_model(SHIPPED[name].path)
        print(f"\n## Export\n\n`stvsr export {name} {name}.onnx` (or `--format torchscript`): "
              f"{interface_of(model).describe()}")
        return 0
    entry = model_entry(name)  # a registered model: what it is and what it costs
    info = describe(entry)
    print(f"{entry.name} ({entry.task}): {entry.description}")
    print(f"parameters {info['params']:,}; {info['gflops']:.2f} GFLOPs per output frame at 180x144 input"
          if info["gflops"] is not None else f"parameters {info['params']:,}")
    weights = pretrained_tags(entry.name)
    print(f"shipped weights: {', '.join(weights)}" if weights else
          f"no shipped weights: train with `stvsr train` or write fresh ones with `stvsr models --init {name}`")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from .train.config import check_paths, load_config, parse_config

    # The config and the paths it names are checked before torch loads (seconds) and before a run folder exists.
    command = "stvsr " + " ".join(sys.argv[1:]) if sys.argv and sys.argv[0] else "stvsr train"
    if args.max_steps is not None and args.max_steps < 1:
        raise UsageError("--max-steps must be at least 1")
    if args.max_minutes is not None and not args.max_minutes > 0:
        raise UsageError("--max-minutes must be above 0")
    if args.resume is not None:
        if args.config or args.set:
            raise UsageError("--resume continues a run with its saved config; give no --config or --set")
        saved = args.resume / "config.yaml"
        if not saved.is_file():
            raise UsageError(f"nothing to resume: {saved} not found")
        config = parse_config(saved.read_text())
        config.out = str(args.resume)
        check_paths(config, resuming=True)
        args.interrupt_note = f"the last checkpoint is kept: stvsr train --resume {config.out} continues"
        from .train.loop import train

        run = train(config, resume=True, command=command, max_steps=args.max_steps, max_minutes=args.max_minutes,
                    total_steps=args.total_steps)
    else:
        if args.total_steps is not None:
            raise UsageError("--total-steps goes with --resume (a new run's length is its config's stages.N.steps)")
        if args.config is None:
            raise UsageError("give --config FILE (see configs/) or --resume RUN_DIR")
        config = load_config(args.config, args.set or [])
        check_paths(config)
        args.interrupt_note = f"the last checkpoint is kept: stvsr train --resume {config.out} continues"
        from .train.loop import train

        run = train(config, command=command, max_steps=args.max_steps, max_minutes=args.max_minutes)
    print(f"run folder: {run}")
    return 0


def cmd_methods(args: argparse.Namespace) -> int:
    from .models import list_models

    entries = list_models(learned=False)
    width = max(len(e.name) for e in entries)
    for entry in entries:
        print(f"{entry.name:<{width}}  {entry.task:<5}  {entry.description}")
    print("\nCombine a spatial (sr) and a temporal (vfi) method with '+', applied in the order written: "
          "dis+bicubic interpolates, then resizes. A .safetensors file of a learned model (`stvsr models`) is a "
          "method too.")
    _print_shipped()
    return 0


def _split(text: str | None) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()] if text else []


def _predictions(items: list[str]) -> dict[str, Path]:
    out = {}
    for item in items or []:
        name, _, folder = item.rpartition("=")
        path = Path(folder)
        out[name or path.name] = path
    return out


def cmd_evaluate(args: argparse.Namespace) -> int:
    import time

    if not Path(args.data).exists():  # before torch loads: a typo fails at once
        raise InputError(f"dataset not found: {args.data}")
    from .evaluate import EvalConfig, evaluate
    from .evaluate.tables import markdown_tables
    from .metrics import DEFAULT_METRICS

    metrics = _split(args.metrics) or list(DEFAULT_METRICS)
    out = args.out or Path("runs") / time.strftime("evaluate-%Y%m%d-%H%M%S")
    config = EvalConfig(data=Path(args.data), layout=args.layout, task=args.task, methods=_split(args.methods),
                        scale=args.scale, degradation=args.degradation, window_mode=args.windows, metrics=metrics,
                        crop_border=args.crop_border, predictions=_predictions(args.pred), out=Path(out),
                        device=args.device, max_clips=args.max_clips, list_file=args.list_file, lr_dir=args.lr_dir,
                        progress=not args.quiet and sys.stderr.isatty(), visuals=args.visuals,
                        precision=args.precision)
    for name, folder in config.predictions.items():
        if not folder.is_dir():
            raise UsageError(f"--pred {name}: folder not found: {folder}")
    result = evaluate(config)
    print(markdown_tables(result, metrics))
    for note in result.protocol["notes"]:
        print(f"note: {note}")
    print(f"wrote {result.out}/results.json, per_clip.csv, table.md" + (", visuals/" if result.visuals else ""))
    print(f"report: stvsr report {result.out}")
    return 0


def cmd_study(args: argparse.Namespace) -> int:
    import time

    if args.study == "tradeoff":
        from .studies.tradeoff import TradeoffConfig, tradeoff

        classifiers = {}
        for item in args.classifier or []:
            stream, sep, path = item.partition("=")
            if not sep or stream not in ("frame", "flow"):
                raise UsageError(f"--classifier takes frame=FILE or flow=FILE, got {item!r}")
            classifiers[stream] = path
        out = args.out or Path("runs") / time.strftime("tradeoff-%Y%m%d-%H%M%S")
        config = TradeoffConfig(data=Path(args.data), layout=args.layout, task=args.task,
                                methods=_split(args.methods), out=Path(out), scale=args.scale,
                                max_clips=args.max_clips, device=args.device, classifiers=classifiers,
                                recognition=not args.no_recognition, action_clips=args.action_clips,
                                visuals=args.visuals, progress=not args.quiet and sys.stderr.isatty())
        study = tradeoff(config)
        from .studies.tradeoff import study_table

        print(study_table(study))
        print(f"wrote {config.out}/study.json, study.md, plots/ ({len(study['plots'])} plots), results.json")
        print(f"report: stvsr report {config.out}")
        return 0
    from .studies.beta import BetaConfig, beta_study

    try:
        betas = [float(b) for b in _split(args.betas)] if args.betas else None
    except ValueError:
        raise UsageError(f"--betas takes comma-separated numbers, e.g. 0,0.1,1 (got {args.betas!r})") from None
    if betas is not None and (not betas or any(not b >= 0 for b in betas)):
        raise UsageError("--betas must be zero or positive")
    config = BetaConfig(out=Path(args.out or "runs/beta-study"), steps=args.steps, max_steps=args.max_steps,
                        videos=[args.train_data], photos=[str(p) for p in [Path(args.train_data) / "photos"]
                                                          if p.is_dir()],  # stills: not a clip, left out
                        cache=args.cache or "", data=Path(args.data),
                        layout=args.layout, max_clips=args.max_clips)
    if betas:
        config.betas = betas
    beta_study(config)
    print((config.out / "study.md").read_text())
    print(f"wrote {config.out}/beta.png, study.json, study.md; runs in {config.out}/beta_*")
    print(f"report: stvsr report {config.out}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from .evaluate.report import build_report

    if not args.run.is_dir():
        raise UsageError(f"run folder not found: {args.run}")
    page = build_report(args.run)
    print(f"wrote {page} (open it in a browser; the folder works offline)")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        import fastapi  # noqa: F401  (the serve extra)
        import uvicorn  # noqa: F401
    except ImportError:
        raise UsageError("stvsr serve needs the serve extra: pip install 'stvsr[serve]'") from None
    from .serve import run_server

    if args.jobs is not None and args.jobs.exists() and not args.jobs.is_dir():
        raise UsageError(f"--jobs must be a folder: {args.jobs}")
    if args.max_upload_mb is not None and args.max_upload_mb <= 0:
        raise UsageError("--max-upload-mb must be positive")
    run_server(host=args.host, port=args.port, jobs_dir=args.jobs, token=args.token, device=args.device,
               max_upload=int(args.max_upload_mb * 1e6) if args.max_upload_mb else None)
    return 0


# Parser --------------------------------------------------------------------------------------------------------

def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError("must be zero or positive")
    return value


def _scene_options(parser: argparse.ArgumentParser) -> None:
    parser = parser.add_mutually_exclusive_group()  # a threshold with detection off would be ignored silently
    parser.add_argument("--scene-threshold", type=_positive_float,
                        help="scene-cut sensitivity: content change between frames that counts as a cut (default "
                             "27, PySceneDetect's; lower finds more cuts)")
    parser.add_argument("--no-scene-detect", action="store_true",
                        help="treat the video as one shot (interpolate and share windows across cuts)")


def _max_pixels_option(parser: argparse.ArgumentParser) -> None:
    # default None: io.probe.DEFAULT_MAX_PIXELS, not imported here (PyAV and OpenCV would slow every command)
    parser.add_argument("--max-pixels", type=_positive_int, metavar="N",
                        help="refuse input frames above N pixels (default 40,000,000: 8K fits; guards against "
                             "files that declare huge frames)")


def _upscale_options(up: argparse.ArgumentParser) -> None:
    """The options `upscale` and `batch` share."""
    # Defaults are None here: the job's dataclasses (jobs/options.py) hold each default once.
    up.add_argument("--scale", type=int, choices=(1, 2, 3, 4), help="spatial factor (default 2)")
    up.add_argument("--time-factor", type=int, choices=(1, 2),
                    help="frame-rate factor (default 1); 2 doubles the rate, N frames become 2N")
    up.add_argument("--method", help="method from `stvsr methods`, or spatial+temporal cascade such as bicubic+dis "
                                     "(default: a shipped model for x4 and x2, see --quality; otherwise bicubic; dis "
                                     "for time only; for both, bicubic+dis up to 1280x720 output, dis+bicubic above)")
    up.add_argument("--quality", choices=QUALITY_LEVELS,
                    help="without --method: best (the default: propstvsr.x4_l+dis for x4 x2, propstvsr.x4_l for x4, "
                         "propstvsr.x2+dis and propstvsr.x2 for x2; the _real models on compressed input) "
                         "or fast (imdn.x4+dis_fast: 1.6 dB lower on the dev set, several times the speed; "
                         "flowvsr.x4 for x4; classical for x2); see the README's table")
    up.add_argument("--source", choices=SOURCES,
                    help="without --method: how the input was coded, which picks the model: auto (the default) reads "
                         "it from the codec and its bits per pixel, and compressed video (phone clips, downloads) "
                         "gets the model trained on codec artefacts; clean (lossless or high bitrate) the clean one")
    up.add_argument("--order", choices=("st", "ts"), help="cascade order: st = space then time, ts = time then space")
    up.add_argument("--model", help="a learned model from `stvsr models` (with --weights)")
    up.add_argument("--weights", help="a .safetensors checkpoint; the model is read from it")
    up.add_argument("--tile",
                    help="learned models: tile size in input pixels, 0 for whole frames (default auto: tiles of "
                         "about 2048x2048 output pixels, 1536x1536 for multi-frame models)")
    up.add_argument("--tta", action="store_true",
                    help="learned models: average the output over the eight flips and transposes of the frames "
                         "(test-time self-ensemble: a little sharper, 8x the network's time; BENCHMARKS.md)")
    up.add_argument("--precision", choices=PRECISIONS,
                    help="learned models' precision (default auto: bf16 where the device computes it natively - "
                         "CPUs with AMX or AVX512-BF16, recent GPUs - else fp32); fp16 needs CUDA")
    up.add_argument("--codec", help="video codec (default libx264; libvpx-vp9 for .webm); libx265, ffv1, png ...")
    up.add_argument("--crf", type=int, help="constant rate factor, lower is better (default 18 for libx264)")
    up.add_argument("--preset", help="libx264/libx265 speed preset (ultrafast ... veryslow)")
    up.add_argument("--pix-fmt", help="pixel format (default yuv420p; yuv420p10le keeps 10 bits)")
    up.add_argument("--no-audio", action="store_true", help="drop audio and subtitles instead of copying them")
    up.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    up.add_argument("--input-fps", type=_fraction, help="frame rate of a frame-folder input (default 25)")
    up.add_argument("--device", help="auto (CUDA if present, else CPU), cpu, cuda[:N]")
    _max_pixels_option(up)
    _scene_options(up)
    up.add_argument("--quiet", action="store_true", help="no progress bar and no summary")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stvsr", description="Space-time video super-resolution.")
    parser.add_argument("--version", action="version", version=f"stvsr {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = sub.add_parser("upscale", help="make a video sharper (--scale) and/or smoother (--time-factor)",
                        description="Upscale a video or a frame folder. OUT is a video file, or a folder "
                                    "(no extension) for numbered PNG frames. The input is never modified and OUT "
                                    "appears only when complete.")
    up.add_argument("input", metavar="IN", help="video file or folder of frames")
    up.add_argument("output", metavar="OUT", help="video file (.mp4, .mkv, .mov, .webm ...) or folder for PNG frames")
    _upscale_options(up)
    up.add_argument("--preview", action="store_true",
                    help="process a short excerpt only and write a split-screen comparison (left: input resized "
                         "by bicubic, right: output) to OUT with .preview before its extension")
    up.add_argument("--preview-start", type=_non_negative_float, metavar="T",
                    help="with --preview: start of the excerpt in seconds (default: the middle of the video)")
    up.add_argument("--preview-seconds", type=_positive_float, metavar="S",
                    help="with --preview: length of the excerpt (default 3 s)")
    up.add_argument("--resume", action="store_true",
                    help="write in segments kept beside OUT, so that an interrupted run (Ctrl-C, kill, power loss) "
                         "continues where it stopped when run again with --resume")
    up.add_argument("--segment-seconds", type=_positive_float, metavar="S",
                    help="with --resume: length of a segment (default 10 s): at most this much is redone")
    up.add_argument("--report", type=Path, metavar="FILE.json",
                    help="write the summary and the output's self-check (frames, rate, duration, audio drift) here")
    up.set_defaults(func=cmd_upscale)

    ba = sub.add_parser("batch", help="upscale every video of a folder, resumably, by one or many workers",
                        description="Upscale every video file directly in IN_DIR to OUT_DIR under the same name. "
                                    "Finished files are skipped and an interrupted one continues from its last "
                                    "segment when the same command runs again; several workers on the same "
                                    "folders split the files between them.")
    ba.add_argument("input", metavar="IN_DIR", type=Path)
    ba.add_argument("output", metavar="OUT_DIR", type=Path)
    _upscale_options(ba)
    ba.add_argument("--ext", help="output extension (e.g. mkv; default: each input's own)")
    ba.add_argument("--segment-seconds", type=_positive_float, metavar="S",
                    help="length of a resumable segment (default 10 s)")
    ba.add_argument("--report", type=Path, metavar="FILE.json", help="write the summary table as JSON here")
    ba.add_argument("--engine", choices=("local", "ray"), default="local",
                    help="local (default): this process, files split with other workers by claim files; ray: "
                         "segments spread over a Ray cluster's workers (pip install 'stvsr[ray]')")
    ba.add_argument("--address", help="with --engine ray: join the cluster at auto or HOST:PORT (default: start an "
                                      "embedded one on this machine)")
    ba.add_argument("--workers", type=_positive_int, help="with --engine ray: workers (default: one per GPU with "
                                                          "--gpus-per-worker, else one per CPU of the cluster)")
    ba.add_argument("--gpus-per-worker", type=float, default=0.0, metavar="F",
                    help="with --engine ray: GPUs each worker takes (e.g. 1, or 0.5 for two per GPU; default 0: CPU)")
    ba.add_argument("--max-retries", type=int, default=3, metavar="N",
                    help="with --engine ray: times a segment is retried after its worker dies (default 3)")
    ba.set_defaults(func=cmd_batch)

    ex = sub.add_parser("export", help="a shipped network as ONNX or TorchScript, for other tools",
                        description="Export a shipped model (or a .safetensors file) with dynamic batch, height and "
                                    "width: NCHW float32 RGB in [0, 1] in and out. Flow-guided models export their "
                                    "network part (OpenCV flow stays outside) and say what the caller must do.")
    ex.add_argument("name", metavar="NAME", help="a shipped model (`stvsr models`) or a .safetensors file")
    ex.add_argument("output", metavar="OUT", type=Path, help="the file to write (.onnx, .pt)")
    ex.add_argument("--format", choices=("onnx", "torchscript"), default="onnx", help="default onnx")
    ex.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    ex.set_defaults(func=cmd_export)

    be = sub.add_parser("bench", help="time each shipped model on this machine (frames/s, peak memory)",
                        description="Time every shipped model (and the classical references) on a short synthetic "
                                    "clip at the chosen output size, each in its own process.")
    be.add_argument("--output", default="720p", choices=("576p", "720p", "1080p", "4k"),
                    help="output frame size (default 720p)")
    be.add_argument("--frames", type=int, default=12, help="input frames timed per method (default 12)")
    be.add_argument("--methods", help="comma-separated methods (default: every shipped model and the references)")
    be.add_argument("--scale", type=int, default=4, help="for --methods not shipped: spatial factor (default 4)")
    be.add_argument("--time-factor", type=int,
                    help="for --methods not shipped: time factor (default 2 for an A+B cascade, else 1)")
    be.add_argument("--device", default="auto", help="auto, cpu, cuda[:N]")
    be.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16", "fp16"))
    be.set_defaults(func=cmd_bench)

    info = sub.add_parser("info", help="streams, size, exact frame rate, frame count, duration of a video")
    info.add_argument("input", metavar="FILE")
    info.add_argument("--input-fps", type=_fraction, help="frame rate of a frame folder (default 25)")
    info.add_argument("--json", action="store_true", help="machine-readable output")
    _max_pixels_option(info)
    _scene_options(info)
    info.set_defaults(func=cmd_info)

    ev = sub.add_parser("evaluate", help="score methods on a dataset under a standard protocol",
                        description="Run methods (or score outputs made elsewhere with --pred) on a dataset and "
                                    "write per-clip CSV, JSON with the full protocol, and Markdown tables.")
    ev.add_argument("--data", required=True, help="dataset folder or video")
    ev.add_argument("--layout", required=True, choices=("vimeo", "folders", "video"),
                    help="vimeo: Vimeo-90K sequences + list file; folders: GT/<clip>/*.png (Vid4, REDS); "
                         "video: a video file or a folder of them")
    ev.add_argument("--task", default="stvsr", choices=("vsr", "vfi", "stvsr"),
                    help="vsr: all frames in at low resolution; vfi: even frames in, odd scored; "
                         "stvsr: even frames in at low resolution, all scored (default)")
    ev.add_argument("--methods", help="comma-separated methods (default: the classical baselines of the task)")
    ev.add_argument("--pred", action="append", metavar="[NAME=]DIR",
                    help="score outputs made elsewhere: DIR/<clip>/ holds a method's frames (repeatable)")
    ev.add_argument("--scale", type=int, default=4, help="spatial factor (default 4)")
    ev.add_argument("--degradation", default="BI", metavar="PROTOCOL",
                    help="how LR frames are made when the dataset has none: BI (default, MATLAB bicubic), BD, "
                         "blur3_bicubic, or a chain such as BI+h264:crf=26 or BD+noise:5 (README, 'Degradations')")
    ev.add_argument("--windows", default="window", choices=("window", "whole"),
                    help="stvsr on long clips: 7-frame windows with stride 6 (Zooming Slow-Mo) or the whole clip")
    ev.add_argument("--metrics", help="comma-separated (default psnr_y,ssim_y,psnr_rgb,ssim_rgb,warp_err@dis,tof,niqe;"
                                      " also mse_rgb, warp_err@farneback)")
    ev.add_argument("--crop-border", type=int, default=0, help="pixels removed from each edge before scoring")
    ev.add_argument("--max-clips", type=int, help="evaluate only the first N clips")
    ev.add_argument("--list-file", type=Path, help="Vimeo-90K list file (default: sep_testlist.txt in --data)")
    ev.add_argument("--lr-dir", help="folders layout: sub-folder with the dataset's own LR frames, e.g. BIx4")
    ev.add_argument("--out", type=Path, help="results folder (default runs/evaluate-<time>)")
    ev.add_argument("--device", default="auto", help="auto, cpu, cuda[:N]")
    ev.add_argument("--precision", default="fp32", choices=("auto", "fp32", "bf16", "fp16"),
                    help="learned models' precision (default fp32, the reference; auto measures what upscale runs)")
    ev.add_argument("--quiet", action="store_true", help="no progress bar")
    ev.add_argument("--visuals", type=int, default=4, metavar="N",
                    help="keep crops, error maps and scanlines of the first N clips for `stvsr report` (default 4)")
    ev.set_defaults(func=cmd_evaluate)

    st = sub.add_parser("study", help="the spatial-temporal trade-off study (tradeoff) and the beta sweep (beta)",
                        description="tradeoff: score methods on spatial and temporal axes (and recognition "
                                    "error) and plot each pair with its Pareto front. beta: train the siamese "
                                    "two-frame model for several warping-loss weights and plot the metrics.")
    study = st.add_subparsers(dest="study", required=True, metavar="STUDY")
    to = study.add_parser("tradeoff", help="methods on spatial vs temporal axes, with Pareto fronts")
    to.add_argument("--data", required=True, help="dataset folder or video")
    to.add_argument("--layout", required=True, choices=("vimeo", "folders", "video"))
    to.add_argument("--task", default="stvsr", choices=("vsr", "stvsr"))
    to.add_argument("--methods", help="comma-separated (default: bicubic, the shipped SR, VSR and STVSR models "
                                      "and, for stvsr, the classical cascades)")
    to.add_argument("--scale", type=int, default=4)
    to.add_argument("--max-clips", type=int, help="only the first N clips")
    to.add_argument("--classifier", action="append", metavar="STREAM=FILE",
                    help="recognition axis: frame=FILE or flow=FILE (TorchScript .pt or stvsr .safetensors); "
                         "default: the shipped action classifiers")
    to.add_argument("--no-recognition", action="store_true", help="skip the recognition axis")
    to.add_argument("--action-clips", type=int, default=64, help="procedural action clips scored (default 64)")
    to.add_argument("--visuals", type=int, default=4, metavar="N", help="clips with crops for the report")
    to.add_argument("--out", type=Path, help="study folder (default runs/tradeoff-<time>)")
    to.add_argument("--device", default="auto")
    to.add_argument("--quiet", action="store_true")
    be = study.add_parser("beta", help="train the siamese model per warping-loss weight beta and plot")
    be.add_argument("--betas", help="comma-separated beta values (default 0,0.01,0.1,1,10)")
    be.add_argument("--steps", type=int, default=400, help="training steps per beta (default 400)")
    be.add_argument("--max-steps", type=int, help="stop each run after N steps in this call (resume later)")
    be.add_argument("--train-data", default="../shared/data/train", help="training videos/frame folders")
    be.add_argument("--cache", help="folder for decoded training sources")
    be.add_argument("--data", default="../shared/data/dev/vimeo_septuplet", help="where each beta is scored")
    be.add_argument("--layout", default="vimeo", choices=("vimeo", "folders", "video"))
    be.add_argument("--max-clips", type=int)
    be.add_argument("--out", type=Path, help="study folder (default runs/beta-study); runs are cached there")
    st.set_defaults(func=cmd_study)

    rp = sub.add_parser("report", help="a static HTML page from an evaluate or study run")
    rp.add_argument("run", type=Path, metavar="RUN_DIR")
    rp.set_defaults(func=cmd_report)

    models = sub.add_parser("models", help="list the learned models, or write freshly initialised weights")
    models.add_argument("pattern", nargs="?", default="*", help="name pattern, e.g. 'imdn*'")
    models.add_argument("--all", action="store_true", help="also list the tiny test variants (*_tiny)")
    models.add_argument("--flops", action="store_true",
                        help="count GFLOPs per output frame of every listed model (runs each once: slow)")
    models.add_argument("--no-flops", action="store_true", help=argparse.SUPPRESS)  # the default now; kept for scripts
    models.add_argument("--details", metavar="NAME", help="the model card of shipped weights, or a model's facts")
    models.add_argument("--init", metavar="NAME", help="write a freshly initialised checkpoint of NAME")
    models.add_argument("--out", type=Path, help="with --init: the .safetensors file to write")
    models.add_argument("--scale", type=int, help="with --init: the model's spatial factor")
    models.add_argument("--seed", type=int, default=0, help="with --init: random seed (default 0)")
    models.add_argument("--overwrite", action="store_true", help="with --init: replace --out")
    models.set_defaults(func=cmd_models)

    tr = sub.add_parser("train", help="train a model from a config (configs/*.yaml)",
                        description="Train with a YAML config; --set key=value overrides (e.g. optim.lr=1e-4). "
                                    "Under torchrun, one process per device (DDP).")
    tr.add_argument("--config", type=Path, help="YAML config")
    tr.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config value (repeatable)")
    tr.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue the run in RUN_DIR exactly")
    tr.add_argument("--max-steps", type=int, help="stop after this many steps in this call (resume later)")
    tr.add_argument("--max-minutes", type=float, help="stop after this much training time in this call, with a "
                    "checkpoint and snapshot.safetensors (resume later)")
    tr.add_argument("--total-steps", type=int, metavar="N", help="with --resume: end the run at step N in all (its "
                    "last stage lengthened or shortened; its cosine refitted to reach its floor at N)")
    tr.set_defaults(func=cmd_train)

    sv = sub.add_parser("serve", help="a local web page: drop a video, follow the job, compare before and after",
                        description="Serve the stvsr page and its API (README, 'Web page'). Needs the serve extra.")
    sv.add_argument("--host", default="127.0.0.1",
                    help="interface to listen on (default 127.0.0.1: this computer only; any other needs a token)")
    sv.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    sv.add_argument("--jobs", type=Path, help="folder for jobs (default: the user data folder, "
                                               "~/.local/share/stvsr/jobs on Linux)")
    sv.add_argument("--token", help="required on every request (default: none on 127.0.0.1; generated and printed "
                                    "once on any other interface)")
    sv.add_argument("--max-upload-mb", type=float, help="largest upload accepted, MB (default 4000)")
    sv.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default)")
    sv.set_defaults(func=cmd_serve)

    methods = sub.add_parser("methods", help="list the methods upscale and evaluate can run")
    methods.set_defaults(func=cmd_methods)
    return parser


class Terminated(BaseException):
    """SIGTERM (kill, a shutdown) or SIGHUP (terminal closed, SSH dropped): unwound like Ctrl-C so that writers
    remove their temporary files."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _on_signal(signum, frame):
    raise Terminated(signum)


_SIGNAL_WORDS = {signal.SIGTERM: "terminated", signal.SIGHUP: "hung up (terminal closed)"}


def _say(line: str) -> None:
    """Print to stderr, which may be gone (a closed terminal): the exit code still tells."""
    try:
        print(line, file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if threading.current_thread() is threading.main_thread():
        for signum in _SIGNAL_WORDS:
            signal.signal(signum, _on_signal)
    if args.command not in ("models", "methods"):  # listings open no video: PyAV's import is 0.15 s of theirs
        from .io.ffmpeg_log import silence_ffmpeg

        # FFmpeg's own log lines (NAL unit errors and the like) would bury the one line we print about them.
        silence_ffmpeg()
    try:
        return args.func(args)
    except StvsrError as error:
        _say(f"stvsr: error: {error}")
        return error.exit_code
    except KeyboardInterrupt:
        _say(f"stvsr: interrupted; {getattr(args, 'interrupt_note', 'nothing was written')}")
        return EXIT_INTERRUPTED
    except Terminated as stop:
        _say(f"stvsr: {_SIGNAL_WORDS[stop.signum]}; {getattr(args, 'interrupt_note', 'nothing was written')}")
        return 128 + stop.signum
    except BrokenPipeError:  # e.g. `stvsr methods | head`
        return 0


def entry() -> None:
    sys.exit(main())



"""Writing evaluation results: JSON (everything), CSV (one row per clip and method), Markdown tables."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

from ..atomic import atomic_path, atomic_write_text
from ..metrics import METRICS


def fmt(value, scale: float = 1.0, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    return f"{value * scale:.{digits}f}"


def json_safe(value):
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    return value


PART_LABELS = {"in": "in", "new": "new"}  # stvsr: input-position and interpolated frames


def split_columns(means: dict[str, dict], metrics: list[str]) -> list[tuple[str, str]]:
    """(key, header) of the per-part columns present in `means` (method -> key -> value), e.g. ("psnr_y@new",
    "PSNR-Y new")."""
    present = {k for values in means.values() for k in values}
    return [(f"{m}@{part}", f"{METRICS[m].label} {label}") for m in metrics for part, label in PART_LABELS.items()
            if f"{m}@{part}" in present]


def markdown_tables(result, metrics: list[str]) -> str:
    """Mean table (one row per method; for stvsr, fidelity also on input-position and interpolated frames) and a
    per-clip table of the first metric."""
    digits = {"psnr_y": 2, "psnr_rgb": 2, "niqe": 3, "tof": 3, "checker": 2, "blockiness": 2}
    split = split_columns(result.means, metrics)
    head = ["method"] + [METRICS[m].label for m in metrics] + [h for _, h in split] + ["params", "s/frame"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" + "---:|" * (len(head) - 1)]
    for method, means in result.means.items():
        params = result.methods.get(method, {}).get("params")
        cells = [method] + [fmt(means.get(m), METRICS[m].display_scale, digits.get(m, 4)) for m in metrics]
        cells += [fmt(means.get(k), METRICS[k.partition("@")[0]].display_scale, digits.get(k.partition("@")[0], 4))
                  for k, _ in split]
        cells += [f"{params:,}" if params is not None else "–", fmt(means.get("seconds_per_frame"), 1, 4)]
        lines.append("| " + " | ".join(cells) + " |")
    first = metrics[0]
    methods = list(result.means)
    clips = list(dict.fromkeys(r["clip"] for r in result.rows))
    lines += ["", f"Per clip, {METRICS[first].label}:", "",
              "| clip | " + " | ".join(methods) + " |", "|---|" + "---:|" * len(methods)]
    by_key = {(r["clip"], r["method"]): r for r in result.rows}
    for clip in clips:
        cells = [fmt(by_key[(clip, m)].get(first), METRICS[first].display_scale, digits.get(first, 4))
                 for m in methods]
        lines.append(f"| {clip} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_outputs(result, out: Path, metrics: list[str]) -> Path:
    """Write results.json, per_clip.csv and table.md into `out` (created), each file replaced atomically."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    document = {"protocol": result.protocol, "methods": result.methods, "means": result.means, "rows": result.rows,
                "metrics": metrics, "visuals": getattr(result, "visuals", {})}
    atomic_write_text(out / "results.json", json.dumps(json_safe(document), indent=2))
    keys = ["clip", "method"] + metrics + [k for k, _ in split_columns(result.means, metrics)] + ["seconds_per_frame"]
    with atomic_path(out / "per_clip.csv") as partial, open(partial, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=keys, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(result.rows)
    atomic_write_text(out / "table.md", markdown_tables(result, metrics))
    return out


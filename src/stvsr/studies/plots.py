"""Plots for studies and reports (matplotlib, Agg backend: files only, no display needed)."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # before pyplot: headless machines and CI have no display
import matplotlib.pyplot as plt  # noqa: E402


def pareto_front(points: dict[str, tuple[float, float]]) -> list[str]:
    """Names of the points no other point beats on both axes (lower is better on both), sorted by x.

    A point is dominated when another is at least as good on both axes and strictly better on one. Points with
    a NaN coordinate are never on the front.
    """
    valid = {n: p for n, p in points.items() if not any(math.isnan(v) for v in p)}
    front = [n for n, (x, y) in valid.items()
             if not any((x2 <= x and y2 <= y) and (x2 < x or y2 < y) for m, (x2, y2) in valid.items() if m != n)]
    return sorted(front, key=lambda n: valid[n])


def tradeoff_plot(points: dict[str, tuple[float, float]], path: Path, *, xlabel: str, ylabel: str,
                  title: str = "") -> list[str]:
    """Scatter of methods on two lower-is-better axes with the Pareto front drawn and its points filled; the
    study's Figure 1 layout (lower left is best). Returns the front's names."""
    front = pareto_front(points)
    fig, ax = plt.subplots(figsize=(5.2, 4.2), dpi=110)
    for name, (x, y) in points.items():
        if any(math.isnan(v) for v in (x, y)):
            continue
        on_front = name in front
        ax.scatter([x], [y], s=46, zorder=3, color="C3" if on_front else "white", edgecolors="C3" if on_front
                   else "0.35", linewidths=1.4)
        ax.annotate(name, (x, y), textcoords="offset points", xytext=(5, 4), fontsize=7.5)
    if len(front) > 1:
        xs, ys = zip(*(points[n] for n in front))
        ax.step(xs, ys, where="post", color="C3", linewidth=1.2, alpha=0.8, label="Pareto front")
        ax.legend(loc="upper right", fontsize=8, frameon=False)
    valid = [p for p in points.values() if not any(math.isnan(v) for v in p)]
    for axis, values in (("x", [p[0] for p in valid]), ("y", [p[1] for p in valid])):
        if values and min(values) > 0 and max(values) / min(values) > 8:  # one outlier would squash the rest
            (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
    ax.set_xlabel(xlabel + " (lower is better)")
    ax.set_ylabel(ylabel + " (lower is better)")
    if title:
        ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.25)
    ax.margins(0.15)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return front


def beta_plot(rows: list[dict], path: Path, *, metrics: dict[str, str]) -> None:
    """One panel per metric against β on a log axis (the study's Figure 2); filled markers are runs trained to
    completion, hollow ones runs still short of their budget."""
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.0 * len(metrics), 3.4), dpi=110)
    axes = list(axes) if len(metrics) > 1 else [axes]
    zero = [r for r in rows if r["beta"] == 0]  # no place on a log axis: drawn as a reference line
    rows = sorted((r for r in rows if r["beta"] > 0), key=lambda r: r["beta"])
    for ax, (key, label) in zip(axes, metrics.items()):
        betas = [r["beta"] for r in rows]
        values = [r[key] for r in rows]
        ax.plot(betas, values, color="C0", linewidth=1.2)
        for r in zero:
            ax.axhline(r[key], color="0.4", linestyle="--" if r["complete"] else ":", linewidth=1, label="β = 0")
        if zero:
            ax.legend(fontsize=8, frameon=False)
        for r in rows:
            ax.scatter([r["beta"]], [r[key]], s=40, zorder=3, color="C0" if r["complete"] else "white",
                       edgecolors="C0", linewidths=1.4)
        ax.set_xscale("log")
        ax.set_xlabel("β (warping-loss weight)")
        ax.set_title(label, fontsize=10)
        ax.grid(alpha=0.25, which="both")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)

"""Frame sizes on a benchmark's command line (the scripts here import this as a sibling: `python benchmarks/X.py`
puts this folder on the path)."""

from __future__ import annotations

import argparse


def parse_sizes(text: str) -> list[tuple[int, int]]:
    """'320x180,480x270' -> [(320, 180), (480, 270)] (width, height), for argparse."""
    try:
        sizes = [(int(w), int(h)) for w, h in (size.split("x") for size in text.split(","))]
    except ValueError:
        sizes = []
    if not sizes or min(min(size) for size in sizes) < 16:
        raise argparse.ArgumentTypeError(f"sizes are WxH[,WxH...] of at least 16 pixels, not {text!r}")
    return sizes

"""The trained weights stvsr ships, by name: `--method flowstvsr` runs the bundled flowstvsr weights.

Every file was trained on this project's training footage on a 2-core CPU with a recipe in `configs/`; its model
card (Markdown beside it, `stvsr models --details NAME`) says how, and what it reached on the dev set next to the
classical baselines measured in the same run (`python scripts/ship_weights.py` writes both).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"


@dataclass(frozen=True)
class Shipped:
    name: str  # what users type: --method NAME
    recipe: str  # configs/<recipe>.yaml
    role: str

    @property
    def task(self) -> str:
        """sr | vsr | vfi | stvsr, read from the weights' own metadata (the one source of task, scale and time
        factor); "" when the file is not installed."""
        return _metadata(str(self.path)).get("task", "") if self.available else ""

    @property
    def path(self) -> Path:
        return WEIGHTS_DIR / f"{self.name}.safetensors"

    @property
    def card_path(self) -> Path:
        return WEIGHTS_DIR / f"{self.name}.md"

    @property
    def available(self) -> bool:
        return self.path.is_file()


SHIPPED = {s.name: s for s in [
    Shipped("flowstvsr", "flowstvsr", "end-to-end space-time model: x4 space, x2 time"),
    Shipped("flowstvsr_fast", "flowstvsr_fast", "fast space-time model for CPUs: x4 space, x2 time"),
    Shipped("flowvsr", "flowvsr", "multi-frame video SR, x4"),
    Shipped("flowvfi", "flowvfi", "frame interpolation, x2"),
    Shipped("imdn_x4", "sr", "per-frame SR, x4 (pixel loss)"),
    Shipped("imdn_x4_gan", "sr_gan", "per-frame SR, x4, GAN-trained twin of imdn_x4"),
    Shipped("espcn_x4", "espcn_x4", "per-frame SR, x4, ESPCN (MSE): the sub-pixel baseline"),
    Shipped("srunet_x4", "srunet_x4", "per-frame SR, x4, SR-U-Net (MSE)"),
    Shipped("srresnet_x4", "srresnet_x4", "per-frame SR, x4, SRResNet (MSE): the SRGAN generator on pixels"),
    Shipped("vsr_delta_x4", "vsr_delta_x4_noaux",
            "multi-frame video SR, x4: the 2D+3D report's Delta (shared 2D layers, 3D fusion)"),
    Shipped("vsr_5parallel_x4", "vsr_5parallel_x4",
            "multi-frame video SR, x4: the 2D+3D report's 5-parallel (five 2D stacks, 3D fusion), auxiliary 2D loss"),
    Shipped("propstvsr", "propstvsr",
            "best-quality space-time model: x4 space, x2 time, bidirectional propagation on the cascade"),
]}


@lru_cache(maxsize=None)
def _metadata(path: str) -> dict:
    from .checkpoint import read_metadata

    return read_metadata(path)


def shipped(name: str) -> Shipped | None:
    """The shipped weights called `name`, if stvsr has them installed."""
    entry = SHIPPED.get(name)
    return entry if entry is not None and entry.available else None


def model_card(name: str) -> str:
    entry = shipped(name)
    if entry is None:
        return ""
    return entry.card_path.read_text() if entry.card_path.is_file() else f"# {name}\n\n{entry.role}\n"

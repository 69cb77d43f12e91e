"""The trained weights stvsr ships, declared with their architecture the timm way: `ARCH.TAG`.

`imdn.x4` is the registered architecture `imdn` with its weights tagged `x4` (`imdn.x4_gan`: the same architecture,
GAN-trained); `--method imdn.x4` runs them, and a bare architecture name with weights (`--method propstvsr`) takes
its first tag, as timm's `create_model(arch, pretrained=True)` does.

Every file was trained on this project's training footage on a 2-core CPU with a recipe in `configs/`; its model
card (Markdown beside it, `stvsr models --details NAME`) says how, and what it reached on the dev set next to the
classical baselines measured in the same run (`python scripts/ship_weights.py` writes both).

Where the files live (`home`): the wheel carries the weights the defaults and shipped features reach; the rest is
the research zoo, found by name in `STVSR_WEIGHTS`, the repository's `zoo/` or the user cache, or downloaded
(`stvsr.zoo`). Every card ships in the package, so `stvsr models --details` answers for the zoo too. A `study`
file is an exhibit of a report's table that another model dominates; it stays loadable to reproduce the table.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..zoo import PACKAGE_WEIGHTS, REPO_ZOO, fetch, locate

WEIGHTS_DIR = PACKAGE_WEIGHTS
HOMES = ("wheel", "zoo")


@dataclass(frozen=True)
class Shipped:
    arch: str  # the registered architecture (`stvsr models --details ARCH`)
    tag: str  # which weights of it: scale and time factor (x4, x4x2), then how they were trained (x4_gan)
    recipe: str  # configs/<recipe>.yaml
    role: str
    home: str = "zoo"  # wheel: in the package (the defaults reach it); zoo: resolved by name (stvsr.zoo)
    study: bool = False  # dominated by another shipped model; kept to reproduce its report's table

    @property
    def name(self) -> str:
        """What users type: --method ARCH.TAG."""
        return f"{self.arch}.{self.tag}"

    @property
    def task(self) -> str:
        """sr | vsr | vfi | stvsr, read from the weights' own metadata (the one source of task, scale and time
        factor); "" when the file is not installed."""
        return _metadata(str(self.path)).get("task", "") if self.available else ""

    @property
    def scale(self) -> int | None:
        """The spatial factor the weights were trained for (metadata); None when the file is not installed."""
        return _metadata(str(self.path)).get("scale") if self.available else None

    @property
    def path(self) -> Path:
        """Where the file is here (the search path of stvsr.zoo), else where it belongs in this repository."""
        filename = f"{self.name}.safetensors"
        return locate(filename) or (WEIGHTS_DIR if self.home == "wheel" else REPO_ZOO) / filename

    @property
    def card_path(self) -> Path:
        return WEIGHTS_DIR / f"{self.name}.md"

    @property
    def available(self) -> bool:
        return locate(f"{self.name}.safetensors") is not None


SHIPPED = {s.name: s for s in [
    Shipped("flowstvsr", "x4x2", "flowstvsr", "end-to-end space-time model: x4 space, x2 time (the cascades beat it)",
            study=True),
    Shipped("flowstvsr_fast", "x4x2", "flowstvsr_fast",
            "fast space-time model for CPUs: x4 space, x2 time (the cascades beat it)", study=True),
    Shipped("flowvsr", "x4", "flowvsr", "multi-frame video SR, x4", home="wheel"),
    Shipped("flowvfi", "x2", "flowvfi", "frame interpolation, x2 (equals DIS on dev)", study=True),
    Shipped("imdn", "x4", "sr", "per-frame SR, x4 (pixel loss)", home="wheel"),
    Shipped("imdn", "x4_gan", "sr_gan", "per-frame SR, x4, GAN-trained twin of imdn.x4 (below it on every column)",
            study=True),
    Shipped("espcn", "x4", "espcn_x4", "per-frame SR, x4, ESPCN (MSE): the sub-pixel baseline"),
    Shipped("vdsr", "x4", "vdsr_x4", "per-frame SR, x4, VDSR (MSE, residual over bicubic): the deep-and-plain baseline"),
    Shipped("srunet", "x4", "srunet_x4", "per-frame SR, x4, SR-U-Net (MSE)"),
    Shipped("srunet", "x4_perceptual", "srunet_x4_perceptual",
            "per-frame SR, x4, SR-U-Net fine-tuned with MSE + the detail network's perceptual loss"),
    Shipped("srunet", "x2", "srunet_x2", "per-frame SR, x2, SR-U-Net (MSE): the report's 64 -> 128 setting"),
    Shipped("srunet", "x2_perceptual", "srunet_x2_bilinear_perceptual",
            "per-frame SR, x2, SR-U-Net (bilinear upsampler) fine-tuned with MSE + the detail network's "
            "perceptual loss"),
    Shipped("srresnet", "x4", "srresnet_x4", "per-frame SR, x4, SRResNet (MSE): the SRGAN generator on pixels"),
    Shipped("srresnet", "x2", "srresnet_x2",
            "per-frame SR, x2, SRResNet (MSE, resize-convolution, over bicubic): the x2 SRGAN generator on pixels"),
    Shipped("srresnet", "x2_gan", "srgan_x2",
            "per-frame SR, x2, SRGAN: srresnet.x2 against the SRGAN discriminator (MSE content)"),
    Shipped("srresnet", "x2_gan_perceptual", "srgan_x2_perceptual",
            "per-frame SR, x2, SRGAN with a perceptual content loss (the detail network's blocks 0-1) + MSE"),
    Shipped("srresnet", "x4_gan", "srgan_x4_resize",
            "per-frame SR, x4, SRGAN: a resize-convolution SRResNet against the SRGAN discriminator (MSE content)"),
    Shipped("srresnet", "x4_gan_perceptual", "srgan_x4_perceptual",
            "per-frame SR, x4, SRGAN with a perceptual content loss (the detail network's blocks 0-1) + MSE"),
    Shipped("vsr_delta", "x4", "vsr_delta_x4_noaux",
            "multi-frame video SR, x4: the 2D+3D report's Delta (shared 2D layers, 3D fusion)"),
    Shipped("vsr_5parallel", "x4", "vsr_5parallel_x4",
            "multi-frame video SR, x4: the 2D+3D report's 5-parallel (five 2D stacks, 3D fusion), auxiliary 2D loss"),
    Shipped("propstvsr", "x4x2", "propstvsr",
            "end-to-end space-time model: x4 space, x2 time, bidirectional propagation on the cascade (the x4 x2 "
            "default above 720p)", home="wheel"),
    Shipped("propstvsr", "x4", "propstvsr_vsr_warp",
            "multi-frame video SR, x4, bidirectional propagation, tuned for consistency: the default before "
            "propstvsr.x4_m", study=True),
    Shipped("propstvsr", "x4_m", "propstvsr_m",
            "multi-frame video SR, x4, bidirectional propagation, 840 k parameters (propstvsr.x4 grown, then trained "
            "8550 steps): the default before propstvsr.x4_l, at half its time (--method propstvsr.x4_m, or "
            "propstvsr.x4_m+dis for x4 x2)"),
    Shipped("propstvsr", "x4_l", "propstvsr_l",
            "multi-frame video SR, x4, bidirectional propagation, 1.97 M parameters (propstvsr.x4_m grown, then "
            "trained 2800 steps): the default for x4, and with DIS (propstvsr.x4_l+dis) for x4 x2", home="wheel"),
    Shipped("propstvsr", "x4_real", "propstvsr_real_codecs",
            "propstvsr.x4_m trained on codec-degraded input (x264 at CRF 16-36, then also x265, VP9, MPEG-4 Part 2 "
            "and JPEG; noise): the x4 model for compressed video, chosen by --source auto", home="wheel"),
    Shipped("propstvsr", "x2", "propstvsr_x2",
            "multi-frame video SR, x2, bidirectional propagation, 814 k parameters (propstvsr.x4_m at x2, then "
            "trained on x2): the default for x2, and with DIS (propstvsr.x2+dis) for x2 x2", home="wheel"),
    Shipped("propstvsr", "x2_real", "propstvsr_x2_real",
            "propstvsr.x4_real at x2, trained on codec-degraded input (x264, x265, VP9, MPEG-4 Part 2, JPEG; "
            "noise): the x2 model for compressed video, chosen by --source auto", home="wheel"),
    Shipped("propstvsr", "x4_real_gan", "propstvsr_real_gan",
            "propstvsr.x4_real trained further against an SRGAN discriminator: crisper texture on compressed video "
            "(NIQE 8.87 against 9.12 at CRF 26) for 0.1 dB of PSNR; opt-in (--method)"),
    Shipped("tpcascade", "x4x2", "tpcascade",
            "the temporal-profile report's TP-net modules as a residual on the imdn.x4+dis cascade (x4, x2)"),
    Shipped("dual_stream", "x4x2", "dual_stream_fusion",
            "the dual-stream report's network: S->T and T->S cascades fused by masks, refined (x4, x2)"),
]}
# A bare architecture name means its first weights listed above (timm's default pretrained tag).
DEFAULT_TAGS = {arch: next(s.name for s in SHIPPED.values() if s.arch == arch)
                for arch in dict.fromkeys(s.arch for s in SHIPPED.values())}


@lru_cache(maxsize=None)
def _metadata(path: str) -> dict:
    from .checkpoint import read_metadata

    return read_metadata(path)


def shipped(name: str, scale: int | None = None) -> Shipped | None:
    """The shipped weights called `name` (ARCH.TAG, or a bare ARCH: its default tag), if installed. Given the
    `scale` a method is built for, a bare ARCH takes its first tag trained for that scale (`srunet+dis --scale 2`:
    srunet.x2), falling back to the default tag (which then says it upscales by another factor)."""
    if scale is not None and name in DEFAULT_TAGS:
        fitting = [s for s in SHIPPED.values() if s.arch == name and s.available and s.scale == scale]
        if fitting:
            return fitting[0]
    entry = SHIPPED.get(DEFAULT_TAGS.get(name, name))
    return entry if entry is not None and entry.available else None


def weights_file(name: str, scale: int | None = None) -> Path | None:
    """The local file of shipped weights `name` (ARCH.TAG or a bare ARCH, as `shipped`): installed here, or, for
    research-zoo weights that are not, fetched by name (stvsr.zoo: one-line errors); None for a name that is not
    declared shipped weights."""
    entry = shipped(name, scale)
    if entry is not None:
        return entry.path
    declared = SHIPPED.get(DEFAULT_TAGS.get(name, name))
    return fetch(declared.name) if declared is not None else None


def pretrained_tags(arch: str) -> list[str]:
    """The ARCH.TAG names of the installed weights of architecture `arch`, the default first."""
    return [s.name for s in SHIPPED.values() if s.arch == arch and s.available]


def similar_names(name: str) -> list[str]:
    """Shipped names close to a mistyped or old one (`imdn_x4` -> `imdn.x4`), for error messages."""
    import difflib

    return difflib.get_close_matches(name.replace("_x", ".x"), list(SHIPPED), n=3, cutoff=0.75)


def model_card(name: str) -> str:
    """The model card of shipped weights `name` (cards ship in the package, so the research zoo's read the same
    whether or not its weights are here); "" for a name that is not declared."""
    entry = SHIPPED.get(DEFAULT_TAGS.get(name, name))
    if entry is None:
        return ""
    return entry.card_path.read_text() if entry.card_path.is_file() else f"# {entry.name}\n\n{entry.role}\n"

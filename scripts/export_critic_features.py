"""Keep the first layers of a GAN run's trained critic as a feature network for the `perceptual` loss.

    python scripts/export_critic_features.py RUN/checkpoint.pt OUT.safetensors

RUN is an adversarial `stvsr train` run whose critic is `srgan_discriminator` (e.g. configs/srgan_x2.yaml): its
checkpoint holds the critic's state. OUT then serves any config as `perceptual_weights: OUT` (losses.perceptual:
CriticFeatures, frozen). The run's footage is the training set, so the feature network is trained here, offline.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from safetensors import SafetensorError
from safetensors.torch import save_file

from stvsr.errors import OutputError, StvsrError, WeightsError
from stvsr.atomic import atomic_path
from stvsr.train.checkpoint import load_checkpoint
from stvsr.losses.perceptual import CRITIC_LAYERS, critic_feature_state, load_feature_network


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    try:
        meta = export(args.checkpoint, args.out)
    except StvsrError as error:  # one line and the CLI's exit code (weights 5, output 4), no file at OUT
        print(f"export_critic_features: {error}", file=sys.stderr)
        return error.exit_code
    print(json.dumps(meta, indent=2))
    return 0


def export(checkpoint: Path, out: Path) -> dict:
    state = load_checkpoint(checkpoint, needs=("critic",))
    critic = state.get("critic") if isinstance(state, dict) else None
    if not critic or "features.0.weight" not in critic:
        raise WeightsError(f"{checkpoint} holds no SRGAN critic (train an adversarial stage first)")
    kept = {k: v.contiguous() for k, v in critic_feature_state(critic).items()}
    meta = {"model": "CriticFeatures", "layers": str(CRITIC_LAYERS), "source": str(checkpoint),
            "step": str(state.get("step", "")), "input": "float32 RGB in [0, 1], (N, 3, H, W)"}
    try:
        with atomic_path(out) as partial:
            save_file(kept, str(partial), metadata=meta)
            load_feature_network(partial)  # it loads back as a feature network before it takes OUT's name
    except (OSError, SafetensorError) as error:  # safetensors reports an unwritable folder as its own error
        raise OutputError(f"cannot write {out}: {getattr(error, 'strerror', None) or error}") from None
    return {**meta, "out": str(out), "params": sum(v.numel() for v in kept.values())}


if __name__ == "__main__":
    raise SystemExit(main())

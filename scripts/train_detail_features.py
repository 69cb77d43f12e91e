"""Train the detail network of the `perceptual` loss on the training footage and install it.

    python scripts/train_detail_features.py [--out src/stvsr/weights/detail_features.safetensors] [--steps 1500]
    python scripts/train_detail_features.py --classes x2 --out RUN/detail_features_x2.safetensors
        (an x2 network, not shipped: a training config uses it with `perceptual_weights: RUN/...`)

Data: ../shared/data/train (never the dev set); nothing is downloaded.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from stvsr.errors import StvsrError
from stvsr.losses.perceptual import DETAIL_WEIGHTS
from stvsr.models.shipped import WEIGHTS_DIR
from stvsr.train.features import DEGRADATION_SETS, train_detail_features


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=WEIGHTS_DIR / DETAIL_WEIGHTS)
    parser.add_argument("--videos", default="../shared/data/train")
    parser.add_argument("--photos", default="../shared/data/train/photos")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", default=None)
    parser.add_argument("--classes", choices=sorted(DEGRADATION_SETS), default="general",
                        help="which degradations it learns to tell apart (train/features.py: DEGRADATION_SETS)")
    args = parser.parse_args()
    try:
        meta = train_detail_features(args.out, videos=[args.videos], photos=[args.photos], steps=args.steps,
                                     seed=args.seed, cache=args.cache, classes=args.classes)
    except StvsrError as error:  # missing data, unwritable output: one line, the CLI's exit code
        print(f"train_detail_features: {error}", file=sys.stderr)
        return error.exit_code
    print(json.dumps(meta, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

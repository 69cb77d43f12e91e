"""Train the two tiny action classifiers the trade-off study ships (frame stream and flow stream).

    python scripts/train_action_classifiers.py [--out src/stvsr/weights] [--clips 1200] [--epochs 12]

Data: the procedural action set (stvsr.data.actions), generated here; nothing is downloaded.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from stvsr.studies.recognition import train_classifiers
from stvsr.models.shipped import WEIGHTS_DIR


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=WEIGHTS_DIR)
    parser.add_argument("--clips", type=int, default=1200)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    accuracies = train_classifiers(args.out, clips=args.clips, epochs=args.epochs, seed=args.seed)
    print("held-out accuracy:", accuracies)


if __name__ == "__main__":
    main()

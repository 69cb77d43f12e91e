"""Average the weights of runs fine-tuned from one start (a "model soup", Wortsman et al. 2022): the average of
fine-tunes that share their starting weights often scores above each of them, at no cost at inference.

    python scripts/average_weights.py runs/soup.safetensors runs/a/best.safetensors runs/b/best.safetensors
    python scripts/average_weights.py out.safetensors A B --mix 0.7,0.3     # a weighted average

The files must be the same architecture with the same constructor arguments; the first one's contract (metadata)
is kept, with the ingredients and their mix added. Only weights from one start make sense to average: two runs
trained from different starts sit in different basins, and their average is worse than either.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from safetensors import SafetensorError

from stvsr.errors import OutputError, StvsrError, WeightsError
from stvsr.models.checkpoint import read_metadata, read_tensors, save_weights
from stvsr.models.registry import model_entry


def average(paths: list[Path], mix: list[float]) -> tuple[dict, dict]:
    """The mix-weighted average of the files' tensors (integer tensors, e.g. counters, taken from the first file)
    and the first file's metadata with the ingredients recorded."""
    metadata = read_metadata(paths[0])
    tensors = read_tensors(paths[0])
    summed = {k: v.double() * mix[0] if v.is_floating_point() else v for k, v in tensors.items()}
    for path, share in zip(paths[1:], mix[1:]):
        other_meta = read_metadata(path)
        if (other_meta.get("model"), other_meta.get("kwargs")) != (metadata.get("model"), metadata.get("kwargs")):
            raise WeightsError(f"{path} is {other_meta.get('model')} {other_meta.get('kwargs')}, "
                               f"{paths[0]} is {metadata.get('model')} {metadata.get('kwargs')}: only one "
                               f"architecture can be averaged")
        other = read_tensors(path)
        if other.keys() != tensors.keys():
            raise WeightsError(f"{path} and {paths[0]} hold different tensors")
        for key, value in other.items():
            if value.is_floating_point():
                summed[key] += value.double() * share
    averaged = {k: v.to(tensors[k].dtype).contiguous() for k, v in summed.items()}
    metadata = {**metadata, "averaged_from": [str(p) for p in paths], "mix": mix}
    return averaged, metadata


def write(path: Path, tensors: dict, metadata: dict) -> None:
    """The average as a weights file, through `save_weights` (atomic; the tensors loaded into the architecture first,
    so a file that would not load is never written)."""
    if not path.parent.is_dir():
        raise OutputError(f"cannot write {path}: the folder {path.parent} does not exist")
    model = model_entry(metadata["model"]).build(**metadata.get("kwargs", {}))
    model.load_state_dict(tensors)
    try:
        save_weights(model, path, name=metadata["model"], kwargs=metadata.get("kwargs", {}), extra=metadata)
    except (OSError, SafetensorError) as error:  # safetensors reports I/O failures as its own error
        raise OutputError(f"cannot write {path}: {getattr(error, 'strerror', None) or error}") from None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="the averaged weights file to write (.safetensors)")
    parser.add_argument("weights", type=Path, nargs="+", help="two or more weights files of one architecture")
    parser.add_argument("--mix", help="comma-separated shares, one per file, summing to 1 (default: equal)")
    args = parser.parse_args()
    if len(args.weights) < 2:
        parser.error("give at least two weights files")
    mix = [1 / len(args.weights)] * len(args.weights)
    if args.mix:
        try:
            mix = [float(x) for x in args.mix.split(",")]
        except ValueError:
            parser.error(f"--mix {args.mix!r}: not comma-separated numbers")
        if len(mix) != len(args.weights) or abs(sum(mix) - 1) > 1e-6 or min(mix) < 0:
            parser.error(f"--mix needs {len(args.weights)} non-negative shares summing to 1, got {args.mix}")
    try:
        tensors, metadata = average(args.weights, mix)
        write(args.out, tensors, metadata)
    except StvsrError as error:
        sys.exit(f"average_weights: {error}")
    print(f"wrote {args.out}: {' + '.join(f'{m:.2f}×{p}' for m, p in zip(mix, args.weights))}")


if __name__ == "__main__":
    main()

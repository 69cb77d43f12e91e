"""Copy a stvsr weights file with some model arguments changed in its metadata (the tensors are unchanged), e.g.
the streaming window of propstvsr for the propagation-length ablation (docs/experiments/propagation.md):

    python scripts/with_kwargs.py src/stvsr/weights/propstvsr.x4x2.safetensors runs/propstvsr_w2.safetensors \\
        window=2 overlap=1

Only arguments that leave the tensors' shapes alone make sense here: they are checked before anything is written.
"""

from __future__ import annotations

import argparse
import sys

import yaml
from safetensors import SafetensorError

from stvsr.errors import StvsrError
from stvsr.models import load_model, save_weights
from stvsr.models.registry import find_model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source")
    parser.add_argument("dest")
    parser.add_argument("changes", nargs="+", metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    try:
        model, metadata = load_model(args.source)
        kwargs = dict(metadata.get("kwargs", {}))
        for change in args.changes:
            key, sep, value = change.partition("=")
            if not sep or not key:
                raise StvsrError(f"expected KEY=VALUE, got {change!r}")
            kwargs[key] = yaml.safe_load(value)
        try:  # before anything is written: the changed arguments must build a model the tensors fit
            changed = find_model(metadata["model"]).build(**kwargs)
            changed.load_state_dict(model.state_dict())
        except (TypeError, ValueError, RuntimeError) as error:
            raise StvsrError(f"{metadata['model']} with {kwargs}: {error}") from None
        extra = {k: v for k, v in metadata.items() if k in ("training", "validation")}
        extra["derived"] = {"from": args.source, "changes": args.changes}
        save_weights(changed, args.dest, name=metadata["model"], kwargs=kwargs, extra=extra)
    except StvsrError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (OSError, SafetensorError) as error:  # an unwritable destination; the write is atomic: nothing is left
        print(f"error: cannot write {args.dest}: {getattr(error, 'strerror', None) or error}", file=sys.stderr)
        return 3
    print(f"wrote {args.dest}: {metadata['model']} with {kwargs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The package's imports point one way (issue 16): io/ops -> models/losses/metrics -> inference -> train,
evaluate -> studies -> commands -> cli. Every import counts, the lazy ones inside functions too."""

import ast
from pathlib import Path

import stvsr

PACKAGE = Path(stvsr.__file__).resolve().parent

# Lowest first. A module may import its own level's or lower levels' modules; sideways imports within a level are
# listed in SIDEWAYS (the importer first). The jobs package is layered inside: its modules count one by one.
LAYERS = [
    {"errors", "atomic"},  # atomic: files written whole (a temporary, then a rename)
    {"runtime", "zoo"},  # zoo: where shipped weights are found (torch-free)
    {"io", "ops"},
    {"degrade", "metrics", "data"},
    {"models", "losses"},
    {"inference"},
    {"evaluate", "train"},
    {"studies"},
    {"jobs", "jobs.scenes", "jobs.segments", "catalogue"},  # the jobs' helpers
    {"jobs.options"},  # the upscale job as data, checked before torch loads
    {"jobs.upscale", "jobs.export", "jobs.bench", "jobs.batch"},
    {"jobs.ray_batch", "serve"},  # the engines and the web app over the jobs
    {"cli"},
    {"__main__"},
]
SIDEWAYS = {("metrics", "io"), ("degrade", "io"), ("data", "io"), ("losses", "models"),
            ("train", "evaluate"), ("jobs.batch", "jobs.upscale"), ("metrics", "ops"), ("degrade", "ops"),
            ("io", "ops")}
LEVEL = {name: i for i, layer in enumerate(LAYERS) for name in layer}


def _key(parts: tuple[str, ...] | list[str]) -> str:
    """The layer key of a module path below stvsr/: its top folder, or `jobs.X` inside the jobs package."""
    if parts[0] == "jobs" and len(parts) > 1 and parts[1] != "__init__":
        return f"jobs.{parts[1]}"
    return parts[0]


def _top(path: Path) -> str:
    return _key(path.relative_to(PACKAGE).with_suffix("").parts)


def _imports(path: Path, source: str | None = None) -> set[str]:
    """Layer keys of the stvsr modules that `path` (inside the package) imports, absolutely or relatively."""
    rel = path.relative_to(PACKAGE)
    package = list(rel.parts[:-1])  # the file's own package, below stvsr/
    found = set()
    for node in ast.walk(ast.parse(source if source is not None else path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level == 0:
                parts = (node.module or "").split(".")
                if parts[0] == "stvsr" and len(parts) > 1:
                    found.add(_key(parts[1:]))
                continue
            up = node.level - 1  # packages above the file's own
            if up > len(package):
                continue
            base = package[:len(package) - up]
            module = base + (node.module.split(".") if node.module else [])
            for alias in node.names:  # `from .jobs import batch`: a name may be a module itself
                named = module + [alias.name]
                is_module = PACKAGE.joinpath(*named).with_suffix(".py").exists() or PACKAGE.joinpath(*named).is_dir()
                if is_module or not node.module:
                    found.add(_key(named))
                elif module:
                    found.add(_key(module))
        elif isinstance(node, ast.Import):
            found.update(_key(a.name.split(".")[1:]) for a in node.names if a.name.startswith("stvsr."))
    return found


def test_every_module_has_a_layer():
    tops = {_top(p) for p in PACKAGE.rglob("*.py")} - {"__init__"}
    assert tops <= set(LEVEL), sorted(tops - set(LEVEL))


def test_imports_point_down():
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        me = _top(path)
        if me == "__init__":
            continue
        for other in _imports(path) - {me}:
            if other not in LEVEL:
                continue
            if LEVEL[other] > LEVEL[me] or (LEVEL[other] == LEVEL[me] and (me, other) not in SIDEWAYS):
                wrong.append(f"{path.relative_to(PACKAGE)} ({me}) imports {other}")
    assert not wrong, "\n".join(wrong)


def test_the_walker_sees_upward_imports():
    # the test above must be able to fail: lazy, relative and absolute upward imports are all seen
    models_file = PACKAGE / "models" / "probe.py"
    assert _imports(models_file, "def f():\n    from ..jobs.upscale import upscale_video\n") == {"jobs.upscale"}
    assert _imports(models_file, "from ..jobs import batch\n") == {"jobs.batch"}
    assert _imports(models_file, "from .. import cli\nimport stvsr.train.loop\n") == {"cli", "train"}
    assert _imports(models_file, "from .base import VideoModel\n") == {"models"}
    assert _imports(PACKAGE / "jobs" / "bench.py", "from ..inference import prepare\n") == {"inference"}
    assert _imports(PACKAGE / "jobs" / "batch.py", "from .upscale import plan_upscale\n") == {"jobs.upscale"}

"""The package's imports point one way (issue 16): io/ops -> models/losses/metrics -> inference -> train,
evaluate -> studies -> commands -> cli. Every import counts, the lazy ones inside functions too."""

import ast
from pathlib import Path

import stvsr

PACKAGE = Path(stvsr.__file__).resolve().parent

# Lowest first. A module may import its own level's or lower levels' modules; sideways imports within a level are
# listed in SIDEWAYS (the importer first).
LAYERS = [
    {"errors"},
    {"runtime"},
    {"io", "ops"},
    {"degrade", "metrics", "data", "scenes", "segments"},
    {"models", "losses"},
    {"inference"},
    {"evaluate", "train"},
    {"studies"},
    {"upscale", "export", "bench", "batch", "catalogue"},
    {"ray_batch", "serve"},  # the engines and the web app over the jobs
    {"cli"},
    {"__main__"},
]
SIDEWAYS = {("metrics", "io"), ("degrade", "io"), ("data", "io"), ("segments", "io"), ("losses", "models"),
            ("train", "evaluate"), ("batch", "upscale"), ("metrics", "ops"), ("degrade", "ops"),
            ("io", "ops")}
LEVEL = {name: i for i, layer in enumerate(LAYERS) for name in layer}


def _top(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return parts[0]


def _imports(path: Path, source: str | None = None) -> set[str]:
    """Top-level stvsr modules that `path` (inside the package) imports, absolutely (`stvsr.x`) or relatively."""
    rel = path.relative_to(PACKAGE)
    depth = len(rel.parts) - 1  # 0: a module directly in stvsr/
    found = set()
    for node in ast.walk(ast.parse(source if source is not None else path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level == 0:
                if node.module and node.module.split(".")[0] == "stvsr" and "." in node.module:
                    found.add(node.module.split(".")[1])
                continue
            up = node.level - 1  # levels above the file's own package
            if up > depth:
                continue
            if up == depth:  # relative to stvsr/ itself: the module named, or the names imported
                if node.module:
                    found.add(node.module.split(".")[0])
                else:
                    found.update(alias.name for alias in node.names)
            else:
                found.add(rel.parts[0])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("stvsr."))
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
    assert _imports(models_file, "def f():\n    from ..upscale import upscale_video\n") == {"upscale"}
    assert _imports(models_file, "from .. import cli\nimport stvsr.train.loop\n") == {"cli", "train"}
    assert _imports(models_file, "from .base import VideoModel\n") == {"models"}
    assert _imports(PACKAGE / "bench.py", "from .inference import prepare\n") == {"inference"}

"""The light wheel and the zoo by name (issue 37): the package carries what the defaults reach; the research zoo is
found in STVSR_WEIGHTS, the repository's zoo/ or the user cache, or downloaded against its recorded sha256."""

import functools
import hashlib
import http.server
import shutil
import threading

import pytest

from stvsr import zoo
from stvsr.errors import UsageError, WeightsError
from stvsr.inference import COMPRESSED_VARIANTS, QUALITY_MODELS
from stvsr.models import build_method
from stvsr.models.shipped import SHIPPED

# Weights that are not models of the listing but features of the package: the perceptual loss's detail network and
# the trade-off study's action classifiers.
FEATURE_FILES = {"detail_features", "action_flow", "action_frame"}
SMALL_ZOO_MODEL = "vsr_5parallel.x4"  # 133 kB: quick to serve


def test_the_package_carries_what_the_defaults_reach_and_no_more():
    in_package = {p.stem for p in zoo.PACKAGE_WEIGHTS.glob("*.safetensors")}
    wheel = {s.name for s in SHIPPED.values() if s.home == "wheel"}
    assert in_package == wheel | FEATURE_FILES
    reached = {part for levels in QUALITY_MODELS.values() for pair in levels.values() for method in pair
               for part in method.split("+") if part in SHIPPED}
    reached |= set(COMPRESSED_VARIANTS.values())
    assert reached <= wheel, sorted(reached - wheel)
    size = sum(p.stat().st_size for p in zoo.PACKAGE_WEIGHTS.glob("*.safetensors"))
    assert size <= 15e6, f"{size / 1e6:.1f} MB of weights in the package"


def test_every_card_ships_and_every_zoo_file_is_recorded():
    rows = {row["name"]: row for row in zoo.records()}
    for entry in SHIPPED.values():
        assert entry.card_path.parent == zoo.PACKAGE_WEIGHTS and entry.card_path.is_file(), entry.name
        row = rows[entry.name]
        assert row["home"] == entry.home and len(row["sha256"]) == 64
        assert hashlib.sha256(entry.path.read_bytes()).hexdigest() == row["sha256"], entry.name


@pytest.fixture
def no_zoo(tmp_path, monkeypatch):
    """A machine with the wheel only: no repository zoo/, an empty cache, no STVSR_WEIGHTS or mirror."""
    monkeypatch.setattr(zoo, "REPO_ZOO", tmp_path / "no-repo" / "zoo")
    cache = tmp_path / "cache"
    monkeypatch.setattr(zoo, "cache_dir", lambda: cache)
    monkeypatch.delenv(zoo.WEIGHTS_ENV, raising=False)
    monkeypatch.delenv(zoo.URL_ENV, raising=False)
    return cache


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    """A local HTTP server over a folder: what STVSR_ZOO_URL points at."""
    folder = tmp_path / "mirror"
    folder.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv(zoo.URL_ENV, f"http://127.0.0.1:{server.server_address[1]}/weights/")
    yield folder
    server.shutdown()
    server.server_close()


def _original(name):
    return (zoo.PACKAGE_WEIGHTS.parents[2] / "zoo" / f"{name}.safetensors").read_bytes()


def test_without_the_zoo_a_zoo_model_says_where_to_get_it(no_zoo):
    with pytest.raises(UsageError) as info:
        build_method(SMALL_ZOO_MODEL, scale=4, time_factor=1)
    message = str(info.value)
    assert "\n" not in message and zoo.WEIGHTS_ENV in message and zoo.URL_ENV in message
    build_method("imdn.x4", scale=4, time_factor=1)  # the package's own weights need nothing


def test_a_weights_folder_is_searched(no_zoo, tmp_path, monkeypatch):
    folder = tmp_path / "shared-drive"
    folder.mkdir()
    (folder / f"{SMALL_ZOO_MODEL}.safetensors").write_bytes(_original(SMALL_ZOO_MODEL))
    monkeypatch.setenv(zoo.WEIGHTS_ENV, str(folder))
    assert SHIPPED[SMALL_ZOO_MODEL].path == folder / f"{SMALL_ZOO_MODEL}.safetensors"
    assert build_method(SMALL_ZOO_MODEL, scale=4, time_factor=1).scale == 4


def test_a_zoo_model_downloads_once_into_the_cache(no_zoo, mirror):
    (mirror / "weights").mkdir()
    (mirror / "weights" / f"{SMALL_ZOO_MODEL}.safetensors").write_bytes(_original(SMALL_ZOO_MODEL))
    model = build_method(SMALL_ZOO_MODEL, scale=4, time_factor=1)
    cached = no_zoo / f"{SMALL_ZOO_MODEL}.safetensors"
    assert model.scale == 4 and cached.read_bytes() == _original(SMALL_ZOO_MODEL)
    shutil.rmtree(mirror / "weights")  # the second use reads the cache: the mirror is not asked again
    build_method(SMALL_ZOO_MODEL, scale=4, time_factor=1)
    assert SHIPPED[SMALL_ZOO_MODEL].available


def test_a_download_that_does_not_match_its_sha256_is_refused_and_not_kept(no_zoo, mirror):
    (mirror / "weights").mkdir()
    tampered = bytearray(_original(SMALL_ZOO_MODEL))
    tampered[-1] ^= 0xFF
    (mirror / "weights" / f"{SMALL_ZOO_MODEL}.safetensors").write_bytes(bytes(tampered))
    with pytest.raises(WeightsError, match="sha256"):
        build_method(SMALL_ZOO_MODEL, scale=4, time_factor=1)
    assert not no_zoo.exists() or not any(no_zoo.iterdir())


def test_a_missing_file_on_the_mirror_is_one_line(no_zoo, mirror):
    with pytest.raises(UsageError, match="could not download") as info:
        build_method(SMALL_ZOO_MODEL, scale=4, time_factor=1)
    assert "\n" not in str(info.value)
    assert not no_zoo.exists() or not any(no_zoo.iterdir())


def test_the_top_of_configs_holds_the_shipped_recipes_and_ablations_the_rest():
    """configs/*.yaml back a shipped file (or are a stage whose run a shipped recipe starts from); the studies and
    ablations that back none live in configs/ablations/."""
    import yaml

    configs = zoo.PACKAGE_WEIGHTS.parents[2] / "configs"
    recipes = {s.recipe for s in SHIPPED.values()}
    stages = set()
    for recipe in recipes:
        init = str((yaml.safe_load((configs / f"{recipe}.yaml").read_text()) or {}).get("init", ""))
        if init.startswith("runs/"):
            stages.add(init.split("/")[1])
    top = {p.stem for p in configs.glob("*.yaml")}
    assert top == recipes | stages, sorted(top ^ (recipes | stages))
    assert not {p.stem for p in (configs / "ablations").glob("*.yaml")} & recipes


def test_cards_and_weights_name_no_machine_folders():
    """Commands in cards and in the weights' own metadata are repository-relative: a user's clone has no /work."""
    import json
    import re

    from safetensors import safe_open

    absolute = re.compile(r"(?<![\w.~])/(work|home|root|Users|tmp|mnt)/")
    for entry in SHIPPED.values():
        assert not absolute.search(entry.card_path.read_text()), entry.card_path.name
        with safe_open(str(entry.path), "pt") as handle:
            assert not absolute.search(json.dumps(handle.metadata() or {})), entry.name


def test_a_zoo_model_card_reads_without_its_weights(no_zoo, capsys):
    from stvsr.cli import main

    assert main(["models", "--details", SMALL_ZOO_MODEL]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"# {SMALL_ZOO_MODEL}") and zoo.WEIGHTS_ENV in out

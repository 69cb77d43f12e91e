"""A run's checkpoint is read without running code, and an unreadable one is one line and exit 5 (issue 38, 1-2)."""

import os
import shutil

import pytest
import torch

from stvsr.cli import main
from stvsr.models import read_metadata
from stvsr.train.checkpoint import CHECKPOINT, load_checkpoint

from test_train import data, write_config  # noqa: F401  (the fixture is used by name)


class _Payload:
    """Unpickling this runs a shell command: what a crafted 'resume from here' checkpoint would do."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, data):  # noqa: F811
    folder = tmp_path_factory.mktemp("ckpt")
    config = write_config(folder / "c.yaml", data, folder / "run",
                          stages=[{"name": "all", "steps": 2, "losses": {"l1": 1.0}}])
    assert main(["train", "--config", str(config), "--max-steps", "1"]) == 0
    return folder / "run"


def resume_with(tmp_path, finished_run, checkpoint_bytes):
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    (run / CHECKPOINT).write_bytes(checkpoint_bytes)
    return run


def assert_one_line_exit_5(capsys, run):
    assert main(["train", "--resume", str(run)]) == 5
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a readable stvsr checkpoint" in err[0] and "Traceback" not in err[0], err


def test_a_real_checkpoint_reads_and_resumes(tmp_path, finished_run, capsys):
    state = load_checkpoint(finished_run / CHECKPOINT)
    assert state["step"] == 1 and "rng" in state
    # A time-boxed call leaves the weights it reached, for a milestone snapshot of a long run.
    assert read_metadata(finished_run / "snapshot.safetensors")["training"]["steps"] == 1
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    assert main(["train", "--resume", str(run)]) == 0


def test_a_crafted_checkpoint_runs_no_code(tmp_path, finished_run, capsys):
    marker = tmp_path / "pwned"
    crafted = tmp_path / "crafted.pt"
    torch.save({"model": {}, "ema": {}, "step": 0, "config": "", "evil": _Payload(marker)}, crafted)
    run = resume_with(tmp_path, finished_run, crafted.read_bytes())
    assert_one_line_exit_5(capsys, run)
    assert not marker.exists()


@pytest.mark.parametrize("damage", ["empty", "truncated", "random", "missing key"])
def test_an_unreadable_checkpoint_is_one_line(tmp_path, finished_run, capsys, damage):
    good = (finished_run / CHECKPOINT).read_bytes()
    if damage == "missing key":
        state = load_checkpoint(finished_run / CHECKPOINT)
        del state["ema"]
        torch.save(state, tmp_path / "x.pt")
        content = (tmp_path / "x.pt").read_bytes()
    else:
        content = {"empty": b"", "truncated": good[: len(good) // 2], "random": os.urandom(4096)}[damage]
    assert_one_line_exit_5(capsys, resume_with(tmp_path, finished_run, content))

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


def test_average_weights_mixes_fine_tunes_of_one_architecture(tmp_path, load_script):
    from stvsr.errors import WeightsError
    from stvsr.models import create_model
    from stvsr.models.checkpoint import load_model, save_weights

    script = load_script("average_weights")
    average = script.average
    kwargs = {"scale": 2, "time_factor": 1}
    torch.manual_seed(0)
    a, b = create_model("propstvsr_tiny", **kwargs), create_model("propstvsr_tiny", **kwargs)
    paths = [save_weights(m, tmp_path / f"{n}.safetensors", name="propstvsr_tiny", kwargs=kwargs)
             for n, m in (("a", a), ("b", b))]
    tensors, metadata = average(paths, [0.25, 0.75])
    key = next(k for k, v in a.state_dict().items() if v.is_floating_point() and v.abs().sum() > 0)
    expected = 0.25 * a.state_dict()[key] + 0.75 * b.state_dict()[key]
    assert torch.allclose(tensors[key], expected, atol=1e-6)
    assert metadata["mix"] == [0.25, 0.75] and metadata["model"] == "propstvsr_tiny"
    # what it writes loads as the model it came from, its ingredients recorded
    script.write(tmp_path / "soup.safetensors", tensors, metadata)
    assert read_metadata(tmp_path / "soup.safetensors")["averaged_from"] == [str(p) for p in paths]
    load_model(tmp_path / "soup.safetensors")
    # another architecture (or the same one at another size) cannot be averaged in
    other = save_weights(create_model("propstvsr_tiny", scale=4, time_factor=1), tmp_path / "c.safetensors",
                         name="propstvsr_tiny", kwargs={"scale": 4, "time_factor": 1})
    with pytest.raises(WeightsError, match="only one architecture"):
        average([paths[0], other], [0.5, 0.5])


@pytest.mark.parametrize("case", ["missing input", "unwritable destination"])
def test_average_weights_refuses_bad_input_in_one_line(tmp_path, load_script, monkeypatch, capsys, case):
    from stvsr.models import create_model
    from stvsr.models.checkpoint import save_weights

    script = load_script("average_weights")
    kwargs = {"scale": 2, "time_factor": 1}
    good = save_weights(create_model("propstvsr_tiny", **kwargs), tmp_path / "a.safetensors", name="propstvsr_tiny",
                        kwargs=kwargs)
    before = good.read_bytes()
    out = tmp_path / "soup.safetensors"
    if case == "missing input":
        inputs = [good, tmp_path / "absent.safetensors"]
    else:
        inputs, out = [good, good], tmp_path / "no" / "such" / "folder" / "soup.safetensors"
    monkeypatch.setattr("sys.argv", ["average_weights.py", str(out), *map(str, inputs)])
    with pytest.raises(SystemExit) as exit_:
        script.main()
    message = str(exit_.value.code)
    assert message.startswith("average_weights: ") and "\n" not in message
    assert ("not found" in message) if case == "missing input" else ("cannot write" in message)
    assert not out.exists()
    assert not list(tmp_path.rglob("*partial*")) and not list(tmp_path.rglob(".tmp*"))  # no half-written file
    assert good.read_bytes() == before  # the inputs are only read

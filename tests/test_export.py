"""`stvsr export`: ONNX and TorchScript files that other runtimes run with the same results as PyTorch."""

import onnx
import onnxruntime
import pytest
import torch

from stvsr.cli import main
from stvsr.jobs.export import interface_of
from stvsr.models import load_model
from stvsr.models.shipped import SHIPPED


@pytest.mark.parametrize("name", ["imdn.x4", "flowvsr.x4", "flowvfi.x2"])
def test_onnx_runs_in_onnx_runtime_like_pytorch(tmp_path, capsys, name):
    out = tmp_path / f"{name}.onnx"
    assert main(["export", name, str(out)]) == 0
    assert "largest difference" in capsys.readouterr().out
    interface = interface_of(load_model(SHIPPED[name].path)[0].eval())
    graph = onnx.load(str(out)).graph
    assert [i.name for i in graph.input] == interface.inputs and [o.name for o in graph.output] == [interface.output]
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    inputs = [torch.rand(3, 3, 24, 44) for _ in interface.inputs]  # a size and batch it was not traced with
    got = session.run(None, {n: x.numpy() for n, x in zip(interface.inputs, inputs)})[0]
    with torch.no_grad():
        expected = interface.module(*inputs)
    assert got.shape == tuple(expected.shape) == (3, 3, 24 * interface.scale, 44 * interface.scale)
    assert abs(got - expected.numpy()).max() < 1e-4


def test_torchscript_loads_without_stvsr(tmp_path, capsys):
    out = tmp_path / "espcn.pt"
    assert main(["export", "espcn.x4", str(out), "--format", "torchscript"]) == 0
    scripted = torch.jit.load(str(out))
    frames = torch.rand(2, 3, 30, 26)
    model, _ = load_model(SHIPPED["espcn.x4"].path)
    with torch.no_grad():
        assert torch.allclose(scripted(frames), model.eval().upscale_frames(frames), atol=1e-5)


def test_export_errors(tmp_path, capsys):
    assert main(["export", "nonesuch", str(tmp_path / "x.onnx")]) == 2
    existing = tmp_path / "exists.onnx"
    existing.write_bytes(b"keep")
    assert main(["export", "imdn.x4", str(existing)]) == 4 and existing.read_bytes() == b"keep"
    assert main(["export", "imdn.x4", str(tmp_path / "no/x.onnx")]) == 4
    assert "output folder does not exist" in capsys.readouterr().err
    # Checked before tracing (issue 38): a folder that takes no file (/proc refuses even root), a wrong extension.
    assert main(["export", "imdn.x4", "/proc/imdn.onnx"]) == 4
    assert "output folder is not writable: /proc" in capsys.readouterr().err
    assert main(["export", "imdn.x4", str(tmp_path / "imdn.pt")]) == 2  # onnx is the default format
    assert "ends in .onnx" in capsys.readouterr().err and not (tmp_path / "imdn.pt").exists()


def test_model_card_documents_the_export(capsys):
    assert main(["models", "--details", "flowvsr.x4"]) == 0
    out = capsys.readouterr().out
    assert "## Export" in out and "frame (N, 3, H, W), previous (N, 3, H, W), following" in out


def test_onnx_export_prints_no_stray_warnings(tmp_path):
    # Every export printed four "torchvision is not installed" lines from the exporter (issue 38, item 15).
    import subprocess
    import sys

    process = subprocess.run([sys.executable, "-m", "stvsr", "export", "espcn.x4", str(tmp_path / "e.onnx")],
                             capture_output=True, text=True, timeout=300)
    assert process.returncode == 0 and process.stderr.strip() == "", process.stderr

"""Training configuration: defaults < file < --set, strict keys, typed values."""

import pytest

from stvsr.errors import UsageError
from stvsr.train.config import TrainConfig, dump_config, load_config


def test_defaults_file_and_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model: tpnet\nbatch: 4\noptim:\n  lr: 2e-4\nstages:\n  - name: tpsrm\n    steps: 10\n"
                    "    train: [tpsrm]\n")
    config = load_config(path, ["batch=2", "optim.betas=[0.9, 0.999]", "data.photo_share=0"])
    assert config.batch == 2  # --set beats the file
    assert config.optim.lr == 2e-4 and isinstance(config.optim.lr, float)  # YAML reads 2e-4 as a string
    assert config.optim.betas == (0.9, 0.999) and config.data.photo_share == 0.0
    assert config.stages[0].name == "tpsrm" and config.stages[0].losses == {"l1": 1.0}  # a default inside a list
    assert config.scale == TrainConfig().scale  # untouched default
    again = tmp_path / "again.yaml"
    again.write_text(dump_config(config))
    assert load_config(again) == config  # the saved config reproduces the run's
    staged = load_config(path, ["stages.0.steps=3", "stages.0.losses={l1: 1, ssim: 0.1}", "stages.0.losses.l1=2"])
    assert staged.stages[0].steps == 3 and staged.stages[0].losses == {"l1": 2.0, "ssim": 0.1}
    with pytest.raises(UsageError, match="not an index of a list of 1"):
        load_config(path, ["stages.1.steps=3"])


@pytest.mark.parametrize("override,message", [
    ("optim.lrr=1", "unknown config key optim.lrr"),
    ("batch=many", "batch: expected int"),
    ("batch=2.5", "batch: expected int"),
    ("data.photo_share=some", "expected float"),
    ("nonsense", "key=value"),
    ("batch.size=3", "batch: expected int"),
    ("data.coded_patch=16", "data.coded_patch"),  # below the default patch of 32
])
def test_bad_overrides(override, message):
    with pytest.raises(UsageError, match=message):
        load_config(None, [override])


def test_bad_files(tmp_path):
    with pytest.raises(UsageError, match="not found"):
        load_config(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("model: [unclosed\n")
    with pytest.raises(UsageError, match="not valid YAML"):
        load_config(broken)
    listed = tmp_path / "list.yaml"
    listed.write_text("- a\n- b\n")
    with pytest.raises(UsageError, match="must be a mapping"):
        load_config(listed)


def test_photo_scales_are_checked():
    from stvsr.train.config import parse_config

    assert parse_config("data: {photo_scales: [0.25, 0.35]}\n").data.photo_scales == [0.25, 0.35]
    for bad in ("[1.5]", "[0]", "[small]"):
        with pytest.raises(UsageError, match="data.photo_scales"):
            parse_config(f"data: {{photo_scales: {bad}}}\n")
    with pytest.raises(UsageError, match="a pack holds its photos"):
        parse_config("data: {photo_scales: [0.25], packed: some/pack}\n")


def test_perceptual_layers_are_checked():
    from stvsr.train.config import parse_config

    assert parse_config("perceptual_layers: [0, 1]\n").perceptual_layers == [0, 1]
    with pytest.raises(UsageError, match="perceptual_layers"):
        parse_config("perceptual_layers: [-1]\n")


def test_perceptual_layers_must_exist_in_the_feature_network(tmp_path):
    """The shipped detail network returns three blocks: block 3 is a usage error when the loss is built, while a
    critic feature network (five layers) takes it."""
    from safetensors.torch import save_file

    from stvsr.losses import critic_feature_state
    from stvsr.models.srgan import Discriminator
    from stvsr.train.objectives import Objective

    with pytest.raises(UsageError, match="returns 3 layers"):
        Objective({"mse": 1.0, "perceptual": 0.01}, scale=2, perceptual_layers=[3])
    path = tmp_path / "critic.safetensors"
    save_file(critic_feature_state(Discriminator(features=8).state_dict()), str(path))
    Objective({"mse": 1.0, "perceptual": 0.01}, scale=2, perceptual_weights=str(path), perceptual_layers=[3, 4])

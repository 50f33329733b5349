import dataclasses

import pytest

from pix2pix_sar.config import VARIANTS, Config, config_from_dict, diff_configs, resolve_config, valid_keys
from pix2pix_sar.errors import ConfigError


def test_variants_match_the_paper():
    assert list(VARIANTS) == ["orig", "gen5", "dis3", "l1_1_gan100", "l1_50_gan50", "scene", "sampler"]
    orig = resolve_config("orig")
    assert (orig.model.generator_kernel, orig.model.discriminator_kernel) == (4, 4)
    assert (orig.loss.gan_weight, orig.loss.l1_weight) == (1.0, 100.0)
    assert orig.optimizer.learning_rate == 2e-4 and orig.optimizer.beta_1 == 0.5
    assert orig.training.batch_size == 1 and orig.training.epochs == 300 and orig.training.checkpoint_every == 15
    assert resolve_config("gen5").model.generator_kernel == 5
    assert resolve_config("dis3").model.discriminator_kernel == 3
    for name, weights in (("l1_1_gan100", (100.0, 1.0)), ("l1_50_gan50", (50.0, 50.0))):
        loss = resolve_config(name).loss
        assert (loss.gan_weight, loss.l1_weight) == weights and loss.adversarial == "patch"
    scene = resolve_config("scene", assignments=["model.patch_size=64"]).model
    assert scene.whole_scene and scene.depth == 4 and scene.stride == 16 and scene.reach == 56
    assert not orig.model.whole_scene and orig.model.depth == 8


def test_yaml_then_set_overrides(tmp_path):
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("model:\n  base_filters: 16\ntraining:\n  epochs: 5\n")
    cfg = resolve_config("dis3", cfg_file, ["training.epochs=7", "optimizer.learning_rate=1e-3", "data.flip=true"])
    assert cfg.model.base_filters == 16
    assert cfg.model.discriminator_kernel == 3  # variant survives the file
    assert cfg.training.epochs == 7  # --set wins over the file
    assert cfg.optimizer.learning_rate == pytest.approx(1e-3)
    assert cfg.data.flip is True


@pytest.mark.parametrize(
    "assignment, message",
    [
        ("model.base_filter=8", "unknown key model.base_filter"),
        ("modle.base_filters=8", "unknown section 'modle'"),
        ("training.epochs=ten", "training.epochs must be int"),
        ("training.epochs=2.5", "training.epochs must be int"),
        ("data.flip=3", "data.flip must be bool"),
        ("training.epochs", "expected section.key=value"),
        ("training.epochs=0", "training.epochs must be >= 1"),
        ("model.patch_size=100", "power of two"),
    ],
)
def test_bad_overrides_are_errors_that_list_valid_keys(assignment, message):
    with pytest.raises(ConfigError, match=message) as info:
        resolve_config("orig", assignments=[assignment])
    if "unknown" in message or "expected" in message:
        assert "valid keys: model.patch_size" in str(info.value)


def test_unknown_variant_and_bad_file(tmp_path):
    with pytest.raises(ConfigError, match="choose one of: orig, gen5"):
        resolve_config("gen7")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [1, 2\n")
    with pytest.raises(ConfigError, match="bad.yaml is not valid YAML"):
        resolve_config("orig", bad)
    other = tmp_path / "other.yaml"
    other.write_text("variant: gen5\n")
    with pytest.raises(ConfigError, match="pass variant gen5"):
        resolve_config("orig", other)


def test_saved_config_round_trips():
    import yaml

    cfg = resolve_config("gen5", assignments=["training.seed=3"])
    again = config_from_dict(yaml.safe_load(cfg.to_yaml()), "config.yaml")
    assert again == cfg
    assert diff_configs(cfg, resolve_config("gen5")) == ["training.seed: 3 -> 0"]
    assert len(valid_keys()) == sum(
        len(dataclasses.fields(getattr(Config(), s))) for s in ("model", "loss", "optimizer", "data", "training")
    )

"""Typed configuration, the registry of named variants, and strict overrides.

A run is fully described by a :class:`Config`: a variant from :data:`VARIANTS`,
then a YAML file, then ``section.key=value`` overrides, each checked against the
dataclass fields so that a typo is an error, never a silently ignored key.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from pix2pix_sar.errors import ConfigError, Pix2PixSarError

#: Smallest patch side the networks take (the U-Net depth is log2 of the side).
MIN_PATCH_SIZE = 16


def check_patch_size(size: int, name: str, error: type[Pix2PixSarError] = ConfigError) -> None:
    """The patch-size rule, for every place that takes a patch size: a power of two
    >= MIN_PATCH_SIZE. Raises `error` naming the option or key `name`."""
    if size < MIN_PATCH_SIZE or size & (size - 1):
        raise error(f"{name} must be a power of two >= {MIN_PATCH_SIZE}, got {size}")


#: Choices of the string-valued model fields.
NORMALIZATIONS = ("per_image", "none")
NOISES = ("dropout", "coordinates")
UPSAMPLINGS = ("transpose", "resize")


@dataclass(frozen=True)
class ModelConfig:
    """Network architecture (README "Variants", Sec. III-B of the paper)."""

    patch_size: int = 256  # fit takes it from the dataset; sets the U-Net depth
    in_channels: int = 1
    out_channels: int = 1
    base_filters: int = 64
    generator_kernel: int = 4
    discriminator_kernel: int = 4
    dropout: float = 0.5
    leaky_slope: float = 0.2
    init_std: float = 0.02
    unet_depth: int = 0  # encoder blocks; 0: down to a 1x1 bottleneck (the paper: log2 of the patch size)
    normalization: str = "per_image"  # per_image: each image by its own statistics (BatchNorm at batch 1); none
    noise: str = "dropout"  # dropout: keyed dropout in the decoder (the paper); coordinates: a noise input channel
    upsampling: str = "transpose"  # transpose: ConvTranspose 2x (the paper); resize: bilinear 2x then a 3x3 conv

    @property
    def depth(self) -> int:
        """Encoder blocks of the generator."""
        return self.unet_depth or int(math.log2(self.patch_size))

    @property
    def stride(self) -> int:
        """The generator's total stride: inputs are multiples of it."""
        return 2**self.depth

    @property
    def reach(self) -> int:
        """How far (pixels) an output pixel sees into its input, at most: (kernel - 1) x
        stride for ConvTranspose decoders (measured 40 where this gives 48), 3.5 x stride
        for resize decoders with kernels up to 4 (measured 55 where this gives 56);
        tests/models/test_scene.py measures it."""
        if self.upsampling == "resize":
            return max(self.generator_kernel - 1, 3) * self.stride + self.stride // 2
        return (self.generator_kernel - 1) * self.stride

    @property
    def whole_scene(self) -> bool:
        """True if generation is a fixed, translation-equivariant function of the mask and
        of a noise field on the scene's grid (any tile gives the same pixels)."""
        return self.unet_depth > 0 and self.normalization == "none" and self.noise == "coordinates"

    def validate(self) -> None:
        check_patch_size(self.patch_size, "model.patch_size")
        if self.unet_depth < 0 or 2**self.unet_depth > self.patch_size:
            raise ConfigError(
                f"model.unet_depth must be 0 (the paper's rule) or between 1 and log2(patch size), "
                f"got {self.unet_depth}"
            )
        if self.normalization not in NORMALIZATIONS:
            raise ConfigError(
                f"model.normalization must be one of {', '.join(NORMALIZATIONS)}, got {self.normalization!r}"
            )
        if self.upsampling not in UPSAMPLINGS:
            raise ConfigError(f"model.upsampling must be one of {', '.join(UPSAMPLINGS)}, got {self.upsampling!r}")
        if self.noise not in NOISES:
            raise ConfigError(f"model.noise must be one of {', '.join(NOISES)}, got {self.noise!r}")
        if self.noise == "coordinates" and self.dropout > 0:
            raise ConfigError("model.noise=coordinates replaces dropout; set model.dropout=0")
        for name in ("in_channels", "out_channels", "base_filters", "generator_kernel", "discriminator_kernel"):
            if getattr(self, name) < 1:
                raise ConfigError(f"model.{name} must be positive, got {getattr(self, name)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"model.dropout must be in [0, 1), got {self.dropout}")


@dataclass(frozen=True)
class LossConfig:
    """Generator loss = gan_weight * BCE + l1_weight * L1 (Eq. 5)."""

    gan_weight: float = 1.0
    l1_weight: float = 100.0

    def validate(self) -> None:
        if self.gan_weight < 0 or self.l1_weight < 0:
            raise ConfigError("loss weights must be non-negative")


@dataclass(frozen=True)
class OptimizerConfig:
    """Adam for both networks, as in pix2pix."""

    learning_rate: float = 2e-4
    beta_1: float = 0.5
    beta_2: float = 0.999

    def validate(self) -> None:
        if not self.learning_rate > 0:
            raise ConfigError(f"optimizer.learning_rate must be positive, got {self.learning_rate}")


@dataclass(frozen=True)
class DataConfig:
    """How training pairs are fed."""

    flip: bool = False  # random horizontal/vertical flips of mask and image together
    prefetch: int = 2
    #: memory: patches held in RAM; streamed: read from 'dataset pack' as training goes;
    #: auto: streamed when packed and the split would take more than data.packed.AUTO_STREAM_BYTES.
    input: str = "auto"

    def validate(self) -> None:
        if self.prefetch < 0:
            raise ConfigError("data.prefetch must be >= 0")
        if self.input not in INPUT_MODES:
            raise ConfigError(f"data.input must be one of {', '.join(INPUT_MODES)}, got {self.input!r}")


#: Choices of the string-valued training fields.
INPUT_MODES = ("auto", "memory", "streamed")
STRATEGIES = ("auto", "one-device", "mirrored", "multi-worker")
PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")
XLA_MODES = ("auto", "on", "off")


#: Seconds per unit of a duration (``training.state_every``: ``90s``, ``10m``, ``1.5h``).
DURATION_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smh])\s*$")


@dataclass(frozen=True)
class Interval:
    """Every `epochs` epochs, or every `seconds` of wall time (exactly one is set)."""

    epochs: int | None = None
    seconds: float | None = None


def parse_interval(value: int | str, name: str) -> Interval:
    """An int is a number of epochs (>= 1); a string a duration such as ``90s``, ``10m`` or ``1h`` (> 0)."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise ConfigError(f"{name} must be >= 1 epoch or a duration such as 10m, got {value}")
        return Interval(epochs=value)
    match = _DURATION.match(value) if isinstance(value, str) else None
    if match is None or float(match.group(1)) <= 0:
        raise ConfigError(
            f"{name} must be a number of epochs (e.g. 1) or a duration (e.g. 90s, 10m, 1h), got {value!r}"
        )
    return Interval(seconds=float(match.group(1)) * DURATION_UNITS[match.group(2)])


@dataclass(frozen=True)
class TrainingConfig:
    """The loop: epochs, batch, seeds, how often state is kept, and how it runs."""

    epochs: int = 300
    batch_size: int = 1
    checkpoint_every: int = 15  # epochs between generator snapshots (the paper: 15)
    state_every: int | str = "10m"  # full-state saves (resume points): epochs (1) or wall time (90s, 10m, 1h)
    keep_states: int = 2  # full-state checkpoints kept on disk
    seed: int = 0
    deterministic: bool = True  # deterministic TF ops, so a resumed run equals an uninterrupted one
    strategy: str = "auto"  # tf.distribute strategy; batch_size is the global batch
    precision: str = "auto"  # auto: devices.resolve_precision (GPU, CPU bfloat16 flags, model size)
    xla: str = "auto"  # auto: on for GPUs, off on CPUs (measured)

    def validate(self) -> None:
        for name in ("epochs", "batch_size", "checkpoint_every", "keep_states"):
            if getattr(self, name) < 1:
                raise ConfigError(f"training.{name} must be >= 1, got {getattr(self, name)}")
        parse_interval(self.state_every, "training.state_every")
        for name, choices in (("strategy", STRATEGIES), ("precision", PRECISIONS), ("xla", XLA_MODES)):
            if getattr(self, name) not in choices:
                raise ConfigError(f"training.{name} must be one of {', '.join(choices)}, got {getattr(self, name)!r}")

    @property
    def state_interval(self) -> Interval:
        return parse_interval(self.state_every, "training.state_every")


@dataclass(frozen=True)
class Config:
    """Everything that defines a run."""

    variant: str = "orig"
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    data: DataConfig = field(default_factory=DataConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)

    def validate(self) -> "Config":
        if self.variant not in VARIANTS:
            raise ConfigError(f"unknown variant {self.variant!r}; choose one of: {', '.join(VARIANTS)}")
        for section in SECTIONS:
            getattr(self, section).validate()
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


#: The nested sections of :class:`Config`, in order.
SECTIONS = ("model", "loss", "optimizer", "data", "training")


@dataclass(frozen=True)
class Variant:
    """A named change from the published pix2pix, as a nested override."""

    name: str
    description: str
    overrides: Mapping[str, Mapping[str, Any]]


#: The five variants of the paper (Sec. III-B) and our whole-scene variant, registered in one place.
VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant("orig", "pix2pix as published: 4x4 kernels, GAN 1 + L1 100", {}),
        Variant("gen5", "generator kernels 5x5", {"model": {"generator_kernel": 5}}),
        Variant("dis3", "discriminator kernels 3x3", {"model": {"discriminator_kernel": 3}}),
        Variant("l1_1_gan100", "loss weights GAN 100, L1 1", {"loss": {"gan_weight": 100.0, "l1_weight": 1.0}}),
        Variant("l1_50_gan50", "loss weights GAN 50, L1 50", {"loss": {"gan_weight": 50.0, "l1_weight": 50.0}}),
        Variant(
            "scene",
            "for whole scenes: U-Net depth 4, no normalisation, resize decoder, noise from scene coordinates",
            {
                "model": {
                    "unet_depth": 4,
                    "normalization": "none",
                    "noise": "coordinates",
                    "dropout": 0.0,
                    "upsampling": "resize",
                }
            },
        ),
    )
}


def valid_keys() -> list[str]:
    """Every overridable key as ``section.key``."""
    defaults = Config()
    return [f"{section}.{f.name}" for section in SECTIONS for f in dataclasses.fields(getattr(defaults, section))]


#: Fields that take more than one type (the type of the default is the rule otherwise).
FIELD_TYPES: dict[str, tuple[type, ...]] = {"training.state_every": (int, str)}


def _coerce(key: str, value: Any, target_type: type | tuple[type, ...]) -> Any:
    """Check (and widen int -> float) a value for a field of `target_type`."""
    if isinstance(target_type, tuple):
        if type(value) not in target_type:
            names = " or ".join(t.__name__ for t in target_type)
            raise ConfigError(f"{key} must be {names}, got {value!r} ({type(value).__name__})")
        return value
    if target_type is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if target_type is float and isinstance(value, str):
        # YAML 1.1 reads "1e-3" (no dot) as a string.
        try:
            value = float(value)
        except ValueError:
            pass
    if target_type is float and isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{key} must be a finite number, got {value!r}")
    if type(value) is not target_type:
        raise ConfigError(f"{key} must be {target_type.__name__}, got {value!r} ({type(value).__name__})")
    return value


def apply_overrides(cfg: Config, overrides: Mapping[str, Any], source: str) -> Config:
    """Return `cfg` with nested `overrides` ({section: {key: value}}) applied.

    Unknown sections or keys and wrong types raise :class:`ConfigError` naming
    `source` and listing the valid keys.
    """
    if not isinstance(overrides, Mapping):
        raise ConfigError(f"{source}: expected a mapping of sections, got {type(overrides).__name__}")
    updates: dict[str, Any] = {}
    for section, values in overrides.items():
        if section == "variant":
            if values != cfg.variant:
                raise ConfigError(
                    f"{source} is for variant {values!r} but {cfg.variant!r} was chosen; "
                    f"pass --variant {values} or remove 'variant' from the file"
                )
            continue
        if section not in SECTIONS:
            raise ConfigError(f"{source}: unknown section {section!r}; valid keys: {', '.join(valid_keys())}")
        if not isinstance(values, Mapping):
            raise ConfigError(f"{source}: section {section!r} must be a mapping of keys")
        current = getattr(cfg, section)
        fields = {f.name: f for f in dataclasses.fields(current)}
        changes = {}
        for key, value in values.items():
            if key not in fields:
                raise ConfigError(f"{source}: unknown key {section}.{key}; valid keys: {', '.join(valid_keys())}")
            field_type = FIELD_TYPES.get(f"{section}.{key}", type(getattr(current, key)))
            changes[key] = _coerce(f"{source}: {section}.{key}", value, field_type)
        updates[section] = dataclasses.replace(current, **changes)
    return dataclasses.replace(cfg, **updates)


def parse_assignment(text: str) -> dict[str, dict[str, Any]]:
    """``"section.key=value"`` -> ``{section: {key: value}}`` (value parsed as YAML)."""
    name, sep, raw = text.partition("=")
    section, dot, key = name.strip().partition(".")
    if not sep or not dot or not section or not key:
        raise ConfigError(
            f"--set {text!r}: expected section.key=value, e.g. training.epochs=10; "
            f"valid keys: {', '.join(valid_keys())}"
        )
    try:
        value = yaml.safe_load(raw) if raw.strip() else raw
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set {text!r}: value is not valid YAML ({exc.problem})") from None
    return {section: {key: value}}


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping, with errors that name the file."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}".replace("\n", " ")) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of sections at the top level")
    return data


def resolve_config(
    variant: str = "orig",
    config_file: str | Path | None = None,
    assignments: tuple[str, ...] | list[str] = (),
) -> Config:
    """Variant defaults, then the YAML file, then each ``section.key=value``."""
    if variant not in VARIANTS:
        raise ConfigError(f"unknown variant {variant!r}; choose one of: {', '.join(VARIANTS)}")
    cfg = apply_overrides(Config(variant=variant), VARIANTS[variant].overrides, f"variant {variant}")
    if config_file is not None:
        cfg = apply_overrides(cfg, load_yaml(config_file), str(config_file))
    for text in assignments:
        cfg = apply_overrides(cfg, parse_assignment(text), f"--set {text}")
    return cfg.validate()


def config_from_dict(data: Mapping[str, Any], source: str) -> Config:
    """Rebuild a saved, fully resolved config (e.g. ``RUN/config.yaml``)."""
    variant = data.get("variant", "orig") if isinstance(data, Mapping) else "orig"
    if variant not in VARIANTS:
        raise ConfigError(f"{source}: unknown variant {variant!r}")
    return apply_overrides(Config(variant=variant), data, source).validate()


def diff_configs(old: Config, new: Config) -> list[str]:
    """``section.key: old -> new`` for every field that differs."""
    changes = []
    if old.variant != new.variant:
        changes.append(f"variant: {old.variant} -> {new.variant}")
    for section in SECTIONS:
        a, b = getattr(old, section), getattr(new, section)
        for f in dataclasses.fields(a):
            if getattr(a, f.name) != getattr(b, f.name):
                changes.append(f"{section}.{f.name}: {getattr(a, f.name)} -> {getattr(b, f.name)}")
    return changes

"""Typed configuration: the GAN's :class:`Config` and the segmenter's :class:`SegConfig`.

A run is fully described by a :class:`Config`: a variant (:mod:`pix2pix_sar.variants`),
then a YAML file, then ``section.key=value`` overrides (:mod:`pix2pix_sar.overrides`), each
checked against the dataclass fields so that a typo is an error, never a silently ignored key.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Mapping

import yaml

from pix2pix_sar import overrides
from pix2pix_sar.errors import ConfigError, InvalidValue, Pix2PixSarError, option
from pix2pix_sar.variants import VARIANTS

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
GENERATORS = ("unet", "sampler")
UPSAMPLINGS = ("transpose", "resize")
#: The iceberg stage's bounds: the most of the ocean it may cover, and its mean radius (px;
#: its disks, 0.5-1.5x the mean, must fit its 16-px cells: models/object_noise.py).
ICEBERG_MAX_SHARE = 0.2
ICEBERG_MIN_RADIUS = 1.0
ICEBERG_MAX_RADIUS = 10.0

#: Wavelengths (px) of the sampler's smooth keyed fields (models/sampler.py): the front-distance
#: displacement (model.front_phase_shift) and the smooth noise channels (model.smooth_noise_channels).
FRONT_SHIFT_WAVELENGTHS = (64.0, 512.0)
SMOOTH_NOISE_WAVELENGTHS = (32.0, 256.0)
#: Discriminators (models/discriminator.py) and the adversarial loss each needs (training/losses.py).
DISCRIMINATOR_LOSSES = {"patch": "patch", "multiscale": "patch", "segmentation": "segmentation"}
ADVERSARIAL_LOSSES = ("patch", "segmentation")


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
    # unet: the U-Net above (paper variants, scene); sampler: scene's U-Net with class-adaptive
    # modulation (CLADE), 3-D coordinate noise at the coarse scales and a speckle stage (models/sampler.py)
    generator: str = "unet"
    noise_channels: int = 1  # sampler: coordinate-noise channels at the bottleneck and the two scales below it
    speckle_looks: float = 0.0  # sampler: Gamma speckle with this many looks; 0 off; -1 fit takes dataset.json's
    speckle_db_unit: float = 0.0  # dB per model unit ((db_max - db_min) / 2); fit takes it from dataset.json
    # sampler on >= 2 sensors: looks per conditioning sensor, in the run's sensor order (fit takes
    # dataset.json's looks_by_sensor where speckle_looks is -1); (): speckle_looks for every sensor
    speckle_looks_by_sensor: tuple[float, ...] = ()
    fine_noise: bool = True  # sampler: keyed noise at the two finest scales too (off: speckle is all there is)
    # sampler: std (px) of a smooth keyed displacement of the front distance that moves the
    # front-phase context bands (prepare --context), so the glacier's bands parallel to the
    # front move from sample to sample; 0 off
    front_phase_shift: float = 0.0
    # per front-phase period: (sin channel, cos channel, period, sin low, sin high, cos low, cos high),
    # the input channels and band scaling; fit takes them from dataset.json where front_phase_shift > 0
    front_phase_bands: tuple[tuple[float, ...], ...] = ()
    # sampler: smooth keyed random-field channels (SMOOTH_NOISE_WAVELENGTHS) beside the input, for terrain
    # and large structures the coarse noise cannot place smoothly; 0 off
    smooth_noise_channels: int = 0
    # sampler: keyed sparse soft disks in the ocean (models/object_noise.py), each 16-px cell holding
    # one with this probability, beside the input: candidate icebergs that move from seed to seed; 0 off
    iceberg_noise: float = 0.0
    # sampler: an iceberg stage after the network (models/object_noise.py): keyed soft disks in the
    # ocean, raised by iceberg_contrast_db, of mean radius iceberg_radius px, covering this share of
    # it; -1: fit takes all three from dataset.json's icebergs (prepare measures them); 0 off
    iceberg_share: float = 0.0
    iceberg_contrast_db: float = 0.0
    iceberg_radius: float = 0.0
    # the input channel of the ocean class that gates them (noise and stage); fit takes it from the dataset's classes
    iceberg_gate_channel: int = -1
    # patch: PatchGAN on (mask, image) (the paper); multiscale: PatchGANs at 1x and 2x down (pix2pixHD);
    # segmentation: a U-Net on the image alone with classes + 1 ("fake") logits per pixel (OASIS)
    discriminator: str = "patch"
    classes: int = 2  # the mask's classes (binary: 2); fit sets it from the dataset for discriminator=segmentation
    # Every discriminator conv in Keras's SpectralNormalization (one power iteration per training call), as OASIS
    spectral_norm: bool = False

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
        if self.discriminator not in DISCRIMINATOR_LOSSES:
            raise ConfigError(
                f"model.discriminator must be one of {', '.join(DISCRIMINATOR_LOSSES)}, got {self.discriminator!r}"
            )
        if self.classes < 1:
            raise ConfigError(f"model.classes must be positive, got {self.classes}")
        if self.noise not in NOISES:
            raise ConfigError(f"model.noise must be one of {', '.join(NOISES)}, got {self.noise!r}")
        if self.noise == "coordinates" and self.dropout > 0:
            raise ConfigError("model.noise=coordinates replaces dropout; set model.dropout=0")
        self._validate_sampler()
        for name in ("in_channels", "out_channels", "base_filters", "generator_kernel", "discriminator_kernel"):
            if getattr(self, name) < 1:
                raise ConfigError(f"model.{name} must be positive, got {getattr(self, name)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"model.dropout must be in [0, 1), got {self.dropout}")

    def _validate_sampler(self) -> None:
        if self.generator not in GENERATORS:
            raise ConfigError(f"model.generator must be one of {', '.join(GENERATORS)}, got {self.generator!r}")
        if self.noise_channels < 1:
            raise ConfigError(f"model.noise_channels must be positive, got {self.noise_channels}")
        if not (self.speckle_looks >= 0 or self.speckle_looks == -1) or self.speckle_db_unit < 0:
            raise ConfigError(
                "model.speckle_looks must be 0 (off), -1 (from dataset.json) or positive, and model.speckle_db_unit "
                f">= 0; got {self.speckle_looks} and {self.speckle_db_unit}"
            )
        if not all(looks > 0 for looks in self.speckle_looks_by_sensor):
            raise ConfigError(
                f"model.speckle_looks_by_sensor must hold positive looks, got {list(self.speckle_looks_by_sensor)}"
            )
        if self.speckle_looks_by_sensor and self.speckle_looks == 0:
            raise ConfigError(
                "model.speckle_looks_by_sensor needs the sampler's speckle stage (model.speckle_looks not 0); "
                "leave it empty"
            )
        if self.front_phase_shift < 0 or self.smooth_noise_channels < 0:
            raise ConfigError(
                "model.front_phase_shift and model.smooth_noise_channels must be >= 0 (0: off), got "
                f"{self.front_phase_shift} and {self.smooth_noise_channels}"
            )
        self._validate_front_phase_bands()
        if not 0 <= self.iceberg_noise <= 1 or not -1 <= self.iceberg_gate_channel < self.in_channels:
            raise ConfigError(
                f"model.iceberg_noise is a probability (0: off), got {self.iceberg_noise}; "
                f"model.iceberg_gate_channel an input channel or -1, got {self.iceberg_gate_channel}"
            )
        if self.generator != "sampler":
            if self.speckle_looks != 0 or self.noise_channels != 1 or not self.fine_noise:
                raise ConfigError(
                    "model.speckle_looks, model.noise_channels and model.fine_noise are model.generator=sampler's"
                )
            if (
                self.front_phase_shift
                or self.smooth_noise_channels
                or self.front_phase_bands
                or self.iceberg_noise
                or self.iceberg_share
            ):
                raise ConfigError(
                    "model.front_phase_shift, model.front_phase_bands, model.smooth_noise_channels, "
                    "model.iceberg_noise and model.iceberg_share are model.generator=sampler's; leave them at 0 "
                    "and () or use "
                    f"{option('variant')} sampler"
                )
        elif not self.whole_scene or self.upsampling != "resize":
            raise ConfigError(
                "model.generator=sampler builds on the scene variant: it needs model.unet_depth > 0, "
                f"normalization=none, noise=coordinates and upsampling=resize (use {option('variant')} sampler)"
            )
        self._validate_iceberg_stage()

    def _validate_iceberg_stage(self) -> None:
        if self.iceberg_share == 0:
            return
        if self.speckle_looks == 0:
            raise ConfigError(
                "model.iceberg_share draws icebergs in dB before the speckle stage, whose dB unit it takes; "
                "it needs model.speckle_looks (not 0)"
            )
        if self.iceberg_share == -1:
            return  # fit takes the three from dataset.json
        if not 0 < self.iceberg_share <= ICEBERG_MAX_SHARE:
            raise ConfigError(
                f"model.iceberg_share is the share of the ocean icebergs cover, in (0, {ICEBERG_MAX_SHARE}] "
                f"(0: off, -1: dataset.json's), got {self.iceberg_share}"
            )
        if not self.iceberg_contrast_db > 0 or not ICEBERG_MIN_RADIUS <= self.iceberg_radius <= ICEBERG_MAX_RADIUS:
            raise ConfigError(
                f"model.iceberg_contrast_db must be > 0 dB and model.iceberg_radius within "
                f"[{ICEBERG_MIN_RADIUS}, {ICEBERG_MAX_RADIUS}] px, got {self.iceberg_contrast_db} and "
                f"{self.iceberg_radius} (model.iceberg_share=-1 takes all three from dataset.json)"
            )

    def _validate_front_phase_bands(self) -> None:
        for band in self.front_phase_bands:
            if len(band) != 7:
                raise ConfigError(
                    "model.front_phase_bands holds (sin channel, cos channel, period, sin low, sin high, cos low, "
                    f"cos high) per period, got {list(band)}; leave it () for fit to fill"
                )
            channels, period = band[:2], band[2]
            if any(c != int(c) or not 0 <= c < self.in_channels for c in channels) or not period > 0:
                raise ConfigError(
                    f"model.front_phase_bands {list(band)}: channels must be input channels (0 to "
                    f"{self.in_channels - 1}) and the period positive; leave it () for fit to fill"
                )
            if not (band[4] > band[3] and band[6] > band[5]):
                raise ConfigError(
                    f"model.front_phase_bands {list(band)}: each band's high must exceed its low; "
                    "leave it () for fit to fill"
                )

    @property
    def front_phase_resolved(self) -> bool:
        """False while the front-phase shift waits for fit to read the bands from dataset.json."""
        return self.front_phase_shift == 0 or bool(self.front_phase_bands)

    @property
    def iceberg_resolved(self) -> bool:
        """False while the iceberg noise or stage waits for fit to find the ocean channel, or
        the stage for dataset.json's icebergs."""
        if self.iceberg_share < 0:
            return False
        return (self.iceberg_noise == 0 and self.iceberg_share == 0) or self.iceberg_gate_channel >= 0

    @property
    def speckle_resolved(self) -> bool:
        """False while the speckle stage waits for fit to read the looks or dB unit from dataset.json."""
        return self.speckle_looks == 0 or (self.speckle_looks > 0 and self.speckle_db_unit > 0)


@dataclass(frozen=True)
class LossConfig:
    """Generator loss = gan_weight * BCE + l1_weight * L1 (Eq. 5) - diversity_weight * min(diversity, cap)."""

    gan_weight: float = 1.0
    l1_weight: float = 100.0
    # patch: BCE real/fake per PatchGAN logit (the paper); segmentation: class-balanced (N+1)-class
    # cross-entropy per pixel (OASIS). Must match model.discriminator (DISCRIMINATOR_LOSSES).
    adversarial: str = "patch"
    l1_lowpass: int = 0  # 0: L1 per pixel; B: L1 between BxB block means (structure, not speckle)
    labelmix_weight: float = 0.0  # OASIS's LabelMix consistency term of the segmentation discriminator
    diversity_weight: float = 0.0  # mode seeking (MSGAN/DSGAN): two samples of a mask should differ; 0: off
    diversity_block: int = 8  # side (px, a power of two) of the block means the two samples compare
    diversity_cap: float = 0.19  # model units: what 2 oracle draws' 8-px block means differ by (losses.py)
    # One cap per class of the dataset's scheme, in its order (zones: rock, glacier, ocean), each
    # class's distance capped on its own; (): one distance over all classes, capped at diversity_cap.
    diversity_caps: tuple[float, ...] = ()

    def validate(self) -> None:
        if min(self.gan_weight, self.l1_weight, self.labelmix_weight, self.diversity_weight) < 0:
            raise ConfigError("loss weights must be non-negative")
        if self.adversarial not in ADVERSARIAL_LOSSES:
            raise ConfigError(
                f"loss.adversarial must be one of {', '.join(ADVERSARIAL_LOSSES)}, got {self.adversarial!r}"
            )
        if self.l1_lowpass < 0 or self.l1_lowpass & (self.l1_lowpass - 1):
            raise ConfigError(f"loss.l1_lowpass must be 0 (off) or a power of two (block side), got {self.l1_lowpass}")
        if self.labelmix_weight > 0 and self.adversarial != "segmentation":
            raise ConfigError("loss.labelmix_weight needs loss.adversarial=segmentation; set it to 0")
        if self.diversity_block < 1 or self.diversity_block & (self.diversity_block - 1):
            raise ConfigError(f"loss.diversity_block must be a power of two (block side), got {self.diversity_block}")
        if not self.diversity_cap > 0:
            raise ConfigError(f"loss.diversity_cap must be positive (model units), got {self.diversity_cap}")
        if any(not cap > 0 for cap in self.diversity_caps):
            raise ConfigError(f"loss.diversity_caps must be positive (model units), got {list(self.diversity_caps)}")


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
    sensor_conditioning: bool = True  # False: sensor-blind (no sensor planes though the data has >= 2 sensors)

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
        needed = DISCRIMINATOR_LOSSES[self.model.discriminator]
        if self.loss.adversarial != needed:
            raise ConfigError(
                f"model.discriminator={self.model.discriminator} is trained with loss.adversarial={needed}, "
                f"got {self.loss.adversarial}; set loss.adversarial={needed}"
            )
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


#: The nested sections of :class:`Config`, in order.
SECTIONS = ("model", "loss", "optimizer", "data", "training")


def valid_keys(config_type: type = Config) -> list[str]:
    """Every overridable key as ``section.key``."""
    return overrides.valid_keys(config_type())


def apply_overrides(cfg: Config, changes: Mapping[str, Any], source: str) -> Config:
    """Return `cfg` with nested `changes` ({section: {key: value}}) applied; a
    ``variant`` entry must name `cfg`'s variant (see :func:`overrides.apply_sections`)."""
    if isinstance(changes, Mapping) and "variant" in changes:
        variant = changes["variant"]
        if variant != cfg.variant:
            raise ConfigError(
                f"{source} is for variant {variant!r} but {cfg.variant!r} was chosen; "
                f"pass {option('variant')} {variant} or remove 'variant' from the file"
            )
        changes = {k: v for k, v in changes.items() if k != "variant"}
    return overrides.apply_sections(cfg, changes, source)


def resolve_config(
    variant: str = "orig",
    config_file: str | Path | None = None,
    assignments: tuple[str, ...] | list[str] = (),
    options: Mapping[str, Mapping[str, Any]] | None = None,
) -> Config:
    """Variant defaults, then the YAML file, then each ``section.key=value``, then
    `options` (``{section: {key: value}}``, typed values such as fit's own options)."""
    if variant not in VARIANTS:
        raise ConfigError(f"unknown variant {variant!r}; choose one of: {', '.join(VARIANTS)}")
    cfg = apply_overrides(Config(variant=variant), VARIANTS[variant].overrides, f"variant {variant}")
    if config_file is not None:
        cfg = apply_overrides(cfg, overrides.load_yaml(config_file), str(config_file))
    for text in assignments:
        cfg = apply_overrides(cfg, overrides.parse_assignment(text, valid_keys()), f"{option('assignments')} {text}")
    if options:
        cfg = apply_overrides(cfg, options, "the command's options")
    return cfg.validate()


def config_from_dict(data: Mapping[str, Any], source: str) -> Config:
    """Rebuild a saved, fully resolved config (e.g. ``RUN/config.yaml``)."""
    variant = data.get("variant", "orig") if isinstance(data, Mapping) else "orig"
    if variant not in VARIANTS:
        raise ConfigError(f"{source}: unknown variant {variant!r}")
    return apply_overrides(Config(variant=variant), data, source).validate()


def diff_configs(old, new) -> list[str]:
    """``section.key: old -> new`` for every field that differs (a Config's variant first)."""
    changes = []
    if getattr(old, "variant", None) != getattr(new, "variant", None):
        changes.append(f"variant: {old.variant} -> {new.variant}")
    return changes + overrides.diff_sections(old, new)


@dataclass(frozen=True)
class SegConfig:
    """The reference segmenter's training (``seg fit``): one flat dataclass whose fields
    config files and ``--set`` address as ``section.key`` by :attr:`SECTIONS`."""

    steps: int | None = None
    epochs: int | None = None
    batch_size: int = 8
    learning_rate: float = 1e-3
    base_filters: int = 16
    depth: int = 4
    seed: int = 0
    synthetic_share: float | None = None  # synthetic patches per batch / batch size; None: pool all
    input: str = "auto"  # memory | streamed (from the packed cache) | auto (by size); see data.packed
    state_every: int | str = "10m"  # state saves (resume points): epochs (1) or wall time (90s, 10m, 1h), as fit's

    #: The sections of its keys (fit's names where fit has the same setting).
    SECTIONS: ClassVar[dict[str, tuple[str, ...]]] = {
        "model": ("base_filters", "depth"),
        "optimizer": ("learning_rate",),
        "data": ("input", "synthetic_share"),
        "training": ("steps", "epochs", "batch_size", "seed", "state_every"),
    }

    def validate(self) -> "SegConfig":
        if (self.steps is None) == (self.epochs is None):
            raise ConfigError("give exactly one of steps and epochs")
        for name in ("steps", "epochs", "batch_size", "base_filters", "depth"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"{name} must be >= 1, got {value}")
        if not (self.learning_rate > 0 and math.isfinite(self.learning_rate)):
            raise ConfigError(f"learning_rate must be > 0, got {self.learning_rate}")
        if self.input not in INPUT_MODES:
            raise ConfigError(f"data.input must be one of {', '.join(INPUT_MODES)}, got {self.input!r}")
        try:
            parse_interval(self.state_every, "state_every")
        except ConfigError as exc:
            raise InvalidValue("state_every", str(exc)) from None
        if self.synthetic_share is not None:
            if not 0 <= self.synthetic_share <= 1:
                raise InvalidValue("synthetic_share", f"{self.synthetic_share}: must be between 0 and 1")
            if 0 < self.synthetic_share < 1 and self.batch_size < 2:
                raise InvalidValue("synthetic_share", f"a share between 0 and 1 needs {option('batch_size')} 2 or more")
        return self

    @property
    def state_interval(self) -> Interval:
        return parse_interval(self.state_every, "state_every")

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return overrides.as_sections(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def synthetic_per_batch(self) -> int:
        """Synthetic patches in each batch (whole patches, at least one of each kind if 0 < share < 1)."""
        share = self.synthetic_share or 0.0
        count = round(share * self.batch_size)
        if 0 < share < 1:
            count = min(max(count, 1), self.batch_size - 1)
        return count


def resolve_seg_config(
    config_file: str | Path | None = None, assignments: tuple[str, ...] | list[str] = ()
) -> SegConfig:
    """SegConfig's defaults, then the YAML file, then each ``section.key=value``."""
    cfg = SegConfig()
    if config_file is not None:
        cfg = overrides.apply_sections(cfg, overrides.load_yaml(config_file), str(config_file))
    keys = valid_keys(SegConfig)
    for text in assignments:
        cfg = overrides.apply_sections(cfg, overrides.parse_assignment(text, keys), f"{option('assignments')} {text}")
    return cfg.validate()


def seg_config_from_dict(data: Mapping[str, Any], source: str) -> SegConfig:
    """Rebuild a saved SegConfig (``SEGRUN/config.yaml``); runs made before it had
    sections saved its fields flat, and read the same."""
    if isinstance(data, Mapping) and set(data) <= {f.name for f in dataclasses.fields(SegConfig)}:
        data = {s: {k: data[k] for k in keys if k in data} for s, keys in SegConfig.SECTIONS.items()}
    return overrides.apply_sections(SegConfig(), data, source).validate()

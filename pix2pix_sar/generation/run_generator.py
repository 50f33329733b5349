"""A trained run's generator, ready to generate batches of encoded tiles.

:class:`RunGenerator` loads a run's snapshot or an export's SavedModel (the same
pixels) and plans how a mask is cut into tiles (:class:`TileSettings`);
:class:`BandSource` is one extra conditioning band of one mask, warped onto its grid.
The mask-to-file pipeline around it is :mod:`pix2pix_sar.generation.generate`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from pix2pix_sar import geo
from pix2pix_sar.config import Config
from pix2pix_sar.data.context import ContextRasters, context_planes, is_context_band
from pix2pix_sar.data.dataset import DatasetInfo
from pix2pix_sar.data.extra_bands import BandScaling, ExtraBandInput, band_on_grid, check_unique, choose_resampling
from pix2pix_sar.data.scaling import SarScaling
from pix2pix_sar.data.sensors import check_sensor, conditioning_sensors, sensor_planes, stated_sensor
from pix2pix_sar.data.zones import ClassScheme, check_zones, class_scheme, valid_zones
from pix2pix_sar.devices import resolve_xla
from pix2pix_sar.errors import InputError, InvalidValue, RunStateError, option
from pix2pix_sar.generation.export import ExportedModel, is_export
from pix2pix_sar.generation.run_facts import file_sha256
from pix2pix_sar.generation.tiling import CropPlan, TilePlan
from pix2pix_sar.noise import tile_keys
from pix2pix_sar.run_folder import RunFolder

#: Smallest default tile of whole-scene variants, in pixels (at least 4 receptive fields).
SCENE_TILE = 512


@dataclass(frozen=True)
class TileSettings:
    """How a mask is cut into tiles: `tile` (default: the run's patch size; for
    whole-scene variants a large multiple of the stride) and `overlap` (paper
    variants' blending; default a quarter of the tile) in pixels, tiles per batch,
    seed, XLA ("auto": on for GPUs, off on CPUs, as for training), and the sensor to
    render (a sensor-conditioned run only)."""

    tile: int | None = None
    overlap: int | None = None
    batch_size: int = 16
    seed: int = 0
    xla: str = "auto"
    sensor: str | None = None


class RunGenerator:
    """A generator ready to generate batches of encoded tiles: a run's snapshot
    (:meth:`from_run`) or an export's SavedModel (:meth:`from_export`), which gives the
    same pixels; :meth:`load` takes either folder. `path` is the folder given; `run` the
    run folder (None for an export); `generate` maps (tiles, noise keys) to images;
    `snapshot_sha256` names the weights (None for an export written before it was recorded)."""

    def __init__(
        self,
        path: Path,
        run: RunFolder | None,
        config: Config,
        info: DatasetInfo,
        scheme: ClassScheme,
        epoch: int,
        generate: Callable,
        seed: int = 0,
        snapshot_sha256: str | None = None,
    ):
        import tensorflow as tf

        self.path, self.run, self.config, self.info, self.scheme = path, run, config, info, scheme
        self.model_config = config.model
        self.epoch, self.seed = epoch, seed
        self.snapshot_sha256 = snapshot_sha256
        self._fn, self._tf = generate, tf
        self._context: ContextRasters | None = None  # context bands of the masks seen, as rasters
        self._context_image: tuple[np.ndarray, np.ndarray] | None = None  # (zones, bands) of the last mask
        # the sensors it is conditioned on; () none (fewer than two, or a sensor-blind run)
        self.sensors = conditioning_sensors(info.sensors, config.data.sensor_conditioning)
        self.sensor = ""  # the sensor it renders (:meth:`use_sensor`); required when `sensors`

    @classmethod
    def load(cls, path: str | Path, epoch: int | None = None, seed: int = 0, xla: str = "auto") -> "RunGenerator":
        """The generator of `path`, a run folder or an export folder (`epoch`: the run's
        snapshot, default the last; an export holds one)."""
        if is_export(path):
            return cls.from_export(path, epoch=epoch, seed=seed)
        return cls.from_run(path, epoch=epoch, seed=seed, xla=xla)

    @classmethod
    def from_run(
        cls, run: str | Path | RunFolder, epoch: int | None = None, seed: int = 0, xla: str = "auto"
    ) -> "RunGenerator":
        """The run's snapshot at `epoch` (default: the last), compiled with XLA per `xla`."""
        from pix2pix_sar.models.inference import inference_generator, make_generate_fn
        from pix2pix_sar.models.snapshots import load_generator

        run = (run if isinstance(run, RunFolder) else RunFolder(run)).require()
        config, info = run.load_config(), run.dataset_info()
        scheme = class_scheme(info.classes, str(run.dataset_json))
        epoch, snapshot = run.find_snapshot(epoch)
        model = inference_generator(load_generator(snapshot), config.model)
        generate = make_generate_fn(model, jit_compile=resolve_xla(xla))
        return cls(run.path, run, config, info, scheme, epoch, generate, seed, file_sha256(snapshot))

    @classmethod
    def from_export(cls, path: str | Path, epoch: int | None = None, seed: int = 0) -> "RunGenerator":
        """The generator of an export folder, checked complete; `epoch`, if given, must be
        the one it holds."""
        path = Path(path)
        exported = ExportedModel(path).require()
        if epoch is not None and epoch != exported.epoch:
            raise RunStateError(
                f"{path}: an export holds the snapshot of epoch {exported.epoch} only; "
                f"leave out {option('epoch')}, or export epoch {epoch} from the run"
            )
        config, info = exported.config(), exported.dataset_info()
        scheme = class_scheme(info.classes, str(path))
        generate = exported.keyed_function()  # as saved: XLA is not applied to an export
        sha256 = exported.facts.get("snapshot_sha256")
        return cls(path, None, config, info, scheme, exported.epoch, generate, seed, sha256)

    @property
    def patch_size(self) -> int:
        return self.config.model.patch_size

    @property
    def scaling(self) -> SarScaling:
        return self.info.scaling

    @property
    def bands(self) -> tuple[BandScaling, ...]:
        """The extra bands the generator takes after the mask channels, in order."""
        return self.info.extra_bands

    @property
    def user_bands(self) -> tuple[BandScaling, ...]:
        """The extra bands a user gives (the context bands are computed from the mask)."""
        return tuple(b for b in self.bands if not is_context_band(b.name))

    def context_image(self, zones: np.ndarray) -> np.ndarray | None:
        """(H, W, K) the run's context bands of a whole in-memory mask, in the model range
        (-1 at no data, as in a prepared patch); None when the run has none. The last
        mask's bands are kept (read-only): its samples reuse them instead of recomputing."""
        scalings = [b for b in self.bands if is_context_band(b.name)]
        if not scalings:
            return None
        if self._context_image is not None:
            seen, image = self._context_image
            if seen.shape == zones.shape and np.array_equal(seen, zones):
                return image
        planes = context_planes(zones, [b.name for b in scalings])
        valid = valid_zones(zones)
        image = np.stack([np.where(valid, b.to_model(planes[b.name]), np.float32(-1.0)) for b in scalings], axis=-1)
        image.flags.writeable = False
        self._context_image = (np.array(zones, copy=True), image)
        return image

    def band_rasters(self, given: list[ExtraBandInput], mask: Path) -> list["BandSource"]:
        """The rasters of the run's bands for `mask`, in the run's order; refuses an
        unknown or a missing band with a message naming it. Context bands are computed
        from the whole mask (:mod:`pix2pix_sar.data.context`), never given."""
        check_unique([b.name for b in given])
        known = {b.name: b for b in self.user_bands}
        for band in given:
            if band.name not in known:
                trained = ", ".join(known) or "no extra bands"
                raise InputError(f"band {band.name}: unknown to {self.path}, which takes {trained}")
        by_name = {b.name: b for b in given}
        context = self._context_rasters(mask)
        sources = []
        for scaling in self.bands:
            if scaling.name in context:
                sources.append(BandSource(scaling, context[scaling.name]))
                continue
            if scaling.name not in by_name:
                raise InputError(
                    f"band {scaling.name}: missing; {self.path} was trained with it, "
                    f"give {option('extras')} {scaling.name}=RASTER"
                )
            sources.append(BandSource(scaling, by_name[scaling.name].raster_for(mask)))
        return sources

    def _context_rasters(self, mask: Path) -> dict[str, Path]:
        names = [b.name for b in self.bands if is_context_band(b.name)]
        if not names:
            return {}
        if self._context is None:
            self._context = ContextRasters()
        zones = check_zones(geo.read_array(mask), str(mask))
        return self._context.write(zones, geo.raster_info(mask)[0], names)

    def use_sensor(self, name: str | None) -> str:
        """Render as sensor `name` (any case) from now on: required for a run conditioned
        on the sensor, refused for one that is not; one-line errors list the run's sensors."""
        self.sensor = check_sensor(name, self.sensors, str(self.path))
        return self.sensor

    def use_scene_sensor(self, sar: str | Path, given: str | None = None) -> str:
        """Render as `given`, else (a run conditioned on the sensor) as the real scene `sar`
        says: its metadata item SENSOR, which `synth` writes and `prepare` reads. A run not
        conditioned on the sensor renders none, whatever the scene says."""
        if given or not self.sensors:
            return self.use_sensor(given)
        stated, item = stated_sensor(sar)
        if stated.upper() not in self.sensors:
            says = f"says {stated!r}, not one of its sensors" if stated else "names no sensor"
            raise InputError(
                f"{self.path} is conditioned on the sensor and {item} {says}; "
                f"give {option('sensor')}, one of {', '.join(self.sensors)}"
            )
        return self.use_sensor(stated)

    def generate_batch(self, tiles: np.ndarray, origins: np.ndarray) -> np.ndarray:
        """Images of encoded `tiles` whose top-left pixels in the scene are `origins`
        (N, 2): the noise is keyed by (seed, origin), so a tile's pixels never depend on
        the batch it is in. A sensor-conditioned run's one-hot sensor planes are added
        here, after the mask channels and bands: constant, so every tiling agrees."""
        if self.sensors:
            if not self.sensor:
                self.use_sensor(None)  # the one-line error asking for a sensor
            planes = sensor_planes([self.sensor] * len(tiles), self.sensors, tiles.shape[1:3], str(self.path))
            tiles = np.concatenate([np.asarray(tiles, np.float32), planes], axis=-1)
        keys = tile_keys(self.seed, origins[:, 0], origins[:, 1])
        return self._fn(self._tf.constant(tiles, self._tf.float32), self._tf.constant(keys)).numpy()

    def plan(self, width: int, height: int, settings: TileSettings) -> TilePlan | CropPlan:
        if settings.batch_size < 1:
            raise InvalidValue("batch_size", f"batch size {settings.batch_size}: must be at least 1")
        if self.model_config.whole_scene:
            return self._crop_plan(width, height, settings.tile)
        tile = settings.tile or self.patch_size
        if tile != self.patch_size:
            raise InvalidValue(
                "tile",
                f"tile {tile}: a {self.config.variant} run generates {self.patch_size}-pixel tiles only (its "
                f"1x1 bottleneck and per-tile normalisation make other sizes another model); use the default, "
                f"or train the 'scene' variant, which takes any tile",
            )
        overlap = tile // 4 if settings.overlap is None else settings.overlap
        if not 0 <= overlap <= tile // 2:
            raise InvalidValue("overlap", f"overlap {overlap}: must be between 0 and half the tile ({tile // 2})")
        return TilePlan(width, height, tile, overlap)

    def _crop_plan(self, width: int, height: int, tile: int | None) -> CropPlan:
        stride = self.model_config.stride
        margin = -(-self.model_config.reach // (stride // 2)) * (stride // 2)  # keeps tiles stride-aligned
        if tile is None:
            needed = max(width, height) + 2 * margin
            tile = min(SCENE_TILE, -(-needed // stride) * stride)
            tile = max(tile, 2 * margin + stride)
        if tile % stride or tile <= 2 * margin:
            raise InvalidValue(
                "tile",
                f"tile {tile}: must be a multiple of {stride} larger than {2 * margin} (twice the margin cut "
                f"from each tile of this {self.config.variant} run), e.g. {SCENE_TILE}",
            )
        return CropPlan(width, height, tile, margin)


@dataclass(frozen=True)
class BandSource:
    """One extra band for one mask: its run scaling and its raster."""

    scaling: BandScaling
    raster: Path

    def on_grid(self, grid: geo.Grid, zones: np.ndarray, mask: Path) -> np.ndarray:
        """The band scaled to the model range on `grid` (-1 where the zone is no data, as
        in a prepared patch); a band without data where the mask has data is refused."""
        resampling = choose_resampling(geo.raster_info(self.raster)[0], grid)
        values, missing = band_on_grid(self.raster, grid, resampling, zones)
        gaps = missing & valid_zones(zones)
        if gaps.any():
            raise InputError(
                f"band {self.scaling.name}: {self.raster} does not cover {mask} ({int(gaps.sum())} pixels without "
                "data outside the ocean); give a raster that covers the whole mask"
            )
        return np.where(valid_zones(zones), self.scaling.to_model(values), np.float32(-1.0))

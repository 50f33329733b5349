"""Cut SAR scenes and their labels into a patch dataset (paper Sec. III-A).

Inputs (:mod:`pix2pix_sar.data.scenes`): one or more scenes (GeoTIFF, any CRS), labels
as a zone raster (warped onto each scene's grid with nearest neighbour when the grids
differ) or as vectors (rasterised onto each scene's grid), and optionally an area of
interest in any CRS.

Extra conditioning bands (``--extra NAME=RASTER``, :mod:`pix2pix_sar.data.extra_bands`)
are warped onto each scene's grid strip by strip, as the strips are read.

Two passes over each scene, row strip by row strip (memory stays at a few strips
plus one uint8 label/AOI raster per scene):

1. scan: find the windows inside the AOI whose no-data share (SAR, labels and extra
   bands) is small enough, and sample their dB values (and band values) for the
   dataset-wide clip percentiles;
2. write: scale the kept windows to [-1, 1] and write them with DatasetWriter.

Patches go to train or validation by one of :data:`SPLITTERS` (``--split-by``); scenes
the source holds out for testing (CaFFe's test split) go to the test split whatever the rule.

This module holds the options and the engine; its parts: :mod:`~pix2pix_sar.data.scene_reader`
(a scene opened for strip reads), :mod:`~pix2pix_sar.data.patch_windows` (the two passes) and
:mod:`~pix2pix_sar.data.patch_splits` (the split rules).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from pix2pix_sar import geo
from pix2pix_sar.atomic import already_exists
from pix2pix_sar.config import check_patch_size
from pix2pix_sar.data.context import CONTEXT_BANDS, ContextRasters, is_context_band
from pix2pix_sar.data.dataset import SPLITS, DatasetInfo, DatasetWriter, load_info
from pix2pix_sar.data.extra_bands import ExtraBandInput, check_unique
from pix2pix_sar.data.icebergs import IcebergEstimator
from pix2pix_sar.data.looks import LooksEstimator, looks_by_sensor
from pix2pix_sar.data.patch_splits import SPLITTERS, assign_splits
from pix2pix_sar.data.patch_windows import fit_band_scalings, resampling_used, scan_windows, window_count, write_windows
from pix2pix_sar.data.scaling import DB_FACTORS, fit_scaling
from pix2pix_sar.data.scene_reader import OpenedScene, open_scene
from pix2pix_sar.data.scenes import AreaOfInterest, SceneInput, VectorLabels, crs_name
from pix2pix_sar.data.sensors import SENSOR_METADATA_ITEM, sensor_named, sensor_order, stated_sensor
from pix2pix_sar.data.zones import class_scheme
from pix2pix_sar.errors import InputError, InvalidValue, option

log = logging.getLogger(__name__)

#: GDAL block cache while preparing: each strip is read once per pass, so a couple of
#: strips' worth of blocks is all that helps; the default (5 % of RAM) only adds memory.
_BLOCK_CACHE_BYTES = 128 * 2**20

#: progress(done, total, what): done/total patch windows over both passes, what = scene and stage.
ProgressFn = Callable[[int, int, str], None]


# --- Options --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PrepareOptions:
    patch_size: int = 256
    stride: int | None = None  # None: = patch_size (non-overlapping, the paper)
    max_nodata: float = 0.0  # largest share of no-data pixels a patch may hold
    val_fraction: float = 0.1
    seed: int = 0
    split_by: str = "patch"  # see SPLITTERS
    units: str = "auto"
    classes: str = "binary"
    band: int | None = None  # None: the scene must have one band
    context: bool = False  # add the context bands (data/context.py) after the extra bands
    sensor: str | None = None  # every scene's sensor (data/sensors.py); None: each scene's metadata says

    @property
    def step(self) -> int:
        return self.stride or self.patch_size

    def check(self) -> None:
        check_patch_size(self.patch_size, option("patch_size"), InputError)
        if self.step < 1:
            raise InputError(f"{option('stride')} must be positive, got {self.stride}")
        if not 0.0 <= self.max_nodata < 1.0:
            raise InputError(f"{option('max_nodata')} must be in [0, 1), got {self.max_nodata}")
        if not 0.0 <= self.val_fraction < 1.0:
            raise InputError(f"{option('val_fraction')} must be in [0, 1), got {self.val_fraction}")
        if self.units != "auto" and self.units not in DB_FACTORS:
            raise InputError(f"unknown units {self.units!r}; use auto or one of {', '.join(DB_FACTORS)}")
        if self.split_by not in SPLITTERS:
            raise InputError(f"unknown {option('split_by')} {self.split_by!r}; use one of {', '.join(SPLITTERS)}")
        if self.step < self.patch_size and self.split_by == "patch" and self.val_fraction > 0:
            # Overlapping windows share pixels; a random split by patch would put some of
            # the same pixels in both train and validation.
            split_by = option("split_by")
            raise InvalidValue(
                "stride",
                f"stride {self.step} is below the patch size {self.patch_size}, so with {split_by} patch "
                f"overlapping patches share pixels across train and validation; use {split_by} scene "
                f"(or {split_by} source with {option('caffe')}), a {option('stride')} of at least "
                f"{self.patch_size}, or {option('val_fraction')} 0",
            )
        class_scheme(self.classes, option("classes"))
        if self.context and self.classes != "zones":
            raise InvalidValue("context", f"context bands need rock, glacier and ocean; add {option('classes')} zones")
        if self.sensor is not None:
            sensor_named(self.sensor, option("sensor"))


@dataclass(frozen=True)
class ScalingSource:
    """Scaling to copy instead of computing it from the scenes (``prepare --scaling-from``):
    the dataset.json of a run folder (the data the run was trained on) or of a dataset folder.

    Copied: the SAR units and clip range, the extra bands' ranges (their resampling is what
    the new scenes need) and the class scheme; the type and no-data value images are written
    in stay the new scenes' own. Scenes prepared so can be scored by the run (``evaluate --data``)."""

    path: Path
    kind: str  # "run" or "dataset"
    info: DatasetInfo

    @classmethod
    def load(cls, path: str | Path) -> "ScalingSource":
        path = Path(path)
        if not (path / "dataset.json").is_file():
            raise InputError(
                f"{path}: {'has no dataset.json' if path.is_dir() else 'no such folder'}; give "
                f"{option('scaling_from')} a run folder (what 'fit' writes) or a dataset folder (what 'prepare' writes)"
            )
        return cls(path, "dataset" if (path / "manifest.csv").exists() else "run", load_info(path))

    @property
    def units(self) -> str:
        return self.info.scaling.units

    def check(self, options: PrepareOptions, band_names: list[str]) -> None:
        """Refuse options that disagree with the copied scaling (before any scene is read)."""
        where = self.path / "dataset.json"
        if options.units not in ("auto", self.units):
            raise InvalidValue(
                "units",
                f"{options.units} disagrees with {where} ({self.units}); "
                f"drop {option('units')} or prepare without {option('scaling_from')}",
            )
        if options.classes != self.info.classes:
            raise InvalidValue(
                "classes",
                f"{options.classes} disagrees with {where} ({self.info.classes}); "
                f"drop {option('classes')} or prepare without {option('scaling_from')}",
            )
        if list(band_names) != self.info.band_names:
            raise InvalidValue(
                "extras",
                f"bands {', '.join(band_names) or 'none'} differ from {where}'s "
                f"({', '.join(self.info.band_names) or 'none'}); give the same {option('extras')} bands, in that order",
            )

    def record(self) -> dict:
        """dataset.json's ``scaling_from``: where the scaling came from."""
        return {"path": str(self.path.resolve()), "kind": self.kind}


# --- The engine -----------------------------------------------------------------------------


def prepare_scenes(
    scenes: list[SceneInput],
    out: str | Path,
    *,
    options: PrepareOptions = PrepareOptions(),
    labels: VectorLabels | None = None,
    aoi: AreaOfInterest | None = None,
    overwrite: bool = False,
    progress: ProgressFn | None = None,
    extra: dict | None = None,
    bands: list[ExtraBandInput] = (),
    scaling_from: ScalingSource | None = None,
) -> Path:
    """Patches of every scene inside the AOI, scaled with dataset-wide percentiles, split by `options.split_by`.

    `extra` adds facts to dataset.json; `bands` are extra conditioning bands, written per patch;
    `scaling_from` gives the scaling (units, clip range, band ranges, classes) instead of the percentiles."""
    options.check()
    check_unique([b.name for b in bands])
    context_names = context_band_names(scaling_from)
    band_names = [b.name for b in bands] + (context_names if options.context else [])
    if scaling_from is not None:
        scaling_from.check(options, band_names)
    if not scenes:
        raise InputError(f"no scenes given; pass {option('sar')} FILE (repeatable) or a folder")
    scenes = _with_sensors(scenes, options.sensor)
    out = Path(out)
    if out.exists() and not overwrite:
        # Refuse before the (possibly long) scan, not only at write time.
        raise already_exists(out)
    opened: list[OpenedScene] = []
    with contextlib.ExitStack() as stack:
        stack.enter_context(geo.block_cache_limit(_BLOCK_CACHE_BYTES))
        stack.callback(lambda: [s.close() for s in opened])
        gaps = []
        context = stack.enter_context(ContextRasters(context_names)) if options.context else None
        for scene in scenes:
            s, gap = open_scene(scene, labels, aoi, options.band, options.units, list(bands), context)
            opened.append(s)
            gaps.append(gap)
        _check_aoi_overlap(opened, gaps, aoi)
        if scaling_from is not None:
            _check_source_units(opened, scaling_from)
        units = {s.units for s in opened}
        if len(units) > 1:
            raise InputError(
                "scenes are in different units ("
                + ", ".join(f"{s.input.sar.name}: {s.units}" for s in opened)
                + "); one dataset holds one unit: convert the scenes to the same units (e.g. all to dB) "
                "or prepare them as separate datasets"
            )
        _name_patches(opened)
        total = 2 * sum(window_count(s, options.patch_size, options.step) for s in opened)
        done = [0]

        def tick(scene: OpenedScene, stage: str, n: int) -> None:
            done[0] += n
            if progress:
                progress(done[0], total, f"{stage} {scene.input.sar.name}")

        samples = [
            scan_windows(i, s, options.patch_size, options.step, options.max_nodata, options.seed, tick)
            for i, s in enumerate(opened)
        ]
        if not any(window_count(s, options.patch_size, options.step) for s in opened):
            raise _no_window_fits(opened, options, aoi)
        if not any(s.windows for s in opened):
            raise InputError(
                f"no {options.patch_size}x{options.patch_size} patch has at most {options.max_nodata:.0%} no-data"
                + (f" inside {aoi.source}" if aoi else "")
                + f"; raise {option('max_nodata')}, use a smaller {option('patch_size')} or check the labels"
                + (f" and that the extra band(s) {', '.join(b.name for b in bands)} cover the scenes" if bands else "")
            )
        first = opened[0]
        if scaling_from is None:
            scaling = fit_scaling(
                np.concatenate([x for x, _ in samples if x.size]), first.units, dtype=first.dtype, nodata=first.nodata
            )
            band_scalings = fit_band_scalings(band_names, opened, [b for _, b in samples])
        else:
            scaling = dataclasses.replace(scaling_from.info.scaling, dtype=first.dtype, nodata=first.nodata)
            band_scalings = tuple(
                dataclasses.replace(b, resampling=resampling_used(opened, k))
                for k, b in enumerate(scaling_from.info.extra_bands)
            )
            log.info("scaling copied from %s", scaling_from.path)
        splits = assign_splits(opened, options.split_by, options.val_fraction, options.seed)
        log.info(
            "kept %d patches (%s); clip range %.2f .. %.2f %s (scenes in %s)",
            sum(len(s.windows) for s in opened),
            ", ".join(f"{n} {name}" for name in SPLITS if (n := sum(x.count(name) for x in splits))),
            scaling.db_min,
            scaling.db_max,
            "DN" if scaling.units == "dn" else "dB",  # the range is in dB whatever the scenes' units
            scaling.units,
        )
        with DatasetWriter(out, overwrite=overwrite) as writer:
            for scene, scene_splits in zip(opened, splits):
                write_windows(
                    scene, scene_splits, scaling, band_scalings, options.patch_size, options.step, writer, tick
                )
            info = DatasetInfo(
                patch_size=options.patch_size,
                classes=options.classes,
                scaling=scaling,
                seed=options.seed,
                val_fraction=options.val_fraction,
                sources=[str(p.resolve()) for s in scenes for p in (s.sar, s.mask) if p is not None]
                + ([str(labels.path.resolve())] if labels else [])
                + list(dict.fromkeys(str(raster.resolve()) for s in opened for raster, _ in s.bands[: len(bands)])),
                extra={
                    "stride": options.step,
                    "max_nodata": options.max_nodata,
                    "split_by": options.split_by,
                    "band": opened[0].band,
                    **({"looks": looks} if (looks := _looks(opened)) else {}),
                    **({"looks_by_sensor": by_sensor} if (by_sensor := _looks_by_sensor(opened)) else {}),
                    **({"icebergs": icebergs} if (icebergs := _icebergs(opened)) else {}),
                    **({"aoi": aoi.source} if aoi else {}),
                    **({"label_field": labels.field} if labels else {}),
                    **({"scaling_from": scaling_from.record()} if scaling_from else {}),
                    **(extra or {}),
                },
                extra_bands=band_scalings,
            )
            return writer.commit(info)


def context_band_names(scaling_from: ScalingSource | None) -> list[str]:
    """The context bands ``prepare --context`` adds: those of `scaling_from`'s dataset, if it
    has any (one made before a band was added keeps its set), else all of them."""
    kept = [n for n in scaling_from.info.band_names if is_context_band(n)] if scaling_from is not None else []
    return kept or list(CONTEXT_BANDS)


def _with_sensors(scenes: list[SceneInput], given: str | None) -> list[SceneInput]:
    """Each scene with its sensor: its own (CaFFe: the name's), else `given` (``--sensor``),
    else its GeoTIFF metadata item SENSOR; the scenes of a dataset all have one or none."""
    named = []
    for scene in scenes:
        code = scene.sensor
        if code is None:
            stated, where = stated_sensor(scene.sar)
            if given is not None:
                code = sensor_named(given, option("sensor")).code
                if stated and stated.upper() != code:
                    log.warning("%s says %s; the given sensor %s wins", where, stated, code)
            elif stated:
                code = sensor_named(stated, where).code
        named.append(dataclasses.replace(scene, sensor=code))
    without = [s for s in named if s.sensor is None]
    if without and len(without) < len(named):
        other = next(s for s in named if s.sensor is not None)
        raise InputError(
            f"{without[0].sar}: names no sensor, while {other.sar} is {other.sensor}; a dataset's scenes name "
            f"their sensor all or none: set its {SENSOR_METADATA_ITEM} metadata item "
            f"(gdal_edit.py -mo {SENSOR_METADATA_ITEM}=NAME FILE), give {option('sensor')} NAME, or prepare them apart"
        )
    return named


def _looks(scenes: list[OpenedScene]) -> float | None:
    """The number of looks estimated over every kept window (:mod:`pix2pix_sar.data.looks`)."""
    looks = functools.reduce(LooksEstimator.merge, (s.speckle for s in scenes)).looks()
    log.info("number of looks: %s", "too few homogeneous blocks to estimate" if looks is None else f"{looks:.2f}")
    return looks


def _icebergs(scenes: list[OpenedScene]) -> dict | None:
    """The icebergs' cover, contrast and size over every kept window (:mod:`pix2pix_sar.data.icebergs`)."""
    found = functools.reduce(IcebergEstimator.merge, (s.icebergs for s in scenes)).estimate()
    log.info("icebergs: %s", "none found" if found is None else ", ".join(f"{k} {v}" for k, v in found.items()))
    return found


def _looks_by_sensor(scenes: list[OpenedScene]) -> dict[str, float]:
    """The looks of each sensor's scenes (data/sensors.py order); empty where they name none."""
    estimated = looks_by_sensor([(s.input.sensor, s.speckle) for s in scenes if s.input.sensor])
    by_sensor = {code: estimated[code] for code in sensor_order(estimated)}
    if by_sensor:
        log.info("looks per sensor: %s", ", ".join(f"{code} {looks:.2f}" for code, looks in by_sensor.items()))
    return by_sensor


def _check_source_units(scenes: list[OpenedScene], source: ScalingSource) -> None:
    """Scenes whose units were guessed must be in the units whose scaling is copied."""
    for s in scenes:
        if s.units != source.units:
            raise InputError(
                f"{s.input.sar}: looks like {s.units}, but {source.path / 'dataset.json'} scales {source.units}; "
                f"pass {option('units')} {source.units} if the scene is in {source.units}, or convert it"
            )


def _check_aoi_overlap(scenes: list[OpenedScene], gaps: list[float], aoi: AreaOfInterest | None) -> None:
    if aoi is None or any(s.aoi is not None for s in scenes):
        return
    nearest = int(np.argmin(gaps))
    grid = scenes[nearest].grid
    raise InputError(
        f"{aoi.source}: the area of interest does not overlap any scene; in {crs_name(grid)} it lies "
        f"{gaps[nearest]:,.0f} {'m' if grid.crs_wkt else 'pixels'} from the nearest, {scenes[nearest].input.sar.name}; "
        "check the AOI's CRS or the scenes"
    )


def _no_window_fits(scenes: list[OpenedScene], options: PrepareOptions, aoi: AreaOfInterest | None) -> InputError:
    size = options.patch_size
    if aoi is not None:
        inside = [s for s in scenes if s.aoi is not None]
        largest = max(inside, key=lambda s: min(s.region[2] - s.region[0], s.region[3] - s.region[1]))
        c0, r0, c1, r1 = largest.region
        return InputError(
            f"{option('patch_size')} {size} is larger than the area of interest {aoi.source} on {largest.input.sar} "
            f"({c1 - c0}x{r1 - r0} pixels); use a smaller {option('patch_size')} or a larger AOI"
        )
    largest = max(scenes, key=lambda s: min(s.grid.width, s.grid.height))
    return InputError(
        f"{largest.input.sar}: {largest.grid.width}x{largest.grid.height} is smaller than one {size} patch; "
        f"use a smaller {option('patch_size')}"
    )


def _name_patches(scenes: list[OpenedScene]) -> None:
    stems = [s.input.sar.stem for s in scenes]
    for i, s in enumerate(scenes):
        unique = stems.count(stems[i]) == 1
        s.patch_id_prefix = stems[i] if unique else f"{stems[i]}_{i}"
        s.source_name = s.input.sar.name if unique else str(s.input.sar.resolve())

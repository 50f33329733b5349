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
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from pix2pix_sar import geo
from pix2pix_sar.atomic import already_exists
from pix2pix_sar.config import check_patch_size
from pix2pix_sar.data.dataset import SPLITS, DatasetInfo, DatasetWriter, PatchRecord, load_info, split_ids
from pix2pix_sar.data.extra_bands import (
    BandScaling,
    ExtraBandInput,
    band_on_grid,
    band_units,
    check_unique,
    choose_resampling,
    fit_band_scaling,
)
from pix2pix_sar.data.scaling import DB_FACTORS, SarScaling, fit_scaling, to_db
from pix2pix_sar.data.scenes import (
    AreaOfInterest,
    SceneInput,
    VectorLabels,
    aoi_on_grid,
    check_codes,
    crs_name,
    guess_units,
    labels_on_grid,
)
from pix2pix_sar.data.zones import NODATA, class_scheme
from pix2pix_sar.errors import InputError, InvalidValue

log = logging.getLogger(__name__)

#: Pixels per patch sampled for the dataset-wide percentiles.
_SAMPLES_PER_PATCH = 4096
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

    @property
    def step(self) -> int:
        return self.stride or self.patch_size

    def check(self) -> None:
        check_patch_size(self.patch_size, "--patch-size", InputError)
        if self.step < 1:
            raise InputError(f"--stride must be positive, got {self.stride}")
        if not 0.0 <= self.max_nodata < 1.0:
            raise InputError(f"--max-nodata must be in [0, 1), got {self.max_nodata}")
        if not 0.0 <= self.val_fraction < 1.0:
            raise InputError(f"--val-fraction must be in [0, 1), got {self.val_fraction}")
        if self.units != "auto" and self.units not in DB_FACTORS:
            raise InputError(f"unknown units {self.units!r}; use auto or one of {', '.join(DB_FACTORS)}")
        if self.split_by not in SPLITTERS:
            raise InputError(f"unknown --split-by {self.split_by!r}; use one of {', '.join(SPLITTERS)}")
        if self.step < self.patch_size and self.split_by == "patch" and self.val_fraction > 0:
            # Overlapping windows share pixels; a random split by patch would put some of
            # the same pixels in both train and validation.
            raise InvalidValue(
                "stride",
                f"stride {self.step} is below the patch size {self.patch_size}, so with --split-by patch "
                "overlapping patches share pixels across train and validation; use --split-by scene "
                f"(or --split-by source with --caffe), a --stride of at least {self.patch_size}, or --val-fraction 0",
            )
        class_scheme(self.classes, "--classes")


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
                f"{path}: {'has no dataset.json' if path.is_dir() else 'no such folder'}; give --scaling-from "
                "a run folder ('pix2pix-sar fit --out') or a dataset folder ('pix2pix-sar prepare --out')"
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
                f"drop --units or prepare without --scaling-from",
            )
        if options.classes != self.info.classes:
            raise InvalidValue(
                "classes",
                f"{options.classes} disagrees with {where} ({self.info.classes}); "
                f"drop --classes or prepare without --scaling-from",
            )
        if list(band_names) != self.info.band_names:
            raise InvalidValue(
                "extras",
                f"bands {', '.join(band_names) or 'none'} differ from {where}'s "
                f"({', '.join(self.info.band_names) or 'none'}); give the same --extra bands, in that order",
            )

    def record(self) -> dict:
        """dataset.json's ``scaling_from``: where the scaling came from."""
        return {"path": str(self.path.resolve()), "kind": self.kind}


# --- The scene reader ----------------------------------------------------------------------


@dataclass
class _Scene:
    """One scene opened for strip reads, with its labels (a reader or an array) and AOI."""

    input: SceneInput
    source: geo.RasterSource
    band: int
    units: str
    nodata: float | None
    dtype: str
    zones_full: np.ndarray | None = None  # labels warped/rasterised onto the grid
    mask_source: geo.RasterSource | None = None  # labels already on the grid
    aoi: np.ndarray | None = None
    region: tuple[int, int, int, int] = (0, 0, 0, 0)  # col0, row0, col1, row1 to tile
    windows: list[tuple[int, int]] = field(default_factory=list)  # kept (col, row)
    patch_id_prefix: str = ""
    source_name: str = ""  # manifest.csv's source: the file name, or its path where names repeat
    bands: list[tuple[Path, str]] = field(default_factory=list)  # (raster, resampling) per extra band

    @property
    def grid(self) -> geo.Grid:
        return self.source.grid

    def close(self) -> None:
        self.source.close()
        if self.mask_source:
            self.mask_source.close()

    def strips(self, size: int, step: int) -> Iterator["_Strip"]:
        """Strips of `size` rows over the region's columns."""
        col0, row0, col1, row1 = self.region
        for row in range(row0, row1 - size + 1, step):
            window = (col0, row, col1 - col0, size)
            sar = self.source.read(window, self.band)
            if self.zones_full is not None:
                zones = self.zones_full[row : row + size, col0:col1]
            else:
                zones = check_codes(self.mask_source.read(window), str(self.input.mask))
            aoi = None if self.aoi is None else self.aoi[row : row + size, col0:col1]
            strip_grid = self.grid.window(*window)
            bands = [band_on_grid(path, strip_grid, resampling, zones) for path, resampling in self.bands]
            extras = np.stack([v for v, _ in bands], axis=-1) if bands else None
            extras_missing = np.any([m for _, m in bands], axis=0) if bands else None
            yield _Strip(row, sar, zones, aoi, extras, extras_missing)

    def invalid(
        self, sar: np.ndarray, zones: np.ndarray, extras_missing: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(dB values, invalid pixels): no-data in the scene, the labels or an extra band."""
        db = to_db(sar, self.units)
        invalid = ~np.isfinite(db) | (zones == NODATA)
        if self.nodata is not None:
            invalid |= sar == self.nodata
        if extras_missing is not None:
            invalid |= extras_missing
        return db, invalid


@dataclass
class _Strip:
    """`size` rows of a scene's region: SAR, zones, AOI, and the extra bands on its grid."""

    row: int
    sar: np.ndarray
    zones: np.ndarray
    aoi: np.ndarray | None
    extras: np.ndarray | None  # (size, width, K) in the bands' units; None without extra bands
    extras_missing: np.ndarray | None  # (size, width): some band has no data (not over the ocean)


def _open_scene(
    scene: SceneInput,
    labels: VectorLabels | None,
    aoi: AreaOfInterest | None,
    options: PrepareOptions,
    bands: list[ExtraBandInput] = (),
) -> tuple[_Scene, float]:
    """Open a scene, resolve units, put labels and AOI on its grid. Returns it and the AOI gap."""
    source = geo.RasterSource(scene.sar)
    if source.band_count > 1 and options.band is None:
        raise InputError(f"{scene.sar}: has {source.band_count} bands; pick the SAR band with --band N")
    band = options.band or 1
    info = source.band_info(band)
    units = options.units
    if units == "auto":
        units = guess_units(info, source.read_decimated(band).astype(np.float64))
        log.info("%s: units guessed as %s", scene.sar.name, units)
    opened = _Scene(scene, source, band, units, info.nodata, info.dtype)
    grid = source.grid
    opened.zones_full, opened.mask_source = labels_on_grid(scene, grid, labels)
    for band_input in bands:
        raster = band_input.raster_for(scene.sar)
        band_grid, band_count, _ = geo.raster_info(raster)
        if band_count != 1:
            raise InputError(f"band {band_input.name}: {raster} has {band_count} bands; give a one-band raster")
        _check_band_overlaps(band_input.name, raster, scene.sar, grid)
        opened.bands.append((raster, choose_resampling(band_grid, grid)))

    gap = 0.0
    opened.region = (0, 0, grid.width, grid.height)
    if aoi is not None:
        opened.aoi, gap = aoi_on_grid(aoi, grid)
        if opened.aoi is None:
            opened.region = (0, 0, 0, 0)  # the AOI misses this scene: no patches from it
        else:
            rows = np.flatnonzero(opened.aoi.any(axis=1))
            cols = np.flatnonzero(opened.aoi.any(axis=0))
            # Tile from the AOI's corner so the most patches fit inside it.
            opened.region = (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)
    return opened, gap


def _check_band_overlaps(name: str, raster: Path, scene: Path, grid: geo.Grid, max_side: int = 256) -> None:
    """A band without any data on the scene is refused (its gaps over the ocean would
    otherwise pass as sea level): checked on a coarse copy of the scene's grid."""
    factor = max(1, -(-max(grid.width, grid.height) // max_side))
    x0, dx, rx, y0, ry, dy = grid.geotransform
    coarse = geo.Grid(
        grid.crs_wkt,
        (x0, dx * factor, rx * factor, y0, ry * factor, dy * factor),
        -(-grid.width // factor),
        -(-grid.height // factor),
    )
    _, missing = geo.warp_band(raster, coarse, "average")
    if missing.all():
        raise InputError(
            f"band {name}: {raster} has no data on {scene} (band bounds "
            f"{_fmt(geo.grid_bounds(geo.raster_info(raster)[0]))} vs scene bounds {_fmt(geo.grid_bounds(grid))}); "
            "check its CRS and extent"
        )


def _fmt(bounds: tuple[float, ...]) -> str:
    return "(" + ", ".join(f"{v:.6g}" for v in bounds) + ")"


# --- Splits ---------------------------------------------------------------------------------


def _split_by_patch(scenes: list[_Scene], options: PrepareOptions) -> list[np.ndarray]:
    """The paper: a seeded random share of all patches."""
    counts = [len(s.windows) for s in scenes]
    is_val = split_ids(sum(counts), options.val_fraction, options.seed)
    return np.split(is_val, np.cumsum(counts)[:-1])


def _whole_scenes_to_val(scenes: list[_Scene], options: PrepareOptions) -> list[np.ndarray]:
    """Whole scenes to validation (seeded order) until they hold the asked share of
    patches; at least one scene with patches stays for training."""
    with_patches = [i for i, s in enumerate(scenes) if s.windows]
    total = sum(len(s.windows) for s in scenes)
    val: set[int] = set()
    n_val = 0
    for i in np.random.default_rng(options.seed).permutation(with_patches):
        if n_val >= options.val_fraction * total or len(val) == len(with_patches) - 1:
            break
        val.add(int(i))
        n_val += len(scenes[i].windows)
    return [np.full(len(s.windows), i in val) for i, s in enumerate(scenes)]


def _split_by_scene(scenes: list[_Scene], options: PrepareOptions) -> list[np.ndarray]:
    """Whole scenes to validation (seeded order) until they hold the asked share of patches."""
    with_patches = [i for i, s in enumerate(scenes) if s.windows]
    if len(with_patches) < 2 and options.val_fraction > 0:
        raise InputError(
            f"--split-by scene needs at least two scenes with patches, got {len(with_patches)}; "
            "add scenes or use --split-by patch"
        )
    return _whole_scenes_to_val(scenes, options)


def _split_as_given(scenes: list[_Scene], options: PrepareOptions) -> list[np.ndarray]:
    """Each scene's own split (CaFFe). Where no scene comes with a validation split (CaFFe's
    original layout: train and test only), validation is drawn from the scenes marked
    "train" by whole scenes (seeded, ``val_fraction``). Scenes without a split train."""
    given = [s.input.split for s in scenes]
    if "val" in given or options.val_fraction == 0:
        return [np.full(len(s.windows), s.input.split == "val") for s in scenes]
    marked = [i for i, split in enumerate(given) if split == "train"]
    if sum(bool(scenes[i].windows) for i in marked) < 2:
        if marked:
            log.warning("fewer than two training images with patches: no validation split is drawn from them")
        return [np.zeros(len(s.windows), bool) for s in scenes]
    drawn = dict(zip(marked, _whole_scenes_to_val([scenes[i] for i in marked], options)))
    return [drawn.get(i, np.zeros(len(s.windows), bool)) for i, s in enumerate(scenes)]


#: Split rules for the scenes that are not held out for testing: each gives, per scene, True for
#: the validation patches (the others train).
SPLITTERS: dict[str, Callable[[list[_Scene], PrepareOptions], list[np.ndarray]]] = {
    "patch": _split_by_patch,
    "scene": _split_by_scene,
    "source": _split_as_given,
}


def assign_splits(scenes: list[_Scene], options: PrepareOptions) -> list[list[str]]:
    """The split of every kept window of every scene. Scenes whose source holds them out
    for testing (``SceneInput.split == "test"``: CaFFe's test split) stay "test" under every
    ``--split-by``; the others are split into train and val by :data:`SPLITTERS`."""
    pool = [i for i, s in enumerate(scenes) if s.input.split != "test"]
    is_val = dict(zip(pool, SPLITTERS[options.split_by]([scenes[i] for i in pool], options)))
    return [
        ["val" if v else "train" for v in is_val[i]] if i in is_val else ["test"] * len(s.windows)
        for i, s in enumerate(scenes)
    ]


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
    if scaling_from is not None:
        scaling_from.check(options, [b.name for b in bands])
    if not scenes:
        raise InputError("no scenes given; pass --sar FILE (repeatable) or a folder")
    out = Path(out)
    if out.exists() and not overwrite:
        # Refuse before the (possibly long) scan, not only at write time.
        raise already_exists(out)
    opened: list[_Scene] = []
    with contextlib.ExitStack() as stack:
        stack.enter_context(geo.block_cache_limit(_BLOCK_CACHE_BYTES))
        stack.callback(lambda: [s.close() for s in opened])
        gaps = []
        for scene in scenes:
            s, gap = _open_scene(scene, labels, aoi, options, list(bands))
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
                + "); convert them or pass --units"
            )
        _name_patches(opened)
        total = 2 * sum(_window_count(s, options) for s in opened)
        done = [0]

        def tick(scene: _Scene, stage: str, n: int) -> None:
            done[0] += n
            if progress:
                progress(done[0], total, f"{stage} {scene.input.sar.name}")

        samples = [_scan(i, s, options, tick) for i, s in enumerate(opened)]
        if not any(_window_count(s, options) for s in opened):
            raise _no_window_fits(opened, options, aoi)
        if not any(s.windows for s in opened):
            raise InputError(
                f"no {options.patch_size}x{options.patch_size} patch has at most {options.max_nodata:.0%} no-data"
                + (f" inside {aoi.source}" if aoi else "")
                + "; raise --max-nodata, use a smaller --patch-size or check the labels"
                + (f" and that the extra band(s) {', '.join(b.name for b in bands)} cover the scenes" if bands else "")
            )
        first = opened[0]
        if scaling_from is None:
            scaling = fit_scaling(
                np.concatenate([x for x, _ in samples if x.size]), first.units, dtype=first.dtype, nodata=first.nodata
            )
            band_scalings = _fit_band_scalings(bands, opened, [b for _, b in samples])
        else:
            scaling = dataclasses.replace(scaling_from.info.scaling, dtype=first.dtype, nodata=first.nodata)
            band_scalings = tuple(
                dataclasses.replace(b, resampling=_resampling_used(opened, k))
                for k, b in enumerate(scaling_from.info.extra_bands)
            )
            log.info("scaling copied from %s", scaling_from.path)
        splits = assign_splits(opened, options)
        log.info(
            "kept %d patches (%s); %s range %.2f .. %.2f",
            sum(len(s.windows) for s in opened),
            ", ".join(f"{n} {name}" for name in SPLITS if (n := sum(x.count(name) for x in splits))),
            scaling.units,
            scaling.db_min,
            scaling.db_max,
        )
        with DatasetWriter(out, overwrite=overwrite) as writer:
            for scene, scene_splits in zip(opened, splits):
                _write(scene, scene_splits, scaling, band_scalings, options, writer, tick)
            info = DatasetInfo(
                patch_size=options.patch_size,
                classes=options.classes,
                scaling=scaling,
                seed=options.seed,
                val_fraction=options.val_fraction,
                sources=[str(p.resolve()) for s in scenes for p in (s.sar, s.mask) if p is not None]
                + ([str(labels.path.resolve())] if labels else [])
                + list(dict.fromkeys(str(raster.resolve()) for s in opened for raster, _ in s.bands)),
                extra={
                    "stride": options.step,
                    "max_nodata": options.max_nodata,
                    "split_by": options.split_by,
                    "band": opened[0].band,
                    **({"aoi": aoi.source} if aoi else {}),
                    **({"label_field": labels.field} if labels else {}),
                    **({"scaling_from": scaling_from.record()} if scaling_from else {}),
                    **(extra or {}),
                },
                extra_bands=band_scalings,
            )
            return writer.commit(info)


def _check_source_units(scenes: list[_Scene], source: ScalingSource) -> None:
    """Scenes whose units were guessed must be in the units whose scaling is copied."""
    for s in scenes:
        if s.units != source.units:
            raise InputError(
                f"{s.input.sar}: looks like {s.units}, but {source.path / 'dataset.json'} scales {source.units}; "
                f"pass --units {source.units} if the scene is in {source.units}, or convert it"
            )


def _check_aoi_overlap(scenes: list[_Scene], gaps: list[float], aoi: AreaOfInterest | None) -> None:
    if aoi is None or any(s.aoi is not None for s in scenes):
        return
    nearest = int(np.argmin(gaps))
    grid = scenes[nearest].grid
    raise InputError(
        f"{aoi.source}: the area of interest does not overlap any scene; in {crs_name(grid)} it lies "
        f"{gaps[nearest]:,.0f} {'m' if grid.crs_wkt else 'pixels'} from the nearest, {scenes[nearest].input.sar.name}; "
        "check the AOI's CRS or the scenes"
    )


def _no_window_fits(scenes: list[_Scene], options: PrepareOptions, aoi: AreaOfInterest | None) -> InputError:
    size = options.patch_size
    if aoi is not None:
        inside = [s for s in scenes if s.aoi is not None]
        largest = max(inside, key=lambda s: min(s.region[2] - s.region[0], s.region[3] - s.region[1]))
        c0, r0, c1, r1 = largest.region
        return InputError(
            f"--patch-size {size} is larger than the area of interest {aoi.source} on {largest.input.sar} "
            f"({c1 - c0}x{r1 - r0} pixels); use a smaller --patch-size or a larger AOI"
        )
    largest = max(scenes, key=lambda s: min(s.grid.width, s.grid.height))
    return InputError(
        f"{largest.input.sar}: {largest.grid.width}x{largest.grid.height} is smaller than one {size} patch; "
        "use a smaller --patch-size"
    )


def _name_patches(scenes: list[_Scene]) -> None:
    stems = [s.input.sar.stem for s in scenes]
    for i, s in enumerate(scenes):
        unique = stems.count(stems[i]) == 1
        s.patch_id_prefix = stems[i] if unique else f"{stems[i]}_{i}"
        s.source_name = s.input.sar.name if unique else str(s.input.sar.resolve())


def _window_count(scene: _Scene, options: PrepareOptions) -> int:
    col0, row0, col1, row1 = scene.region
    size, step = options.patch_size, options.step
    rows = max(0, (row1 - row0 - size) // step + 1)
    cols = max(0, (col1 - col0 - size) // step + 1)
    return rows * cols


def _fit_band_scalings(
    bands: list[ExtraBandInput], scenes: list[_Scene], samples: list[np.ndarray]
) -> tuple[BandScaling, ...]:
    """Each band's scaling from its values sampled over all kept patches; its units from
    the first scene's raster, its resampling as used (several: joined by '+')."""
    scalings = []
    for k, band in enumerate(bands):
        values = np.concatenate([s[:, k] for s in samples if s.size])
        units = band_units(scenes[0].bands[k][0])
        scalings.append(fit_band_scaling(band.name, units, values, _resampling_used(scenes, k)))
    return tuple(scalings)


def _resampling_used(scenes: list[_Scene], k: int) -> str:
    """How band `k` was resampled onto the scenes with patches (several: joined by '+')."""
    return "+".join(sorted({s.bands[k][1] for s in scenes if s.windows}))


def _scan(index: int, scene: _Scene, options: PrepareOptions, tick) -> tuple[np.ndarray, np.ndarray]:
    """Pass 1: keep windows inside the AOI with few no-data pixels; sample their values.

    Returns the sampled dB values and the extra bands' values at the same pixels (n, K)."""
    size, step = options.patch_size, options.step
    rng = np.random.default_rng([options.seed, index])
    samples: list[np.ndarray] = []
    band_samples: list[np.ndarray] = []
    any_valid = False
    col0 = scene.region[0]
    n_bands = len(scene.bands)
    if _window_count(scene, options) == 0:
        log.info("%s: no %d-pixel window fits (inside the AOI); skipped", scene.input.sar.name, size)
        return np.empty(0), np.empty((0, n_bands))
    for strip in scene.strips(size, step):
        row, sar, zones, aoi = strip.row, strip.sar, strip.zones, strip.aoi
        db, invalid = scene.invalid(sar, zones, strip.extras_missing)
        scene_nodata = ~np.isfinite(db) if scene.nodata is None else (~np.isfinite(db) | (sar == scene.nodata))
        n = 0
        for c in range(0, sar.shape[1] - size + 1, step):
            n += 1
            if aoi is not None and not aoi[:, c : c + size].all():
                continue
            any_valid = any_valid or not scene_nodata[:, c : c + size].all()
            bad = invalid[:, c : c + size]
            if bad.all() or bad.mean() > options.max_nodata:
                continue
            scene.windows.append((col0 + c, row))
            valid = db[:, c : c + size][~bad]
            picked = rng.choice(valid.size, min(_SAMPLES_PER_PATCH, valid.size), replace=False)
            samples.append(valid[picked])
            if strip.extras is not None:
                band_samples.append(strip.extras[:, c : c + size][~bad][picked])
        tick(scene, "scanning", n)
    if not any_valid:
        nodata = f"value {scene.nodata:g}" if scene.nodata is not None else "NaN or non-positive values"
        raise InputError(
            f"{scene.input.sar}: holds only no-data ({nodata}) where patches could be cut; "
            "check the file, --band and --units"
        )
    log.info("%s: kept %d patches", scene.input.sar.name, len(scene.windows))
    return (
        np.concatenate(samples) if samples else np.empty(0),
        np.concatenate(band_samples) if band_samples else np.empty((0, n_bands)),
    )


def _write(
    scene: _Scene,
    splits: list[str],
    scaling: SarScaling,
    band_scalings: tuple[BandScaling, ...],
    options: PrepareOptions,
    writer: DatasetWriter,
    tick,
) -> None:
    """Pass 2: read the kept windows strip by strip, scale, write."""
    size = options.patch_size
    by_row: dict[int, list[tuple[int, str]]] = {}
    for (col, row), split in zip(scene.windows, splits, strict=True):
        by_row.setdefault(row, []).append((col, split))
    col0 = scene.region[0]
    per_strip = (scene.region[2] - col0 - size) // options.step + 1
    for strip in scene.strips(size, options.step):
        row, sar, zones = strip.row, strip.sar, strip.zones
        for col, split in by_row.get(row, []):
            c = col - col0
            values, patch_zones = sar[:, c : c + size], zones[:, c : c + size]
            missing = None if strip.extras_missing is None else strip.extras_missing[:, c : c + size]
            _, invalid = scene.invalid(values, patch_zones, missing)
            scaled = scaling.to_model(values)
            scaled[invalid] = -1.0
            patch_zones = np.where(invalid, NODATA, patch_zones).astype(np.uint8)
            # No-data pixels of a band hold -1, as the SAR's do (their zone is no data).
            extras = {
                band.name: np.where(invalid, np.float32(-1.0), band.to_model(strip.extras[:, c : c + size, k]))
                for k, band in enumerate(band_scalings)
            }
            record = PatchRecord(
                f"{scene.patch_id_prefix}_r{row:05d}_c{col:05d}",
                split,
                scene.source_name,
                col,
                row,
                size,
                size,
                math.nan if scene.input.pixel_size_m is None else scene.input.pixel_size_m,
            )
            writer.add(record, scaled, patch_zones, scene.grid.window(col, row, size, size), extras)
        tick(scene, "writing", per_strip)

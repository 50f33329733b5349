"""Generate SAR images from masks of any size with a trained run.

    generate_files(run, INPUT, out=OUTPUT)              one image per mask file
    generate_dataset(run, INPUT, DATASET_OUT)           masks + images as a patch dataset
    (CaFFe's layout: :mod:`pix2pix_sar.generation.caffe_layout`)

`run` is a run folder or a model folder written by ``export``
(:mod:`pix2pix_sar.generation.export`), which gives the same pixels.

Generation follows the project's one rule (:mod:`pix2pix_sar.models.inference`):
per-image BatchNorm statistics, dropout on as the generator's noise, so batching
tiles is exact. Masks hold CaFFe zone codes (0 no data, 64 rock, 127 glacier,
254 ocean), or with ``mask_values="binary"`` 0 = ocean and 1 or 255 = land.
Outputs keep the mask's CRS and geotransform, carry no-data exactly where the mask
has no data, and hold values in the units of the run's training data.

A run trained with extra conditioning bands (``prepare --extra``) needs the same bands
for every mask (``bands``: name -> raster, or a folder of rasters paired by mask name):
each is warped onto the mask's grid row band by row band as ``prepare`` warps it onto a
scene, scaled by the run's recorded scaling and appended after the mask channels in
the run's order. Missing, unknown or not-covering bands are refused before anything
is written.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from pix2pix_sar import geo
from pix2pix_sar.atomic import already_exists
from pix2pix_sar.data.dataset import DatasetInfo, DatasetWriter, PatchRecord, iter_windows, split_ids
from pix2pix_sar.data.extra_bands import ExtraBandInput
from pix2pix_sar.data.scaling import DB_FACTORS, SarScaling
from pix2pix_sar.data.scenes import mask_file_values
from pix2pix_sar.data.zones import GLACIER, OCEAN, ClassScheme, check_zones, valid_zones
from pix2pix_sar.errors import InputError, InvalidValue, option
from pix2pix_sar.generation.provenance import PICTURE, output_tags, source_facts
from pix2pix_sar.generation.run_generator import BandSource, RunGenerator, TileSettings

log = logging.getLogger(__name__)

#: Mask files a folder INPUT may hold.
MASK_SUFFIXES = (".tif", ".tiff", ".png")
#: Rows per read while checking a mask's values (bounded memory for scene-sized masks).
_CHECK_ROWS = 1024
#: Output units besides the training data's own: the model's [-1, 1].
MODEL_UNITS = "model"

Progress = Callable[[str, int, int], None]  # (mask name, tiles done, tiles total)


# --- Inputs -------------------------------------------------------------------------


def find_masks(input_path: str | Path) -> list[Path]:
    """A mask file, or the mask files (.tif, .tiff, .png) of a folder, sorted."""
    input_path = Path(input_path)
    if input_path.is_dir():
        masks = sorted(
            p for p in input_path.iterdir() if p.suffix.lower() in MASK_SUFFIXES and not p.name.startswith(".")
        )
        if not masks:
            raise InputError(
                f"{input_path}: folder holds no mask files (.tif, .tiff, .png); give a mask file or a folder of them"
            )
        return masks
    if not input_path.exists():
        raise InputError(f"{input_path}: no such file or folder; give a mask file or a folder of masks")
    return [input_path]


def _binary_to_zones(values: np.ndarray, source: str) -> np.ndarray:
    """0 = ocean, 1 or 255 = land (as glacier: a binary mask cannot tell rock from ice)."""
    bad = sorted(set(np.unique(values).tolist()) - {0, 1, 255})
    if bad:
        shown = ", ".join(str(v) for v in bad[:5])
        raise InputError(
            f"{source}: mask values {shown} are not binary; use 0 (ocean) and 1 or 255 (land), "
            f"or zone codes without {option('mask_values')} binary"
        )
    return np.where(values == 0, OCEAN, GLACIER).astype(np.uint8)


#: How mask files encode the classes: name -> (values, source) -> zone codes (checked).
MASK_VALUES = {"zones": check_zones, "binary": _binary_to_zones}


def read_zones(path: Path, window: tuple[int, int, int, int] | None = None, mask_values: str = "zones") -> np.ndarray:
    """Zone codes of a mask file (or a window of it), checked."""
    return MASK_VALUES[mask_values](geo.read_raster(path, window)[0], str(path))


def check_mask(path: Path, mask_values: str = "zones") -> geo.Grid:
    """The mask's grid, after checking every value (the same check and message as `prepare`'s)."""
    grid, bands, _ = geo.raster_info(path)
    MASK_VALUES[mask_values](mask_file_values(path, _CHECK_ROWS), str(path))
    return grid


def check_band_coverage(mask: Path, grid: geo.Grid, bands: list[BandSource], mask_values: str = "zones") -> None:
    """Every band has data wherever the mask has data (but the ocean), read in row blocks."""
    for row in range(0, grid.height, _CHECK_ROWS):
        n_rows = min(_CHECK_ROWS, grid.height - row)
        zones = read_zones(mask, (0, row, grid.width, n_rows), mask_values)
        for band in bands:
            band.on_grid(grid.window(0, row, grid.width, n_rows), zones, mask)


def encode_with_bands(
    scheme: ClassScheme, zones: np.ndarray, grid: geo.Grid, bands: list[BandSource], mask: Path
) -> np.ndarray:
    """The generator input of `zones` on `grid`: mask channels, then the bands in order."""
    encoded = scheme.encode(zones)
    if not bands:
        return encoded
    planes = [band.on_grid(grid, zones, mask)[..., None] for band in bands]
    return np.concatenate([encoded, *planes], axis=-1)


class _ZoneRows:
    """Reads (and checks) row bands of a mask once: encoded for the generator (with its
    extra bands warped onto the same rows), and kept until the output rows they cover
    are finished, which take their no-data from the same read (every tiling reads a
    band that covers the rows it finishes)."""

    def __init__(self, path: Path, grid: geo.Grid, scheme: ClassScheme, mask_values: str, bands: list[BandSource] = ()):
        self.path, self.grid, self.scheme, self.mask_values = path, grid, scheme, mask_values
        self.extra_bands = list(bands)
        self._bands: list[tuple[int, np.ndarray]] = []  # (first row, zones)

    def encoded(self, row_off: int, n_rows: int) -> np.ndarray:
        zones = read_zones(self.path, (0, row_off, self.grid.width, n_rows), self.mask_values)
        self._bands.append((row_off, zones))
        window = self.grid.window(0, row_off, self.grid.width, n_rows)
        return encode_with_bands(self.scheme, zones, window, self.extra_bands, self.path)

    def zones(self, row_off: int, n_rows: int) -> np.ndarray:
        first, band = next((f, b) for f, b in self._bands if f <= row_off and row_off + n_rows <= f + len(b))
        # Rows above the next output row are done: drop the bands that end there.
        self._bands = [(f, b) for f, b in self._bands if f + len(b) > row_off + n_rows]
        return band[row_off - first : row_off - first + n_rows]


# --- Output values ------------------------------------------------------------------


@dataclass(frozen=True)
class OutputEncoding:
    """Model range [-1, 1] -> written values, their type and the no-data value."""

    convert: Callable[[np.ndarray], np.ndarray]
    dtype: np.dtype
    nodata: float


def _in_units(scaling: SarScaling, units: str) -> SarScaling:
    """The same dB range expressed in other physical units (float output)."""
    physical = [u for u in DB_FACTORS if DB_FACTORS[u] is not None] + ["db"]
    if units == scaling.units:
        return scaling
    if scaling.units not in physical or units not in physical:
        raise InvalidValue(
            "units",
            f"units {units}: the run was trained on {scaling.units} values; "
            f"choose {scaling.units} or {MODEL_UNITS}"
            + (f" or one of {', '.join(physical)}" if scaling.units in physical else ""),
        )
    return dataclasses.replace(scaling, units=units, dtype="float32")


def output_encoding(scaling: SarScaling, units: str | None, driver: str) -> OutputEncoding:
    """GeoTIFF: values in `units` (default: the training data's; 'model': [-1, 1]),
    no-data NaN for floats. PNG: an 8-bit picture of the model range, 1..255, no-data 0.
    `units` in any case ("dB", "db")."""
    units = units.lower() if units else units
    if driver == "PNG":
        return OutputEncoding(
            lambda x: np.rint(1.0 + (np.clip(x, -1, 1) + 1.0) * 127.0).astype(np.uint8), np.dtype("uint8"), 0
        )
    if units == MODEL_UNITS:
        return OutputEncoding(lambda x: np.asarray(x, np.float32), np.dtype("float32"), float("nan"))
    target = _in_units(scaling, units or scaling.units)
    dtype = np.asarray(target.from_model(np.zeros(1, np.float32))).dtype
    nodata = float("nan") if dtype.kind == "f" else float(target.nodata or 0)
    return OutputEncoding(target.from_model, dtype, nodata)


# --- Generation ---------------------------------------------------------------------


def _output_paths(masks: list[Path], input_path: Path, out: Path) -> list[Path]:
    if input_path.is_dir():
        if out.suffix.lower() in geo.OUTPUT_DRIVERS:
            raise InputError(f"{out}: INPUT is a folder, so {option('out')} must be a folder, not a {out.suffix} file")
        return [out / m.name if m.suffix.lower() in geo.OUTPUT_DRIVERS else out / f"{m.stem}.tif" for m in masks]
    if out.suffix.lower() not in geo.OUTPUT_DRIVERS:
        raise InputError(f"{out}: name the output .tif (cloud-optimised GeoTIFF) or .png")
    return [out]


def sample_path(path: Path, k: int) -> Path:
    """Where sample `k` (seed + k) of an output goes: NAME_s<k> with NAME's suffix."""
    return path.with_name(f"{path.stem}_s{k}{path.suffix}")


def check_samples(samples: int) -> None:
    if samples < 1:
        raise InvalidValue("samples", f"samples {samples}: must be at least 1")


def _check_writable(paths: list[Path], overwrite: bool) -> None:
    for path in paths:
        if path.exists() and not overwrite:
            raise already_exists(path, "out")
        folder = path.parent
        while not folder.exists():
            folder = folder.parent
        if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
            raise InputError(
                f"{path}: cannot write there ({folder} is not a writable folder); choose another {option('out')}"
            )


def generate_file(
    gen: RunGenerator,
    mask: Path,
    out: Path,
    settings: TileSettings,
    units: str | None = None,
    progress: Progress | None = None,
    mask_values: str = "zones",
    bands: list[BandSource] = (),
    sample: int = 0,
) -> Path:
    """Generate one mask into `out` (streamed; written atomically; the mask's values
    are checked as they are read); `bands` are the run's extra bands for this mask;
    `sample`: which of the mask's samples this is (recorded in the file's metadata)."""
    grid = geo.raster_info(mask)[0]
    plan = gen.plan(grid.width, grid.height, settings)
    driver = geo.OUTPUT_DRIVERS[out.suffix.lower()]
    encoding = output_encoding(gen.scaling, units, driver)
    written_units = PICTURE if driver == "PNG" else units or gen.scaling.units
    tags = output_tags(gen, written_units, seed=gen.seed, sample=sample, mask=mask)
    on_tile = (lambda done, total: progress(mask.name, done, total)) if progress else None
    with geo.RasterRowWriter(
        out,
        grid,
        encoding.dtype,
        nodata=encoding.nodata,
        description=tags.description,
        unit=tags.unit,
        metadata=tags.metadata,
    ) as writer:
        rows = _ZoneRows(mask, grid, gen.scheme, mask_values, bands)
        for row_off, block in plan.generate(rows.encoded, gen.generate_batch, settings.batch_size, on_tile):
            zones = rows.zones(row_off, block.shape[0])
            values = encoding.convert(block)
            writer.write_rows(row_off, np.where(valid_zones(zones), values, encoding.dtype.type(encoding.nodata)))
        return writer.commit()


def generate_files(
    run_dir: str | Path,
    input_path: str | Path,
    out: str | Path,
    *,
    epoch: int | None = None,
    settings: TileSettings = TileSettings(),
    units: str | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
    mask_values: str = "zones",
    bands: list[ExtraBandInput] = (),
    samples: int = 1,
) -> list[Path]:
    """One image per mask: INPUT a file -> `out` a file; INPUT a folder -> `out` a folder.

    `bands`: the run's extra bands (a raster each, or a folder paired by mask name).
    `samples` > 1: that many images per mask, with seeds seed ... seed + samples - 1,
    written as NAME_s<k> (k = 0 ...) beside where the one image would go."""
    input_path, out = Path(input_path), Path(out)
    check_samples(samples)
    masks = find_masks(input_path)
    targets = _output_paths(masks, input_path, out)
    sample_targets = [[t] if samples == 1 else [sample_path(t, k) for k in range(samples)] for t in targets]
    _check_writable([t for group in sample_targets for t in group], overwrite)
    if len(masks) > 1:
        for mask in masks:
            check_mask(mask, mask_values)  # every mask is checked before the first is written
    gen = RunGenerator.load(run_dir, epoch, settings.seed, xla=settings.xla)
    gen.use_sensor(settings.sensor)  # required for a sensor-conditioned run, refused otherwise
    output_encoding(gen.scaling, units, "COG")  # reject bad --units before any work
    # Every mask's bands are found and checked before the first image is written.
    sources = [gen.band_rasters(list(bands), mask) for mask in masks]
    for mask, mask_bands in zip(masks, sources):
        if mask_bands:
            check_band_coverage(mask, check_mask(mask, mask_values), mask_bands, mask_values)
    written = []
    for mask, group, mask_bands in zip(masks, sample_targets, sources):
        for k, target in enumerate(group):
            gen.seed = settings.seed + k  # the noise keys of sample k
            written.append(generate_file(gen, mask, target, settings, units, progress, mask_values, mask_bands, k))
            log.info("generated %s -> %s", mask, target)
    gen.seed = settings.seed
    return written


def generate_image(
    gen: RunGenerator, zones: np.ndarray, settings: TileSettings, extras: np.ndarray | None = None
) -> np.ndarray:
    """The generated image (model range, float32) of an in-memory zone mask; `extras`
    (H, W, K): the run's extra bands in the model range, in the run's order; the context
    bands may be left out (they are computed from the whole of `zones`)."""
    plan = gen.plan(zones.shape[1], zones.shape[0], settings)
    given = 0 if extras is None else extras.shape[-1]
    context = gen.context_image(zones) if given == len(gen.user_bands) else None
    if context is not None:
        extras = context if extras is None else np.concatenate([extras, context], axis=-1)
        given = extras.shape[-1]
    if given != len(gen.bands):
        wanted = ", ".join(b.name for b in gen.user_bands) or "none"
        raise InputError(
            f"{gen.path} takes the extra bands ({wanted}) after the mask, {given} given; "
            f"generate with {option('extras')} NAME=RASTER per band"
        )
    encoded = gen.scheme.encode(zones)
    if given:
        encoded = np.concatenate([encoded, np.asarray(extras, np.float32)], axis=-1)
    image = np.empty(zones.shape, np.float32)
    for row_off, block in plan.generate(lambda r, n: encoded[r : r + n], gen.generate_batch, settings.batch_size):
        image[row_off : row_off + block.shape[0]] = block
    return image


def generate_dataset(
    run_dir: str | Path,
    input_path: str | Path,
    dataset_out: str | Path,
    *,
    epoch: int | None = None,
    settings: TileSettings = TileSettings(),
    val_fraction: float = 0.1,
    overwrite: bool = False,
    progress: Progress | None = None,
    mask_values: str = "zones",
    bands: list[ExtraBandInput] = (),
    samples: int = 1,
) -> Path:
    """Masks and their generated images as a patch dataset that `fit` reads unchanged
    (with the run's extra bands, from `bands`, beside each patch).

    `samples` > 1: that many images per mask (seeds seed ... seed + samples - 1; patch
    ids gain _s<k>), and the split is drawn per mask instead of per patch, so all
    samples of one mask (the same labels) fall in the same split.

    Each mask is generated whole (tiled and blended) and cut into non-overlapping
    patches of the run's patch size; patches with any no-data are skipped; the split
    is seeded 90/10 as in `prepare`. dataset.json marks the pairs synthetic and names
    the run and epoch (``generated_by``). One mask's image is held in memory.
    """
    input_path, dataset_out = Path(input_path), Path(dataset_out)
    check_samples(samples)
    masks = find_masks(input_path)
    if dataset_out.exists() and not overwrite:
        raise already_exists(dataset_out, "dataset_out")
    _check_writable([dataset_out / "dataset.json"], True)
    gen = RunGenerator.load(run_dir, epoch, settings.seed, xla=settings.xla)
    gen.use_sensor(settings.sensor)  # required for a sensor-conditioned run, refused otherwise
    size = gen.patch_size
    sources = [gen.band_rasters(list(bands), mask) for mask in masks]

    windows: list[tuple[int, int, int]] = []  # (mask index, col, row) of kept patches
    grids, all_zones = [], []  # zone codes are uint8: every mask is read once and kept
    for i, mask in enumerate(masks):
        grid = geo.raster_info(mask)[0]
        grids.append(grid)
        zones = read_zones(mask, None, mask_values)
        all_zones.append(zones)
        if sources[i]:
            check_band_coverage(mask, grid, sources[i], mask_values)
        windows += [
            (i, c, r)
            for c, r in iter_windows(grid.width, grid.height, size, size)
            if valid_zones(zones[r : r + size, c : c + size]).all()
        ]
    if not windows:
        raise InputError(f"{input_path}: no {size}x{size} patch without no-data in the masks; give larger masks")
    if samples == 1:
        is_val = split_ids(len(windows), val_fraction, settings.seed)
    else:
        is_val = split_ids(len(masks), val_fraction, settings.seed)[[i for i, _, _ in windows]]
    stems = {m.stem for m in masks}
    with DatasetWriter(dataset_out, overwrite=overwrite, option_field="dataset_out") as writer:
        for i, mask in enumerate(masks):
            zones = all_zones[i]
            extras = np.stack([b.on_grid(grids[i], zones, mask) for b in sources[i]], axis=-1) if sources[i] else None
            stem = mask.stem if len(stems) == len(masks) else mask.name.replace(".", "_")
            for sample in range(samples):
                gen.seed = settings.seed + sample  # the noise keys of this sample
                image = generate_image(gen, zones, settings, extras)
                name = stem if samples == 1 else f"{stem}_s{sample}"
                for (j, col, row), val in zip(windows, is_val):
                    if j != i:
                        continue
                    patch_id, patch_split = f"{name}_r{row:05d}_c{col:05d}", "val" if val else "train"
                    # With the sensor rendered ("" if none), which manifest.csv and dataset.json name as prepare's do.
                    record = PatchRecord(patch_id, patch_split, mask.name, col, row, size, size, sensor=gen.sensor)
                    window = (slice(row, row + size), slice(col, col + size))
                    patch_bands = (
                        {b.name: extras[window][..., k] for k, b in enumerate(gen.bands)}
                        if extras is not None
                        else None
                    )
                    writer.add(record, image[window], zones[window], grids[i].window(col, row, size, size), patch_bands)
            if progress:
                progress(mask.name, i + 1, len(masks))
        info = DatasetInfo(
            patch_size=size,
            classes=gen.info.classes,
            scaling=gen.scaling,
            seed=settings.seed,
            val_fraction=val_fraction,
            sources=[str(m.resolve()) for m in masks],
            synthetic=True,
            extra={
                "generated_by": {
                    **source_facts(gen),
                    "seed": settings.seed,  # sample k (patch ids _s<k>) used seed + k
                    **({"samples": samples} if samples > 1 else {}),
                }
            },
            extra_bands=gen.bands,
        )
        return writer.commit(info)

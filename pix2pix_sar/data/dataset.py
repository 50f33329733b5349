"""The patch dataset on disk: what `prepare` writes and `fit` reads.

    DATASET/dataset.json     patch size, class scheme, SAR scaling, seed, sources
    DATASET/manifest.csv     id, split, source, col_off, row_off, width, height, pixel_size_m[, sensor]
    DATASET/train/<id>_sar.tif, <id>_mask.tif (and <id>_<band>.tif per extra band)
    DATASET/val/<id>_sar.tif,   <id>_mask.tif
    DATASET/test/<id>_sar.tif,  <id>_mask.tif   (only where the source has a test split: CaFFe)

SAR patches hold the model's range [-1, 1] (float32); ``scaling`` in dataset.json
maps them back to the input units. Masks hold zone codes (uint8). ``pixel_size_m``
is metres per pixel (from the geotransform, at the patch centre for a geographic
CRS; for CaFFe from the resolution in the file name; empty when unknown).

Format 2 added ``pixel_size_m``; format-1 datasets load unchanged (the pixel size
is then read from each patch's geotransform). Format 3 added the optional ``test``
split (a held-out split kept from the source, never trained on); datasets without
one load unchanged. Format 4 added extra conditioning bands (``extra_bands``: their
scaling, in order; :mod:`pix2pix_sar.data.extra_bands`), one float32 GeoTIFF per band
per patch in the model range; older datasets load unchanged, without extra bands.

A dataset whose scenes name their sensor (:mod:`pix2pix_sar.data.sensors`) has a
``sensor`` column in manifest.csv and lists its sensors in dataset.json (``sensors``);
one without has neither, so its files are what they were before sensors existed.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from pix2pix_sar import geo, jsonio
from pix2pix_sar.atomic import atomic_dir
from pix2pix_sar.data.extra_bands import BandScaling
from pix2pix_sar.data.scaling import SarScaling
from pix2pix_sar.data.sensors import sensor_order
from pix2pix_sar.data.zones import check_zones, class_scheme
from pix2pix_sar.errors import InputError

#: Splits a dataset may hold: train and val always (possibly empty), test only where the source has one.
SPLITS = ("train", "val", "test")
MANIFEST_FIELDS = ("id", "split", "source", "col_off", "row_off", "width", "height", "pixel_size_m")
#: Columns a format-1 manifest has (no pixel size).
REQUIRED_MANIFEST_FIELDS = MANIFEST_FIELDS[:-1]
#: The column after MANIFEST_FIELDS in a dataset whose patches name their sensor.
SENSOR_FIELD = "sensor"
FORMAT_VERSION = 4


@dataclass(frozen=True)
class DatasetInfo:
    """Contents of dataset.json."""

    patch_size: int
    classes: str
    scaling: SarScaling
    seed: int
    val_fraction: float
    sources: list[str] = field(default_factory=list)
    synthetic: bool = False
    extra: dict[str, Any] = field(default_factory=dict)  # other facts (stride, AOI, ...), kept as they are
    extra_bands: tuple[BandScaling, ...] = ()  # conditioning bands after the mask channels, in order
    sensors: tuple[str, ...] = ()  # sensor codes of its patches (data/sensors.py order); () unknown

    @property
    def band_names(self) -> list[str]:
        return [b.name for b in self.extra_bands]

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "patch_size": self.patch_size,
            "classes": self.classes,
            "scaling": self.scaling.to_dict(),
            "seed": self.seed,
            "val_fraction": self.val_fraction,
            "sources": list(self.sources),
            "synthetic": self.synthetic,
            "extra_bands": [b.to_dict() for b in self.extra_bands],
            **({"sensors": list(self.sensors)} if self.sensors else {}),
            **self.extra,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str) -> "DatasetInfo":
        try:
            known = {
                "format_version",
                "patch_size",
                "classes",
                "scaling",
                "seed",
                "val_fraction",
                "sources",
                "synthetic",
                "extra_bands",
                "sensors",
            }
            info = cls(
                patch_size=int(data["patch_size"]),
                classes=str(data["classes"]),
                scaling=SarScaling.from_dict(data["scaling"]),
                seed=int(data["seed"]),
                val_fraction=float(data["val_fraction"]),
                sources=list(data.get("sources", [])),
                synthetic=bool(data.get("synthetic", False)),
                extra={k: v for k, v in data.items() if k not in known},
                extra_bands=tuple(BandScaling.from_dict(b) for b in data.get("extra_bands", [])),
                sensors=tuple(str(s) for s in data.get("sensors", [])),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(
                f"{source}: malformed dataset description ({exc!r}); re-run 'pix2pix-sar prepare'"
            ) from None
        class_scheme(info.classes, source)
        return info


@dataclass(frozen=True)
class PatchRecord:
    """One row of manifest.csv."""

    id: str
    split: str
    source: str
    col_off: int
    row_off: int
    width: int
    height: int
    pixel_size_m: float = math.nan  # metres per pixel; NaN: unknown (format 1, or no CRS)
    sensor: str = ""  # data/sensors.py code; "": unknown


def sar_path(dataset_dir: Path, split: str, patch_id: str) -> Path:
    return Path(dataset_dir) / split / f"{patch_id}_sar.tif"


def mask_path(dataset_dir: Path, split: str, patch_id: str) -> Path:
    return Path(dataset_dir) / split / f"{patch_id}_mask.tif"


def extra_path(dataset_dir: Path, split: str, patch_id: str, band: str) -> Path:
    return Path(dataset_dir) / split / f"{patch_id}_{band}.tif"


def load_info(dataset_dir: str | Path) -> DatasetInfo:
    path = Path(dataset_dir) / "dataset.json"
    if not Path(dataset_dir).is_dir():
        raise InputError(f"{dataset_dir}: no such dataset folder; create one with 'pix2pix-sar prepare'")
    if not path.exists():
        raise InputError(f"{path}: missing; {dataset_dir} is not a dataset made by 'pix2pix-sar prepare'")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON ({exc.msg}); re-run 'pix2pix-sar prepare'") from None
    return DatasetInfo.from_dict(data, str(path))


def load_manifest(dataset_dir: str | Path) -> list[PatchRecord]:
    path = Path(dataset_dir) / "manifest.csv"
    if not path.exists():
        raise InputError(f"{path}: missing; re-run 'pix2pix-sar prepare'")
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        missing = set(REQUIRED_MANIFEST_FIELDS) - set(reader.fieldnames or ())
        if missing:
            raise InputError(f"{path}: missing columns {', '.join(sorted(missing))}; re-run 'pix2pix-sar prepare'")
        try:
            return [
                PatchRecord(
                    row["id"],
                    row["split"],
                    row["source"],
                    int(row["col_off"]),
                    int(row["row_off"]),
                    int(row["width"]),
                    int(row["height"]),
                    float(row.get("pixel_size_m") or math.nan),
                    row.get(SENSOR_FIELD) or "",
                )
                for row in reader
            ]
        except (TypeError, ValueError) as exc:
            raise InputError(f"{path}: malformed row ({exc}); re-run 'pix2pix-sar prepare'") from None


@dataclass
class SplitArrays:
    """All patches of one split, decoded once: zone codes, scaled SAR and extra bands."""

    ids: list[str]
    zones: np.ndarray  # (N, H, W) uint8
    images: np.ndarray  # (N, H, W, 1) float32 in [-1, 1]
    pixel_sizes: np.ndarray | None = None  # (N,) metres per pixel, NaN where unknown (None: all unknown)
    extras: np.ndarray | None = None  # (N, H, W, K) float32 in [-1, 1], dataset.json's band order; None: no bands
    sensors: list[str] | None = None  # (N,) sensor codes, "" where unknown (None: all unknown)

    def __post_init__(self) -> None:
        if self.pixel_sizes is None:
            self.pixel_sizes = np.full(len(self.ids), np.nan)
        if self.sensors is None:
            self.sensors = [""] * len(self.ids)

    def __len__(self) -> int:
        return len(self.ids)


def split_size(dataset_dir: str | Path, split: str) -> int:
    """Number of patches in `split` (from manifest.csv, without reading patches)."""
    return sum(r.split == split for r in load_manifest(dataset_dir))


def load_split(dataset_dir: str | Path, split: str, indices: Sequence[int] | None = None) -> SplitArrays:
    """Read the patches of `split` (GDAL) — all, or those at `indices` in manifest
    order — and check sizes and zone codes."""
    dataset_dir = Path(dataset_dir)
    info = load_info(dataset_dir)
    records = [r for r in load_manifest(dataset_dir) if r.split == split]
    if indices is not None:
        records = [records[i] for i in indices]
    size = info.patch_size
    zones = np.empty((len(records), size, size), np.uint8)
    images = np.empty((len(records), size, size, 1), np.float32)
    bands = info.band_names
    extras = np.empty((len(records), size, size, len(bands)), np.float32) if bands else None
    for i, rec in enumerate(records):
        band_paths = [extra_path(dataset_dir, split, rec.id, b) for b in bands]
        for path in (sar_path(dataset_dir, split, rec.id), mask_path(dataset_dir, split, rec.id), *band_paths):
            if not path.exists():
                raise InputError(f"{path}: listed in manifest.csv but missing; re-run 'pix2pix-sar prepare'")
        sar = geo.read_array(sar_path(dataset_dir, split, rec.id))
        mask = geo.read_array(mask_path(dataset_dir, split, rec.id))
        if sar.shape != (size, size) or mask.shape != (size, size):
            raise InputError(
                f"{sar_path(dataset_dir, split, rec.id)}: patch is {sar.shape[1]}x{sar.shape[0]}, "
                f"dataset.json says {size}; re-run 'pix2pix-sar prepare'"
            )
        zones[i] = check_zones(mask, str(mask_path(dataset_dir, split, rec.id)))
        images[i, ..., 0] = sar
        for k, path in enumerate(band_paths):
            extras[i, ..., k] = read_extra_patch(path, size)
    return SplitArrays(
        [r.id for r in records],
        zones,
        images,
        pixel_sizes_of(dataset_dir, split, records),
        extras,
        [r.sensor for r in records],
    )


def pixel_sizes_of(dataset_dir: Path, split: str, records: Sequence[PatchRecord]) -> np.ndarray:
    """Metres per pixel of each patch: manifest.csv's, or (datasets before format 2) from
    the patch's own grid."""
    return np.array(
        [
            r.pixel_size_m
            if math.isfinite(r.pixel_size_m)
            else geo.pixel_size_m(geo.raster_info(sar_path(dataset_dir, split, r.id))[0])
            for r in records
        ],
        np.float64,
    )


def read_extra_patch(path: Path, size: int) -> np.ndarray:
    """One extra band of one patch (model range), checked against the patch size."""
    values = geo.read_array(path)
    if values.shape != (size, size):
        raise InputError(
            f"{path}: patch is {values.shape[1]}x{values.shape[0]}, dataset.json says {size}; "
            "re-run 'pix2pix-sar prepare'"
        )
    return values


class DatasetWriter:
    """Writes a dataset into a hidden temporary folder, moved into place by `commit`.

    Use as a context manager: on an exception the temporary folder is removed and
    an existing dataset at `out` is left untouched.
    """

    def __init__(self, out: str | Path, overwrite: bool = False, option_field: str = "out"):
        self._dir = atomic_dir(out, overwrite, option_field)
        self.out, self.tmp = self._dir.out, self._dir.path
        for split in SPLITS[:2]:
            (self.tmp / split).mkdir()  # test/ only when a test patch comes
        self.records: list[PatchRecord] = []

    def __enter__(self) -> "DatasetWriter":
        return self

    def __exit__(self, *exc) -> None:
        self._dir.__exit__(*exc)

    def add(
        self,
        record: PatchRecord,
        sar_scaled: np.ndarray,
        zones: np.ndarray,
        grid: geo.Grid,
        extras: Mapping[str, np.ndarray] | None = None,
    ) -> None:
        """Write one patch; `extras` maps band names to their scaled values (model range)."""
        if record.split not in SPLITS:
            raise ValueError(f"split {record.split!r} is not one of {SPLITS}")
        (self.tmp / record.split).mkdir(exist_ok=True)
        geo.write_geotiff(sar_path(self.tmp, record.split, record.id), sar_scaled.astype(np.float32), grid)
        geo.write_geotiff(mask_path(self.tmp, record.split, record.id), zones.astype(np.uint8), grid, nodata=0)
        for name, values in (extras or {}).items():
            geo.write_geotiff(extra_path(self.tmp, record.split, record.id, name), values.astype(np.float32), grid)
        if not math.isfinite(record.pixel_size_m):
            record = dataclasses.replace(record, pixel_size_m=geo.pixel_size_m(grid))
        self.records.append(record)

    def commit(self, info: DatasetInfo) -> Path:
        # The sensor column only where some patch names one: datasets without stay as they were.
        with_sensor = any(r.sensor for r in self.records)
        with (self.tmp / "manifest.csv").open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(MANIFEST_FIELDS + ((SENSOR_FIELD,) if with_sensor else ()))
            for r in self.records:
                size = f"{r.pixel_size_m:.6g}" if math.isfinite(r.pixel_size_m) else ""
                row = [r.id, r.split, r.source, r.col_off, r.row_off, r.width, r.height, size]
                writer.writerow(row + ([r.sensor] if with_sensor else []))
        if with_sensor:  # dataset.json lists what the manifest holds
            info = dataclasses.replace(info, sensors=tuple(sensor_order(r.sensor for r in self.records)))
        (self.tmp / "dataset.json").write_text(jsonio.dumps(info.to_dict(), indent=2) + "\n")
        return self._dir.commit()


def iter_windows(width: int, height: int, patch: int, stride: int) -> Iterator[tuple[int, int]]:
    """Top-left corners (col, row) of full patches on a regular grid."""
    for row in range(0, height - patch + 1, stride):
        for col in range(0, width - patch + 1, stride):
            yield col, row


def split_ids(n: int, val_fraction: float, seed: int) -> np.ndarray:
    """Seeded random split: a boolean array, True for validation (the paper: 90/10)."""
    n_val = int(round(n * val_fraction))
    if n >= 2 and val_fraction > 0:
        n_val = min(max(n_val, 1), n - 1)
    is_val = np.zeros(n, bool)
    is_val[np.random.default_rng(seed).permutation(n)[:n_val]] = True
    return is_val

"""What `prepare` reads: SAR scenes, their labels and an area of interest, on one grid.

Scenes pair with raster masks by a documented rule (:func:`pair_scenes`), or take
labels as vectors (:class:`VectorLabels`); units are guessed when not given
(:func:`guess_units`). :func:`labels_on_grid` and :func:`aoi_on_grid` put the labels
(warped with nearest neighbour when the grids differ, or rasterised) and the AOI
(in any CRS) on a scene's grid. The patch engine is :mod:`pix2pix_sar.data.prepare`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pix2pix_sar import geo
from pix2pix_sar.data.scaling import units_of_unit_type
from pix2pix_sar.data.zones import NODATA, ZONE_CODES, ZONE_NAMES, check_zones
from pix2pix_sar.errors import InputError, option

#: Scene/mask pairing in folders: a scene NAME.tif pairs with the first of these that exists.
MASK_SUFFIXES = ("_zones", "_mask", "")
SCENE_PATTERNS = ("*.tif", "*.tiff")


# --- What goes in --------------------------------------------------------------------------


@dataclass(frozen=True)
class SceneInput:
    """One SAR scene and, optionally, its raster labels; `split` forces its split (CaFFe);
    `pixel_size_m` overrides the geotransform's (CaFFe: the resolution in the file name);
    `sensor` is its sensor's code (data/sensors.py; None: its metadata's, or unknown)."""

    sar: Path
    mask: Path | None = None
    split: str | None = None
    pixel_size_m: float | None = None
    sensor: str | None = None


@dataclass(frozen=True)
class AreaOfInterest:
    """Polygons (WKB) in `crs_wkt` where patches may be cut; `source` names them in messages."""

    geometries: list[bytes]
    crs_wkt: str
    source: str

    @classmethod
    def from_file(cls, path: str | Path) -> "AreaOfInterest":
        features = geo.read_vector(path)
        polygons = [g for g, kind in zip(features.geometries, features.geometry_types) if "polygon" in kind]
        if not polygons:
            raise InputError(
                f"{path}: has no polygons; draw the area of interest as polygon(s) or use {option('bounds')}"
            )
        return cls(polygons, features.crs_wkt, str(path))

    @classmethod
    def from_bounds(cls, bounds: tuple[float, float, float, float], crs: str) -> "AreaOfInterest":
        minx, miny, maxx, maxy = bounds
        if not (maxx > minx and maxy > miny):
            raise InputError(f"{option('bounds')} {bounds}: need minx < maxx and miny < maxy")
        # `source` also goes into dataset.json: the plain words, no option name.
        return cls([geo.bounds_polygon(bounds)], geo.crs_from_user(crs), f"bounds {minx} {miny} {maxx} {maxy}")


@dataclass(frozen=True)
class VectorLabels:
    """Label polygons/lines and the field that holds a zone code or class name."""

    path: Path
    field: str


def pair_scenes(sar: list[Path], masks: list[Path] = ()) -> list[SceneInput]:
    """Scenes (files or folders of *.tif) with their raster masks, by the documented rule.

    * no masks: scenes only (labels come from --labels);
    * as many mask files as scene files: paired in order;
    * one mask folder (or masks beside the scenes): scene NAME.tif pairs with
      NAME_zones.tif, NAME_mask.tif or NAME.tif in that folder.
    """
    scenes: list[Path] = []
    for path in map(Path, sar):
        if path.is_dir():
            found = sorted(
                p
                for pattern in SCENE_PATTERNS
                for p in path.glob(pattern)
                if not p.stem.endswith(tuple(s for s in MASK_SUFFIXES if s))
            )
            if not found:
                raise InputError(f"{path}: no *.tif scenes in this folder; give scene files or another folder")
            scenes.extend(found)
        else:
            scenes.append(path)
    masks = [Path(m) for m in masks]
    if not masks:
        return [SceneInput(s) for s in scenes]
    if len(masks) == 1 and masks[0].is_dir():
        return [SceneInput(s, _mask_in_folder(s, masks[0])) for s in scenes]
    if len(masks) != len(scenes):
        raise InputError(
            f"{len(scenes)} scene(s) but {len(masks)} {option('mask')} file(s); give one mask per scene "
            "in the same order, "
            "or one folder of NAME_zones.tif masks"
        )
    return [SceneInput(s, m) for s, m in zip(scenes, masks)]


def _mask_in_folder(scene: Path, folder: Path) -> Path:
    for suffix in MASK_SUFFIXES:
        for ext in (".tif", ".tiff"):
            candidate = folder / f"{scene.stem}{suffix}{ext}"
            if candidate.exists() and candidate.resolve() != scene.resolve():
                return candidate
    raise InputError(
        f"{scene}: no mask {scene.stem}_zones.tif (or _mask.tif) in {folder}; "
        f"add it or pass {option('mask')} files in order"
    )


# --- Units ----------------------------------------------------------------------------------


def guess_units(band: geo.BandInfo, preview: np.ndarray) -> str:
    """The band's unit type (as `generate` writes it) decides; else integer pixels are DN;
    metadata naming the units wins; negative values mean dB; else intensity."""
    return guess_units_why(band, preview)[0]


def guess_units_why(band: geo.BandInfo, preview: np.ndarray) -> tuple[str, str | None]:
    """(units, evidence) by :func:`guess_units`' rule; evidence is None where the band's
    unit type states the units (nothing guessed), else the words a warning shows."""
    stated = units_of_unit_type(band.unit)
    if stated is not None:
        return stated, None
    if np.dtype(band.dtype).kind in "iu":
        return "dn", f"its pixels are integers ({band.dtype}) and it names no unit"
    for word, units in (("amplitude", "amplitude"), ("intensity", "intensity"), ("sigma0", "intensity"), ("db", "db")):
        if re.search(rf"\b{word}\b", band.text):
            return units, f"its description or metadata says {word!r}"
    median = _median_value(band, preview)
    if median is None:
        return "intensity", "it has no valid value to judge by"
    if median < 0:
        return "db", f"the median value {median:.4g} is negative, as only dB values are"
    return "intensity", f"the median value {median:.4g} is positive (amplitude would look alike)"


def _median_value(band: geo.BandInfo, preview: np.ndarray) -> float | None:
    valid = preview[np.isfinite(preview)]
    if band.nodata is not None:
        valid = valid[valid != band.nodata]
    return float(np.percentile(valid, 50)) if valid.size else None


def check_linear_units(units: str, band: geo.BandInfo, preview: np.ndarray, source: Path, why: str) -> None:
    """Intensity and amplitude are never negative: a scene whose median is negative is in dB
    (every pixel would otherwise turn to no-data and no patch be kept). `why`: where the
    units came from, for the message."""
    median = _median_value(band, preview)
    if units in ("intensity", "amplitude") and median is not None and median < 0:
        raise InputError(
            f"{source}: its values are in dB, not {units} ({why}, but the median value {median:.4g} is "
            f"negative, which {units} cannot be); pass {option('units')} db"
        )


# --- Labels and AOI on a scene's grid ------------------------------------------------------


def labels_on_grid(
    scene: SceneInput, grid: geo.Grid, labels: VectorLabels | None
) -> tuple[np.ndarray | None, geo.RasterSource | None]:
    """The scene's labels on its `grid`: (zones, None) warped or rasterised into memory,
    or (None, an open reader) for a mask already on the grid (read strip by strip)."""
    if scene.mask is not None:
        mask_grid, mask_bands, _ = geo.raster_info(scene.mask)
        if mask_bands != 1:
            raise InputError(f"{scene.mask}: has {mask_bands} bands; a zone mask must have one band")
        check_zones(mask_file_values(scene.mask), str(scene.mask))
        if mask_grid.same_as(grid):
            return None, geo.RasterSource(scene.mask)
        if not grid.crs_wkt or not mask_grid.crs_wkt:
            raise InputError(_grids_without_crs(scene, mask_grid, grid))
        zones = check_codes(geo.warp_to_grid(scene.mask, grid, nodata=NODATA), str(scene.mask))
        if not zones.any():
            raise InputError(
                f"{scene.mask}: does not overlap {scene.sar} (mask bounds {format_bounds(geo.grid_bounds(mask_grid))} "
                f"vs scene bounds {format_bounds(geo.grid_bounds(grid))}); give the mask of this scene"
            )
        return zones, None
    if labels is not None:
        return _vector_zones(labels, grid, scene.sar), None
    raise InputError(f"{scene.sar}: no labels; give {option('mask')} (raster) or {option('labels')} (vectors)")


def _grids_without_crs(scene: SceneInput, mask_grid: geo.Grid, grid: geo.Grid) -> str:
    """Why a mask cannot be put on its scene's grid when one of them (or both) has no CRS."""
    if grid.crs_wkt or mask_grid.crs_wkt:
        missing, other, known = (
            (scene.sar, scene.mask, mask_grid) if mask_grid.crs_wkt else (scene.mask, scene.sar, grid)
        )
        return (
            f"{missing}: has no CRS but {other} is in {crs_name(known)}, so the mask cannot be placed on the scene; "
            f"assign {missing} its CRS (gdal_edit.py -a_srs EPSG:<code> {missing})"
        )
    differs = (
        f"sizes {mask_grid.width}x{mask_grid.height} vs {grid.width}x{grid.height}"
        if (mask_grid.width, mask_grid.height) != (grid.width, grid.height)
        else f"geotransforms {format_bounds(mask_grid.geotransform)} vs {format_bounds(grid.geotransform)}"
    )
    return (
        f"{scene.mask}: neither it nor {scene.sar} has a CRS and their pixel grids differ ({differs}); "
        "give a mask with the scene's size and geotransform, or assign both their CRS"
    )


def _label_code(value) -> int | None:
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ZONE_NAMES:
            return ZONE_NAMES[text]
        value = int(text) if text.isdigit() else None
    if (
        isinstance(value, (int, float))
        and float(value).is_integer()
        and int(value) in ZONE_CODES
        and int(value) != NODATA
    ):
        return int(value)
    return None


def _vector_zones(labels: VectorLabels, grid: geo.Grid, scene: Path) -> np.ndarray:
    features = geo.read_vector(labels.path, labels.field)
    if not features.geometries:
        raise InputError(f"{labels.path}: has no features; digitise the zones as polygons")
    codes = [_label_code(v) for v in features.values]
    bad = sorted({str(v) for v, c in zip(features.values, codes) if c is None})
    if bad:
        raise InputError(
            f"{labels.path}: field {labels.field!r} holds {', '.join(bad[:5])}, which are not zones; "
            "use 64/127/254 or rock/glacier/ocean"
        )
    if grid.crs_wkt and not features.crs_wkt:
        raise InputError(f"{labels.path}: has no CRS; assign the CRS it was digitised in")
    keep = [i for i, kind in enumerate(features.geometry_types) if "point" not in kind]
    geometries = geo.transform_geometries([features.geometries[i] for i in keep], features.crs_wkt, grid.crs_wkt)
    # Polygons first, lines on top (a digitised front line should not vanish under an area).
    order = sorted(range(len(keep)), key=lambda i: "line" in features.geometry_types[keep[i]])
    zones = geo.rasterize([geometries[i] for i in order], [codes[keep[i]] for i in order], grid)
    if not zones.any():
        raise InputError(
            f"{labels.path}: labels do not overlap {scene} "
            f"(label bounds {format_bounds(geo.geometries_bounds(geometries))} "
            f"vs scene bounds {format_bounds(geo.grid_bounds(grid))} in {crs_name(grid)}); check the CRS or the scene"
        )
    return zones


def mask_file_values(path: str | Path, rows: int = 1024) -> np.ndarray:
    """Every distinct value of band 1 of the mask file at `path` (read in row bands): the
    values `prepare` and `generate` both check, so that both list the same bad ones."""
    found = []
    with geo.RasterSource(path) as source:
        for row in range(0, source.height, rows):
            block = source.read((0, row, source.width, min(rows, source.height - row)))
            if block.dtype == np.uint8:  # a bincount: cheap on a whole scene
                found.append(np.flatnonzero(np.bincount(block.ravel(), minlength=256)))
            else:
                found.append(np.unique(block))
    return np.unique(np.concatenate(found)) if found else np.zeros(0, np.uint8)


def check_codes(zones: np.ndarray, source: str) -> np.ndarray:
    """check_zones on the values present (a bincount: cheap on a whole scene)."""
    if zones.dtype == np.uint8:
        check_zones(np.flatnonzero(np.bincount(zones.ravel(), minlength=256)), source)
        return zones
    return check_zones(zones, source)


def aoi_on_grid(
    aoi: AreaOfInterest, grid: geo.Grid, scene: Path | str = "the scene"
) -> tuple[np.ndarray | None, float]:
    """The AOI rasterised on `grid` (pixel centres inside) and its distance from the scene (0 if it overlaps)."""
    if grid.crs_wkt and not aoi.crs_wkt:
        raise InputError(f"{aoi.source}: has no CRS; assign one (e.g. EPSG:4326)")
    if aoi.crs_wkt and not grid.crs_wkt:
        # Read as pixel coordinates, degrees or metres land somewhere meaningless.
        raise InputError(
            f"{aoi.source}: is in {_crs_words(aoi.crs_wkt)} but {scene} has no CRS, so the area of interest "
            f"cannot be placed on it; assign the scene its CRS (gdal_edit.py -a_srs EPSG:<code> {scene}) "
            "or leave out the area of interest"
        )
    geometries = geo.transform_geometries(aoi.geometries, aoi.crs_wkt, grid.crs_wkt)
    a, s = geo.geometries_bounds(geometries), geo.grid_bounds(grid)
    gap = float(np.hypot(max(a[0] - s[2], s[0] - a[2], 0.0), max(a[1] - s[3], s[1] - a[3], 0.0)))
    if gap > 0:
        return None, gap
    mask = geo.rasterize(geometries, [1] * len(geometries), grid)
    return (mask if mask.any() else None), gap


def _crs_words(crs_wkt: str) -> str:
    epsg = geo.Grid(crs_wkt, (0.0, 1.0, 0.0, 0.0, 0.0, -1.0), 1, 1).epsg
    return f"EPSG:{epsg}" if epsg else "a CRS"


def format_bounds(bounds: tuple[float, ...]) -> str:
    """How messages show bounds (minx, miny, maxx, maxy): six significant digits each."""
    return "(" + ", ".join(f"{v:.6g}" for v in bounds) + ")"


def crs_name(grid: geo.Grid) -> str:
    """How messages name the grid's CRS: EPSG:n, "the scene's CRS" or "pixel coordinates"."""
    return f"EPSG:{grid.epsg}" if grid.epsg else ("the scene's CRS" if grid.crs_wkt else "pixel coordinates")

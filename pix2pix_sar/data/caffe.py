"""Import the CaFFe calving-front benchmark (Gourmelon et al. 2022, ESSD) as a patch dataset.

CaFFe ships 8-bit PNGs without georeferencing, in one of two layouts, told apart by
the folder (:func:`caffe_layout`):

* **original** (the PANGAEA archive)::

    DIR/sar_images/{train,test}/<Glacier>_<Date>_<Satellite>_<Resolution>_<Quality>_<Orbit>.png
    DIR/zones/{train,test}/<same name>_zones.png      zone codes 0/64/127/254

* **patched** (what torchgeo's ``CaFFe`` dataset downloads; 512x512 patches cut from
  the original images)::

    DIR/sar_images/{train,val,test}/<Glacier>_<Date>_<Satellite>_<Resolution>_<Quality>_<Orbit>__<a>_<b>_<c>_<row>_<col>.png
    DIR/zones/{train,val,test}/<Glacier>_..._<Orbit>_zones__<a>_<b>_<c>_<row>_<col>.png
    DIR/fronts/{train,val,test}/<Glacier>_..._<Orbit>_front__<a>_<b>_<c>_<row>_<col>.png   (not read)

  ``DIR`` may also be the folder holding ``caffe/`` (torchgeo's ``root``).

The source's split is kept (``--split-by source``, the default): train -> train, val ->
val, test -> test. The original layout has no validation split: validation is drawn
from its training images, whole images at a time (``--val-fraction``, seeded). Every
file is a scene of its own (torchgeo's patches overlap their neighbours in the source
image, so they are not mosaicked back), and its patches keep its split. The
resolution in the name is the pixel size, the satellite its sensor (CaFFe's codes are
:mod:`pix2pix_sar.data.sensors`' vocabulary); patches that are mostly no-data are skipped;
no CRS is invented (patches carry pixel coordinates only). These defaults live in
:data:`CAFFE_DEFAULTS` (the CLI reads them through :func:`caffe_options`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from pix2pix_sar.data.prepare import PrepareOptions, ProgressFn, ScalingSource, prepare_scenes
from pix2pix_sar.data.scenes import SceneInput
from pix2pix_sar.data.sensors import sensor_named
from pix2pix_sar.errors import InputError

#: Layout name -> its split folders (CaFFe's split = ours).
CAFFE_LAYOUTS = {"original": ("train", "test"), "patched": ("train", "val", "test")}

#: <Glacier>_<Date>_<Satellite>_<Resolution>_<Quality>_<Orbit>, e.g. Mapple_2011-06-02_TSX_7_1_110.
_STEM = (
    r"(?P<glacier>[^_]+)_(?P<date>\d{4}-\d{2}-\d{2})_(?P<satellite>[A-Za-z0-9-]+)"
    r"_(?P<resolution>\d+(?:\.\d+)?)_(?P<quality>\d)_(?P<orbit>\d+)"
)
#: An image of the original layout (file stem).
CAFFE_NAME = re.compile(rf"^{_STEM}$")
#: An image of the patched layout (file stem): the original name, "__", then five numbers
#: (the last two: the patch's row and column in the source image).
CAFFE_PATCH_NAME = re.compile(rf"^{_STEM}__(?P<a>\d+)_(?P<b>\d+)_(?P<c>\d+)_(?P<row>\d+)_(?P<col>\d+)$")
_PATTERNS = {
    "original": "<Glacier>_<Date>_<Satellite>_<Resolution>_<Quality>_<Orbit>.png",
    "patched": "<Glacier>_<Date>_<Satellite>_<Resolution>_<Quality>_<Orbit>__<a>_<b>_<c>_<row>_<col>.png",
}
#: Suffix of a zones file in the original layout; the patched layout puts it before "__".
ZONES_SUFFIX, FRONT_SUFFIX = "_zones", "_front"

#: The satellite `generate --layout caffe` names (generation/caffe_layout.py's SATELLITE):
#: images of no sensor.
GENERATED_SATELLITE = "PIX2PIXSAR"

#: CaFFe's defaults, where the user gives no other value: its PNGs are 8-bit DN, its own
#: split is kept, and a patch may be up to half no-data (the image borders are wide).
CAFFE_DEFAULTS = {"units": "dn", "split_by": "source", "max_nodata": 0.5}


def caffe_options(**given) -> PrepareOptions:
    """PrepareOptions for a CaFFe tree: the `given` fields over :data:`CAFFE_DEFAULTS`.

    A value None (an option left out), or units "auto", counts as not given."""
    chosen = {k: v for k, v in given.items() if v is not None and not (k == "units" and v == "auto")}
    return PrepareOptions(**{**CAFFE_DEFAULTS, **chosen})


def caffe_stem(glacier: str, date: str, satellite: str, resolution_m: float, quality: int = 1, orbit: int = 0) -> str:
    """The original layout's name (without .png) of an image; raises if a field cannot be written in it."""
    resolution = f"{resolution_m:.6g}"
    stem = f"{glacier}_{date}_{satellite}_{resolution}_{quality}_{orbit}"
    if not (math.isfinite(resolution_m) and resolution_m > 0 and "e" not in resolution and CAFFE_NAME.match(stem)):
        raise ValueError(f"{stem!r} is not a CaFFe name")
    return stem


@dataclass(frozen=True)
class CaffeImage:
    sar: Path
    zones: Path
    split: str  # ours: train, val or test (the original layout's training images may become val at prepare)
    glacier: str
    date: str
    satellite: str
    resolution_m: float  # metres per pixel, from the file name

    @property
    def sensor(self) -> str | None:
        """The satellite's sensor code; None for our own generated images; a one-line
        error for a satellite outside the vocabulary."""
        if self.satellite.upper() == GENERATED_SATELLITE:
            return None
        return sensor_named(self.satellite, f"{self.sar} (satellite in the name)").code


def caffe_layout(root: str | Path) -> tuple[Path, str]:
    """(the folder holding sar_images/ and zones/, "original" or "patched"), or a one-line error.

    Patched if there is a sar_images/val/ folder or an image name holds "__" (torchgeo's
    patch suffix); original otherwise."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: no such folder; give the CaFFe folder (the one holding sar_images/ and zones/)")
    if not (root / "sar_images").is_dir() and (root / "caffe" / "sar_images").is_dir():
        root = root / "caffe"  # torchgeo's root: it extracts into root/caffe
    splits = [s for s in ("train", "val", "test") if (root / "sar_images" / s).is_dir()]
    if not (root / "zones").is_dir() or not splits:
        raise InputError(
            f"{root}: not a CaFFe folder in either layout: the original has sar_images/ and zones/ with "
            "train/ and test/, the patched one (torchgeo) sar_images/, zones/ and fronts/ with train/, val/ "
            "and test/; give the folder that holds them"
        )
    patched = "val" in splits or any("__" in p.stem for s in splits for p in (root / "sar_images" / s).glob("*.png"))
    return root, "patched" if patched else "original"


def _zones_name(sar_stem: str, layout: str, suffix: str = ZONES_SUFFIX) -> str:
    if layout == "patched":
        name, patch = sar_stem.split("__", 1)
        return f"{name}{suffix}__{patch}.png"
    return f"{sar_stem}{suffix}.png"


def _sar_name(zones_stem: str, layout: str) -> str | None:
    """The image name a zones file belongs to (None: not a zones file name)."""
    if layout == "patched":
        name, _, patch = zones_stem.partition("__")
        return f"{name.removesuffix(ZONES_SUFFIX)}__{patch}.png" if name.endswith(ZONES_SUFFIX) and patch else None
    return f"{zones_stem.removesuffix(ZONES_SUFFIX)}.png" if zones_stem.endswith(ZONES_SUFFIX) else None


def find_caffe_images(root: str | Path) -> list[CaffeImage]:
    """Every image of the tree with its zones file, in either layout; a one-line error on
    anything out of place (a name that follows neither, an image without zones, zones
    without an image)."""
    root, layout = caffe_layout(root)
    pattern = CAFFE_PATCH_NAME if layout == "patched" else CAFFE_NAME
    images = []
    for split in CAFFE_LAYOUTS[layout]:
        for sar in sorted((root / "sar_images" / split).glob("*.png")):
            match = pattern.match(sar.stem)
            if not match:
                raise InputError(
                    f"{sar}: name does not follow {_PATTERNS[layout]} (CaFFe's {layout} layout); rename it or remove it"
                )
            zones = root / "zones" / split / _zones_name(sar.stem, layout)
            if not zones.exists():
                raise InputError(f"{sar}: its zones file {zones} is missing; restore it or remove the image")
            images.append(
                CaffeImage(
                    sar, zones, split, match["glacier"], match["date"], match["satellite"], float(match["resolution"])
                )
            )
        for zones in sorted((root / "zones" / split).glob("*.png")):
            name = _sar_name(zones.stem, layout)
            if name is None:
                raise InputError(
                    f"{zones}: not a zones file name (CaFFe's {layout} layout puts '{ZONES_SUFFIX}' "
                    f"{'before the double underscore' if layout == 'patched' else 'before .png'}); "
                    "rename it or remove it"
                )
            if not (root / "sar_images" / split / name).exists():
                raise InputError(
                    f"{zones}: its image {root / 'sar_images' / split / name} is missing; "
                    "restore it or remove the zones file"
                )
    if not images:
        splits = "/, sar_images/".join(CAFFE_LAYOUTS[layout])
        raise InputError(f"{root}: no PNGs under sar_images/{splits}/ (CaFFe's {layout} layout); check the folder")
    return images


def prepare_caffe(
    root: str | Path,
    out: str | Path,
    *,
    options: PrepareOptions | None = None,
    overwrite: bool = False,
    progress: ProgressFn | None = None,
    scaling_from: ScalingSource | None = None,
) -> Path:
    """CaFFe (either layout) -> our dataset layout. `options.split_by` "source" keeps CaFFe's
    splits (the original layout's validation drawn from its training images); `scaling_from`
    copies a run's scaling (e.g. to score it on CaFFe's test split)."""
    folder, layout = caffe_layout(root)
    images = find_caffe_images(folder)
    scenes = [SceneInput(i.sar, i.zones, i.split, i.resolution_m, i.sensor) for i in images]
    extra = {
        "caffe": str(folder.resolve()),
        "caffe_layout": layout,
        "glaciers": sorted({i.glacier for i in images}),
    }
    options = options if options is not None else caffe_options()
    return prepare_scenes(
        scenes, out, options=options, overwrite=overwrite, progress=progress, extra=extra, scaling_from=scaling_from
    )

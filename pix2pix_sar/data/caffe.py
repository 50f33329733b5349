"""Import the CaFFe calving-front benchmark (Gourmelon et al. 2022, ESSD) as a patch dataset.

CaFFe ships 8-bit PNGs without georeferencing:

    DIR/sar_images/{train,test}/<Glacier>_<Date>_<Satellite>_<Resolution>_<Quality>_<Orbit>.png
    DIR/zones/{train,test}/<same name>_zones.png      zone codes 0/64/127/254

Its test split becomes our validation split (unless another --split-by is asked for);
patches that are mostly no-data are skipped; no CRS is invented (patches carry pixel
coordinates only). These defaults live in :data:`CAFFE_DEFAULTS` (the CLI reads them
through :func:`caffe_options`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pix2pix_sar.data.prepare import PrepareOptions, ProgressFn, prepare_scenes
from pix2pix_sar.data.scenes import SceneInput
from pix2pix_sar.errors import InputError

#: CaFFe split folder -> our split.
CAFFE_SPLITS = {"train": "train", "test": "val"}

#: <Glacier>_<Date>_<Satellite>_<Resolution>_<Quality>_<Orbit>, e.g. Mapple_2011-06-02_TSX_7_1_110.
CAFFE_NAME = re.compile(
    r"^(?P<glacier>[^_]+)_(?P<date>\d{4}-\d{2}-\d{2})_(?P<satellite>[A-Za-z0-9-]+)"
    r"_(?P<resolution>\d+(?:\.\d+)?)_(?P<quality>\d)_(?P<orbit>\d+)$"
)

#: CaFFe's defaults, where the user gives no other value: its PNGs are 8-bit DN, its own
#: train/test split is kept, and a patch may be up to half no-data (the image borders are wide).
CAFFE_DEFAULTS = {"units": "dn", "split_by": "source", "max_nodata": 0.5}


def caffe_options(**given) -> PrepareOptions:
    """PrepareOptions for a CaFFe tree: the `given` fields over :data:`CAFFE_DEFAULTS`.

    A value None (an option left out), or units "auto", counts as not given."""
    chosen = {k: v for k, v in given.items() if v is not None and not (k == "units" and v == "auto")}
    return PrepareOptions(**{**CAFFE_DEFAULTS, **chosen})


@dataclass(frozen=True)
class CaffeImage:
    sar: Path
    zones: Path
    split: str  # ours: train or val
    glacier: str
    date: str
    satellite: str
    resolution_m: float  # metres per pixel, from the file name


def find_caffe_images(root: str | Path) -> list[CaffeImage]:
    """Every image of the tree with its zones file; a one-line error on anything out of place."""
    root = Path(root)
    if not (root / "sar_images").is_dir() or not (root / "zones").is_dir():
        raise InputError(f"{root}: not a CaFFe folder (no sar_images/ and zones/); give the folder that holds both")
    images = []
    for caffe_split, split in CAFFE_SPLITS.items():
        for sar in sorted((root / "sar_images" / caffe_split).glob("*.png")):
            match = CAFFE_NAME.match(sar.stem)
            if not match:
                raise InputError(
                    f"{sar}: name does not follow <Glacier>_<Date>_<Satellite>_<Resolution>_<Quality>_<Orbit>.png; "
                    "rename it or remove it"
                )
            zones = root / "zones" / caffe_split / f"{sar.stem}_zones.png"
            if not zones.exists():
                raise InputError(f"{sar}: its zones file {zones} is missing; restore it or remove the image")
            images.append(
                CaffeImage(
                    sar, zones, split, match["glacier"], match["date"], match["satellite"], float(match["resolution"])
                )
            )
    if not images:
        raise InputError(f"{root}: no PNGs under sar_images/train or sar_images/test; check the folder")
    return images


def prepare_caffe(
    root: str | Path,
    out: str | Path,
    *,
    options: PrepareOptions | None = None,
    overwrite: bool = False,
    progress: ProgressFn | None = None,
) -> Path:
    """CaFFe -> our dataset layout. `options.split_by` "source" keeps CaFFe's train/test split."""
    images = find_caffe_images(root)
    scenes = [SceneInput(i.sar, i.zones, i.split, i.resolution_m) for i in images]
    extra = {"caffe": str(Path(root).resolve()), "glaciers": sorted({i.glacier for i in images})}
    options = options if options is not None else caffe_options()
    return prepare_scenes(scenes, out, options=options, overwrite=overwrite, progress=progress, extra=extra)

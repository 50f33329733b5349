"""Synthetic sets in the CaFFe benchmark's original layout (``generate --as-dataset OUT --layout caffe``),
which the segmenters of the field (nnU-Net, HookFormer, AMD-HookNet, torchgeo) and ``prepare --caffe`` read:

    OUT/sar_images/{train,test}/<Glacier>_<Date>_PIX2PIXSAR_<Resolution>_1_0.png   8-bit, 1..255; 0 = no data
    OUT/zones/{train,test}/<same>_zones.png     the mask's zone codes 0/64/127/254
    OUT/fronts/{train,test}/<same>_front.png    the calving front from the zones: 255 on 0
    OUT/README                                  run (or export), epoch, seed, date; mask -> name

Names: Glacier = the mask's file name (characters other than letters, digits and '-' become
'-'), Date = the generation date (UTC), Satellite ``PIX2PIXSAR``, Resolution = the mask's
pixel size in metres (from its CRS, else from a CaFFe name it carries), Quality 1, Orbit 0.
Each mask is generated whole (:func:`~pix2pix_sar.generation.generate.generate_image`) and
goes to train or test whole (a seeded share, as :func:`~pix2pix_sar.data.dataset.split_ids`).

SAR values are DN like CaFFe's: a run trained on 8-bit DN (CaFFe) writes its DN, kept in
1..255; any other run writes the model range as ``1 + round((x + 1) * 127)`` (the 8-bit
picture a ``.png`` output of ``generate`` holds). The front is the CaFFe benchmark's:
glacier pixels with an ocean 4-neighbour (:func:`~pix2pix_sar.data.zones.front_mask`).
"""

from __future__ import annotations

import datetime
import math
import re
from pathlib import Path

import numpy as np

from pix2pix_sar import __version__, geo
from pix2pix_sar.atomic import already_exists, atomic_dir
from pix2pix_sar.data.caffe import CAFFE_NAME, FRONT_SUFFIX, ZONES_SUFFIX, caffe_stem
from pix2pix_sar.data.dataset import split_ids
from pix2pix_sar.data.scaling import SarScaling
from pix2pix_sar.data.zones import front_mask, valid_zones
from pix2pix_sar.errors import InputError, option
from pix2pix_sar.generation.export import is_export
from pix2pix_sar.generation.generate import (
    Progress,
    check_mask,
    find_masks,
    generate_image,
    read_zones,
)
from pix2pix_sar.generation.run_generator import RunGenerator, TileSettings

SATELLITE = "PIX2PIXSAR"
CAFFE_SPLITS = ("train", "test")


def caffe_dn(image: np.ndarray, scaling: SarScaling) -> np.ndarray:
    """Model range -> 8-bit DN in 1..255 (0 is CaFFe's no data): the run's own DN if it was
    trained on 8-bit DN, else the model range spread over 1..255."""
    if scaling.units == "dn" and scaling.dtype == "uint8":
        return np.clip(scaling.from_model(image), 1, 255).astype(np.uint8)
    return np.rint(1.0 + (np.clip(image, -1.0, 1.0) + 1.0) * 127.0).astype(np.uint8)


def _pixel_size(mask: Path, grid: geo.Grid) -> float:
    size = geo.pixel_size_m(grid)
    if math.isfinite(size) and size > 0:
        return size
    match = CAFFE_NAME.match(mask.stem.split("__")[0].removesuffix(ZONES_SUFFIX))  # CaFFe files keep theirs
    if match:
        return float(match["resolution"])
    raise InputError(
        f"{mask}: has no pixel size (no CRS, and its name is not a CaFFe name), which CaFFe names need; "
        "give the mask a CRS (a GeoTIFF, e.g. from 'pix2pix-sar masks') or a CaFFe file name"
    )


def caffe_names(masks: list[Path], grids: list[geo.Grid], date: str) -> list[str]:
    """The CaFFe name (without .png) of each mask's image: unique, and following the original layout."""
    names, seen = [], set()
    for mask, grid in zip(masks, grids):
        glacier = re.sub(r"[^A-Za-z0-9-]+", "-", mask.stem).strip("-") or "mask"
        resolution = round(_pixel_size(mask, grid), 3)
        name, n = caffe_stem(glacier, date, SATELLITE, resolution), 1
        while name in seen:  # names that differed only in the characters replaced
            n += 1
            name = caffe_stem(f"{glacier}-{n}", date, SATELLITE, resolution)
        seen.add(name)
        names.append(name)
    return names


def _write_png(path: Path, values: np.ndarray, grid: geo.Grid) -> None:
    with geo.RasterRowWriter(path, grid, np.uint8) as writer:
        writer.write_rows(0, values)
        writer.commit()


def generate_caffe_set(
    run_dir: str | Path,
    input_path: str | Path,
    out: str | Path,
    *,
    epoch: int | None = None,
    settings: TileSettings | None = None,
    test_fraction: float = 0.1,
    overwrite: bool = False,
    progress: Progress | None = None,
    mask_values: str = "zones",
    date: datetime.date | None = None,
) -> Path:
    """Generate every mask of `input_path` whole and write images, zones and fronts in CaFFe's
    original layout to `out` (atomically); a seeded `test_fraction` of the masks goes to test/."""
    input_path, out = Path(input_path), Path(out)
    settings = settings or TileSettings()
    masks = find_masks(input_path)
    if out.exists() and not overwrite:
        raise already_exists(out, "dataset_out")
    if not 0.0 <= test_fraction < 1.0:
        raise InputError(f"{option('val_fraction')} must be in [0, 1), got {test_fraction}")
    grids = [check_mask(mask, mask_values) for mask in masks]  # every mask checked before any work
    day = (date or datetime.datetime.now(datetime.timezone.utc).date()).isoformat()
    names = caffe_names(masks, grids, day)
    gen = RunGenerator.load(run_dir, epoch, settings.seed, xla=settings.xla)
    gen.use_sensor(settings.sensor)  # required for a sensor-conditioned run, refused otherwise
    if gen.bands:
        raise InputError(
            f"{gen.path} takes extra bands ({', '.join(b.name for b in gen.bands)}), which CaFFe's layout has "
            f"no place for; use {option('layout')} ours (a patch dataset with the bands) or {option('out')}"
        )
    is_test = split_ids(len(masks), test_fraction, settings.seed)
    rows = []
    with atomic_dir(out, overwrite, "dataset_out") as folder:
        for kind in ("sar_images", "zones", "fronts"):
            for split in CAFFE_SPLITS:
                (folder.path / kind / split).mkdir(parents=True)
        for i, (mask, grid, name) in enumerate(zip(masks, grids, names)):
            split = "test" if is_test[i] else "train"
            zones = read_zones(mask, None, mask_values)
            image = caffe_dn(generate_image(gen, zones, settings), gen.scaling)
            image[~valid_zones(zones)] = 0
            _write_png(folder.path / "sar_images" / split / f"{name}.png", image, grid)
            _write_png(folder.path / "zones" / split / f"{name}{ZONES_SUFFIX}.png", zones, grid)
            front = np.where(front_mask(zones), 255, 0).astype(np.uint8)
            _write_png(folder.path / "fronts" / split / f"{name}{FRONT_SUFFIX}.png", front, grid)
            rows.append((split, name, mask))
            if progress:
                progress(mask.name, i + 1, len(masks))
        (folder.path / "README").write_text(_readme(gen, settings, day, input_path, rows))
        return folder.commit()


def _readme(gen: RunGenerator, settings: TileSettings, day: str, input_path: Path, rows) -> str:
    source = "a model exported by 'pix2pix-sar export'" if is_export(gen.path) else "a run folder of 'pix2pix-sar fit'"
    dn = (
        "the run's own DN (it was trained on 8-bit DN), kept in 1..255"
        if gen.scaling.units == "dn" and gen.scaling.dtype == "uint8"
        else f"the model range [-1, 1] as 1 + round((x + 1) * 127) (the run was trained on {gen.scaling.units}; "
        f"-1 is {gen.scaling.db_min:g} and +1 is {gen.scaling.db_max:g} {'DN' if gen.scaling.units == 'dn' else 'dB'})"
    )
    lines = [
        "Synthetic SAR images in the layout of the CaFFe benchmark (Gourmelon et al. 2022, original layout),",
        f"made by pix2pix-sar {__version__} with 'pix2pix-sar generate --as-dataset OUT --layout caffe'.",
        "",
        f"run:      {gen.path.resolve()} ({source})",
        f"epoch:    {gen.epoch}",
        f"variant:  {gen.config.variant}",
        f"seed:     {settings.seed} (the generator's noise)",
        f"date:     {day}",
        f"masks:    {input_path.resolve()}",
        "",
        "sar_images/{train,test}/NAME.png        8-bit SAR, 0 = no data; values: " + dn,
        "zones/{train,test}/NAME_zones.png       zone codes: 0 no data, 64 rock, 127 glacier, 254 ocean",
        "fronts/{train,test}/NAME_front.png      calving front (glacier pixels with an ocean 4-neighbour): 255 on 0",
        "",
        "NAME = <Glacier>_<Date>_<Satellite>_<Resolution>_<Quality>_<Orbit>: Glacier = the mask's file name,",
        f"Date = the generation date, Satellite = {SATELLITE}, Resolution = the mask's pixel size in metres,",
        "Quality 1, Orbit 0. These images are synthetic: keep them out of any test set of real images.",
        "",
        "split  NAME  mask",
        *(f"{split:<5}  {name}  {mask.resolve()}" for split, name, mask in rows),
        "",
    ]
    return "\n".join(lines)

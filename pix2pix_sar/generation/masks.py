"""Artificial glacier zone masks, and perturbed real ones (unseen front positions).

    draw_mask(MaskShape(...), seed)        a new scene: fjord walls of rock, a glacier
                                           tongue, its calving front, ocean
    move_front(zones, advance, roughness)  advance (+) or retreat (-) a real mask's
                                           calving front and roughen it

Zone codes follow CaFFe (0 no data, 64 rock, 127 glacier, 254 ocean). CaFFe's ocean
class includes ice melange and icebergs, as `synth`'s does, so a zone mask has no
icebergs to draw: they are ocean (254), and the generator puts ice into the ocean as
it learned from the training scenes. Everything is deterministic by seed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pix2pix_sar import geo
from pix2pix_sar.atomic import atomic_dir
from pix2pix_sar.data.synth import DEFAULT_CRS, DEFAULT_ORIGIN, power_noise
from pix2pix_sar.data.zones import GLACIER, NODATA, OCEAN, ROCK, check_zones
from pix2pix_sar.errors import InputError, InvalidValue, option

#: Flow direction (glacier head -> sea) -> quarter turns (np.rot90) of the "down" drawing.
ORIENTATIONS = {"down": 0, "right": 1, "up": 2, "left": 3}


@dataclass(frozen=True)
class MaskShape:
    """One artificial scene. Fractions are of the size along the flow (height for
    "down"/"up") or across it (fjord width).

    front_position   calving front along the flow: 0 = glacier head, 1 = far edge
    front_roughness  standard deviation of the front line around that position
    fjord_width      fjord width at mid-length (it widens toward the sea)
    coast            where the fjord walls end and open ocean begins (along the flow)
    orientation      flow direction in the image: down, right, up, left
    """

    width: int = 256
    height: int = 256
    front_position: float = 0.5
    front_roughness: float = 0.02
    fjord_width: float = 0.35
    coast: float = 0.85
    orientation: str = "down"

    def validate(self) -> "MaskShape":
        # (field, ok, message); the CLI reports each as the bad value of its option.
        checks = [
            ("size", self.width >= 16 and self.height >= 16, f"size {self.width}x{self.height}: must be at least 16"),
            (
                "front_position",
                0.0 < self.front_position < 1.0,
                f"front {self.front_position}: must be between 0 and 1 (fraction along the flow)",
            ),
            ("roughness", self.front_roughness >= 0.0, f"roughness {self.front_roughness}: must be >= 0"),
            (
                "fjord_width",
                0.0 < self.fjord_width < 1.0,
                f"fjord width {self.fjord_width}: must be between 0 and 1 (fraction of the width)",
            ),
            ("coast", 0.0 < self.coast <= 1.0, f"coast {self.coast}: must be in (0, 1]"),
            (
                "orientation",
                self.orientation in ORIENTATIONS,
                f"orientation {self.orientation!r}: use one of {', '.join(ORIENTATIONS)}",
            ),
        ]
        for field, ok, message in checks:
            if not ok:
                raise InvalidValue(field, message)
        return self


def draw_mask(shape: MaskShape, seed: int = 0) -> np.ndarray:
    """Zone codes (uint8, height x width) of a glacier tongue in a fjord, drawn by `seed`."""
    shape.validate()
    rng = np.random.default_rng(seed)
    turns = ORIENTATIONS[shape.orientation]
    # Draw with the flow pointing down, in the frame that the rotation maps to (width, height).
    length, across = (shape.height, shape.width) if turns % 2 == 0 else (shape.width, shape.height)
    rows, cols = np.mgrid[0:length, 0:across].astype(np.float64)
    v = rows / length

    meander = 0.04 * across * power_noise((length,), 3.0, rng)[:, None]
    centre = across * (0.5 + 0.06 * np.sin(2 * np.pi * 0.6 * v + rng.uniform(0, 2 * np.pi))) + meander
    half_width = (
        across * shape.fjord_width * (0.25 + 0.5 * v) + 0.015 * across * power_noise((length,), 2.5, rng)[:, None]
    )
    coast = length * (shape.coast + 0.02 * power_noise((across,), 2.0, rng))[None, :]
    rock = (np.abs(cols - centre) > half_width) & (rows < coast)

    front = length * (shape.front_position + shape.front_roughness * power_noise((across,), 1.6, rng))[None, :]
    glacier = ~rock & (rows < front)
    # Icebergs and melange are ocean (CaFFe): nothing to draw beyond the front.
    zones = np.where(rock, ROCK, np.where(glacier, GLACIER, OCEAN)).astype(np.uint8)
    return np.ascontiguousarray(np.rot90(zones, turns))


def random_shape(rng: np.random.Generator, width: int, height: int, **fixed) -> MaskShape:
    """A plausible shape drawn by `rng`; parameters given in `fixed` (not None) are kept."""
    drawn = {
        "front_position": rng.uniform(0.3, 0.75),
        "front_roughness": rng.uniform(0.005, 0.04),
        "fjord_width": rng.uniform(0.25, 0.5),
        "coast": rng.uniform(0.8, 0.95),
        "orientation": "down",
    }
    drawn.update({k: v for k, v in fixed.items() if v is not None})
    return MaskShape(width=width, height=height, **drawn).validate()


# --- Perturbing a real mask ---------------------------------------------------------

#: Distance units: a number with "px" (or no unit) is pixels, with "m" metres.
_DISTANCE = re.compile(r"^\s*([+-]?\d+(?:\.\d*)?|[+-]?\.\d+)\s*(px|m)?\s*$")


def parse_distance(text: str, pixel_size: float | None, option_field: str) -> float:
    """'12', '12px' -> 12 pixels; '300m' -> metres / pixel size. `pixel_size` None: no CRS."""
    match = _DISTANCE.match(str(text))
    if not match:
        raise InputError(f"{option(option_field)} {text!r}: give a distance such as 5 (pixels), 5px or 200m")
    value, unit = float(match.group(1)), match.group(2) or "px"
    if unit == "m":
        if not pixel_size:
            raise InputError(
                f"{option(option_field)} {text!r}: the mask has no georeferencing, so give pixels (e.g. 5px)"
            )
        return value / pixel_size
    return value


def _signed_front_distance(zones: np.ndarray) -> np.ndarray:
    """Distance (pixels) to the glacier/ocean boundary: > 0 in ocean, < 0 in glacier."""
    from scipy.ndimage import distance_transform_edt

    glacier, ocean = zones == GLACIER, zones == OCEAN
    to_glacier = distance_transform_edt(~glacier) if glacier.any() else np.full(zones.shape, np.inf)
    to_ocean = distance_transform_edt(~ocean) if ocean.any() else np.full(zones.shape, np.inf)
    return np.where(ocean, to_glacier - 0.5, -(to_ocean - 0.5))


def move_front(zones: np.ndarray, advance: float = 0.0, roughness: float = 0.0, seed: int = 0) -> np.ndarray:
    """Move the calving front by `advance` pixels (negative: retreat) and roughen it
    with smooth noise of standard deviation `roughness` pixels.

    Only glacier and ocean pixels change (rock and no data stay); ocean within
    `advance` of the glacier becomes glacier, or glacier within -`advance` of the
    ocean becomes ocean, so the front moves along its own normal.
    """
    zones = np.asarray(zones)
    if not ((zones == GLACIER).any() and (zones == OCEAN).any()):
        raise InputError("the mask has no calving front (it needs both glacier 127 and ocean 254 pixels)")
    distance = _signed_front_distance(zones)
    offset = np.full(zones.shape, float(advance))
    if roughness > 0:
        offset += roughness * power_noise(zones.shape, 3.0, np.random.default_rng(seed))
    movable = (zones == GLACIER) | (zones == OCEAN)
    out = zones.copy()
    out[movable] = np.where(distance[movable] < offset[movable], GLACIER, OCEAN)
    return out


# --- Writing a set of masks ---------------------------------------------------------


def _pixel_size(grid: geo.Grid) -> float | None:
    return abs(grid.geotransform[1]) if grid.crs_wkt else None


def _write_set(out: Path, masks: dict[str, tuple[np.ndarray, geo.Grid]], overwrite: bool) -> list[Path]:
    """Write all masks into a temporary folder, then move it to `out` (all or nothing)."""
    with atomic_dir(out, overwrite) as folder:
        for name, (zones, grid) in masks.items():
            with geo.RasterRowWriter(folder.path / name, grid, np.uint8, nodata=NODATA) as writer:
                writer.write_rows(0, zones)
                writer.commit()
        folder.commit()
    return [out / name for name in masks]


def write_artificial_masks(
    out: str | Path,
    count: int,
    width: int = 256,
    height: int = 256,
    *,
    seed: int = 0,
    pixel_size: float = 40.0,
    crs: str = DEFAULT_CRS,
    overwrite: bool = False,
    **fixed,
) -> list[Path]:
    """`count` masks OUT/mask_0000.tif ... (GeoTIFF, `crs`, `pixel_size` metres).
    Mask i is drawn from (seed, i); shape parameters in `fixed` (not None) hold for all."""
    if count < 1:
        raise InvalidValue("count", f"count {count}: must be at least 1")
    grid = geo.Grid.north_up(geo.crs_from_user(crs), DEFAULT_ORIGIN, pixel_size, width, height)
    masks = {}
    for i in range(count):
        rng = np.random.default_rng([seed, i])
        shape = random_shape(rng, width, height, **fixed)
        masks[f"mask_{i:04d}.tif"] = (draw_mask(shape, int(rng.integers(2**31))), grid)
    return _write_set(Path(out), masks, overwrite)


def write_moved_fronts(
    source: str | Path,
    out: str | Path,
    count: int = 1,
    *,
    advance: str = "0",
    roughness: str = "0",
    seed: int = 0,
    overwrite: bool = False,
) -> list[Path]:
    """`count` variants of the real mask `source` with the front moved by `advance`
    and roughened by `roughness` ('5', '5px' or '200m'); variant i uses seed (seed, i)."""
    source = Path(source)
    if count < 1:
        raise InvalidValue("count", f"count {count}: must be at least 1")
    zones, grid, _ = geo.read_raster(source)
    zones = check_zones(zones, str(source))
    advance_px = parse_distance(advance, _pixel_size(grid), "advance")
    roughness_px = parse_distance(roughness, _pixel_size(grid), "roughness")
    if roughness_px < 0:
        raise InputError(f"{option('roughness')} {roughness!r}: must be >= 0")
    suffix = ".png" if source.suffix.lower() == ".png" else ".tif"
    masks = {}
    for i in range(count):
        moved = move_front(zones, advance_px, roughness_px, seed=int(np.random.default_rng([seed, i]).integers(2**31)))
        masks[f"{source.stem}_{i:04d}{suffix}"] = (moved, grid)
    return _write_set(Path(out), masks, overwrite)

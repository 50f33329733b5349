"""A synthetic glacier SAR scene, so the tool can run end to end with no download.

The scene is a glacier tongue in a fjord between rock walls, opening to the sea:

* rock: terrain-like brightness (foreslopes facing the sensor are bright, the steepest
  back slopes in radar shadow),
* glacier: moderate backscatter with flow stripes and transverse crevasse bands that bow
  downstream and strengthen toward the front,
* a rough calving front (1/f noise along the front line),
* ocean: dark, wind texture, with ice melange and irregular icebergs in front of the
  glacier (the hard case the paper names: bright ice in the ocean class),
* multiplicative Gamma speckle with `looks` looks (linear intensity),
* a no-data swath edge in one corner (value 0, zone 0).

Zones follow CaFFe: 0 no data, 64 rock, 127 glacier, 254 ocean.

The scene's elevation (:attr:`SynthScene.heights`, written as dem.tif) is the terrain
behind the rock brightness: on rock its column gradient, the slope toward the sensor,
is what brightens or shadows it (idealised: brightness follows the DEM by
construction); the glacier surface falls steadily from its source to the calving
front; the ocean has no data, as in REMA or ArcticDEM. It comes from values the scene
already draws, so scene.tif stays the same for a seed.

``content_seed`` redraws everything that is not geometry (terrain, flow stripes,
crevasse bands, mélange, icebergs, ocean texture, speckle) for the same zones: the
zones come from `seed` alone, the content from (seed, content_seed). It is a second
draw of the same world, the oracle that variety is measured against
(:mod:`pix2pix_sar.evaluation.structure`). Without it a seed gives the scene it always
gave. The DEM follows the terrain, so it changes with the content seed too.

``sensor`` (:mod:`pix2pix_sar.data.sensors`) renders a sensor's characteristics: its
looks and pixel size (as defaults), features sized in metres (crevasse spacing, flow
stripe wiggle, iceberg size and density: what they are in pixels at
:data:`REFERENCE_PIXEL_M`), its band's texture, its calibration offset and additive
thermal noise at its NESZ (itself speckled). Without a sensor the scene is what it was
before sensors existed (features sized in pixels, no noise floor).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pix2pix_sar import geo
from pix2pix_sar.data.sensors import BAND_TEXTURES, SENSOR_METADATA_ITEM, Sensor, sensor_named
from pix2pix_sar.data.zones import GLACIER, NODATA, OCEAN, ROCK
from pix2pix_sar.errors import option

#: Antarctic Polar Stereographic; the default origin lies on the Antarctic Peninsula.
DEFAULT_CRS = "EPSG:3031"
DEFAULT_ORIGIN = (-2_430_000.0, 1_320_000.0)

#: Terrain slope (rise over run) per unit of the rock brightness's `slope` term: the
#: clip at 2.5 is then a 32-degree slope, radar shadow (below -2) back slopes over 27 degrees.
SLOPE_PER_UNIT = 0.25
#: Glacier surface: height at the calving front (m) and its fall toward it (rise over run).
FRONT_HEIGHT_M = 40.0
GLACIER_SURFACE_SLOPE = 0.02
#: Rock: the lowest rock summit stands this high (m) above the glacier's trend.
ROCK_BASE_M = 100.0
#: dem.tif: its pixels are this many scene pixels wide (coarser, so `prepare` has to warp it).
DEM_PIXEL_FACTOR = 3
DEM_NODATA = -9999.0
#: Without a sensor: the looks and pixel size a scene has. The pixel size at which
#: features sized in metres (with a sensor) have the pixel sizes they have without one.
DEFAULT_LOOKS, DEFAULT_PIXEL_SIZE_M = 4.0, 40.0
REFERENCE_PIXEL_M = DEFAULT_PIXEL_SIZE_M


def power_noise(shape: tuple[int, ...], beta: float, rng: np.random.Generator) -> np.ndarray:
    """Zero-mean, unit-variance noise with a 1/f**beta power spectrum (1-D or 2-D)."""
    white = np.fft.rfftn(rng.standard_normal(shape))
    freqs = np.meshgrid(*[np.fft.fftfreq(n) for n in shape[:-1]], np.fft.rfftfreq(shape[-1]), indexing="ij")
    radius = np.sqrt(sum(f**2 for f in freqs))
    radius.flat[0] = np.inf
    field = np.fft.irfftn(white / radius ** (beta / 2), s=shape, axes=tuple(range(len(shape))))
    return (field - field.mean()) / (field.std() + 1e-12)


@dataclass(frozen=True)
class SynthScene:
    intensity: np.ndarray  # float32 linear intensity, 0 = no data
    zones: np.ndarray  # uint8 zone codes
    looks: float
    heights: np.ndarray | None = None  # float32 elevation in metres, NaN over the ocean (no data, like REMA)
    sensor: str | None = None  # the sensor rendered (data/sensors.py code); None: none


def synth_scene(
    width: int = 1024,
    height: int = 1024,
    *,
    seed: int = 0,
    looks: float = 4.0,
    front_position: float = 0.5,
    front_roughness: float = 1.0,
    pixel_size: float = 40.0,
    content_seed: int | None = None,
    sensor: Sensor | None = None,
    fjord_width: float = 1.0,
    melange: float = 1.0,
    icebergs: float = 1.0,
) -> SynthScene:
    """Draw a scene; `front_position` is the calving front's row as a fraction of height;
    `pixel_size` (metres) scales the heights (and, with a `sensor`, the features);
    `content_seed` redraws all but the zones; `sensor` renders its characteristics (its
    looks and pixel size are the caller's to pass: :func:`synth_settings`). A harder
    benchmark varies three factors (1: today's scene, bit for bit) besides `looks`:
    `fjord_width` scales the fjord's half-width (geometry), `melange` how far the mélange
    reaches from the front (0: none), `icebergs` the iceberg count (content)."""
    texture = BAND_TEXTURES["C" if sensor is None else sensor.band]  # C: as without a sensor
    # Pixels per reference pixel: features sized in metres with a sensor, in pixels without.
    scale = 1.0 if sensor is None else REFERENCE_PIXEL_M / pixel_size
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float64)
    v = rows / height  # 0 at the glacier source (top), 1 at the sea (bottom)

    # Fjord: a meandering centre line, widening toward the sea.
    meander = power_noise((height,), 3.0, rng) * 0.04 * width
    centre = width * (0.5 + 0.08 * np.sin(2 * np.pi * 0.7 * v[:, :1] + rng.uniform(0, 2 * np.pi))) + meander[:, None]
    half_width = width * (0.12 + 0.22 * v**2) + 0.02 * width * power_noise((height,), 2.5, rng)[:, None]
    half_width = half_width * fjord_width
    coast = height * (0.85 + 0.03 * power_noise((width,), 2.0, rng))[None, :]
    rock = (np.abs(cols - centre) > half_width) & (rows < coast)

    front = height * (front_position + 0.025 * front_roughness * power_noise((width,), 1.6, rng))[None, :]
    glacier = ~rock & (rows < front)
    ocean = ~rock & ~glacier
    if content_seed is not None:
        # Geometry is drawn above this line; the rest is content, from its own stream.
        rng = np.random.default_rng([seed, content_seed])

    db = np.empty((height, width))
    # Rock: terrain whose slope toward the sensor (looking from the left) brightens it;
    # the steepest back slopes fall into radar shadow.
    terrain = power_noise((height, width), 3.2, rng)
    slope = np.gradient(terrain, axis=1) * width / 20
    db_rock = -7.0 + 3.0 * np.clip(slope, -2.5, 2.5) + 1.5 * power_noise((height, width), 2.0, rng)
    # Glacier: flow stripes along the fjord, and transverse crevasse fields that bow
    # downstream (faster flow in the centre), patchy and strongest near the front.
    wiggle = 8.0 * scale * power_noise((width,), 2.5, rng)[None, :]
    across = np.clip((cols - centre) / half_width, -1.0, 1.0)
    bow = 0.06 * height * (1.0 - across**2)
    bands = np.maximum(0.0, np.sin(2 * np.pi * (rows - bow + wiggle) / (14.0 * scale))) ** 4
    near_front = np.clip(1.0 - (front - rows) / (0.35 * height), 0.0, 1.0)
    db_glacier = (
        -9.0
        + 1.2 * texture.glacier_texture * power_noise((height, width), 2.5, rng)
        + 7.0 * texture.crevasse_contrast * bands * near_front
    )
    # Ocean: dark with wind texture; melange and icebergs close to the front.
    distance = np.clip(rows - front, 0.0, None)
    reach = 0.06 * max(melange, 1e-6) * height  # melange = 0: no mélange, but its noise is still drawn
    melange_field = np.exp(-distance / reach) * np.clip(power_noise((height, width), 2.2, rng) + 0.8, 0, None)
    db_ocean = -20.0 + texture.ocean_db + 1.5 * texture.ocean_texture * power_noise((height, width), 2.8, rng)
    db_ocean = db_ocean + 7.0 * melange_field
    n_bergs = int(0.00015 * icebergs * width * height / scale**2)
    berg_rows = np.where(
        rng.random(n_bergs) < 0.8,
        np.minimum(height - 1, np.median(front) + rng.exponential(0.08 * height, n_bergs)),
        rng.uniform(0, height, n_bergs),
    )
    berg_cols, berg_radii = rng.uniform(0, width, n_bergs), scale * rng.uniform(1.5, 6.0, n_bergs)
    stripes = 0.8 * power_noise((width,), 2.5, rng)[None, :]
    shadow = slope < -2.0
    db_rock = np.where(shadow, -18.0 + 2.0 * power_noise((height, width), 2.0, rng), db_rock)
    db_glacier = db_glacier + stripes
    # Icebergs: irregular blocks (radius varies with bearing), bright on the side facing the sensor.
    for r0, c0, radius in zip(berg_rows, berg_cols, berg_radii):
        r_lo, r_hi = max(0, int(r0 - 2 * radius)), min(height, int(r0 + 2 * radius) + 1)
        c_lo, c_hi = max(0, int(c0 - 2 * radius)), min(width, int(c0 + 2 * radius) + 1)
        if r_lo >= r_hi or c_lo >= c_hi:
            continue
        dr, dc = rows[r_lo:r_hi, c_lo:c_hi] - r0, cols[r_lo:r_hi, c_lo:c_hi] - c0
        bearing = np.arctan2(dr, dc)
        phases = rng.uniform(0, 2 * np.pi, 3)
        edge = radius * (1.0 + 0.3 * sum(np.sin((k + 2) * bearing + ph) / (k + 1) for k, ph in enumerate(phases)))
        inside = (np.hypot(dr, dc) < edge) & ocean[r_lo:r_hi, c_lo:c_hi]
        facing = np.where(dc < 0, 0.0, -4.0)  # the sensor looks from the left
        berg_db = rng.uniform(-4.0, 0.0) + facing
        db_ocean[r_lo:r_hi, c_lo:c_hi] = np.where(inside, berg_db, db_ocean[r_lo:r_hi, c_lo:c_hi])

    db[rock], db[glacier], db[ocean] = db_rock[rock], db_glacier[glacier], db_ocean[ocean]
    if sensor is not None:
        db += sensor.calibration_db
    backscatter = 10.0 ** (db / 10.0)
    if sensor is not None:
        # Thermal noise adds to the signal before detection (complex sum), so the detected
        # pixel is one speckle draw of mean signal + NESZ: the noise floor raises the mean
        # of dark areas without changing their number of looks.
        backscatter = backscatter + 10.0 ** (sensor.nesz_db / 10.0)
    intensity = backscatter * rng.gamma(looks, 1.0 / looks, size=(height, width))
    intensity = intensity.astype(np.float32)

    zones = np.full((height, width), OCEAN, np.uint8)
    zones[rock], zones[glacier] = ROCK, GLACIER
    swath_edge = cols + 0.35 * rows > 1.12 * width  # lower-right corner outside the swath
    zones[swath_edge] = NODATA
    intensity[swath_edge] = 0.0
    heights = _heights(terrain, rows, front, rock, glacier, width, pixel_size)
    return SynthScene(intensity, zones, looks, heights, None if sensor is None else sensor.code)


def _heights(
    terrain: np.ndarray,
    rows: np.ndarray,
    front: np.ndarray,
    rock: np.ndarray,
    glacier: np.ndarray,
    width: int,
    pixel_size: float,
) -> np.ndarray:
    """Elevation (m) behind the scene, from what it drew (no random draws of its own).

    Glacier: a surface that rises steadily upstream of its calving front (the trend).
    Rock: ``metres_per_unit * terrain`` on top of the trend, ``metres_per_unit`` chosen
    so that the column gradient (rise over run, the sensor looking from the left) is
    ``SLOPE_PER_UNIT * slope``, `slope` being the term that brightens the rock; the
    trend follows the front line, which is nearly flat across columns, so it barely
    changes that gradient. Ocean: NaN (no data)."""
    # slope = d(terrain)/d(col) * width / 20, and a column is `pixel_size` metres.
    metres_per_unit = SLOPE_PER_UNIT * width / 20.0 * pixel_size
    trend = FRONT_HEIGHT_M + GLACIER_SURFACE_SLOPE * pixel_size * np.clip(front - rows, 0.0, None)
    heights = np.full(terrain.shape, np.nan)
    heights[glacier] = trend[glacier]
    heights[rock] = (ROCK_BASE_M + trend + metres_per_unit * (terrain - terrain.min()))[rock]
    return heights.astype(np.float32)


def coarsen_heights(heights: np.ndarray, factor: int) -> np.ndarray:
    """Block means of `factor` x `factor` pixels over the valid (non-NaN) ones; NaN where
    a block has none. Edge blocks of a size that `factor` does not divide are partial."""
    h, w = heights.shape
    padded = np.full((-(-h // factor) * factor, -(-w // factor) * factor), np.nan, np.float64)
    padded[:h, :w] = heights
    blocks = padded.reshape(padded.shape[0] // factor, factor, padded.shape[1] // factor, factor)
    valid = np.isfinite(blocks)
    counts = valid.sum(axis=(1, 3))
    sums = np.where(valid, blocks, 0.0).sum(axis=(1, 3))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan).astype(np.float32)


@dataclass(frozen=True)
class SynthFiles:
    """The files `write_synth_scene` puts in its folder (every input `prepare` takes)."""

    scene: Path  # Float32 linear intensity, no-data 0
    zones: Path  # uint8 zone raster on the scene grid
    zones_vector: Path  # the same zones as polygons (GeoPackage, fields zone and class)
    aoi: Path  # an area of interest inside the swath, EPSG:4326 (GeoJSON)
    dem: Path  # elevation (m) at DEM_PIXEL_FACTOR x the pixel size, no data over the ocean (Float32)

    @classmethod
    def in_folder(cls, out_dir: str | Path) -> "SynthFiles":
        out_dir = Path(out_dir)
        return cls(
            out_dir / "scene.tif",
            out_dir / "zones.tif",
            out_dir / "zones.gpkg",
            out_dir / "aoi.geojson",
            out_dir / "dem.tif",
        )


def synth_settings(
    sensor: str | None, looks: float | None = None, pixel_size: float | None = None
) -> tuple[Sensor | None, float, float]:
    """(sensor, looks, pixel size) of a scene: the sensor named `sensor` (a one-line error
    listing the known ones for another name) sets the looks and pixel size that are not
    given; without a sensor, :data:`DEFAULT_LOOKS` and :data:`DEFAULT_PIXEL_SIZE_M`."""
    chosen = None if sensor is None else sensor_named(sensor, option("sensor"))
    if looks is None:
        looks = DEFAULT_LOOKS if chosen is None else chosen.looks
    if pixel_size is None:
        pixel_size = DEFAULT_PIXEL_SIZE_M if chosen is None else chosen.pixel_size_m
    return chosen, looks, pixel_size


def synth_metadata(
    width: int,
    height: int,
    seed: int,
    content_seed: int | None,
    looks: float,
    pixel_size: float,
    sensor: str | None = None,
    factors: dict[str, float] | None = None,
) -> dict[str, str]:
    """What scene.tif records of how it was drawn (GeoTIFF metadata items); content_seed
    is "none" for the scene a seed always gave; SENSOR (what `prepare` reads) only with a
    sensor; the harder benchmark's `factors` (fjord_width, ...) only where not 1, so that
    today's scenes keep today's files."""
    varied = {f"SYNTH_{k.upper()}": repr(float(v)) for k, v in (factors or {}).items() if v != 1}
    return {
        "SYNTH_GENERATOR": "pix2pix_sar.data.synth.synth_scene",
        "SYNTH_SEED": str(seed),
        "SYNTH_CONTENT_SEED": "none" if content_seed is None else str(content_seed),
        "SYNTH_WIDTH": str(width),
        "SYNTH_HEIGHT": str(height),
        "SYNTH_LOOKS": repr(float(looks)),
        "SYNTH_PIXEL_SIZE_M": repr(float(pixel_size)),
        **({SENSOR_METADATA_ITEM: sensor} if sensor else {}),
        **varied,
    }


#: Class names written beside the codes in zones.gpkg.
_CLASS_NAMES = {ROCK: "rock", GLACIER: "glacier", OCEAN: "ocean"}


def write_synth_scene(
    out_dir: str | Path,
    width: int = 1024,
    height: int = 1024,
    *,
    seed: int = 0,
    looks: float | None = None,
    pixel_size: float | None = None,
    crs: str = DEFAULT_CRS,
    origin: tuple[float, float] = DEFAULT_ORIGIN,
    content_seed: int | None = None,
    sensor: str | None = None,
    fjord_width: float = 1.0,
    melange: float = 1.0,
    icebergs: float = 1.0,
) -> tuple[Path, Path]:
    """Write the files of :class:`SynthFiles`; returns (scene, zones).

    The AOI is a rectangle of the scene's CRS inside the swath (clear of the no-data
    corner), written in EPSG:4326 so that `prepare --aoi` has to reproject it. The DEM
    lies in the scene's CRS on pixels DEM_PIXEL_FACTOR times as large (block means), so
    `prepare --extra dem=...` has to resample it. scene.tif records the seeds and
    parameters in its metadata (:func:`synth_metadata`). `sensor` renders that sensor and
    sets the `looks` and `pixel_size` left out (:func:`synth_settings`). `fjord_width`,
    `melange` and `icebergs`: the harder benchmark's factors (:func:`synth_scene`).
    """
    chosen, looks, pixel_size = synth_settings(sensor, looks, pixel_size)
    factors = {"fjord_width": fjord_width, "melange": melange, "icebergs": icebergs}
    scene = synth_scene(
        width,
        height,
        seed=seed,
        looks=looks,
        pixel_size=pixel_size,
        content_seed=content_seed,
        sensor=chosen,
        **factors,
    )
    grid = geo.Grid.north_up(geo.crs_from_user(crs), origin, pixel_size, width, height)
    files = SynthFiles.in_folder(out_dir)
    metadata = synth_metadata(width, height, seed, content_seed, looks, pixel_size, scene.sensor, factors)
    geo.write_geotiff(files.scene, scene.intensity, grid, nodata=0, metadata=metadata)
    geo.write_geotiff(files.zones, scene.zones, grid, nodata=NODATA)
    dem = coarsen_heights(scene.heights, DEM_PIXEL_FACTOR)
    dem_grid = geo.Grid.north_up(grid.crs_wkt, origin, pixel_size * DEM_PIXEL_FACTOR, dem.shape[1], dem.shape[0])
    geo.write_geotiff(
        files.dem, np.where(np.isfinite(dem), dem, DEM_NODATA).astype(np.float32), dem_grid, nodata=DEM_NODATA, unit="m"
    )
    polygons, codes = geo.polygonize(scene.zones, grid)
    geo.write_vector(
        files.zones_vector,
        polygons,
        grid.crs_wkt,
        {"zone": codes, "class": [_CLASS_NAMES[c] for c in codes]},
        layer_name="zones",
    )
    aoi_pixels = (0.04 * width, 0.04 * height, 0.70 * width, 0.96 * height)  # col0, row0, col1, row1
    x0, dx, _, y0, _, dy = grid.geotransform
    aoi_bounds = (x0 + aoi_pixels[0] * dx, y0 + aoi_pixels[3] * dy, x0 + aoi_pixels[2] * dx, y0 + aoi_pixels[1] * dy)
    wgs84 = geo.crs_from_user("EPSG:4326")
    aoi = geo.transform_geometries([geo.bounds_polygon(aoi_bounds)], grid.crs_wkt, wgs84)
    geo.write_vector(files.aoi, aoi, wgs84, {"name": ["synthetic AOI"]}, layer_name="aoi", driver="GeoJSON")
    return files.scene, files.zones

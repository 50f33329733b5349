"""Zone masks (CaFFe convention) and how they are fed to the generator.

Zone codes: 0 = no data, 64 = rock, 127 = glacier, 254 = ocean and ice melange.
The paper's input has two classes: land (rock + glacier) and ocean.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from pix2pix_sar.errors import InputError

NODATA = 0
ROCK = 64
GLACIER = 127
OCEAN = 254
ZONE_CODES = (NODATA, ROCK, GLACIER, OCEAN)
#: Class names (as digitised in a GIS) -> zone codes.
ZONE_NAMES = {"rock": ROCK, "glacier": GLACIER, "ocean": OCEAN}


def check_zones(zones: np.ndarray, source: str) -> np.ndarray:
    """Return `zones` as uint8, or raise naming `source` if a value is not a zone code."""
    values = np.unique(zones)
    bad = [v for v in values.tolist() if v not in ZONE_CODES]
    if bad:
        shown = ", ".join(str(v) for v in bad[:5])
        raise InputError(
            f"{source}: mask values {shown} are not zone codes; use 0 (no data), 64 (rock), 127 (glacier), 254 (ocean)"
        )
    return zones.astype(np.uint8, copy=False)


def front_mask(zones: np.ndarray) -> np.ndarray:
    """(H, W) bool: the calving front as the CaFFe benchmark defines it, glacier pixels
    with an ocean 4-neighbour (pixels beyond the edge are none)."""
    zones = np.asarray(zones)
    ocean = zones == OCEAN
    near_ocean = np.zeros_like(ocean)
    near_ocean[1:] |= ocean[:-1]
    near_ocean[:-1] |= ocean[1:]
    near_ocean[:, 1:] |= ocean[:, :-1]
    near_ocean[:, :-1] |= ocean[:, 1:]
    return (zones == GLACIER) & near_ocean


def encode_binary(zones: np.ndarray) -> np.ndarray:
    """Land (rock, glacier) -> +1, ocean -> -1, no data -> 0; adds a channel axis."""
    out = np.where(zones == OCEAN, -1.0, 1.0).astype(np.float32)
    out[zones == NODATA] = 0.0
    return out[..., None]


def encode_zones(zones: np.ndarray) -> np.ndarray:
    """One-hot rock / glacier / ocean in three channels; no data = all zeros."""
    return np.stack([zones == code for code in (ROCK, GLACIER, OCEAN)], axis=-1).astype(np.float32)


@dataclass(frozen=True)
class ClassScheme:
    """How a zone mask becomes the generator's input channels, and the classes a
    segmenter tells apart (`class_codes[i]`: the zone codes of class i)."""

    name: str
    channels: int
    description: str
    encode: Callable[[np.ndarray], np.ndarray]
    class_names: tuple[str, ...]
    class_codes: tuple[tuple[int, ...], ...]

    def label_table(self) -> np.ndarray:
        """(256,) int8: the class index of each zone code; -1 for no data (and non-codes)."""
        table = np.full(256, -1, np.int8)
        for index, codes in enumerate(self.class_codes):
            table[list(codes)] = index
        return table

    def labels(self, zones: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Zone codes -> (int32 class indices, bool valid); no data -> index 0, valid False."""
        indices = self.label_table()[np.asarray(zones, np.uint8)]
        return np.maximum(indices, 0).astype(np.int32), indices >= 0


#: Input encodings by the name recorded in dataset.json.
CLASS_SCHEMES: dict[str, ClassScheme] = {
    "binary": ClassScheme(
        "binary",
        1,
        "land (rock + glacier) = +1, ocean = -1 (the paper)",
        encode_binary,
        ("land", "ocean"),
        ((ROCK, GLACIER), (OCEAN,)),
    ),
    "zones": ClassScheme(
        "zones",
        3,
        "one-hot rock / glacier / ocean, no data = all zeros",
        encode_zones,
        ("rock", "glacier", "ocean"),
        ((ROCK,), (GLACIER,), (OCEAN,)),
    ),
}


def class_scheme(name: str, source: str) -> ClassScheme:
    try:
        return CLASS_SCHEMES[name]
    except KeyError:
        raise InputError(f"{source}: unknown class scheme {name!r}; known: {', '.join(CLASS_SCHEMES)}") from None

"""Zone masks (CaFFe convention) and how they are fed to the generator.

Zone codes: 0 = no data, 64 = rock, 127 = glacier, 254 = ocean (including ice melange
and icebergs, as in CaFFe). The paper's input has two classes: land (rock + glacier)
and ocean.

Which pixels count (in the GAN's losses, metrics, generated outputs and previews) is
decided here and nowhere else: :func:`valid_zones` on zone codes, :func:`valid_pixels`
on an encoded generator input (its mask channels only; extra bands never decide it).
The segmenter's labels come from :meth:`ClassScheme.label_table`, where no data has
no class (-1): the same rule on zone codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from pix2pix_sar.errors import InputError, InvalidMask

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
        raise InvalidMask(
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


def valid_zones(zones: np.ndarray) -> np.ndarray:
    """(...) bool: True where the zone code is not no data (0). The one rule for which
    pixels count, wherever zone codes are at hand; :func:`valid_pixels` is the same rule
    for an encoded generator input."""
    return np.asarray(zones) != NODATA


def valid_pixels(inputs, mask_channels: int):
    """(N, H, W, 1) float32 0/1: 1 where the pixel has data, from a generator input
    (N, H, W, C) whose first `mask_channels` channels are the class scheme's encoding
    and whose other channels (extra bands, -1 at no-data pixels) are ignored.

    Every scheme encodes no data as all-zero mask channels and every class with a
    non-zero one, so this is :func:`valid_zones` of the zones the input was encoded
    from. A numpy array gives a numpy array; anything else (a TensorFlow tensor, also
    inside a tf.function) is computed with TensorFlow ops."""
    if isinstance(mask_channels, bool) or int(mask_channels) != mask_channels or mask_channels < 1:
        raise ValueError(f"mask_channels must be a positive int (the class scheme's channels), got {mask_channels!r}")
    mask_channels = int(mask_channels)
    if isinstance(inputs, np.ndarray):
        return np.any(inputs[..., :mask_channels] != 0, axis=-1, keepdims=True).astype(np.float32)
    import tensorflow as tf

    masks = inputs[..., :mask_channels]
    return tf.cast(tf.reduce_any(tf.not_equal(masks, tf.zeros([], masks.dtype)), axis=-1, keepdims=True), tf.float32)


def encoded_labels(inputs, mask_channels: int):
    """(N, H, W) int32 class indices (:meth:`ClassScheme.labels`' order) from an encoded
    generator input, in TensorFlow: one channel is the binary scheme (land +1 -> 0, ocean
    -1 -> 1), several are one-hot classes (argmax). No-data pixels get 0: use
    :func:`valid_pixels` with them."""
    import tensorflow as tf

    masks = inputs[..., :mask_channels]
    if mask_channels == 1:
        return tf.cast(masks[..., 0] < 0, tf.int32)
    return tf.argmax(masks, axis=-1, output_type=tf.int32)


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

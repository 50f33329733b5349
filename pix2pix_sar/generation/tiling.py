"""Seamless tiled generation, streamed row band by row band.

A mask of any size is covered by overlapping square tiles (the generator's input
size). Each tile is generated once; tiles are batched (across bands); their outputs are blended
with a smooth window that rises over the overlap (a raised cosine, so the weights
of two neighbours sum to one there) and the weighted sum is divided by the summed
weights. Only one band of tile rows is held at a time (float32 accumulators of
tile height x mask width); finished rows are handed on as soon as no later tile
covers them, so a 12,000 x 9,000 mask needs a few tens of MB.

Masks smaller than a tile are mirrored out to the tile size; the padding is cut away.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

#: Reads encoded mask rows: (row_off, n_rows) -> float32 (n_rows, width, channels).
RowReader = Callable[[int, int], np.ndarray]
#: Generates a batch: float32 tiles (N, tile, tile, channels) and their top-left
#: pixels in the scene (N, 2) (which key their noise) -> float32 (N, tile, tile, 1).
OriginGenerator = Callable[[np.ndarray, np.ndarray], np.ndarray]


def tile_positions(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles covering [0, length): overlaps of at least `overlap`,
    spread evenly (so no tile is squeezed against the far edge)."""
    if length <= tile:
        return [0]
    stride = tile - overlap
    count = math.ceil((length - overlap) / stride)
    return sorted({int(round(p)) for p in np.linspace(0, length - tile, count)})


def blend_ramp(tile: int, overlap: int) -> np.ndarray:
    """1-D weights: a raised-cosine rise over `overlap` pixels at each end, 1 between.

    Sampled at pixel centres, so no weight is zero (a border pixel covered by one
    tile only is still that tile's value after normalisation) and the rising ramp
    of one tile plus the falling ramp of its neighbour sum to exactly 1.
    """
    ramp = np.ones(tile, np.float64)
    if overlap > 0:
        t = (np.arange(overlap) + 0.5) / overlap
        rise = 0.5 - 0.5 * np.cos(np.pi * t)
        ramp[:overlap] = rise
        ramp[tile - overlap :] = np.minimum(ramp[tile - overlap :], rise[::-1])
    return ramp.astype(np.float32)


@dataclass(frozen=True)
class TilePlan:
    """Where the tiles of a `width` x `height` mask go."""

    width: int
    height: int
    tile: int
    overlap: int

    def __post_init__(self) -> None:
        if not 0 <= self.overlap < self.tile:
            raise ValueError(f"overlap {self.overlap} must be in [0, tile {self.tile})")

    @property
    def padded_width(self) -> int:
        return max(self.width, self.tile)

    @property
    def padded_height(self) -> int:
        return max(self.height, self.tile)

    @property
    def rows(self) -> list[int]:
        return tile_positions(self.padded_height, self.tile, self.overlap)

    @property
    def cols(self) -> list[int]:
        return tile_positions(self.padded_width, self.tile, self.overlap)

    @property
    def tile_count(self) -> int:
        return len(self.rows) * len(self.cols)

    def generate(
        self,
        read_rows: RowReader,
        generate_batch: OriginGenerator,
        batch_size: int = 8,
        progress: Callable[[int, int], None] | None = None,
    ) -> Iterator[tuple[int, np.ndarray]]:
        """See :func:`generate_rows`."""
        return generate_rows(self, read_rows, generate_batch, batch_size, progress)

    def boundaries(self) -> tuple[list[int], list[int]]:
        """Rows and columns where a tile starts or ends inside the mask (the places a
        seam would show): index i means the step between pixel i - 1 and pixel i."""

        def edges(positions: list[int], length: int) -> list[int]:
            return sorted({e for p in positions for e in (p, p + self.tile) if 0 < e < length})

        return edges(self.rows, self.height), edges(self.cols, self.width)

    def centres(self) -> tuple[list[int], list[int]]:
        """Rows and columns through the middle of each tile (same convention). They lie
        at the same phase as the tile edges relative to the U-Net's stride pattern
        (tile / 2 is a multiple of every stride), so they are the fair comparison."""
        edge_rows, edge_cols = self.boundaries()

        def mids(positions: list[int], length: int, edges: list[int]) -> list[int]:
            return sorted({p + self.tile // 2 for p in positions if 0 < p + self.tile // 2 < length} - set(edges))

        return mids(self.rows, self.height, edge_rows), mids(self.cols, self.width, edge_cols)


def _pad(block: np.ndarray, height: int, width: int) -> np.ndarray:
    """Mirror `block` (h, w, c) out to at least (height, width)."""
    pad_h, pad_w = max(0, height - block.shape[0]), max(0, width - block.shape[1])
    if pad_h == 0 and pad_w == 0:
        return block
    return np.pad(block, ((0, pad_h), (0, pad_w), (0, 0)), mode="symmetric")


def _tiles(plan: TilePlan, read_rows: RowReader) -> Iterator[tuple[int, int, int, np.ndarray]]:
    """(band index, row, column, encoded tile), band by band; one band is read at a time."""
    tile = plan.tile
    for k, row in enumerate(plan.rows):
        band = _pad(read_rows(row, min(tile, plan.height - row)), tile, plan.padded_width)
        for col in plan.cols:
            yield k, row, col, band[:, col : col + tile]


def _batches(tiles: Iterator[tuple], size: int) -> Iterator[list[tuple]]:
    batch = []
    for item in tiles:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def generate_rows(
    plan: TilePlan,
    read_rows: RowReader,
    generate_batch: OriginGenerator,
    batch_size: int = 8,
    progress: Callable[[int, int], None] | None = None,
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(row_off, rows)`` blocks of the blended image (float32, (n, width)),
    top to bottom, each row exactly once.

    Batches run across band boundaries (always full but the last), so narrow masks
    batch as well as wide ones; at most two bands of mask rows are held at a time.
    """
    tile = plan.tile
    window = np.outer(blend_ramp(tile, plan.overlap), blend_ramp(tile, plan.overlap))
    acc = np.zeros((tile, plan.padded_width), np.float32)
    weight = np.zeros((tile, plan.padded_width), np.float32)
    rows = plan.rows
    current, done_tiles = 0, 0  # the band the accumulators hold

    def finish_band(k: int):
        """Rows above the next tile row are final: hand them on, shift the band up."""
        row = rows[k]
        finished = min((rows[k + 1] - row) if k + 1 < len(rows) else tile, plan.height - row)
        block = acc[:finished, : plan.width] / weight[:finished, : plan.width]
        shift = rows[k + 1] - row if k + 1 < len(rows) else 0
        if shift:
            acc[:-shift], weight[:-shift] = acc[shift:].copy(), weight[shift:].copy()
            acc[-shift:], weight[-shift:] = 0.0, 0.0
        return row, block

    for batch in _batches(_tiles(plan, read_rows), batch_size):
        origins = np.array([(row, col) for _, row, col, _ in batch], np.int64)
        images = generate_batch(np.stack([t for *_, t in batch]), origins)[..., 0]
        for (k, _, col, _), image in zip(batch, images):
            if k != current:
                yield finish_band(current)
                current = k
            acc[:, col : col + tile] += image * window
            weight[:, col : col + tile] += window
        done_tiles += len(batch)
        if progress:
            progress(done_tiles, plan.tile_count)
    yield finish_band(current)


# --- Cropped tiles (the `scene` variant) ---------------------------------------------


def mirror_index(index: np.ndarray, length: int) -> np.ndarray:
    """Indices into [0, length) of a line extended by mirroring about its ends
    (edge pixels repeated: ... 1 0 | 0 1 ... n-1 | n-1 n-2 ...), for any offset."""
    period = np.mod(index, 2 * length)
    return np.where(period < length, period, 2 * length - 1 - period)


@dataclass(frozen=True)
class CropPlan:
    """Tiles for a translation-equivariant generator: the scene, extended by
    mirroring, is cut into `tile`-sized tiles on a grid of step ``tile - 2 * margin``
    starting at ``-margin``; each tile keeps only its centre (its `margin` is cut
    away). With `margin` at least the generator's reach (half its receptive field)
    and tiles on a multiple of its stride, every kept pixel sees exactly the inputs
    it would see if the whole scene were generated at once: nothing to blend, and
    any `tile` gives the same pixels."""

    width: int
    height: int
    tile: int
    margin: int

    def __post_init__(self) -> None:
        if self.tile <= 2 * self.margin:
            raise ValueError(f"tile {self.tile} must be larger than twice the margin {self.margin}")

    @property
    def step(self) -> int:
        return self.tile - 2 * self.margin

    @property
    def rows(self) -> list[int]:
        return list(range(-self.margin, self.height - self.margin, self.step))

    @property
    def cols(self) -> list[int]:
        return list(range(-self.margin, self.width - self.margin, self.step))

    @property
    def tile_count(self) -> int:
        return len(self.rows) * len(self.cols)

    def boundaries(self) -> tuple[list[int], list[int]]:
        """Rows and columns where one tile's kept centre ends and the next one's begins
        (index i: the step between pixel i - 1 and pixel i), for the seam ratio."""
        return list(range(self.step, self.height, self.step)), list(range(self.step, self.width, self.step))

    def centres(self) -> tuple[list[int], list[int]]:
        """Rows and columns through the middle of each kept centre (the same phase of the
        stride pattern as the boundaries when step / 2 is a multiple of the stride, as for
        the default 512-pixel tile: step 416, half 208 = 13 x 16)."""
        half = self.step // 2
        return list(range(half, self.height, self.step)), list(range(half, self.width, self.step))

    def generate(
        self,
        read_rows: RowReader,
        generate_batch: OriginGenerator,
        batch_size: int = 8,
        progress: Callable[[int, int], None] | None = None,
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(row_off, rows)`` blocks of the image, top to bottom, each row once."""
        tile, margin, done = self.tile, self.margin, 0
        col_index = [mirror_index(np.arange(c, c + tile), self.width) for c in self.cols]
        for row in self.rows:
            wanted = mirror_index(np.arange(row, row + tile), self.height)
            first, last = int(wanted.min()), int(wanted.max())
            band = read_rows(first, last - first + 1)[wanted - first]
            keep = min(self.step, self.height - (row + margin))
            out = np.empty((keep, self.width), np.float32)
            for start in range(0, len(self.cols), batch_size):
                cols = self.cols[start : start + batch_size]
                tiles = np.stack([band[:, col_index[start + i]] for i in range(len(cols))])
                origins = np.array([(row, c) for c in cols], np.int64)
                images = generate_batch(tiles, origins)[..., 0]
                for c, image in zip(cols, images):
                    left = c + margin
                    width = min(self.step, self.width - left)
                    out[:, left : left + width] = image[margin : margin + keep, margin : margin + width]
                done += len(cols)
                if progress:
                    progress(done, self.tile_count)
            yield row + margin, out

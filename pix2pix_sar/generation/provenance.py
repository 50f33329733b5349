"""What a generated image says about itself, so that a GIS, ``gdalinfo`` and ``prepare``
can tell it apart from a real scene and from another run's.

Every generated raster carries a band description, a unit type (``dB``, or the
``intensity`` / ``amplitude`` / ``DN`` wording that ``prepare`` reads back before it
guesses: :func:`pix2pix_sar.data.scaling.units_of_unit_type`) and metadata items:
the tool and its version, ``synthetic=true``, the run or export it came from (its path
and the snapshot's SHA-256), epoch, variant, seed, sample index and the mask's name,
and for a sensor-conditioned run the sensor rendered (``sensor``) and the run's sensors.
``generate --as-dataset`` records the same facts in dataset.json (``generated_by``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pix2pix_sar import __version__
from pix2pix_sar.data.scaling import UNIT_TYPES, SarScaling

if TYPE_CHECKING:
    from pix2pix_sar.generation.run_generator import RunGenerator

TOOL = "pix2pix-sar"
#: The written units of a PNG: an 8-bit picture of the model range, not a measurement.
PICTURE = "picture"

_DESCRIPTIONS = {
    "db": "synthetic SAR backscatter (dB)",
    "intensity": "synthetic SAR backscatter (linear intensity)",
    "amplitude": "synthetic SAR backscatter (linear amplitude)",
    "dn": "synthetic SAR backscatter (DN, scaled as the training data)",
    "model": "synthetic SAR backscatter in the model range -1..1",
    PICTURE: "synthetic SAR picture: the model range -1..1 as 1..255, 0 no data",
}


def source_facts(gen: "RunGenerator") -> dict[str, Any]:
    """Where the images come from: tool and version, the run (or export) folder and the
    SHA-256 of its snapshot, epoch and variant."""
    facts: dict[str, Any] = {
        "tool": TOOL,
        "tool_version": __version__,
        ("run" if gen.run is not None else "export"): str(gen.path.resolve()),
        "epoch": gen.epoch,
        "variant": gen.config.variant,
    }
    if gen.snapshot_sha256:
        facts["snapshot_sha256"] = gen.snapshot_sha256
    if gen.sensors:  # a sensor-conditioned run: the sensor rendered, of those it knows
        facts["sensor"] = gen.sensor
        facts["run_sensors"] = ",".join(gen.sensors)
    return facts


@dataclass(frozen=True)
class OutputTags:
    """A generated raster's band description, band unit type and metadata items."""

    description: str
    unit: str
    metadata: dict[str, str]


def _clip_range(scaling: SarScaling) -> str:
    unit = "DN" if scaling.units == "dn" else "dB"
    return f"{scaling.db_min:g}..{scaling.db_max:g} {unit}"


def output_tags(gen: "RunGenerator", units: str, *, seed: int, sample: int, mask: Path) -> OutputTags:
    """The tags of one generated image written in `units` (the scaling's units, "model"
    or :data:`PICTURE`) with noise `seed`, as sample `sample` of `mask`."""
    units = units.lower()
    metadata = {
        **source_facts(gen),
        "synthetic": "true",
        "seed": seed,
        "sample": sample,
        "mask": mask.name,
        "units": units,
        "clip_range": _clip_range(gen.scaling),  # what -1..1 of the model spans
    }
    return OutputTags(
        _DESCRIPTIONS.get(units, f"synthetic SAR backscatter ({units})"),
        UNIT_TYPES.get(units, ""),
        {k: str(v) for k, v in metadata.items()},
    )

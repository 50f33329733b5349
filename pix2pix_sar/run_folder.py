"""The run folder contract: everything evaluation and generation need, by name.

RUN/config.yaml                       fully resolved config
RUN/dataset.json                      the training dataset's description (scaling!)
RUN/run.json                          dataset path, package version
RUN/snapshots/generator_epoch_0015.keras   generator snapshots by epoch
RUN/state/                            tf.train.CheckpointManager (resume points)
RUN/logs/                             TensorBoard
RUN/history.csv                       mean losses per epoch
RUN/eval/                             evaluate's per_image.csv, per_epoch.csv, curves.png, eval.json
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from pathlib import Path

import yaml

from pix2pix_sar.atomic import atomic_path
from pix2pix_sar.config import Config, config_from_dict
from pix2pix_sar.data.dataset import DatasetInfo, load_info
from pix2pix_sar.devices import has_gpu
from pix2pix_sar.errors import InputError, RunStateError

_SNAPSHOT = re.compile(r"^generator_epoch_(\d+)\.keras$")


class RunFolder:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    config_path = property(lambda self: self.path / "config.yaml")
    dataset_json = property(lambda self: self.path / "dataset.json")
    run_json = property(lambda self: self.path / "run.json")
    snapshot_dir = property(lambda self: self.path / "snapshots")
    state_dir = property(lambda self: self.path / "state")
    log_dir = property(lambda self: self.path / "logs")
    history_csv = property(lambda self: self.path / "history.csv")
    eval_dir = property(lambda self: self.path / "eval")
    eval_per_image_csv = property(lambda self: self.eval_dir / "per_image.csv")
    eval_per_epoch_csv = property(lambda self: self.eval_dir / "per_epoch.csv")
    eval_curves_png = property(lambda self: self.eval_dir / "curves.png")
    eval_json = property(lambda self: self.eval_dir / "eval.json")

    def exists(self) -> bool:
        return self.config_path.exists()

    def snapshot_path(self, epoch: int) -> Path:
        return self.snapshot_dir / f"generator_epoch_{epoch:04d}.keras"

    def find_snapshot(self, epoch: int | None = None) -> tuple[int, Path]:
        """(epoch, path) of the snapshot saved at `epoch` (default: the last one)."""
        snaps = self.require().snapshots()
        if not snaps:
            raise RunStateError(f"{self.path}: has no generator snapshots yet; train longer with 'pix2pix-sar fit'")
        if epoch is None:
            epoch = max(snaps)
        if epoch not in snaps:
            raise RunStateError(
                f"{self.path}: no snapshot at epoch {epoch}; saved epochs: {', '.join(map(str, snaps))}"
            )
        return epoch, snaps[epoch]

    def snapshots(self) -> dict[int, Path]:
        """Generator snapshots by epoch, in epoch order."""
        if not self.snapshot_dir.is_dir():
            return {}
        found = {}
        for p in self.snapshot_dir.iterdir():
            m = _SNAPSHOT.match(p.name)
            if m:
                found[int(m.group(1))] = p
        return dict(sorted(found.items()))

    def require(self) -> "RunFolder":
        if not self.path.is_dir():
            raise RunStateError(f"{self.path}: no such run folder; train one with 'pix2pix-sar fit --out {self.path}'")
        if not self.exists():
            raise RunStateError(
                f"{self.path}: not a run folder (no config.yaml); give the --out folder of 'pix2pix-sar fit'"
            )
        return self

    def load_config(self) -> Config:
        self.require()
        try:
            data = yaml.safe_load(self.config_path.read_text())
        except yaml.YAMLError as exc:
            raise RunStateError(
                f"{self.config_path}: not valid YAML ({exc}); restore it or start a new run"
            ).with_traceback(None) from None
        return config_from_dict(data or {}, str(self.config_path))

    def dataset_info(self) -> DatasetInfo:
        if not self.dataset_json.exists():
            raise RunStateError(f"{self.dataset_json}: missing; the run folder is incomplete")
        return DatasetInfo.from_dict(json.loads(self.dataset_json.read_text()), str(self.dataset_json))

    def recorded_precision(self) -> str | None:
        """The compute precision the run trained in (run.json); for runs made before
        it was recorded, config.yaml's, and for ``auto`` there the old rule's (float32
        on CPUs, mixed_bfloat16 on GPUs); None without either file."""
        if self.run_json.exists():
            recorded = json.loads(self.run_json.read_text()).get("precision")
            if recorded:
                return recorded
        if self.config_path.exists():
            named = self.load_config().training.precision
            if named != "auto":
                return named
            return "mixed_bfloat16" if has_gpu() else "float32"
        return None

    def run_format(self) -> int:
        """The run's training semantics (pix2pix_sar.RUN_FORMAT when it was made; 1 before it was recorded)."""
        if not self.run_json.exists():
            return 1
        return int(json.loads(self.run_json.read_text()).get("format", 1))

    def dataset_dir(self, override: str | Path | None = None) -> Path:
        """The dataset to read: `override` (the user's --data) if given, else the one
        the run was trained on (recorded in run.json)."""
        if override is None:
            if not self.run_json.exists():
                raise RunStateError(f"{self.run_json}: missing, so the dataset is unknown; pass --data DATASET")
            return Path(json.loads(self.run_json.read_text())["dataset"])
        data_dir = Path(override)
        differences = dataset_differences(self.dataset_info(), load_info(data_dir))
        if differences:
            raise InputError(
                f"{data_dir / 'dataset.json'}: scaled otherwise than the run's dataset ({'; '.join(differences)}; "
                f"dataset vs run); prepare the scenes with 'pix2pix-sar prepare --scaling-from {self.path}'"
            )
        return data_dir

    def check_resume_data(self, data_dir: str | Path) -> None:
        """Refuse to continue training on a dataset scaled otherwise than the run's
        dataset.json (before anything is written): see :func:`check_resume_data`."""
        check_resume_data(self.path, self.dataset_json, data_dir)


def dataset_differences(run_info: DatasetInfo, data_info: DatasetInfo, *, writing: bool = False) -> list[str]:
    """What in `data_info` (a dataset) differs from `run_info` (a run's dataset.json) in
    how a model trained on the run reads it: patch size, SAR units and clip range, the extra
    bands (names, order, ranges). With `writing`, also the type and no-data value images are
    written back in (a resume rewrites the run's dataset.json, which its snapshots write by).
    Each as "what <dataset> vs <run>"; empty when they agree.

    Not compared: how the scaling was found (percentiles, sources, seeds, AOI), and the class
    scheme (masks hold zone codes; the run's scheme encodes them)."""
    ours, theirs = run_info.scaling, data_info.scaling
    found = []
    if data_info.patch_size != run_info.patch_size:
        found.append(f"patch size {data_info.patch_size} vs {run_info.patch_size}")
    if theirs.units != ours.units:
        found.append(f"units {theirs.units} vs {ours.units}")
    if (theirs.db_min, theirs.db_max) != (ours.db_min, ours.db_max):
        found.append(f"clip range {theirs.db_min:g}..{theirs.db_max:g} vs {ours.db_min:g}..{ours.db_max:g}")
    if writing and theirs.dtype != ours.dtype:
        found.append(f"output type {theirs.dtype} vs {ours.dtype}")
    if writing and theirs.nodata != ours.nodata:
        found.append(f"no-data {_value(theirs.nodata)} vs {_value(ours.nodata)}")
    if data_info.band_names != run_info.band_names:
        found.append(f"bands {', '.join(data_info.band_names) or 'none'} vs {', '.join(run_info.band_names) or 'none'}")
    else:
        for a, b in zip(data_info.extra_bands, run_info.extra_bands):
            if (a.low, a.high) != (b.low, b.high):
                found.append(f"band {a.name} range {a.low:g}..{a.high:g} vs {b.low:g}..{b.high:g}")
    return found


def _value(value: float | None) -> str:
    return "none" if value is None else f"{value:g}"


def check_resume_data(run_path: Path, dataset_json: Path, data_dir: str | Path) -> None:
    """A run continues on data scaled like the data it started on: a resume rewrites
    RUN/dataset.json from the dataset, and the snapshots already saved would then write
    images in the new units or range. `dataset_json`: the run's (absent: a new run)."""
    if not dataset_json.exists():
        return
    run_info = DatasetInfo.from_dict(json.loads(dataset_json.read_text()), str(dataset_json))
    differences = dataset_differences(run_info, load_info(data_dir), writing=True)
    if differences:
        raise RunStateError(
            f"{Path(data_dir) / 'dataset.json'}: scaled otherwise than the data {run_path} was trained on "
            f"({'; '.join(differences)}; dataset vs run), so its snapshots would write images in the new scaling; "
            f"resume with the data it was trained on, or start a new run with another --out"
        )


def rewind_history(path: Path, last: int) -> None:
    """Drop the rows of a history CSV whose first column (epoch or step) is after `last`:
    the work an interruption lost, replayed on resume (fit and seg fit)."""
    if not path.exists():
        return
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    kept = [rows[0]] + [r for r in rows[1:] if r and int(r[0]) <= last]
    with atomic_path(path) as tmp, tmp.open("w", newline="") as fh:
        csv.writer(fh).writerows(kept)


class SegRunFolder:
    """A segmenter run folder (``seg fit``):

    SEGRUN/config.yaml       the resolved SegConfig
    SEGRUN/run.json          kind "segmenter", training datasets (paths, synthetic or not), version
    SEGRUN/dataset.json      the first training dataset's description (classes, scaling)
    SEGRUN/history.csv       mean loss per epoch, with seconds
    SEGRUN/logs/             TensorBoard scalars
    SEGRUN/state/            tf.train.CheckpointManager (model, optimizer, step)
    SEGRUN/segmenter.keras   the trained model
    SEGRUN/eval/seg_<split>.json   seg evaluate's figures
    """

    KIND = "segmenter"

    def __init__(self, path: str | Path):
        self.path = Path(path)

    config_path = property(lambda self: self.path / "config.yaml")
    dataset_json = property(lambda self: self.path / "dataset.json")
    run_json = property(lambda self: self.path / "run.json")
    state_dir = property(lambda self: self.path / "state")
    log_dir = property(lambda self: self.path / "logs")
    history_csv = property(lambda self: self.path / "history.csv")
    model_path = property(lambda self: self.path / "segmenter.keras")
    eval_dir = property(lambda self: self.path / "eval")

    def eval_json(self, split: str) -> Path:
        return self.eval_dir / f"seg_{split}.json"

    def require(self) -> "SegRunFolder":
        """This folder, if it holds a trained segmenter."""
        if not self.model_path.exists() or not self.run_json.exists():
            raise RunStateError(
                f"{self.path}: no trained segmenter; train one with 'pix2pix-sar seg fit --out {self.path}'"
            )
        return self

    def run_info(self) -> dict:
        return json.loads(self.run_json.read_text())

    def datasets(self) -> list[tuple[Path, bool]]:
        """(dataset folder, synthetic) of each training dataset, in the order given."""
        info = self.run_info()
        if "datasets" in info:
            return [(Path(d["path"]), bool(d["synthetic"])) for d in info["datasets"]]
        return [(Path(info["dataset"]), False)]  # a run of the first release: one real dataset

    def dataset_info(self) -> DatasetInfo:
        """Classes and SAR scaling the segmenter was trained with."""
        if not self.dataset_json.exists():
            raise RunStateError(f"{self.dataset_json}: missing; the segmenter run folder is incomplete")
        return DatasetInfo.from_dict(json.loads(self.dataset_json.read_text()), str(self.dataset_json))

    def check_resume_data(self, data_dir: str | Path) -> None:
        """Refuse to continue on a first dataset scaled otherwise than SEGRUN/dataset.json."""
        check_resume_data(self.path, self.dataset_json, data_dir)

    def fingerprint(self) -> str:
        """SHA-256 of the trained model file: which segmenter, exactly."""
        return hashlib.sha256(self.model_path.read_bytes()).hexdigest()

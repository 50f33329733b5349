"""The run folder contract: everything evaluation and generation need, by name.

RUN/config.yaml                       fully resolved config
RUN/dataset.json                      the training dataset's description (scaling!)
RUN/run.json                          dataset path, package version
RUN/snapshots/generator_epoch_0015.keras   generator snapshots by epoch
RUN/state/                            tf.train.CheckpointManager (resume points)
RUN/logs/                             TensorBoard
RUN/history.csv                       mean losses per epoch
RUN/eval/                             evaluate's per_image.csv, per_epoch.csv, curves.png, eval.json

The lifecycle `fit` and `seg fit` share (:class:`RunFiles`): the resume check, by each
kind's policy (which config keys may change when a run is continued), the run files,
the history rows (appended, and rewound on resume), the same-input check. Only this
module reads or writes run.json (tests/test_architecture.py).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path
from typing import Any, Sequence

import yaml

from pix2pix_sar import RUN_FORMAT, __version__, jsonio
from pix2pix_sar.atomic import atomic_path
from pix2pix_sar.config import Config, SegConfig, config_from_dict, diff_configs, seg_config_from_dict
from pix2pix_sar.data.dataset import DatasetInfo, load_info
from pix2pix_sar.data.sensors import conditioning_sensors
from pix2pix_sar.devices import has_gpu, resolve_precision
from pix2pix_sar.errors import InputError, InvalidValue, RunStateError, option
from pix2pix_sar.run_tables import append_history, read_per_epoch, rewind_history

_SNAPSHOT = re.compile(r"^generator_epoch_(\d+)\.keras$")


class RunFiles:
    """What every run folder holds (a GAN's and a segmenter's), and how a training
    command starts or continues one: first :meth:`check_resume` (before anything is
    written), then :meth:`write_run_files`, :meth:`rewind_history` to the state it
    resumes from, and :meth:`append_history` as it goes."""

    #: run.json's "kind"; None: a GAN run (fit records none).
    KIND: str | None = None
    #: Config keys (``section.key``) that may change when the run is continued.
    RESUMABLE: tuple[str, ...] = ()

    def __init__(self, path: str | Path):
        self.path = Path(path)

    config_path = property(lambda self: self.path / "config.yaml")
    dataset_json = property(lambda self: self.path / "dataset.json")
    run_json = property(lambda self: self.path / "run.json")
    state_dir = property(lambda self: self.path / "state")
    log_dir = property(lambda self: self.path / "logs")
    history_csv = property(lambda self: self.path / "history.csv")

    def run_info(self) -> dict[str, Any]:
        """run.json (how the run was made: datasets, input, version...); empty without it."""
        return json.loads(self.run_json.read_text()) if self.run_json.exists() else {}

    def load_config(self):
        raise NotImplementedError

    def _config_yaml(self) -> dict[str, Any]:
        """config.yaml as a mapping; a broken file is a one-line error naming it."""
        try:
            data = yaml.safe_load(self.config_path.read_text())
        except yaml.YAMLError as exc:
            raise RunStateError(
                f"{self.config_path}: not valid YAML ({exc}); restore it or start a new run"
            ).with_traceback(None) from None
        return data or {}

    def check_resume(self, cfg, datasets: Sequence[str] = ()) -> None:
        """Refuse to continue a run with settings that would change what it is (config
        keys outside :attr:`RESUMABLE`, `datasets` where the kind keeps them), and to
        write into a folder that is not a run."""
        if self.config_path.exists():
            self._check_continuable()
            changes = [c for c in diff_configs(self.load_config(), cfg) if c.split(":")[0] not in self.RESUMABLE]
            changes += self._other_changes(datasets)
            if changes:
                raise RunStateError(
                    f"{self.path} was trained with other settings ({'; '.join(changes)}); "
                    f"rerun with the original settings to resume, or choose a new {option('out')}"
                )
        elif self.path.exists() and any(p.name != "state" for p in self.path.iterdir()):
            raise RunStateError(f"{self.path}: exists and is not a run folder; choose a new or empty {option('out')}")

    def _check_continuable(self) -> None:
        """Raise if this kind of run cannot be continued at all (before its config is read)."""

    def _other_changes(self, datasets: Sequence[str]) -> list[str]:
        return []

    def check_same_input(self, mode: str) -> None:
        """A run continues with the input it started with (streamed SAR is rounded to float16)."""
        started = self.run_info().get("input", "memory") if self.run_json.exists() else mode
        if started != mode:
            raise InvalidValue(
                "data.input",
                f"{self.path}: was trained with {started} input, this run would use {mode}; "
                f"set data.input to {started} to resume, or choose a new run folder",
            )

    def write_run_files(self, config_yaml: str, dataset_dir: Path, info: dict[str, Any]) -> None:
        """config.yaml, a copy of the dataset's dataset.json, and run.json (`info`)."""
        self.path.mkdir(parents=True, exist_ok=True)
        with atomic_path(self.config_path) as tmp:
            tmp.write_text(config_yaml)
        with atomic_path(self.dataset_json) as tmp:
            shutil.copyfile(Path(dataset_dir) / "dataset.json", tmp)
        with atomic_path(self.run_json) as tmp:
            tmp.write_text(jsonio.dumps(info, indent=2) + "\n")

    def append_history(self, header: Sequence[str], row: Sequence[Any]) -> None:
        append_history(self.history_csv, header, row)

    def rewind_history(self, last: int) -> None:
        rewind_history(self.history_csv, last)

    def check_resume_data(self, data_dir: str | Path) -> None:
        """Refuse to continue training on a dataset scaled otherwise than the run's
        dataset.json (before anything is written): see :func:`check_resume_data`."""
        check_resume_data(self.path, self.dataset_json, data_dir)


#: Why a run of an older format cannot be continued exactly (run.json's "format").
_OLDER_FORMATS = {
    1: "was trained by pix2pix-sar < 0.2, whose steps normalised over the batch and drew dropout from a stateful RNG",
    2: "has run format 2, whose data order depended on the replica count (now one order for any replica count)",
}


class RunFolder(RunFiles):
    RESUMABLE = (
        "training.epochs",
        "training.checkpoint_every",
        "training.state_every",
        "training.keep_states",
        "training.strategy",
        "training.xla",
        "training.precision",  # resume_precision compares what it resolves to
    )

    snapshot_dir = property(lambda self: self.path / "snapshots")
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
            raise RunStateError(
                f"{self.path}: no such run folder; train one with 'pix2pix-sar fit {option('out')} {self.path}'"
            )
        if not self.exists():
            raise RunStateError(
                f"{self.path}: not a run folder (no config.yaml); give the {option('out')} folder of 'pix2pix-sar fit'"
            )
        return self

    def load_config(self) -> Config:
        self.require()
        return config_from_dict(self._config_yaml(), str(self.config_path))

    def dataset_info(self) -> DatasetInfo:
        if not self.dataset_json.exists():
            raise RunStateError(f"{self.dataset_json}: missing; the run folder is incomplete")
        return DatasetInfo.from_dict(json.loads(self.dataset_json.read_text()), str(self.dataset_json))

    def recorded_precision(self) -> str | None:
        """The compute precision the run trained in (run.json); for runs made before
        it was recorded, config.yaml's, and for ``auto`` there the old rule's (float32
        on CPUs, mixed_bfloat16 on GPUs); None without either file."""
        recorded = self.run_info().get("precision")
        if recorded:
            return recorded
        if self.config_path.exists():
            named = self.load_config().training.precision
            if named != "auto":
                return named
            return "mixed_bfloat16" if has_gpu() else "float32"
        return None

    def resume_precision(self, requested: str, patch_size: int, base_filters: int) -> str:
        """The compute precision: `requested` resolved (``auto`` by the device and the
        model size, :func:`~pix2pix_sar.devices.resolve_precision`), except that a resumed
        run keeps the one it recorded: ``auto`` resolves to it, another explicit value is
        refused (the weights' rounding would change mid-run, silently)."""
        recorded = self.recorded_precision() if self.exists() else None
        if recorded is None:
            return resolve_precision(requested, patch_size, base_filters)
        if requested not in ("auto", recorded):
            raise RunStateError(
                f"{self.path} was trained in {recorded} (run.json); continuing in {requested} would change its "
                f"arithmetic mid-run: rerun with {option('precision')} {recorded} (or auto) to resume, "
                f"or choose a new {option('out')}"
            )
        return recorded

    def run_format(self) -> int:
        """The run's training semantics (pix2pix_sar.RUN_FORMAT when it was made; 1 before it was recorded)."""
        return int(self.run_info().get("format", 1))

    def _check_continuable(self) -> None:
        old = self.run_format()
        if old < RUN_FORMAT and self.state_dir.exists():
            why = _OLDER_FORMATS.get(old, f"has run format {old} (this version trains format {RUN_FORMAT})")
            raise RunStateError(
                f"{self.path} {why}; its snapshots still work with generate, evaluate and preview, "
                f"but training cannot continue it exactly: choose a new {option('out')}"
            )

    def start(self, cfg: Config, data_dir: Path, input_mode: str, precision: str) -> None:
        """Write the run files of a `fit` (new or resumed) on the dataset `data_dir`."""
        info = {"dataset": str(Path(data_dir).resolve()), "input": input_mode, "precision": precision}
        manifest = Path(data_dir) / "manifest.csv"
        if manifest.exists():  # which patches, whatever folder they are in (report compares runs by it)
            info["dataset_manifest_sha256"] = hashlib.sha256(manifest.read_bytes()).hexdigest()
        self.write_run_files(cfg.to_yaml(), data_dir, {**info, "version": __version__, "format": RUN_FORMAT})

    def dataset_identity(self) -> tuple[str, str | None]:
        """(SHA-256 of the run's dataset.json content, SHA-256 of its dataset's manifest.csv):
        the same for two runs on the same data wherever it lies. The manifest's hash is
        run.json's, else that of the recorded dataset's manifest if it still exists (None: unknown)."""
        content = json.dumps(json.loads(self.dataset_json.read_text()), sort_keys=True)
        manifest = self.run_info().get("dataset_manifest_sha256")
        recorded = self.recorded_dataset()
        if manifest is None and recorded is not None and (recorded / "manifest.csv").exists():
            manifest = hashlib.sha256((recorded / "manifest.csv").read_bytes()).hexdigest()
        return hashlib.sha256(content.encode()).hexdigest(), manifest

    def recorded_dataset(self) -> Path | None:
        """The dataset the run was trained on (run.json); None without run.json."""
        return Path(self.run_info()["dataset"]) if self.run_json.exists() else None

    def dataset_dir(self, override: str | Path | None = None) -> Path:
        """The dataset to read: `override` (the user's --data) if given, else the one
        the run was trained on (recorded in run.json)."""
        if override is None:
            recorded = self.recorded_dataset()
            if recorded is None:
                raise RunStateError(
                    f"{self.run_json}: missing, so the dataset is unknown; pass {option('data')} DATASET"
                )
            return recorded
        data_dir = Path(override)
        differences = dataset_differences(self.dataset_info(), load_info(data_dir))
        if differences:
            raise InputError(
                f"{data_dir / 'dataset.json'}: scaled otherwise than the run's dataset ({'; '.join(differences)}; "
                f"dataset vs run); prepare the scenes with 'pix2pix-sar prepare {option('scaling_from')} {self.path}'"
            )
        return data_dir

    def history(self) -> list[dict[str, float]]:
        """history.csv as numbers, one row per epoch (see :func:`read_per_epoch`)."""
        return read_per_epoch(self.history_csv, ("epoch",), "delete that row (training does not read it back)")

    def eval_per_epoch(self) -> list[dict[str, float]]:
        """eval/per_epoch.csv as numbers, one row per evaluated snapshot."""
        return read_per_epoch(self.eval_per_epoch_csv)

    def eval_record(self) -> dict[str, Any]:
        """eval/eval.json (what the evaluation ran on: split, dataset, patches, seed...); empty without it."""
        return json.loads(self.eval_json.read_text()) if self.eval_json.exists() else {}


def dataset_differences(run_info: DatasetInfo, data_info: DatasetInfo, *, writing: bool = False) -> list[str]:
    """What in `data_info` (a dataset) differs from `run_info` (a run's dataset.json) in
    how a model trained on the run reads it: patch size, SAR units and clip range, the extra
    bands (names, order, ranges). With `writing`, also the type and no-data value images are
    written back in (a resume rewrites the run's dataset.json, which its snapshots write by)
    and the sensors the run is conditioned on (its input channels).
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
    if writing and conditioning_sensors(data_info.sensors) != conditioning_sensors(run_info.sensors):
        found.append(f"sensors {', '.join(data_info.sensors) or 'none'} vs {', '.join(run_info.sensors) or 'none'}")
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
            f"resume with the data it was trained on, or start a new run with another {option('out')}"
        )


class SegRunFolder(RunFiles):
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
    #: How long to train, and how its patches are read and its state kept.
    RESUMABLE = ("training.steps", "training.epochs", "data.input", "training.state_every")

    model_path = property(lambda self: self.path / "segmenter.keras")
    eval_dir = property(lambda self: self.path / "eval")

    def eval_json(self, split: str) -> Path:
        return self.eval_dir / f"seg_{split}.json"

    def require(self) -> "SegRunFolder":
        """This folder, if it holds a trained segmenter."""
        if not self.model_path.exists() or not self.run_json.exists():
            raise RunStateError(
                f"{self.path}: no trained segmenter; train one with 'pix2pix-sar seg fit {option('out')} {self.path}'"
            )
        return self

    def load_config(self) -> SegConfig:
        return seg_config_from_dict(self._config_yaml(), str(self.config_path))

    def _check_continuable(self) -> None:
        if self.run_info().get("kind") != self.KIND:
            raise RunStateError(f"{self.path}: is not a segmenter run folder; choose a new {option('out')}")

    def _other_changes(self, datasets: Sequence[str]) -> list[str]:
        old = [str(p) for p, _ in self.datasets()]
        return [] if old == list(datasets) else [f"data: {', '.join(old)} -> {', '.join(datasets)}"]

    def start(self, cfg: SegConfig, datasets: list[dict[str, Any]], input_mode: str) -> None:
        """Write the run files of a `seg fit` on `datasets` ({"path", "synthetic"} each;
        dataset.json is the first's)."""
        info = {"kind": self.KIND, "datasets": datasets, "input": input_mode, "version": __version__}
        self.write_run_files(cfg.to_yaml(), Path(datasets[0]["path"]), info)

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

    def fingerprint(self) -> str:
        """SHA-256 of the trained model file: which segmenter, exactly."""
        return hashlib.sha256(self.model_path.read_bytes()).hexdigest()

"""Export a run's generator as a self-contained model folder that plain TensorFlow serves.

    MODEL/saved_model/    a TensorFlow SavedModel: ``tf.saved_model.load`` needs neither
                          pix2pix-sar nor Keras
    MODEL/export.json     the facts: variant, patch size, class scheme and input encoding,
                          scaling to physical units, receptive field and tiling rule, noise
                          keys, training data, training, metrics at the exported epoch, limits,
                          and the size of every SavedModel file (an incomplete copy is refused);
                          gathered from the run by :mod:`pix2pix_sar.generation.run_facts`
    MODEL/model_card.md   the same facts for people (:mod:`pix2pix_sar.generation.model_card`)

Signatures (batch and size free; masks encoded as ``export.json``'s ``input`` says; images
in model units, [-1, 1]):

    serving_default, generate(masks (N,H,W,C) float32, seed () int32, offsets (N,2) int32)
        -> {"images": (N,H,W,1) float32}. Example i's noise key is
        (seed, 0, offsets[i,0], offsets[i,1]): what ``pix2pix-sar generate`` uses for a tile
        whose top-left pixel in the scene is (row, col) = offsets[i] (:func:`pix2pix_sar.noise.tile_keys`).
    generate_keyed(masks, keys (N,4) int32) -> {"images"}: any keys (:mod:`pix2pix_sar.noise`).

The generator runs under the project's one rule (:mod:`pix2pix_sar.models.inference`):
per-image normalisation, noise on, keyed. ``generate --run MODEL`` reads an export like a
run folder and gives the same pixels for the same seed (:class:`ExportedModel`, read by
``RunGenerator.from_export``). The folder is written under a temporary name and renamed
when complete.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pix2pix_sar import jsonio
from pix2pix_sar.atomic import already_exists, atomic_dir
from pix2pix_sar.config import Config, config_from_dict
from pix2pix_sar.data.dataset import DatasetInfo
from pix2pix_sar.errors import InputError, RunStateError, option
from pix2pix_sar.generation.model_card import model_card
from pix2pix_sar.generation.run_facts import model_facts
from pix2pix_sar.run_folder import RunFolder

EXPORT_FORMAT = "pix2pix-sar export"
EXPORT_VERSION = 1
SAVED_MODEL = "saved_model"
FACTS = "export.json"
CARD = "model_card.md"


def is_export(path: str | Path) -> bool:
    """True for a folder that `export` wrote (or began to write: then loading says what is missing)."""
    path = Path(path)
    return (path / FACTS).exists() or (path / SAVED_MODEL).is_dir()


def _redo(path: Path) -> str:
    return f"export it again with 'pix2pix-sar export RUN --out {path}'"


# --- Writing --------------------------------------------------------------------------------


def export_run(run_dir: str | Path, out: str | Path, *, epoch: int | None = None, overwrite: bool = False) -> Path:
    """Write the export of `run_dir`'s snapshot at `epoch` (default: the last) to `out`."""
    import tensorflow as tf

    from pix2pix_sar.models.inference import inference_generator, is_legacy
    from pix2pix_sar.models.snapshots import load_generator

    out = Path(out)
    run = RunFolder(run_dir).require()
    cfg = run.load_config()
    info = run.dataset_info()
    epoch, snapshot = run.find_snapshot(epoch)
    if out.exists() and not overwrite:
        raise already_exists(out)
    if out.resolve() == run.path.resolve() or out.resolve() in run.path.resolve().parents:
        raise InputError(
            f"{out}: holds the run {run.path}, which an export may not replace; choose another {option('out')}"
        )
    model = load_generator(snapshot)
    if is_legacy(model):
        raise RunStateError(
            f"{run.path}: was trained by pix2pix-sar 0.1, whose dropout is not keyed, so an export could not "
            "reproduce its images; train a new run to export it"
        )
    facts = {
        "format": EXPORT_FORMAT,
        "format_version": EXPORT_VERSION,
        **model_facts(run, cfg, info, epoch, tensorflow_version=tf.__version__),
    }
    with atomic_dir(out, overwrite) as folder:
        _write_saved_model(inference_generator(model, cfg.model), cfg.model.in_channels, folder.path / SAVED_MODEL)
        facts["files"] = {
            str(p.relative_to(folder.path)): p.stat().st_size
            for p in sorted((folder.path / SAVED_MODEL).rglob("*"))
            if p.is_file()
        }
        (folder.path / FACTS).write_text(jsonio.dumps(facts, indent=2) + "\n")
        (folder.path / CARD).write_text(model_card(facts))
        return folder.commit()


def _write_saved_model(generator, channels: int, path: Path) -> None:
    """The SavedModel: `generator` (an inference copy, any size) behind two endpoints.

    A plain ``tf.Module`` that tracks the generator's underlying ``tf.Variable`` s, not
    Keras' ExportArchive: that one stores every weight twice (keras-team/keras#23553:
    twice the size on disk and in the memory of whoever loads it)."""
    import tensorflow as tf

    def keyed(masks, keys):
        return {"images": tf.cast(generator([masks, keys], training=True), tf.float32)}

    def with_seed(masks, seed, offsets):
        n = tf.shape(masks)[0]
        keys = tf.stack(
            [tf.fill([n], seed), tf.zeros([n], tf.int32), offsets[:, 0], offsets[:, 1]], axis=1, name="noise_keys"
        )
        return keyed(masks, keys)

    masks = tf.TensorSpec((None, None, None, channels), tf.float32, name="masks")
    module = tf.Module()
    module.weights = [v.value for v in generator.variables]  # the tf.Variables the functions capture
    module.generate = tf.function(
        with_seed,
        input_signature=[
            masks,
            tf.TensorSpec((), tf.int32, name="seed"),
            tf.TensorSpec((None, 2), tf.int32, name="offsets"),
        ],
    )
    module.generate_keyed = tf.function(keyed, input_signature=[masks, tf.TensorSpec((None, 4), tf.int32, "keys")])
    signatures = {"serving_default": module.generate, "generate": module.generate}
    tf.saved_model.save(module, str(path), signatures={**signatures, "generate_keyed": module.generate_keyed})


# --- Reading --------------------------------------------------------------------------------


class ExportedModel:
    """An export folder, checked complete, read like a run folder by generation."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.facts: dict[str, Any] = {}

    def require(self) -> "ExportedModel":
        path = self.path
        if not path.is_dir():
            raise InputError(f"{path}: no such model folder; {_redo(path)}")
        facts_path = path / FACTS
        if not facts_path.exists():
            raise InputError(f"{path}: incomplete export ({FACTS} is missing); {_redo(path)}")
        try:
            facts = json.loads(facts_path.read_text())
        except json.JSONDecodeError as exc:
            raise InputError(f"{facts_path}: not valid JSON ({exc.msg}); {_redo(path)}") from None
        if not isinstance(facts, dict) or facts.get("format") != EXPORT_FORMAT or "files" not in facts:
            raise InputError(f"{facts_path}: not the description of a pix2pix-sar export; {_redo(path)}")
        if facts.get("format_version", 0) > EXPORT_VERSION:
            raise InputError(
                f"{path}: export format {facts['format_version']} is newer than this pix2pix-sar reads "
                f"({EXPORT_VERSION}); upgrade pix2pix-sar"
            )
        if f"{SAVED_MODEL}/saved_model.pb" not in facts["files"]:
            raise InputError(f"{facts_path}: lists no SavedModel; {_redo(path)}")
        for name, size in facts["files"].items():
            file = path / name
            if not file.is_file():
                raise InputError(f"{path}: incomplete export ({name} is missing); {_redo(path)}")
            if file.stat().st_size != size:
                raise InputError(
                    f"{path}: incomplete export ({name} has {file.stat().st_size} of {size} bytes); {_redo(path)}"
                )
        self.facts = facts
        return self

    @property
    def epoch(self) -> int:
        return int(self.facts["epoch"])

    def config(self) -> Config:
        return config_from_dict(self.facts["config"], str(self.path / FACTS))

    def dataset_info(self) -> DatasetInfo:
        return DatasetInfo.from_dict(self.facts["dataset"], str(self.path / FACTS))

    def keyed_function(self):
        """``(masks, keys) -> images`` tensors: the SavedModel's generate_keyed."""
        import tensorflow as tf

        try:
            loaded = tf.saved_model.load(str(self.path / SAVED_MODEL))
        except (OSError, ValueError, tf.errors.OpError) as exc:
            raise InputError(
                f"{self.path / SAVED_MODEL}: TensorFlow cannot load it ({type(exc).__name__}); {_redo(self.path)}"
            ) from None
        fn = loaded.generate_keyed

        def generate(masks, keys):
            return fn(masks, keys)["images"]

        generate.loaded = loaded  # keep the restored variables alive
        return generate

"""The run-folder lifecycle fit and seg fit share: the resume check by each kind's policy,
the same-input check, the run files and the history rows (appended, rewound). No TensorFlow."""

from __future__ import annotations

import csv
import json

import pytest
import yaml

from pix2pix_sar.config import SegConfig, resolve_config
from pix2pix_sar.errors import InvalidValue, RunStateError
from pix2pix_sar.run_folder import RunFolder, SegRunFolder


def _gan_run(tmp_path, tiny_dataset, **training):
    run = RunFolder(tmp_path / "run")
    cfg = resolve_config("orig", assignments=[f"training.{k}={v}" for k, v in training.items()])
    run.start(cfg, tiny_dataset, "memory", "float32")
    return run, cfg


def _seg_run(tmp_path, tiny_dataset):
    run = SegRunFolder(tmp_path / "seg")
    datasets = [{"path": str(tiny_dataset.resolve()), "synthetic": False}]
    run.start(SegConfig(steps=4), datasets, "memory")
    return run, [d["path"] for d in datasets]


def test_each_kind_resumes_with_its_own_policy(tiny_dataset, tmp_path):
    gan, cfg = _gan_run(tmp_path, tiny_dataset, epochs=2)
    assert json.loads(gan.run_json.read_text())["format"] and gan.run_info()["input"] == "memory"
    gan.check_resume(
        resolve_config("orig", assignments=["training.epochs=5", "training.keep_states=3"])
    )  # how long, how
    with pytest.raises(RunStateError, match=r"other settings \(training.seed: 0 -> 1\)"):
        gan.check_resume(resolve_config("orig", assignments=["training.epochs=2", "training.seed=1"]))

    seg, paths = _seg_run(tmp_path, tiny_dataset)
    assert yaml.safe_load(seg.config_path.read_text())["training"]["steps"] == 4  # saved by section, as fit's
    seg.check_resume(SegConfig(steps=9, input="streamed", state_every=1), paths)
    with pytest.raises(RunStateError, match=r"training.seed: 0 -> 1"):
        seg.check_resume(SegConfig(steps=4, seed=1), paths)
    with pytest.raises(RunStateError, match=r"data: .* -> elsewhere"):
        seg.check_resume(SegConfig(steps=4), ["elsewhere"])
    # A segmenter run saved before its config had sections resumes as well.
    seg.config_path.write_text(yaml.safe_dump({"steps": 4, "epochs": None, "batch_size": 8}))
    seg.check_resume(SegConfig(steps=6), paths)
    # Neither kind continues the other's run.
    with pytest.raises(RunStateError, match="not a segmenter run folder"):
        SegRunFolder(gan.path).check_resume(SegConfig(steps=4), paths)


def test_both_kinds_keep_their_input_and_name_the_setting_not_a_flag(tiny_dataset, tmp_path):
    for run in (_gan_run(tmp_path, tiny_dataset)[0], _seg_run(tmp_path, tiny_dataset)[0]):
        run.check_same_input("memory")
        with pytest.raises(InvalidValue, match="was trained with memory input") as info:
            run.check_same_input("streamed")
        assert info.value.field == "data.input" and "--" not in str(info.value)


def test_history_rows_are_appended_upgraded_and_rewound_for_both_kinds(tiny_dataset, tmp_path):
    seg = _seg_run(tmp_path, tiny_dataset)[0]
    gan = _gan_run(tmp_path, tiny_dataset)[0]
    for step in (3, 6, 9):
        seg.append_history(("step", "epoch", "loss", "seconds"), [step, step / 3, 0.5, 1.0])
    gan.append_history(("epoch", "loss"), [1, 0.25])  # a history from before the time columns
    gan.append_history(("epoch", "loss", "seconds"), [2, 0.2, 4.0])
    seg.rewind_history(6)
    gan.rewind_history(1)
    rows = {run: list(csv.reader(run.history_csv.open(newline=""))) for run in (seg, gan)}
    assert [r[0] for r in rows[seg]] == ["step", "3", "6"]
    assert rows[gan] == [["epoch", "loss", "seconds"], ["1", "0.25"]]

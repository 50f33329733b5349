"""Figures for glaciologists (issue 24, item 5): SAR panels in dB with a colour bar stating
the clip range, no-data in the legend, the whole scene above the patches, the SAR
statistics in the curves; and report's refusal to rank runs trained on different data."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pix2pix_sar.data.scaling import SarScaling
from pix2pix_sar.errors import RunStateError
from pix2pix_sar.evaluation import figures
from pix2pix_sar.evaluation.report import EvaluatedRun, check_same_data
from pix2pix_sar.run_folder import RunFolder


@pytest.fixture()
def saved(monkeypatch):
    """The matplotlib figures the plot functions save, before they are closed."""
    figs, save = [], figures._save
    monkeypatch.setattr(figures, "_save", lambda fig, out, dpi=110: figs.append(fig) or save(fig, out, dpi))
    return figs


def _patches(n=3, size=16):
    zones = np.full((n, size, size), 64, np.uint8)
    zones[:, :, size // 2 :] = 254
    zones[0, :4, :4] = 0  # no data
    images = np.linspace(-1, 1, n * size * size, dtype=np.float32).reshape(n, size, size, 1)
    return zones, images


def test_image_grid_shows_db_with_a_colour_bar_and_no_data_in_the_legend(saved, tmp_path):
    zones, images = _patches()
    scaling = SarScaling("intensity", -25.5, 1.9)
    out = figures.plot_image_grid(
        zones, [("target", images), ("generated", images)], tmp_path / "g.png", scaling=scaling
    )
    assert out.stat().st_size > 0
    fig = saved[0]
    bars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert len(bars) == 1 and len(fig.axes) == 3 * 3 + 1
    assert bars[0].get_xlabel() == "backscatter (dB), clipped to the training range -25.5 .. 1.9 dB"
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["no data", "rock", "glacier", "ocean"]
    shown = fig.axes[1].get_images()[0].get_array()  # row 0's target
    assert np.ma.is_masked(shown) and shown.mask[:4, :4].all() and not shown.mask[4:, 4:].any()
    assert fig.axes[1].get_images()[0].get_clim() == (-25.5, 1.9)  # dB, not the model range
    assert fig.axes[7].get_images()[0].get_array().max() == pytest.approx(1.9)  # model +1: the range's top


def test_scene_sits_above_the_patches_two_to_a_line(saved, tmp_path):
    zones, images = _patches(n=4)
    scene_zones = np.full((40, 40), 127, np.uint8)
    scene = (scene_zones, np.zeros((40, 40)), np.zeros((40, 40)))
    figures.plot_image_grid(zones, [("target", images), ("generated", images)], tmp_path / "s.png", scene=scene)
    fig = saved[0]
    panels = [ax for ax in fig.canvas.figure.get_axes() if ax.get_label() != "<colorbar>"]
    scene_axes = [ax for ax in panels if ax.get_title().endswith("scene") or ax.get_title() == "scene zones"]
    patch_axes = [ax for ax in panels if ax not in scene_axes]
    assert len(scene_axes) == 3 and len(patch_axes) == 4 * 3  # 2 lines of 2 patches x 3 panels
    fig.canvas.draw()
    lowest_scene = min(ax.get_window_extent().y0 for ax in scene_axes)  # pixels: subfigures
    assert all(ax.get_window_extent().y1 <= lowest_scene for ax in patch_axes)
    assert "model units [-1, 1]" in [ax for ax in fig.axes if ax.get_label() == "<colorbar>"][0].get_xlabel()


def test_curves_add_w1_enl_and_the_segmentation_score_where_present(saved, tmp_path):
    base = [{"epoch": e, "dice_mean": 0.5, "dice_std": 0.1, "ssim_mean": 0.3, "ssim_std": 0.1} for e in (1, 2)]
    sar = [{**r, "w1_db_ocean": 1.0, "w1_db_rock": 2.0, "enl_ratio_ocean": 1.2} for r in base]
    seg = [{**r, "seg_miou": 0.5, "seg_mde_m": 300.0} for r in sar]
    for rows, panels in ((base, 2), (sar, 4), (seg, 6)):
        figures.plot_curves({"scene": rows}, tmp_path / "c.png")
        assert len(saved[-1].axes) == panels
    labels = [ax.get_ylabel() for ax in saved[-1].axes]
    assert labels[2:4] == ["W1 real vs generated (dB)", "ENL generated / real"]
    assert [t.get_text() for t in saved[-1].axes[2].get_legend().get_texts()] == ["ocean", "rock"]


def _run(path, dataset: dict, manifest: str, dataset_dir: str) -> EvaluatedRun:
    path.mkdir()
    (path / "dataset.json").write_text(json.dumps(dataset))
    sha = __import__("hashlib").sha256(manifest.encode()).hexdigest()
    (path / "run.json").write_text(json.dumps({"dataset": dataset_dir, "dataset_manifest_sha256": sha}))
    return EvaluatedRun(RunFolder(path), path.name, "scene", [])


def test_report_refuses_to_rank_runs_trained_on_different_data(tmp_path):
    info = {"patch_size": 32, "scaling": {"units": "db", "db_min": -25, "db_max": 2}}
    a = _run(tmp_path / "a", info, "id\nx\n", "/data/one")
    moved = _run(tmp_path / "moved", dict(reversed(info.items())), "id\nx\n", "/elsewhere/copy")
    assert check_same_data([a, moved]) == []  # the same content in another folder: comparable
    other_patches = _run(tmp_path / "b", info, "id\ny\n", "/data/one")
    other_scaling = _run(tmp_path / "c", {**info, "patch_size": 64}, "id\nx\n", "/data/one")
    with pytest.raises(RunStateError) as refused:
        check_same_data([a, other_patches, other_scaling])
    assert str(refused.value) == (
        "the runs were trained on different datasets (b's patches (manifest.csv) differ from a's; "
        "c's dataset.json differs from a's), so their scores do not rank them; compare runs trained on the "
        "same dataset, or pass allow_different_data to report them anyway"
    )
    assert len(check_same_data([a, other_patches, other_scaling], allow_different_data=True)) == 2

"""Atomic outputs (pix2pix_sar/atomic.py): whole or not at all, old output kept until the new one is done."""

from __future__ import annotations

import os
import stat

import pytest

from pix2pix_sar.atomic import AtomicDir, already_exists, atomic_dir, atomic_path
from pix2pix_sar.errors import InputError


def test_atomic_path_renames_the_temporary_on_success(tmp_path):
    target = tmp_path / "sub" / "result.txt"
    with atomic_path(target) as tmp:
        assert tmp.parent == target.parent  # same folder: the rename is atomic
        assert tmp.name.startswith(".result.") and tmp.suffix == ".txt"
        assert not target.exists()
        tmp.write_text("new")
    assert target.read_text() == "new"
    assert os.listdir(target.parent) == ["result.txt"]


def test_atomic_path_gives_the_permissions_of_a_plain_open(tmp_path):
    umask = os.umask(0o022)
    try:
        with atomic_path(tmp_path / "f.bin") as tmp:
            tmp.write_bytes(b"x")
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "f.bin").stat().st_mode) == 0o644  # mkstemp alone gives 0600


def test_atomic_path_suffix_override(tmp_path):
    with atomic_path(tmp_path / "a.gpkg", suffix=".tif") as tmp:
        assert tmp.suffix == ".tif"
        tmp.write_text("x")
    assert (tmp_path / "a.gpkg").read_text() == "x"


def test_atomic_path_keeps_the_old_file_on_exception(tmp_path):
    target = tmp_path / "result.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["result.txt"]


def test_atomic_dir_replaces_an_existing_folder_on_commit(tmp_path):
    out = tmp_path / "dataset"
    out.mkdir()
    (out / "old.txt").write_text("old")
    with AtomicDir(out, overwrite=True) as staging:
        assert staging.path.parent == tmp_path and staging.path.name.startswith(".dataset.")
        (staging.path / "new.txt").write_text("new")
        assert (out / "old.txt").exists()  # the old output stays until commit
        assert staging.commit() == out
    assert sorted(os.listdir(out)) == ["new.txt"]
    assert os.listdir(tmp_path) == ["dataset"]  # neither the staging folder nor the old one left


def test_atomic_dir_commit_gives_plain_mkdir_permissions(tmp_path):
    umask = os.umask(0o022)
    try:
        with atomic_dir(tmp_path / "out") as staging:
            staging.commit()
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o755  # mkdtemp alone gives 0700


def test_atomic_dir_without_commit_removes_its_temporary_folder(tmp_path):
    out = tmp_path / "dataset"
    with pytest.raises(RuntimeError, match="boom"):
        with AtomicDir(out) as staging:
            (staging.path / "part.txt").write_text("half")
            assert staging.path.is_dir()
            raise RuntimeError("boom")
    assert not out.exists()
    assert os.listdir(tmp_path) == []


def test_atomic_dir_without_commit_keeps_an_existing_folder(tmp_path):
    out = tmp_path / "dataset"
    out.mkdir()
    (out / "old.txt").write_text("old")
    with AtomicDir(out, overwrite=True) as staging:
        (staging.path / "new.txt").write_text("new")
    assert os.listdir(out) == ["old.txt"]
    assert os.listdir(tmp_path) == ["dataset"]


def test_atomic_dir_refuses_an_existing_folder_without_overwrite(tmp_path):
    out = tmp_path / "dataset"
    out.mkdir()
    message = r"dataset: already exists; pass overwrite to replace it or choose another out"
    with pytest.raises(InputError, match=message):
        AtomicDir(out)
    with pytest.raises(InputError, match=r"already exists; pass overwrite .* another masks_out"):
        AtomicDir(out, option_field="masks_out")
    assert os.listdir(tmp_path) == ["dataset"]  # no staging folder made


def test_already_exists_names_the_path_and_option(tmp_path):
    error = already_exists(tmp_path / "x", "dir")
    assert isinstance(error, InputError)
    assert str(error) == f"{tmp_path / 'x'}: already exists; pass overwrite to replace it or choose another dir"

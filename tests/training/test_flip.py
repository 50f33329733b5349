"""`data.flip` reaches training: with it on, fit is fed the same patches in the same
order, each as it is or flipped (mask and image together), and some are flipped.

Only the `flip` argument of `distributed_epoch` and the first two parts (mask, image)
of each batch are relied on, so a batch may carry more parts."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

#: The four flips of a (batch, H, W, C) patch: none, left-right, up-down, both.
_FLIPS = (lambda a: a, lambda a: a[:, ::-1], lambda a: a[::-1], lambda a: a[::-1, ::-1])


def _local(strategy, value) -> np.ndarray:
    """One batch part as numpy, the replicas' shares of it concatenated."""
    return np.concatenate([np.asarray(v) for v in strategy.experimental_local_results(value)])


def _pair(strategy, element) -> tuple[np.ndarray, np.ndarray]:
    return _local(strategy, element[0]), _local(strategy, element[1])


class _Enough(BaseException):
    """Ends fit once the batches wanted have been trained on (not an Exception: fit must not catch it)."""


class _RecordingEpochs:
    """Stands in for `distributed_epoch`: records each call's `flip`, the batches the
    caller iterates, and the same epoch built with flip off (the reference). With
    `stop_after`, asking for one batch more than that raises :class:`_Enough`."""

    def __init__(self, original, stop_after: int | None = None):
        self.original, self.stop_after = original, stop_after
        self.calls: list[dict] = []

    def __call__(self, *args, **kwargs):
        bound = inspect.signature(self.original).bind(*args, **kwargs)
        bound.apply_defaults()
        strategy = bound.arguments["strategy"]
        unflipped = self.original(**{**bound.arguments, "flip": False})
        call = {"flip": bound.arguments["flip"], "seen": [], "unflipped": [_pair(strategy, e) for e in unflipped]}
        self.calls.append(call)
        return _Recorded(self.original(*args, **kwargs), strategy, call["seen"], self.stop_after)


class _Recorded:
    """A distributed dataset that notes every element handed out by iteration."""

    def __init__(self, batches, strategy, seen: list, stop_after: int | None):
        self._batches, self._strategy, self._seen, self._stop_after = batches, strategy, seen, stop_after

    def __iter__(self):
        for element in self._batches:
            if len(self._seen) == self._stop_after:
                raise _Enough
            self._seen.append(_pair(self._strategy, element))
            yield element

    def __getattr__(self, name):
        return getattr(self._batches, name)


def _flips_of(got: np.ndarray, want: np.ndarray) -> set[int]:
    return {i for i, flip in enumerate(_FLIPS) if np.array_equal(got, flip(want))}


def _assert_flipped_copy(seen: list, unflipped: list) -> None:
    """`seen` holds the patches of `unflipped` (or of its first batches) in the same order, each
    flipped one of the four ways (mask and image alike), and at least one batch differs."""
    assert seen and len(seen) <= len(unflipped)
    changed = 0
    for (mask, image), (ref_mask, ref_image) in zip(seen, unflipped):
        assert mask.shape == ref_mask.shape and image.shape == ref_image.shape
        for j in range(len(mask)):
            assert _flips_of(mask[j], ref_mask[j]) & _flips_of(image[j], ref_image[j]), f"patch {j} is not a flip"
        changed += not (np.array_equal(mask, ref_mask) and np.array_equal(image, ref_image))
    assert changed, "flip is on, yet every batch equals the unflipped one"


def test_data_flip_true_reaches_fit_and_flips_what_it_trains_on(tiny_dataset, tiny_config, tmp_path, monkeypatch):
    from pix2pix_sar.training import inputs
    from pix2pix_sar.training.loop import fit

    # Two trained batches of four patches are enough (and keep the test short): fit is
    # stopped when it asks for a third, after training on the first two.
    recorder = _RecordingEpochs(inputs.distributed_epoch, stop_after=2)
    monkeypatch.setattr(inputs, "distributed_epoch", recorder)  # fit imports it from there when called
    cfg = tiny_config("orig", "data.flip=true", "training.batch_size=4", "model.unet_depth=2", epochs=1)
    assert cfg.data.flip is True
    with pytest.raises(_Enough):
        fit(cfg, tiny_dataset, tmp_path / "run")
    assert [call["flip"] for call in recorder.calls] == [True]
    assert len(recorder.calls[0]["seen"]) == 2
    _assert_flipped_copy(recorder.calls[0]["seen"], recorder.calls[0]["unflipped"])


def test_flip_changes_the_epoch_only_by_flips(tiny_dataset):
    """The same check on distributed_epoch alone (no model): flip on flips, flip off does not."""
    import tensorflow as tf

    from pix2pix_sar.data.zones import class_scheme
    from pix2pix_sar.training.inputs import distributed_epoch, load_worker_shard

    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    shard = load_worker_shard(tiny_dataset, "train", class_scheme("binary", "test"), 1, 1, 0)
    recorder = _RecordingEpochs(distributed_epoch)
    for flip in (True, False):
        for _ in recorder(strategy, shard, 4, 0, 1, flip, prefetch=0):
            pass
    (on, off) = recorder.calls
    assert (on["flip"], off["flip"]) == (True, False)
    _assert_flipped_copy(on["seen"], on["unflipped"])
    assert len(off["seen"]) == len(off["unflipped"])
    assert all(np.array_equal(a, b) for got, want in zip(off["seen"], off["unflipped"]) for a, b in zip(got, want))

"""tf.distribute strategies by name, and who writes what in a multi-worker run.

* ``one-device``: the first GPU, else the CPU.
* ``mirrored``: all local GPUs (or logical CPUs) in one process, gradients all-reduced.
* ``multi-worker``: MultiWorkerMirroredStrategy over the hosts in ``TF_CONFIG``.
* ``auto``: mirrored when more than one GPU is visible, else one-device.

Only the chief (worker 0) writes files: snapshots, TensorBoard, history, config and
the training state (taken from its own copy of the variables, which are the same on
every worker, so saving needs no collective operation).
"""

from __future__ import annotations

import json
import os
from typing import Callable

import tensorflow as tf

from pix2pix_sar.devices import has_gpu
from pix2pix_sar.errors import ConfigError, option

#: Splits the CPU into this many logical devices (for trying mirrored on a laptop or in CI).
LOGICAL_CPUS_ENV = "PIX2PIX_SAR_LOGICAL_CPUS"


def configure_devices() -> None:
    """Apply PIX2PIX_SAR_LOGICAL_CPUS before TensorFlow initialises its devices."""
    count = int(os.environ.get(LOGICAL_CPUS_ENV, "0") or 0)
    if count > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        if len(tf.config.get_logical_device_configuration(cpu) or []) != count:
            tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)


def _local_devices() -> list[str]:
    gpus = tf.config.list_logical_devices("GPU")
    return [d.name for d in gpus] if gpus else [d.name for d in tf.config.list_logical_devices("CPU")]


def _one_device() -> tf.distribute.Strategy:
    return tf.distribute.OneDeviceStrategy(_local_devices()[0])


def _mirrored() -> tf.distribute.Strategy:
    devices = _local_devices()
    # NCCL needs GPUs; on CPUs reduce through one device.
    ops = None if tf.config.list_logical_devices("GPU") else tf.distribute.ReductionToOneDevice()
    return tf.distribute.MirroredStrategy(devices, cross_device_ops=ops)


def _multi_worker() -> tf.distribute.Strategy:
    if "TF_CONFIG" not in os.environ:
        raise ConfigError(
            f"{option('strategy')} multi-worker needs TF_CONFIG (cluster hosts and this task's index); "
            "see docs/scaling.md"
        )
    # Only physical-device queries here: the runtime must not start before the strategy.
    implementation = (
        tf.distribute.experimental.CommunicationImplementation.NCCL
        if has_gpu()
        else tf.distribute.experimental.CommunicationImplementation.RING
    )
    return tf.distribute.MultiWorkerMirroredStrategy(
        communication_options=tf.distribute.experimental.CommunicationOptions(implementation=implementation)
    )


def _auto() -> tf.distribute.Strategy:
    return _mirrored() if len(tf.config.list_physical_devices("GPU")) > 1 else _one_device()


STRATEGIES: dict[str, Callable[[], tf.distribute.Strategy]] = {
    "auto": _auto,
    "one-device": _one_device,
    "mirrored": _mirrored,
    "multi-worker": _multi_worker,
}


def make_strategy(name: str) -> tf.distribute.Strategy:
    if name not in STRATEGIES:
        raise ConfigError(f"unknown strategy {name!r}; choose one of: {', '.join(STRATEGIES)}")
    configure_devices()
    return STRATEGIES[name]()


def task_index(strategy: tf.distribute.Strategy) -> int:
    """This worker's index (0 outside multi-worker runs)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return 0
    if resolver.task_type == "chief":
        return 0
    has_chief = "chief" in json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster", {})
    return int(resolver.task_id) + (1 if has_chief else 0)


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    return task_index(strategy) == 0


def num_workers(strategy: tf.distribute.Strategy) -> int:
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return 1
    spec = resolver.cluster_spec().as_dict()
    return sum(len(spec.get(job, [])) for job in ("chief", "worker"))

"""Options shared by several commands, and the error edge of the CLI."""

from __future__ import annotations

import functools
import logging
import os

import click

from pix2pix_sar.errors import ConfigError, Pix2PixSarError

log = logging.getLogger("pix2pix_sar")

verbosity = click.option("-v", "--verbose", count=True, help="More log output (repeatable).")

seed_opt = click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
overwrite_opt = click.option("--overwrite", is_flag=True, help="Replace an existing output.")
patch_size_opt = click.option(
    "--patch-size", type=int, default=256, show_default=True, help="Patch width and height in pixels."
)
variant_opt = click.option(
    "--variant",
    default="orig",
    show_default=True,
    help="Named variant: orig, gen5, dis3, l1_1_gan100, l1_50_gan50 (see 'pix2pix-sar variants').",
)
config_opt = click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    help="YAML file of overrides ({section: {key: value}}), applied after the variant.",
)
set_opt = click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="SECTION.KEY=VALUE",
    help="Override one config field (repeatable), applied after --config.",
)


def quiet_tensorflow() -> None:
    """Keep TensorFlow's C++ start-up chatter out of the user's terminal."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def user_errors(func):
    """Turn library errors into one-line Click errors (exit 1, no traceback)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except ConfigError as exc:
            raise click.BadParameter(str(exc), param_hint="'--config'/'--set'/'--variant'") from None
        except Pix2PixSarError as exc:
            raise click.ClickException(str(exc)) from None
        except KeyboardInterrupt:
            raise click.ClickException("interrupted; rerun the same command to resume") from None

    return wrapper

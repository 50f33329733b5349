"""One exception root for everything the library reports to a user.

Messages say what is wrong and what to do; the CLI prints them as one line.
A message names a setting the user can change through :func:`option`, never
by a command-line flag: ``str(error)`` shows the setting's field name (what a
Python caller passes), the CLI the option that sets it (``tile`` -> ``--tile``).
"""

from __future__ import annotations

import re
from typing import Callable

_OPTION = re.compile(r"\{option:([A-Za-z_][\w.]*)\}")


def option(field: str) -> str:
    """How a message names the setting `field` (a function argument, e.g. ``max_nodata``):
    a placeholder that :meth:`Pix2PixSarError.render` fills in."""
    return f"{{option:{field}}}"


def fill_options(text: str, name_of: Callable[[str], str]) -> str:
    """`text` with each :func:`option` placeholder filled by `name_of(field)` (errors and log lines)."""
    return _OPTION.sub(lambda m: name_of(m.group(1)), text)


class Pix2PixSarError(Exception):
    """Base class of every error meant for a user."""

    def render(self, name_of: Callable[[str], str]) -> str:
        """The message with each :func:`option` placeholder filled by `name_of(field)`."""
        return fill_options(super().__str__(), name_of)

    def __str__(self) -> str:
        return self.render(lambda field: field)


class InputError(Pix2PixSarError):
    """A file or folder given by the user is missing, unreadable or malformed."""


class InvalidValue(InputError):
    """A value given for a named field (a function argument) is out of range.

    The message names the value (and other settings through :func:`option`); `field`
    lets the CLI point at the option that set it (``tile`` -> ``--tile``)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


class InvalidMask(InputError, ValueError):
    """A mask's values (or an in-memory mask's shape) are not what a generator takes;
    a ValueError too, as Python callers of :func:`pix2pix_sar.load` expect."""


class ConfigError(Pix2PixSarError):
    """A configuration key, value or variant is unknown or of the wrong type."""


class RunStateError(Pix2PixSarError):
    """A run folder cannot be used as asked (mismatched resume, missing snapshots)."""


class TrainingDivergedError(Pix2PixSarError):
    """A loss became NaN or infinite; the last good checkpoint is kept."""


class TrainingInterrupted(Pix2PixSarError):
    """A stop signal (SIGTERM, SIGINT) ended training after the state was saved.

    `exit_status` is the shell's convention for death by that signal (128 + its
    number: 143 for SIGTERM, 130 for SIGINT); the message says where training stopped."""

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.signum = signum
        self.exit_status = 128 + signum

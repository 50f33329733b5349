"""One exception root for everything the library reports to a user.

Messages say what is wrong and what to do; the CLI prints them as one line.
"""


class Pix2PixSarError(Exception):
    """Base class of every error meant for a user."""


class InputError(Pix2PixSarError):
    """A file or folder given by the user is missing, unreadable or malformed."""


class InvalidValue(InputError):
    """A value given for a named field (a function argument) is out of range.

    The message names the field and the value; `field` lets the CLI point at the
    option that set it (``tile`` -> ``--tile``)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


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

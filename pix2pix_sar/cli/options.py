"""Options shared by several commands, and the error edge of the CLI."""

from __future__ import annotations

import functools
import logging
import re
import shlex
import signal
from dataclasses import dataclass
from typing import Iterator

import click

from pix2pix_sar.cli.native_logs import quiet_tensorflow_import
from pix2pix_sar.cli.progress import finish_active_bar
from pix2pix_sar.config import INPUT_MODES, VARIANTS, parse_interval
from pix2pix_sar.errors import ConfigError, InvalidValue, Pix2PixSarError, TrainingInterrupted, fill_options
from pix2pix_sar.training.preemption import StopSignals

log = logging.getLogger("pix2pix_sar")


@dataclass(frozen=True)
class CliState:
    """What the root group hands every command through ``ctx.obj``."""

    verbose: int = 0
    quiet: bool = False


def cli_state(ctx: click.Context) -> CliState:
    return ctx.find_object(CliState) or CliState()


seed_opt = click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
overwrite_opt = click.option("--overwrite", is_flag=True, help="Replace an existing output.")
input_opt = click.option(
    "--input",
    "input_mode",
    type=click.Choice(INPUT_MODES),
    default="auto",
    show_default=True,
    help="Hold the patches in memory, or stream them from 'dataset pack' (auto: by size).",
)
patch_size_opt = click.option(
    "--patch-size", type=int, default=256, show_default=True, help="Patch width and height in pixels."
)
variant_opt = click.option(
    "--variant",
    default="orig",
    show_default=True,
    help=f"Named variant: {', '.join(VARIANTS)} (see 'pix2pix-sar variants').",
)
config_opt = click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    help="YAML file of overrides ({section: {key: value}}), applied after the defaults (fit: the variant's).",
)
scaling_from_opt = click.option(
    "--scaling-from",
    type=click.Path(file_okay=False),
    metavar="RUN|DATASET",
    help="Copy the units, clip range, extra-band ranges and class scheme (and the patch size, unless given) "
    "from a run folder or a dataset folder instead of computing them from these scenes: for held-out "
    "scenes a trained run is to be evaluated on ('evaluate RUN --data').",
)


def parse_state_every(ctx: click.Context, param: click.Parameter, value: str | None) -> int | str | None:
    """``--state-every`` EPOCHS|DURATION: a whole number is epochs (an int), anything else a
    duration such as 10m (kept as text, as config.yaml holds it); checked here."""
    if value is None:
        return None
    parsed: int | str = int(value) if value.strip().isdigit() else value
    try:
        parse_interval(parsed, "it")
    except ConfigError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None
    return parsed


def parse_extras(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> list:
    """``--extra NAME=RASTER`` (repeatable) -> data.extra_bands.ExtraBandInput, in order."""
    from pix2pix_sar.data.extra_bands import ExtraBandInput  # GDAL: not for --help

    try:
        return [ExtraBandInput.parse(text) for text in values]
    except Pix2PixSarError as exc:
        raise click.BadParameter(cli_message(exc, ctx), ctx=ctx, param=param) from None


def state_every_opt(help: str, default: str | None = None):
    return click.option(
        "--state-every",
        metavar="EPOCHS|DURATION",
        default=default,
        show_default=default is not None,
        callback=parse_state_every,
        help=help,
    )


def extra_opt(help: str):
    return click.option("--extra", "extras", multiple=True, metavar="NAME=RASTER", callback=parse_extras, help=help)


def given_here(ctx: click.Context, name: str) -> bool:
    """Whether the user set parameter `name` on the command line (or through the environment)."""
    source = ctx.get_parameter_source(name)
    return source is not None and source not in (
        click.core.ParameterSource.DEFAULT,
        click.core.ParameterSource.DEFAULT_MAP,
    )


set_opt = click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="SECTION.KEY=VALUE",
    help="Override one config field (repeatable), applied after --config.",
)


def quiet_tensorflow() -> None:
    """Keep TensorFlow's C++ start-up chatter out of the user's terminal (cli/native_logs.py)."""
    quiet_tensorflow_import()


def _param_of(ctx: click.Context | None, field: str) -> click.Parameter | None:
    """The command's parameter that sets library field `field` (same name, as rio does)."""
    if ctx is None:
        return None
    return next((p for p in ctx.command.params if p.name == field), None)


def _params_everywhere(ctx: click.Context | None) -> Iterator[click.Parameter]:
    """Every parameter of every command under the root group (commands are imported;
    only an error message needs this)."""
    root = ctx.find_root() if ctx is not None else None
    groups = [root.command] if root is not None and isinstance(root.command, click.Group) else []
    while groups:
        group = groups.pop()
        for name in group.list_commands(root):
            command = group.get_command(root, name)
            if isinstance(command, click.Group):
                groups.append(command)
            elif command is not None:
                yield from command.params


def _shown(param: click.Parameter) -> str:
    if isinstance(param, click.Argument):
        return param.human_readable_name
    return next((o for o in param.opts if o.startswith("--")), param.opts[0])


def option_name(ctx: click.Context | None, field: str) -> str:
    """How the CLI names library field `field` (a parameter's name, e.g. ``extras``): this
    command's option or argument of that name, else another command's option of that
    name (``extras`` -> ``--extra``), else the option spelled from it (``max_nodata`` ->
    ``--max-nodata``)."""
    param = _param_of(ctx, field)
    if param is None:
        param = next((p for p in _params_everywhere(ctx) if p.name == field and isinstance(p, click.Option)), None)
    return _shown(param) if param is not None else "--" + field.replace("_", "-")


def cli_message(exc: Pix2PixSarError, ctx: click.Context | None) -> str:
    """The error's message with the settings it names as this command's options."""
    return exc.render(lambda field: option_name(ctx, field))


class OptionNamesInLogs(logging.Filter):
    """Log lines name settings as errors do (:func:`pix2pix_sar.errors.option`): a handler
    with this filter shows them as the running command's options."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "{option:" in message:
            ctx = click.get_current_context(silent=True)
            record.msg, record.args = fill_options(message, lambda field: option_name(ctx, field)), ()
        return True


def _config_hint(ctx: click.Context | None, exc: ConfigError) -> str:
    """The options of this command that make its config (fit: --config/--set/--variant), or
    the one option given here that set the field the error names (``--epochs`` for
    ``training.epochs``: it wins over the config)."""
    for field in re.findall(r"\b(?:model|loss|optimizer|data|training)\.(\w+)", str(exc)):
        param = _param_of(ctx, field)
        if param is not None and given_here(ctx, field):
            return f"'{_shown(param)}'"
    names = [option_name(ctx, n) for n in ("config_file", "assignments", "variant") if _param_of(ctx, n)]
    return "/".join(f"'{n}'" for n in names) or "'--config'/'--set'/'--variant'"


def rerun_command(ctx: click.Context | None) -> str:
    """The command line that ran this command (the root group keeps its arguments)."""
    root = ctx.find_root() if ctx is not None else None
    if root is None or "argv" not in root.meta:
        return "the same command"
    return shlex.join([root.info_name or "pix2pix-sar", *root.meta["argv"]])


#: ``ctx.meta`` key: what a Ctrl-C leaves behind and what a rerun does (set by the command).
INTERRUPTED_KEY = "pix2pix_sar.interrupted"


def on_interrupt(ctx: click.Context, text: str) -> None:
    """What :func:`user_errors` says after Ctrl-C, besides exiting 130."""
    ctx.meta[INTERRUPTED_KEY] = text


def say(ctx: click.Context, text: str) -> None:
    """A command's report of what it did (stdout); ``-q`` leaves it out. What a command is
    asked to print (a table, JSON) uses click.echo."""
    if not cli_state(ctx).quiet:
        finish_active_bar()
        click.echo(text)


def user_errors(func):
    """Turn library errors into one-line Click errors (exit 1 or 2, no traceback).

    An :class:`InvalidValue` names a library field; when the command has an option
    of that name, Click reports it as that option's bad value. A training stopped by
    a signal (state saved) exits with the signal's status (143 SIGTERM, 130 SIGINT)
    and the command that resumes it."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except ConfigError as exc:
            ctx = click.get_current_context(silent=True)
            raise click.BadParameter(cli_message(exc, ctx), param_hint=_config_hint(ctx, exc)) from None
        except TrainingInterrupted as exc:
            ctx = click.get_current_context(silent=True)
            click.echo(f"{cli_message(exc, ctx)}; to resume, rerun: {rerun_command(ctx)}", err=True)
            raise SystemExit(exc.exit_status) from None
        except InvalidValue as exc:
            ctx = click.get_current_context(silent=True)
            param = _param_of(ctx, exc.field)
            if param is None:
                raise click.ClickException(cli_message(exc, ctx)) from None
            raise click.BadParameter(cli_message(exc, ctx), ctx=ctx, param=param) from None
        except Pix2PixSarError as exc:
            raise click.ClickException(cli_message(exc, click.get_current_context(silent=True))) from None
        except KeyboardInterrupt:
            _exit_interrupted()
        except Exception as exc:
            if not caused_by_ctrl_c(exc):
                raise
            _exit_interrupted()

    return wrapper


def _exit_interrupted() -> None:
    """Exit 130 as a shell does for SIGINT, saying what is left and what a rerun does."""
    ctx = click.get_current_context(silent=True)
    said = ctx.meta.get(INTERRUPTED_KEY) if ctx is not None else None
    finish_active_bar(keep=False)
    click.echo(f"interrupted (Ctrl-C){'; ' + said if said else ''}", err=True)
    raise SystemExit(130) from None


def caused_by_ctrl_c(exc: BaseException) -> bool:
    """Is a KeyboardInterrupt in `exc`'s chain? Raised while native code runs (numpy's
    ``__array__`` under TensorFlow's tensor conversion), CPython reports a Ctrl-C as a
    SystemError whose cause is the interrupt."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


class CtrlCBetweenSteps(StopSignals):
    """fit's stop signals for a command that has nothing to save: while active (a context
    manager), a first Ctrl-C is only noted; :meth:`check`, which the command calls between
    steps (tiles), raises it as KeyboardInterrupt from Python, never from inside native
    code. A second Ctrl-C raises at once."""

    def __init__(self):
        super().__init__((signal.SIGINT,))

    def _handle(self, signum: int, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.signum = signum  # nothing to log: the command's own message follows

    @property
    def pressed(self) -> bool:
        return self.requested

    def check(self) -> None:
        if self.requested:
            raise KeyboardInterrupt

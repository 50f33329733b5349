"""Root command group: logging verbosity, version, subcommands (imported lazily)."""

from __future__ import annotations

import importlib
import logging

import click

from pix2pix_sar import __version__
from pix2pix_sar.cli.native_logs import set_native_log_level
from pix2pix_sar.cli.options import CliState, OptionNamesInLogs
from pix2pix_sar.cli.progress import install_log_handler

#: Subcommands; each is the `command` of the module of the same name under pix2pix_sar.cli.
COMMANDS = (
    "synth",
    "prepare",
    "variants",
    "fit",
    "preview",
    "generate",
    "masks",
    "evaluate",
    "report",
    "seg",
    "dataset",
    "export",
)


class LazyGroup(click.Group):
    """Imports a subcommand's module only when it runs (so --help stays instant), and
    keeps the arguments it was given (``ctx.meta["argv"]``: how to rerun the command)."""

    def parse_args(self, ctx, args):
        ctx.meta["argv"] = list(args)
        return super().parse_args(ctx, args)

    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        return importlib.import_module(f"pix2pix_sar.cli.{name}").command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
@click.version_option(__version__, prog_name="pix2pix-sar")
@click.pass_context
def cli(ctx: click.Context, verbose: int, quiet: bool) -> None:
    """Synthetic glacier SAR images from segmentation masks (pix2pix cGAN).

    Typical flow: synth or your scenes -> prepare -> fit -> preview.
    """
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose + 1, 2)]
    set_native_log_level(verbose, quiet)  # before any command imports TensorFlow
    # Other libraries (absl, TensorFlow, Python warnings) stay at warnings unless -vv (-q: errors).
    install_log_handler(logging.ERROR if quiet else logging.DEBUG if verbose >= 2 else logging.WARNING)
    logging.getLogger("pix2pix_sar").setLevel(level)
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, OptionNamesInLogs) for f in handler.filters):
            handler.addFilter(OptionNamesInLogs())
    ctx.obj = CliState(verbose=verbose, quiet=quiet)


def run_in_process(*args) -> None:
    """Run one pix2pix-sar command in this process, as typed (experiments chain commands
    this way so TensorFlow starts once); a user error prints its line and exits like the
    console command."""
    args = [str(a) for a in args]
    print("$ pix2pix-sar " + " ".join(args), flush=True)
    try:
        cli.main(args=args, prog_name="pix2pix-sar", standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        raise SystemExit(exc.exit_code) from None

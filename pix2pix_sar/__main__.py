from pix2pix_sar.cli.main import cli

cli(prog_name="pix2pix-sar")

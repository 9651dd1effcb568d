"""Entry point for ``python -m ml_gen`` (click names the program from the command line, as it was typed)."""

from ml_gen import stdout
from ml_gen.cli import main

stdout.run(main)

"""Entry point for ``python -m ml_gen``."""

from ml_gen.cli import main

main()

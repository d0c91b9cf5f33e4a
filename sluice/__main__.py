"""``python -m sluice``: the same as the ``sluice`` command."""

from sluice.cli import main

main()

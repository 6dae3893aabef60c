"""``python -m jobdeck``: the same as the ``jobdeck`` command."""

from jobdeck.cli.main import console

console()

"""``python -m lossc``: the ``lossc`` command."""

from ._cli import main

main()

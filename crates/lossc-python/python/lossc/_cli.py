"""The ``lossc`` command installed with the package: runs the CLI in-process."""

import sys

from . import _lossc


def main() -> None:
    """Runs ``lossc`` with this process's arguments and exits with its status."""
    sys.stdout.flush()
    sys.stderr.flush()
    sys.exit(_lossc.main(["lossc", *sys.argv[1:]]))


if __name__ == "__main__":
    main()

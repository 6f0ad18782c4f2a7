"""The ``veil`` command line. Errors print one line and exit non-zero, never a traceback."""

from __future__ import annotations

import os
import sys

from veil.errors import (
    AccessError,
    InputError,
    IntegrityError,
    KeyringError,
    NotFoundError,
    VeilError,
)

EXIT_CODES: tuple[tuple[type[VeilError], int], ...] = (
    (AccessError, 5),
    (IntegrityError, 4),
    (KeyringError, 3),
    (InputError, 2),
    (NotFoundError, 2),
    (VeilError, 1),
)


def main() -> None:
    """Entry point of the ``veil`` console script."""
    from veil.cli.app import app

    try:
        app()
    except VeilError as exc:
        sys.stderr.write(f"veil: error [{exc.code}]: {exc.message}\n")
        sys.exit(next(code for kind, code in EXIT_CODES if isinstance(exc, kind)))
    except KeyboardInterrupt:
        sys.stderr.write("veil: interrupted\n")
        sys.exit(130)
    except Exception as exc:
        if os.environ.get("VEIL_DEBUG"):
            raise
        sys.stderr.write(f"veil: unexpected {type(exc).__name__}: {exc} "
                         "(set VEIL_DEBUG=1 for a traceback)\n")
        sys.exit(1)

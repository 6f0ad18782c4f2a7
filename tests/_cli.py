"""Run the ``veil`` command in a subprocess, as a user would, with no VEIL_* settings leaking
in from the environment the tests run in."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HANG = 1800  # seconds: only a hung command, never a slow machine, reaches this


def veil(*args: str, cwd: Path, env: dict | None = None,
         check: bool = True) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("VEIL_")}
    full_env |= env or {}
    result = subprocess.run([sys.executable, "-m", "veil", *args], cwd=cwd, env=full_env,
                            capture_output=True, text=True, timeout=HANG)
    if check:
        assert result.returncode == 0, result.stderr
    return result

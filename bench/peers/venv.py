"""Run a benchmark peer from its own venv, so its pins never meet veil's.

Some peers (anjana/pycanon, SmartNoise) pin exact numpy/pandas/scipy versions that clash with
veil's. Each lives in ``bench/peers/<name>/`` with a ``requirements.txt`` (in the repository) and a
``run.py`` that prints one JSON line; its venv ``bench/peers/<name>/.venv`` is built on demand and
git-ignored. Standard library only: this module is imported from veil's venv by the bench scripts.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

PEERS = Path(__file__).resolve().parent
PYTHON = "python3.11"
_STAMP = "veil-requirements.sha256"


class PeerError(RuntimeError):
    """A peer's venv could not be built, or its ``run.py`` failed or printed no JSON."""


def _peer_dir(name: str) -> Path:
    """``bench/peers/<name>``, which must hold ``requirements.txt``."""
    folder = PEERS / name
    if not (folder / "requirements.txt").is_file():
        raise PeerError(f"unknown peer {name!r}: no {folder / 'requirements.txt'}")
    return folder


def _venv_python(venv: Path) -> Path:
    """The interpreter inside ``venv``."""
    if os.name == "nt":
        return venv / "Scripts" / "python.exe"
    return venv / "bin" / "python"


def _base_python() -> str:
    """The interpreter that creates peer venvs: ``python3.11`` (the version the pins were resolved
    with), else the current interpreter when it is 3.11 itself."""
    found = shutil.which(PYTHON)
    if found:
        return found
    if sys.version_info[:2] == (3, 11):
        return sys.executable
    raise PeerError(f"{PYTHON} not found on PATH; peer venvs are built with it")


def _digest(requirements: Path) -> str:
    """Hash of the requirements file: a changed file means the venv must be rebuilt."""
    return hashlib.sha256(requirements.read_bytes()).hexdigest()


def _run(cmd: list[str], what: str) -> None:
    """Run a build step, raising :class:`PeerError` with its output's tail if it fails."""
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = (done.stdout + done.stderr)[-4000:]
        raise PeerError(f"{what} failed (exit {done.returncode}): {' '.join(cmd)}\n{tail}")


def ensure_venv(name: str) -> Path:
    """Return ``bench/peers/<name>/.venv``, (re)building it if missing or out of date.

    The venv is rebuilt from scratch (``venv --clear``) when the stored hash of
    ``requirements.txt`` differs, so no package from an older set lingers. The hash is written
    last, so an interrupted build is redone on the next call. Not safe against two processes
    building the same peer at once.
    """
    folder = _peer_dir(name)
    requirements = folder / "requirements.txt"
    venv = folder / ".venv"
    stamp = venv / _STAMP
    wanted = _digest(requirements)
    if (_venv_python(venv).exists() and stamp.is_file()
            and stamp.read_text(encoding="utf-8").strip() == wanted):
        return venv
    print(f"building peer venv {venv} from {requirements.name} (a minute or two)...",
          file=sys.stderr, flush=True)
    _run([_base_python(), "-m", "venv", "--clear", str(venv)], f"creating the {name} venv")
    _run([str(_venv_python(venv)), "-m", "pip", "install", "--quiet", "-r", str(requirements)],
         f"installing {name}'s requirements")
    stamp.write_text(wanted + "\n", encoding="utf-8")
    return venv


def run_peer(name: str, *args: object, timeout: float | None = None) -> dict[str, Any]:
    """Run ``bench/peers/<name>/run.py *args`` with the peer's venv; return its last JSON line.

    Raises :class:`PeerError` (with the peer's stderr) when it exits non-zero, times out, or
    prints no JSON object as its last non-empty stdout line.
    """
    venv = ensure_venv(name)
    script = PEERS / name / "run.py"
    cmd = [str(_venv_python(venv)), str(script), *(str(a) for a in args)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, check=False,
                              timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise PeerError(f"peer {name} timed out after {timeout} s: {' '.join(cmd)}") from exc
    if done.returncode != 0:
        raise PeerError(f"peer {name} failed (exit {done.returncode}): {' '.join(cmd)}\n"
                        f"{done.stderr[-4000:]}")
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    try:
        result = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError) as exc:
        raise PeerError(f"peer {name} printed no JSON line: {' '.join(cmd)}\n"
                        f"stdout: {done.stdout[-2000:]}\nstderr: {done.stderr[-2000:]}") from exc
    if not isinstance(result, dict):
        raise PeerError(f"peer {name} printed {result!r}, not a JSON object")
    return result

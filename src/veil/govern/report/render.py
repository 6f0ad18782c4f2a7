"""One report, three renderings: HTML for people, JSON for machines, PDF for the file.

All three come from the same :class:`~veil.govern.report.model.Report`, so what a data
protection officer reads and what an auditor's script checks cannot drift apart. The HTML is
one self-contained page (inline CSS and SVG, no script, no network), which is also what
headless Chromium prints to PDF. The JSON is checked against ``schema.json`` before it is
written, so a report on disk always matches its published schema.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from veil._atomic import atomic_write
from veil.errors import InputError
from veil.govern.report import charts
from veil.govern.report.model import LEVELS, STATUSES, Cell, Report
from veil.ledger.proofs import InvalidProof, SignedTreeHead

__all__ = ["find_browser", "html", "pdf", "schema", "to_json", "validate", "write"]

_BROWSERS = ("chromium", "chromium-browser", "google-chrome")
_PRINT_TIMEOUT_S = 120  # a guard against a hung browser, not an expectation
_NO_BROWSER = ("no Chromium found to print the PDF: install Debian's chromium or set "
               "VEIL_CHROMIUM to the browser's path")
STATUS_LABELS = {"met": "Met", "gap": "Gap", "risk": "Risk", "not_measured": "Not measured",
                 "info": "Info"}


# --- HTML ---------------------------------------------------------------------------------

@functools.cache
def _environment() -> Environment:
    env = Environment(loader=PackageLoader("veil.govern.report", "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["human"] = lambda name: str(name).replace("_", " ")
    env.filters["anchor"] = lambda name: re.sub(r"[^A-Za-z0-9_.-]+", "-", str(name))
    # a key id, hash or path too long for a column: may break anywhere, not widen the page
    env.tests["unbroken"] = lambda text: any(len(word) > 24 for word in str(text).split())
    return env


def html(report: Report) -> str:
    """The report as one self-contained HTML page."""
    return _environment().get_template("report.html").render(_context(report))


def _context(report: Report) -> dict[str, Any]:
    bands = _bands(report)
    findings = report.findings()
    return {
        "report": report,
        "bands": bands,
        "ranges": _ranges(bands),
        "colours": charts.LEVEL_COLOURS,
        "na_colour": charts.NA_COLOUR,
        "charts": {c.id: Markup(charts.svg(c, bands=bands))  # noqa: S704 - our own SVG
                   for c in report.charts},
        "cells": {(c.stage, c.risk): c for c in report.matrix},
        "notable": _notable(report, bands["medium"]),
        "finding_ids": {f.id for f in findings},
        "evidence_ids": {e.id for e in report.evidence},
        "cited_by": _cited_by(report),
        "tally": [(s, n) for s in STATUSES if (n := Counter(f.status for f in findings)[s])],
        "status_labels": STATUS_LABELS,
        "signature": _signature(report),
    }


def _bands(report: Report) -> dict[str, int]:
    """The policy's level bands the report was scored with."""
    levels = report.policy["values"]["levels"]
    return {name: int(levels[name]) for name in LEVELS[1:]}


def _ranges(bands: dict[str, int]) -> list[tuple[str, int, int]]:
    lows = [1] + [bands[name] for name in LEVELS[1:]]
    highs = [low - 1 for low in lows[1:]] + [25]
    return list(zip(LEVELS, lows, highs, strict=True))


def _notable(report: Report, medium: int) -> list[Cell]:
    """Cells scored medium or above, worst first, in matrix order within a score."""
    order = {(c.stage, c.risk): i for i, c in enumerate(report.matrix)}
    return sorted((c for c in report.matrix if c.score >= medium),
                  key=lambda c: (-c.score, order[(c.stage, c.risk)]))


def _cited_by(report: Report) -> dict[str, list[str]]:
    """Evidence id -> the findings that cite it, for the appendix's back references."""
    found: dict[str, list[str]] = {}
    for finding in report.findings():
        for ref in finding.evidence:
            found.setdefault(ref, []).append(finding.id)
    return found


def _signature(report: Report) -> tuple[bool, str]:
    """Whether the head's signature verifies against the report's key, said plainly. The key
    travels with the report, so the line also tells the reader to compare it with the
    workspace's own (``veil audit pubkey``)."""
    try:
        head = SignedTreeHead.from_dict(report.head)
        key = bytes.fromhex(report.public_key)
    except (InvalidProof, ValueError):
        return False, "the signed head or the ledger key in this report is unreadable"
    try:
        assurance = head.verify(key)
    except InvalidProof:
        return False, "the signature does NOT verify against the ledger key in this report"
    return True, (f"{assurance.value} signature valid for ledger key {report.public_key[:16]}… "
                  "(compare with `veil audit pubkey`)")


# --- JSON ---------------------------------------------------------------------------------

def to_json(report: Report) -> str:
    """The report as JSON (see ``schema.json``)."""
    return json.dumps(report.to_dict(), indent=2, sort_keys=False, ensure_ascii=False)


def schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) every report's JSON form follows."""
    return json.loads(_schema_text())


@functools.cache
def _schema_text() -> str:
    return resources.files(__package__).joinpath("schema.json").read_text(encoding="utf-8")


@functools.cache
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema())


def validate(data: dict[str, Any]) -> None:
    """Raise :class:`~veil.errors.InputError` naming where ``data`` (parsed JSON, not a
    ``to_dict`` with tuples) first breaks the schema."""
    error = jsonschema.exceptions.best_match(_validator().iter_errors(data))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        raise InputError(f"report JSON does not match the schema at {where}: {error.message}")


# --- PDF ----------------------------------------------------------------------------------

def find_browser() -> str | None:
    """The Chromium that prints PDFs: ``VEIL_CHROMIUM`` if set, else the first on PATH."""
    chosen = os.environ.get("VEIL_CHROMIUM")
    if chosen:
        return chosen
    return next((found for name in _BROWSERS if (found := shutil.which(name))), None)


def pdf(html_path: Path, pdf_path: Path) -> None:
    """Print ``html_path`` to ``pdf_path`` with headless Chromium; replace it atomically."""
    browser = find_browser()
    if browser is None:
        raise InputError(_NO_BROWSER)
    _print(browser, html_path, pdf_path)


def _print(browser: str, html_path: Path, pdf_path: Path) -> None:
    fd, name = tempfile.mkstemp(prefix=f".{pdf_path.name}.", suffix=".tmp", dir=pdf_path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        with tempfile.TemporaryDirectory(prefix="veil-chromium-") as profile:
            command = [browser, "--headless", "--no-sandbox", "--disable-gpu",
                       "--no-pdf-header-footer", f"--user-data-dir={profile}",
                       f"--print-to-pdf={tmp}", html_path.resolve().as_uri()]
            try:
                done = subprocess.run(command, capture_output=True, timeout=_PRINT_TIMEOUT_S,
                                      check=False)
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise InputError(f"{browser} could not print the PDF: {exc}") from None
        with tmp.open("rb") as printed:
            ok = printed.read(4) == b"%PDF"
        if done.returncode != 0 or not ok:
            tail = done.stderr.decode(errors="replace").strip().splitlines()[-3:]
            raise InputError(f"{browser} did not print a PDF (exit {done.returncode}): "
                             + " | ".join(tail))
        tmp.replace(pdf_path)
    finally:
        tmp.unlink(missing_ok=True)


# --- files --------------------------------------------------------------------------------

def write(report: Report, out_dir: Path, *, pdf: bool | None = None) -> dict[str, Path]:
    """Write ``<kind>.json`` (schema-checked first), ``<kind>.html`` and, when ``pdf`` is True
    or is None and a browser is found, ``<kind>.pdf``; return the paths written by format.

    ``pdf=True`` without a browser fails before anything is written."""
    browser = find_browser()
    if pdf and browser is None:
        raise InputError(_NO_BROWSER)
    text = to_json(report)
    validate(json.loads(text))
    out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    paths = {"json": out_dir / f"{report.kind}.json", "html": out_dir / f"{report.kind}.html"}
    atomic_write(paths["json"], text.encode() + b"\n")
    atomic_write(paths["html"], html(report).encode())
    if browser is not None and pdf is not False:
        paths["pdf"] = out_dir / f"{report.kind}.pdf"
        _print(browser, paths["html"], paths["pdf"])
    return paths

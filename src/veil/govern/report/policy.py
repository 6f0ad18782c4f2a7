"""The report policy: thresholds that turn facts into scores, in an editable TOML file.

The shipped ``policy.toml`` documents every value; a team copies it, edits it and passes it to
``veil report --policy FILE``. A file may set any subset of the shipped keys (the rest keep
their shipped values) and nothing else: an unknown section or key, or a value of the wrong
type or range, is refused by name, so a typo never silently falls back to a default. Reports
carry the values they used and the file's SHA-256.
"""

from __future__ import annotations

import hashlib
import math
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from veil.errors import InputError, MalformedSourceError

__all__ = ["ReportPolicy", "load"]

_SHIPPED = "policy.toml"
_FRACTIONS = {("dp", "budget_used_max"), ("consent", "coverage_min"),
              ("linkage", "prosecutor_risk_max"), ("linkage", "linkage_rate_max"),
              ("membership", "tpr_at_low_fpr_max"), ("membership", "auc_max"),
              ("attribute", "advantage_max")}


@dataclass(frozen=True)
class ReportPolicy:
    """The thresholds in force: ``values[section][key]``, where they came from and its digest."""

    values: dict[str, dict[str, Any]]
    source: str
    sha256: str

    def __getitem__(self, section: str) -> dict[str, Any]:
        return self.values[section]

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "sha256": self.sha256, "values": self.values}


def _parse(text: bytes, where: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise MalformedSourceError(f"{where} is not a readable TOML policy: {exc}") from None


def _check(section: str, key: str, shipped: Any, given: Any) -> Any:
    name = f"[{section}] {key}"
    if isinstance(shipped, bool):
        if not isinstance(given, bool):
            raise InputError(f"{name} must be true or false; got {given!r}")
        return given
    if isinstance(given, bool) or not isinstance(given, int | float) or not math.isfinite(given):
        raise InputError(f"{name} must be a number; got {given!r}")
    if isinstance(shipped, int) and not isinstance(given, int):
        raise InputError(f"{name} must be a whole number; got {given!r}")
    if given <= 0:
        raise InputError(f"{name} must be > 0; got {given!r}")
    if (section, key) in _FRACTIONS and given > 1:
        raise InputError(f"{name} is a share between 0 and 1; got {given!r}")
    top = {"impact": 5, "levels": 25}.get(section)
    if top is not None and not 1 <= given <= top:
        raise InputError(f"{name} must be between 1 and {top}; got {given!r}")
    return given


def load(path: str | Path | None = None) -> ReportPolicy:
    """The shipped policy, or ``path``'s values over it (see the module docstring)."""
    shipped_text = resources.files(__package__).joinpath(_SHIPPED).read_bytes()
    values = _parse(shipped_text, _SHIPPED)
    if path is None:
        return ReportPolicy(values, "shipped", hashlib.sha256(shipped_text).hexdigest())
    file = Path(path)
    try:
        text = file.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the report policy {file}: {exc.strerror}") from None
    given = _parse(text, str(file))
    for section, table in given.items():
        if section not in values:
            raise InputError(f"unknown section [{section}] in {file}; known: "
                             f"{', '.join(values)}")
        if not isinstance(table, dict):
            raise InputError(f"[{section}] in {file} must be a table of values")
        for key, value in table.items():
            if key not in values[section]:
                raise InputError(f"unknown key {key!r} in [{section}] of {file}; known: "
                                 f"{', '.join(values[section])}")
            values[section][key] = _check(section, key, values[section][key], value)
    levels = values["levels"]
    if not levels["medium"] < levels["high"] < levels["critical"]:
        raise InputError(f"[levels] in {file} must rise: medium < high < critical")
    return ReportPolicy(values, file.name, hashlib.sha256(text).hexdigest())

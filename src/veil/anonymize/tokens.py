"""Pseudonyms for column values: keyed tokens or random codes, and the map that reverses them.

A token is :class:`veil.discover.Pseudonymizer`'s ``HMAC-SHA256(key, domain || 0x00 ||
normalised value)`` in ten base32 characters; each distinct value is hashed once. The domain is
the column's name unless told otherwise, so a value gets the same token in every dataset of a
workspace that names the column alike (joins still work) and unrelated tokens in other columns;
give two differently named join columns one domain to link them, or an entity name
(``EMAIL_ADDRESS``) to match the tokens ``redact_text`` writes into free text. Without the key a
token can be neither reversed nor recomputed from a guessed value.

Safe Harbor's re-identification codes (45 CFR 164.514(c)) must not be derived from anything
about the person, so :func:`assign_codes` draws them at random instead.

Both return the map from token to original value, one row per token (``token``, ``domain``,
``value``; all text), which a workspace seals in its vault when a release is to be reversible.
Values that differ only in case or spacing share a token (the pseudonymizer normalises them
first); the map then keeps the first of their spellings in sort order.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import polars as pl

from veil.discover import Pseudonymizer
from veil.errors import InputError, NotFoundError, SchemaError, VeilError

__all__ = ["TOKEN_MAP_SCHEMA", "Tokenized", "assign_codes", "lookup", "token_domains",
           "tokenize"]

TOKEN_MAP_SCHEMA = {"token": pl.String, "domain": pl.String, "value": pl.String}
_CODE_BYTES = 10  # 80 random bits: 16 base32 characters, no padding


@dataclass(frozen=True)
class Tokenized:
    """A frame with some columns replaced by pseudonyms, the map back, and each column's domain."""

    frame: pl.DataFrame
    token_map: pl.DataFrame
    domains: dict[str, str]


def tokenize(
    frame: pl.DataFrame,
    columns: Sequence[str],
    pseudonymizer: Pseudonymizer,
    *,
    domains: Mapping[str, str] | None = None,
) -> Tokenized:
    """Replace every non-null value of ``columns`` by its keyed token (columns become text).

    ``domains`` maps a column to its domain separator (default: the column name). Raises
    :class:`~veil.errors.SchemaError` for an unknown or untokenizable column.
    """
    chosen = token_domains(columns, frame.columns, domains)
    names = _tokenizable(frame, list(chosen))
    replaced, rows = [], []
    for column in names:
        text, distinct = _distinct(frame, column)
        values = distinct.to_list()
        tokens = [pseudonymizer.token(chosen[column], v) for v in values]
        replaced.append(_replace(text, distinct, tokens))
        rows.append(pl.DataFrame({"token": tokens, "domain": chosen[column], "value": values,
                                  "normalised": [_normalise(v) for v in values]},
                                 schema=TOKEN_MAP_SCHEMA | {"normalised": pl.String}))
    return Tokenized(frame.with_columns(replaced), _one_row_per_token(pl.concat(rows)), chosen)


def assign_codes(frame: pl.DataFrame, column: str, *, domain: str | None = None) -> Tokenized:
    """Replace each distinct value of ``column`` by a fresh random code (80 bits, base32)."""
    (name,) = _tokenizable(frame, list(token_domains([column], frame.columns)))
    text, distinct = _distinct(frame, name)
    codes = _random_codes(len(distinct))
    token_map = pl.DataFrame({"token": codes, "domain": domain or name,
                              "value": distinct.to_list()}, schema=TOKEN_MAP_SCHEMA)
    return Tokenized(frame.with_columns(_replace(text, distinct, codes)), token_map,
                     {name: domain or name})


def lookup(token_map: pl.DataFrame, tokens: Sequence[str]) -> dict[str, str]:
    """The original value of each token; :class:`~veil.errors.NotFoundError` if any is unknown
    (then nothing is returned)."""
    if isinstance(tokens, str) or not isinstance(tokens, Sequence):
        msg = "tokens must be a list of token strings"
        raise InputError(msg)
    wanted = list(dict.fromkeys(tokens))
    if not wanted or not all(isinstance(t, str) and t for t in wanted):
        msg = "give at least one token, each a non-empty string"
        raise InputError(msg)
    hits = token_map.filter(pl.col("token").is_in(wanted))
    found = dict(zip(hits["token"].to_list(), hits["value"].to_list(), strict=True))
    unknown = [t for t in wanted if t not in found]
    if unknown:
        msg = (f"{len(unknown)} of {len(wanted)} token(s) are not in this token map, so none "
               "was re-identified")
        raise NotFoundError(msg)
    return {t: found[t] for t in wanted}


def token_domains(columns: Sequence[str], available: Sequence[str],
                  domains: Mapping[str, str] | None = None) -> dict[str, str]:
    """Check the columns to pseudonymize against those ``available``; each one's domain."""
    if isinstance(columns, str) or not isinstance(columns, Sequence) or not columns:
        msg = f"columns must be a non-empty list of column names; got {columns!r}"
        raise InputError(msg)
    names = list(dict.fromkeys(columns))
    missing = [c for c in names if c not in available]
    if missing:
        msg = f"no column(s) {missing} to pseudonymize; columns are {list(available)}"
        raise SchemaError(msg)
    given = dict(domains or {})
    stray = sorted(set(given) - set(names))
    if stray:
        msg = f"domains name column(s) {stray} that are not being pseudonymized"
        raise InputError(msg)
    if not all(isinstance(d, str) and d for d in given.values()):
        raise InputError("every domain must be a non-empty string")
    return {c: given.get(c, c) for c in names}


def _tokenizable(frame: pl.DataFrame, names: list[str]) -> list[str]:
    odd = [c for c in names if frame.schema[c].is_nested()
           or frame.schema[c] in (pl.Binary, pl.Object)]
    if odd:
        msg = f"column(s) {odd} hold nested or binary values; only scalars can be tokenized"
        raise SchemaError(msg)
    return names


def _distinct(frame: pl.DataFrame, column: str) -> tuple[pl.Series, pl.Series]:
    """The column as text, and its distinct non-null values."""
    text = frame[column].cast(pl.String)
    return text, text.drop_nulls().unique(maintain_order=True)


def _replace(text: pl.Series, distinct: pl.Series, new: list[str]) -> pl.Series:
    return text.replace_strict(distinct, pl.Series(new, dtype=pl.String), default=None)


def _normalise(value: str) -> str:
    """What ``Pseudonymizer.token`` hashes: spaces collapsed, case folded."""
    return " ".join(value.split()).casefold()


def _one_row_per_token(rows: pl.DataFrame) -> pl.DataFrame:
    """Fold the spellings of one value into one row; refuse two values on one token."""
    grouped = rows.group_by("token").agg(
        pl.col("domain").n_unique().alias("domains"),
        pl.col("normalised").n_unique().alias("values"),
        pl.col("domain").first(),
        pl.col("value").min(),
    )
    if grouped.filter((pl.col("domains") > 1) | (pl.col("values") > 1)).height:
        msg = ("two different values got the same token (a 50-bit collision); rotate the "
               "pseudonym key with Workspace.rotate_pseudonym_key() and pseudonymize again")
        raise VeilError(msg)
    return grouped.select(list(TOKEN_MAP_SCHEMA)).sort("token")


def _random_codes(count: int) -> list[str]:
    width = _CODE_BYTES * 8 // 5
    while True:  # 80-bit codes repeat with negligible odds; draw again if they ever do
        raw = base64.b32encode(secrets.token_bytes(_CODE_BYTES * count)).decode()
        codes = [raw[i : i + width] for i in range(0, width * count, width)]
        if len(set(codes)) == count:
            return codes

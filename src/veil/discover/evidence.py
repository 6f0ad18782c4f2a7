"""Gather the evidence one column is decided on: recognizer hits over its values, and more.

The recognizers run over the column's distinct values, weighted by their counts; the specific,
validated ones go first, so a short column they settle never pays for the slow, generic rest.
Cell length, ICD-10 codes, dates and demographic vocabularies are measured too;
``veil.discover.table`` turns the gathered :class:`_Column` into a verdict.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import polars as pl

from veil.discover.column_names import NameRule, name_hint
from veil.discover.entities import NATIONAL_IDS, Entity

__all__ = ["MAX_CELL_CHARS", "Recognizer"]

MAX_CELL_CHARS = 10_000
"""Cells are cut to this many characters before pattern matching, so one huge cell cannot
dominate the scan time."""

_TEXT_CHARS, _TEXT_TOKENS = 32.0, 5.0  # mean length and tokens of free text

_ICD10 = r"^[A-TV-Z][0-9][0-9AB](\.[0-9A-TV-Z]{1,4})?$"
_DATE = (
    r"^\s*(\d{4}-\d{1,2}-\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?"
    r"|\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}|\d{4}/\d{1,2}/\d{1,2}|\d{8}T\d{4,6}Z?)\s*$"
)


class Recognizer(Protocol):
    """What the scanner needs from a recognizer (see ``veil.discover.recognizers``)."""

    name: str
    entity: Entity

    def matches(self, values: pl.Series) -> pl.Series:
        """Float64 score per cell for a valid match *inside* the cell; 0.0 for none."""
        ...

    def full_match(self, values: pl.Series) -> pl.Series:
        """Float64 score per cell that *is* one valid match as a whole; 0.0 otherwise."""
        ...


# -- recognizer hits --------------------------------------------------------------------------
@dataclass
class _EntityHits:
    entity: Entity
    contained: float = 0.0  # share of cells with a match inside
    whole: float = 0.0  # share of cells that are a match as a whole
    score: float = 0.0  # mean score over the whole-cell matches (else the contained ones)


# Recognizers run in this order of entities: specific, validated ones first, so a column they
# settle never pays for the slow, generic ones (phone-number parsing, name lexicons).
_PRIORITY = (
    *sorted(NATIONAL_IDS), Entity.US_SSN, Entity.EMAIL_ADDRESS, Entity.CREDIT_CARD,
    Entity.IBAN_CODE, Entity.IP_ADDRESS, Entity.URL, Entity.DATE_TIME, Entity.DATE_OF_BIRTH,
    Entity.PHONE_NUMBER, Entity.STREET_ADDRESS, Entity.PERSON,
)
_CANDIDATE_BLOCK = 1 << 22  # bytes of joined values per string in the candidate test
_SETTLED = 0.9  # whole-cell share of one of _PRIORITY's entities that decides a short column


def _ordered(recognizers: Sequence[Recognizer]) -> list[Recognizer]:
    rank = {e: i for i, e in enumerate(_PRIORITY)}
    return sorted(recognizers, key=lambda r: rank.get(Entity(r.entity), len(rank)))


def _with_candidates(recognizers: Sequence[Recognizer], uniq: pl.Series) -> list[Recognizer]:
    """Drop the pattern recognizers whose regex matches no value, and those that never match
    a column (``needs_context``: they count only next to words a cell does not have).

    All patterns are tested in one Polars pass over the distinct values joined by newlines
    into a few large strings: a regex search stops at its first match, so a live pattern
    costs almost nothing and only the dead ones read everything, without per-value overhead.
    Recognizers sharing a pattern (national ids of one shape) share its test. ``(?m)`` keeps
    ``^``/``$`` matching at each value's edges; a newline is a word boundary like the edge of
    a string, so every match inside a value is a match in the joined text (a match across two
    values only keeps a recognizer that finds nothing: slower, never wrong). Patterns with
    ``\\A``/``\\z`` are always kept.
    """
    recognizers = [r for r in recognizers if not getattr(r, "needs_context", False)]
    patterns = sorted({r.pattern for r in recognizers
                       if isinstance(getattr(r, "pattern", None), str)
                       and "\\A" not in r.pattern and "\\z" not in r.pattern})
    if not patterns or len(uniq) == 0:
        return recognizers
    blocks = (uniq.to_frame("v")
              .with_columns((pl.col("v").str.len_bytes().cum_sum() // _CANDIDATE_BLOCK)
                            .alias("block"))
              .group_by("block").agg(pl.col("v").str.join("\n")))
    any_hit = blocks.select(
        pl.col("v").str.contains(f"(?m:{pattern})").any().alias(str(i))
        for i, pattern in enumerate(patterns)
    ).row(0)
    dead = {pattern for pattern, hit in zip(patterns, any_hit, strict=True) if not hit}
    return [r for r in recognizers if getattr(r, "pattern", None) not in dead]


def _hits(
    recognizers: Sequence[Recognizer], uniq: pl.Series, weight: pl.Series, total: int,
    *, whole: bool,
) -> dict[Entity, _EntityHits]:
    """Per entity, the share of cells any of its recognizers matches, over distinct values.

    A recognizer sees only the values its entity's earlier recognizers left unmatched, so a
    strict phone check followed by a loose one validates each number once. Short columns
    (``whole``) ask for whole-cell matches first and for contained ones only among the rest;
    once an entity of ``_PRIORITY`` covers ``_SETTLED`` of the cells as whole cells the column
    is decided and later recognizers are skipped. Free text asks for contained matches only.
    """
    masks: dict[Entity, _Matched] = {}
    recognizers = _with_candidates(recognizers, uniq)
    for recognizer in _ordered(recognizers) if whole else recognizers:
        entity = Entity(recognizer.entity)
        matched = masks.setdefault(entity, _Matched.empty(len(uniq)))
        if whole:
            matched.add(recognizer, uniq, whole=True)
        matched.add(recognizer, uniq, whole=False)
        if whole and entity in _PRIORITY and matched.share(weight, total, whole=True) >= _SETTLED:
            break
    found = {}
    for entity, matched in masks.items():
        contained = matched.share(weight, total, whole=False)
        if contained:
            found[entity] = _EntityHits(entity, contained, matched.share(weight, total, whole=True),
                                        matched.score(weight))
    return found


@dataclass
class _Matched:
    """Which distinct values an entity's recognizers matched so far, and with what score."""

    whole: pl.Series  # Boolean per distinct value
    inside: pl.Series  # Boolean: contains a match (whole matches included)
    whole_score: pl.Series  # Float64: the first whole-cell recognizer's score
    inside_score: pl.Series  # Float64: the first recognizer's score

    @classmethod
    def empty(cls, n: int) -> _Matched:
        no, zero = pl.repeat(False, n, eager=True), pl.repeat(0.0, n, eager=True)
        return cls(no, no.clone(), zero, zero.clone())

    def add(self, recognizer: Recognizer, uniq: pl.Series, *, whole: bool) -> None:
        todo = (~self.whole if whole else ~self.inside).arg_true()
        if len(todo) == 0:
            return
        values = uniq.gather(todo)
        scores = _as_scores(
            recognizer.full_match(values) if whole else recognizer.matches(values),
            len(values))
        hit = scores > 0
        if not hit.any():
            return
        rows, got = todo.filter(hit), scores.filter(hit)
        if whole:
            self.whole = self.whole.scatter(rows, True)
            self.whole_score = self.whole_score.scatter(rows, got)
        self.inside = self.inside.scatter(rows, True)
        self.inside_score = self.inside_score.scatter(rows, got)

    def share(self, weight: pl.Series, total: int, *, whole: bool) -> float:
        return float(weight.filter(self.whole if whole else self.inside).sum()) / total

    def score(self, weight: pl.Series) -> float:
        """Mean score over the whole-cell matches, or over the contained ones if none."""
        mask, scores = ((self.whole, self.whole_score) if self.whole.any()
                        else (self.inside, self.inside_score))
        return _weighted_mean(scores.filter(mask), weight.filter(mask))


def _as_scores(scores: pl.Series | Iterable[float], length: int) -> pl.Series:
    series = scores if isinstance(scores, pl.Series) else pl.Series(list(scores))
    if len(series) != length:
        msg = f"a recognizer returned {len(series)} scores for {length} values"
        raise RuntimeError(msg)
    return series.cast(pl.Float64).fill_null(0.0).fill_nan(0.0)


def _weighted_mean(values: pl.Series, weight: pl.Series) -> float:
    total = weight.sum()
    return float((values * weight).sum() / total) if total else 0.0


# -- one column -------------------------------------------------------------------------------
@dataclass
class _Column:
    """Evidence gathered about one column before the decision."""

    name: str
    dtype: pl.DataType
    scanned: int
    non_null: int
    hint: NameRule | None
    distinct_ratio: float = 0.0
    mean_chars: float = 0.0
    mean_tokens: float = 0.0
    free_text: bool = False
    hits: dict[Entity, _EntityHits] = field(default_factory=dict)
    icd10_share: float = 0.0
    date_share: float = 0.0
    vocabulary: str | None = None
    vocabulary_share: float = 0.0
    over_89_share: float | None = None

    @property
    def null_share(self) -> float:
        return 1 - self.non_null / self.scanned if self.scanned else 1.0

    def evidence(self, entity: Entity | None, **extra: Any) -> dict[str, Any]:
        hit = self.hits.get(entity) if entity is not None else None
        evidence: dict[str, Any] = {
            "match_share": hit.contained if hit else 0.0,
            "whole_cell_share": hit.whole if hit else 0.0,
            "null_share": self.null_share,
            "distinct_ratio": self.distinct_ratio,
            "name_hint": self.hint.name if self.hint else None,
            "scanned": self.scanned,
            "dtype": str(self.dtype),
        }
        if self.free_text:
            evidence["mean_chars"] = self.mean_chars
            evidence["mean_tokens"] = self.mean_tokens
        if self.icd10_share:
            evidence["icd10_share"] = self.icd10_share
        if self.over_89_share is not None:
            evidence["over_89_share"] = self.over_89_share
        evidence.update(extra)
        return evidence


_SEX = frozenset({"m", "f", "male", "female", "man", "woman", "men", "women", "x", "u",
                  "unknown", "other", "non-binary", "nonbinary", "intersex", "diverse",
                  "weiblich", "mannlich", "masculino", "femenino", "homme", "femme", "h", "w"})
_ETHNIC_WORDS = ("white", "black", "asian", "hispanic", "latin", "caucasian", "african",
                 "native", "pacific", "islander", "indian", "alaska", "multiracial",
                 "two or more", "mixed", "arab", "middle eastern")
_FILLER = frozenset({"unknown", "other", "declined", "not reported", "prefer not to say", "",
                     "none", "n/a", "na"})
_MARITAL = frozenset({"single", "married", "divorced", "widowed", "separated",
                      "never married", "domestic partner", "partnered", "civil partnership",
                      "unknown", "other"})
_US_STATES = frozenset(re.findall(r"[A-Z]{2}",
    "AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ "
    "NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY DC PR GU VI AS MP",
))


def _vocabulary(uniq: pl.Series, weight: pl.Series, total: int) -> tuple[str | None, float]:
    """A demographic vocabulary the (few) distinct values come from, and its cell share."""
    if not 1 <= len(uniq) <= 64:
        return None, 0.0
    folded = [_fold(v) for v in uniq.to_list()]
    counts = weight.to_list()

    def share(test: Any) -> tuple[float, int]:
        inside = [(v, c) for v, c in zip(folded, counts, strict=True) if test(v)]
        return sum(c for _, c in inside) / total, len({v for v, _ in inside} - _FILLER)

    checks = (
        ("sex", lambda v: v in _SEX, 2),
        ("ethnicity", lambda v: v in _FILLER or any(w in v for w in _ETHNIC_WORDS), 3),
        ("marital_status", lambda v: v in _MARITAL, 2),
        ("state", lambda v: v.upper() in _US_STATES, 3),
    )
    for label, test, min_distinct in checks:
        covered, distinct = share(test)
        if covered >= 0.95 and distinct >= min_distinct:
            return label, covered
    return None, 0.0


def _fold(value: Any) -> str:
    text = unicodedata.normalize("NFKD", str(value)).encode("ascii", "ignore").decode()
    return text.strip().lower()


def _gather(
    name: str, series: pl.Series, recognizers: Sequence[Recognizer], *, force_text: bool,
) -> _Column:
    """Collect the value evidence for a scannable (non-nested, non-binary) column."""
    dtype = series.dtype
    col = _Column(name, dtype, len(series), len(series) - series.null_count(), name_hint(name))
    if col.non_null == 0:
        return col
    values = series.drop_nulls()
    if dtype == pl.Date or dtype == pl.Datetime:
        col.distinct_ratio = values.n_unique() / col.non_null
        col.date_share = 1.0
        if col.hint is not None and col.hint.name == "birth_date":
            col.over_89_share = _over_89_from_birth(values)
        return col
    if dtype.is_float() or dtype.is_decimal() or dtype == pl.Boolean or dtype.is_temporal():
        col.distinct_ratio = values.n_unique() / col.non_null
        if dtype.is_numeric() and col.hint is not None and col.hint.name == "age":
            col.over_89_share = float((values.cast(pl.Float64) > 89).mean())  # type: ignore[arg-type]
        return col
    text = values.cast(pl.String).str.slice(0, MAX_CELL_CHARS).rename("value")
    counts = text.value_counts(sort=False)
    uniq, weight = counts["value"], counts["count"]
    col.distinct_ratio = len(uniq) / col.non_null
    lengths = uniq.str.len_chars()
    col.mean_chars = _weighted_mean(lengths.cast(pl.Float64), weight)
    col.mean_tokens = _weighted_mean(
        uniq.str.count_matches(" ", literal=True).cast(pl.Float64) + 1.0, weight)
    col.free_text = force_text or (col.mean_chars >= _TEXT_CHARS
                                   and col.mean_tokens >= _TEXT_TOKENS)
    col.hits = _hits(recognizers, uniq, weight, col.non_null, whole=not col.free_text)
    if dtype.is_integer() and col.hint is not None and col.hint.name == "age":
        col.over_89_share = float((values.cast(pl.Float64) > 89).mean())  # type: ignore[arg-type]
    if not col.free_text:
        stripped = uniq.str.strip_chars()
        col.icd10_share = weight.filter(stripped.str.contains(_ICD10)).sum() / col.non_null
        col.date_share = weight.filter(stripped.str.contains(_DATE)).sum() / col.non_null
        col.vocabulary, col.vocabulary_share = _vocabulary(uniq, weight, col.non_null)
    return col


def _over_89_from_birth(values: pl.Series) -> float:
    """Share of birth dates more than 89 years before the latest one (a proxy for age > 89)."""
    days = values.cast(pl.Date).cast(pl.Int64)
    latest = days.max()
    return float(((latest - days) > int(89.5 * 365.25)).mean())  # type: ignore[operator]

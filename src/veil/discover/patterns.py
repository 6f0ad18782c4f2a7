"""The recognizer interface, and the regular-expression recognizer most of the catalogue is.

A :class:`Recognizer` finds one entity in free text (``spans``) and in whole columns
(``matches`` / ``full_match``). :class:`PatternRecognizer` does it with a regex, an optional
validator and context words; the helpers below also serve the person-name recognizers.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import polars as pl

from veil.discover.entities import Entity, Span

__all__ = ["PatternRecognizer", "Recognizer", "settles"]

CONTEXT_BEFORE = 40  # characters of text before a match searched for context words
CONTEXT_AFTER = 20  # and after it ("... office", "(SSN)")


class Recognizer(ABC):
    """Finds one entity type in free text and in whole columns."""

    name: str
    entity: Entity

    @abstractmethod
    def spans(self, text: str) -> list[Span]:
        """Every match in ``text`` with its offsets and calibrated score (context applied)."""

    @abstractmethod
    def matches(self, values: pl.Series) -> pl.Series:
        """Float64 score per cell for cells that contain the entity (0.0 = none; nulls 0.0)."""

    @abstractmethod
    def full_match(self, values: pl.Series) -> pl.Series:
        """Float64 score per cell for cells that consist of one entity and nothing else."""


# ------------------------------------------------------------------------------------ helpers


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


@cache
def _words_regex(words: tuple[str, ...]) -> re.Pattern[str] | None:
    """One regex matching any of ``words`` as whole words (case already folded)."""
    if not words:
        return None
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")


def _around(text: str, start: int, end: int) -> str:
    """The lower-cased context window of a match (before and after, split by a blank)."""
    return (text[max(0, start - CONTEXT_BEFORE):start] + " \x00 "
            + text[end:end + CONTEXT_AFTER]).lower()


def _has_words(window: str, words: tuple[str, ...]) -> bool:
    regex = _words_regex(words)
    return regex is not None and regex.search(window) is not None


def _as_text(values: pl.Series) -> pl.Series | None:
    """The column as strings with nulls as "", or ``None`` when it cannot hold text at all
    (nested, binary, object columns): those score zero rather than fail."""
    dtype = values.dtype
    if dtype == pl.String:
        text = values
    elif dtype == pl.Null:
        text = pl.Series(values.name, [""] * len(values), dtype=pl.String)
    elif dtype.is_nested() or dtype in (pl.Binary, pl.Object):
        return None
    else:
        try:
            text = values.cast(pl.String, strict=False)
        except (pl.exceptions.PolarsError, TypeError, ValueError):
            return None
    return text.fill_null("")


def _zeros(values: pl.Series) -> pl.Series:
    return pl.Series(values.name, [0.0] * len(values), dtype=pl.Float64)


def _scatter(values: pl.Series, rows: pl.Series, scores: pl.Series) -> pl.Series:
    """A zero column of ``values``' length with ``scores`` placed at ``rows``."""
    out = _zeros(values)
    if len(rows):
        out = out.scatter(rows, scores.cast(pl.Float64).fill_null(0.0))
    return out


def _clip(score: float) -> float:
    return round(min(1.0, max(0.0, score)), 4)


# -------------------------------------------------------------------------- pattern recognizer


@dataclass(frozen=True)
class PatternRecognizer(Recognizer):
    """A regular expression, an optional validator, and context words.

    ``pattern`` must mean the same in Python ``re`` and in Polars (Rust ``regex``): no
    lookaround, no backreferences. Scoring of a candidate match:

    * no validator: ``score``;
    * validator passes: ``validated_score``;
    * validator fails: dropped, or ``score`` when ``reject_invalid`` is False;
    * ``scorer`` given instead: its return value, for evidence that comes in tiers (a phone
      number valid in the US, only valid somewhere, or merely the right length).

    In free text, any of ``context`` near the match adds ``context_boost`` and any of
    ``negative_context`` subtracts ``negative_penalty``. ``strip`` lists trailing characters
    cut from a match (a URL ends before the full stop that ends the sentence). A shape too
    loose to count alone (``needs_context``) is reported in free text only next to one of its
    context words, and never in columns, where there is no context to read.
    """

    name: str
    entity: Entity
    pattern: str
    score: float
    validator: Callable[[str], bool] | None = None
    validated_score: float | None = None
    reject_invalid: bool = True
    context: tuple[str, ...] = ()
    context_boost: float = 0.3
    negative_context: tuple[str, ...] = ()
    negative_penalty: float = 0.3
    strip: str = ""
    needs_context: bool = False
    scorer: Callable[[str], float] | None = None
    # Optional vectorised shortcut for columns: a Float64 score for each value it can decide
    # in one Polars pass, null where it cannot; wherever it is not null it must equal
    # ``value_score`` (tests hold them equal).
    bulk: Callable[[pl.Series], pl.Series] | None = None

    def value_score(self, value: str) -> float:
        """The context-free score of one matched value (0.0 when it is rejected)."""
        if self.scorer is not None:
            return self.scorer(value)
        if self.validator is None:
            return self.score
        if self.validator(value):
            return self.score if self.validated_score is None else self.validated_score
        return 0.0 if self.reject_invalid else self.score

    def with_context(self, text: str, start: int, end: int, score: float) -> float:
        """``score`` adjusted for the words around ``text[start:end]``."""
        if not (self.context or self.negative_context):
            return score
        window = _around(text, start, end)
        if _has_words(window, self.context):
            score += self.context_boost
        if _has_words(window, self.negative_context):
            score -= self.negative_penalty
        return _clip(score)

    def text_regex(self) -> re.Pattern[str]:
        """The compiled regex free text is searched with."""
        return _compiled(self.pattern)

    def candidate(self, match: re.Match[str]) -> tuple[int, int, float]:
        """The offsets and context-free score of one match in free text (score 0: dropped)."""
        start, value = match.start(), match.group()
        if self.strip:
            value = value.rstrip(self.strip)
        return start, start + len(value), self.value_score(value) if value else 0.0

    def spans(self, text: str) -> list[Span]:
        found = []
        for match in self.text_regex().finditer(text):
            start, end, score = self.candidate(match)
            if score <= 0.0 or (self.needs_context and not _has_words(
                    _around(text, start, end), self.context)):
                continue
            score = self.with_context(text, start, end, score)
            if score > 0.0:
                found.append(Span(start, end, self.entity, score, self.name))
        return found

    def _distinct_scores(self, distinct: pl.Series) -> pl.Series:
        """``value_score`` of each distinct candidate; those ``bulk`` decides skip the loop."""
        if self.bulk is None:
            return pl.Series([self.value_score(x) for x in distinct.to_list()], dtype=pl.Float64)
        decided = self.bulk(distinct).cast(pl.Float64)
        todo = decided.is_null()
        if not todo.any():
            return decided
        rest = [self.value_score(x) for x in distinct.filter(todo).to_list()]
        return decided.scatter(todo.arg_true(), pl.Series(rest, dtype=pl.Float64))

    def matches(self, values: pl.Series) -> pl.Series:
        return self._score_cells(values, whole=False)

    def full_match(self, values: pl.Series) -> pl.Series:
        return self._score_cells(values, whole=True)

    def _score_cells(self, values: pl.Series, *, whole: bool) -> pl.Series:
        """One regex pass over the column, then the validator once per distinct candidate."""
        text = _as_text(values)
        if text is None or len(text) == 0 or self.needs_context:
            return _zeros(values)
        pattern = rf"^\s*(?:{self.pattern})\s*$" if whole else self.pattern
        unvalidated = self.validator is None and self.scorer is None
        if whole or unvalidated:
            hit = text.str.contains(pattern)
            if not hit.any():
                return _zeros(values)
            if unvalidated:
                return hit.cast(pl.Float64).fill_null(0.0).rename(values.name) * self.score
        frame = pl.DataFrame({"v": text}).with_row_index("row")
        if whole:
            found = frame.filter(hit).select("row", pl.col("v").str.strip_chars().alias("m"))
        else:  # one pass finds and extracts: no separate `contains` over long text
            found = frame.select("row", pl.col("v").str.extract_all(self.pattern).alias("m"))
            found = found.explode("m").drop_nulls("m")
            if found.is_empty():
                return _zeros(values)
        if self.strip:
            found = found.with_columns(pl.col("m").str.strip_chars_end(self.strip))
        distinct = found.get_column("m").unique()
        table = pl.DataFrame({"m": distinct, "s": self._distinct_scores(distinct)})
        best = (found.join(table, on="m", how="left")
                .group_by("row").agg(pl.col("s").max()))
        return _scatter(values, best.get_column("row"), best.get_column("s"))


def settles(test: Callable[[pl.Series], pl.Series], score: float
             ) -> Callable[[pl.Series], pl.Series]:
    """A ``bulk`` shortcut giving ``score`` where ``test`` is True and leaving the rest."""
    def bulk(values: pl.Series) -> pl.Series:
        return pl.select(pl.when(test(values)).then(score)).to_series()
    return bulk



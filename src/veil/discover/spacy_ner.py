"""PERSON from an installed spaCy NER model: joins the catalogue only when one is installed.

Nothing is downloaded, and spaCy itself is imported only once a model is there to use.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from dataclasses import dataclass
from functools import cache

import polars as pl

from veil.discover.entities import Entity, Span
from veil.discover.patterns import Recognizer, _as_text, _zeros

__all__ = ["SpacyPersonRecognizer", "installed_spacy_models"]


def installed_spacy_models() -> tuple[str, ...]:
    """spaCy model packages installed here (those advertise themselves by entry point; asking
    this way avoids importing spaCy just to learn there is none)."""
    try:
        points = importlib.metadata.entry_points(group="spacy_models")
    except Exception:
        return ()
    return tuple(sorted({p.name for p in points}))


@cache
def _spacy_pipeline(model: str):  # type: ignore[no-untyped-def]
    spacy = importlib.import_module("spacy")
    return spacy.load(model, disable=["lemmatizer", "textcat"])


@dataclass(frozen=True)
class SpacyPersonRecognizer(Recognizer):
    """PERSON from an installed spaCy NER model. Offered only when one is installed; never
    downloads one."""

    model: str
    name: str = "spacy_person"
    entity: Entity = Entity.PERSON
    score: float = 0.85
    labels: tuple[str, ...] = ("PERSON", "PER")

    def spans(self, text: str) -> list[Span]:
        doc = _spacy_pipeline(self.model)(text)
        return [Span(e.start_char, e.end_char, self.entity, self.score, self.name)
                for e in doc.ents if e.label_ in self.labels]

    def _cells(self, values: pl.Series, *, whole: bool) -> pl.Series:
        text = _as_text(values)
        if text is None:
            return _zeros(values)
        distinct = [x for x in text.unique().to_list() if x.strip()]
        nlp = _spacy_pipeline(self.model)
        scores = {}
        for cell, doc in zip(distinct, nlp.pipe(distinct), strict=True):
            ents = [e for e in doc.ents if e.label_ in self.labels]
            ok = (any(e.text.strip() == cell.strip() for e in ents) if whole else bool(ents))
            scores[cell] = self.score if ok else 0.0
        return text.replace_strict(scores, default=0.0, return_dtype=pl.Float64)

    def matches(self, values: pl.Series) -> pl.Series:
        return self._cells(values, whole=False)

    def full_match(self, values: pl.Series) -> pl.Series:
        return self._cells(values, whole=True)

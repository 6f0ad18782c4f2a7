"""Find personal data in free text: run the recognizers, keep the confident, settle overlaps.

Each recognizer scores its own matches, context included (see ``veil.discover.recognizers``).
The analyzer drops spans under ``threshold`` and then resolves overlaps between what is left,
across entities: the higher score wins, then the longer span, then the earlier recognizer in
the catalogue. Dropping before resolving matters: a weak guess must not hide a confident
neighbour. A part found inside its whole (a ZIP code inside a street address) is absorbed
into the whole, which keeps the better of the two scores, so the address is not cut in two.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from veil.discover.entities import Entity, Span
from veil.discover.patterns import Recognizer
from veil.discover.recognizers import RECOGNIZERS
from veil.errors import InputError


def _chosen(recognizers: Sequence[Recognizer] | None,
            entities: Iterable[Entity | str] | None) -> tuple[Recognizer, ...]:
    pool = RECOGNIZERS if recognizers is None else tuple(recognizers)
    if entities is None:
        return pool
    try:
        wanted = {Entity(e) for e in entities}
    except ValueError as exc:
        msg = f"{exc}; entities must be among: {', '.join(Entity)}"
        raise InputError(msg) from None
    return tuple(r for r in pool if r.entity in wanted)


# Entities that are part of another when found inside it.
PART_OF: dict[Entity, Entity] = {Entity.ZIP_CODE: Entity.STREET_ADDRESS}


def absorb_parts(spans: list[Span]) -> list[Span]:
    """Fold each span lying inside a span of the entity it is part of into that span."""
    wholes = [i for i, s in enumerate(spans) if s.entity in PART_OF.values()]
    if not wholes:
        return spans
    score = {i: spans[i].score for i in wholes}
    absorbed = set()
    for j, part in enumerate(spans):
        whole = PART_OF.get(part.entity)
        for i in wholes:
            w = spans[i]
            if w.entity == whole and w.start <= part.start and part.end <= w.end:
                score[i] = max(score[i], part.score)
                absorbed.add(j)
    return [replace(s, score=score[i]) if i in score else s
            for i, s in enumerate(spans) if i not in absorbed]


def resolve_overlaps(spans: Iterable[Span]) -> list[Span]:
    """Non-overlapping spans: the higher score, then the longer span, wins; sorted by start."""
    ranked = sorted(enumerate(spans), key=lambda p: (-p[1].score, p[1].start - p[1].end, p[0]))
    chosen: list[Span] = []
    for _, span in ranked:
        if all(span.end <= c.start or span.start >= c.end for c in chosen):
            chosen.append(span)
    return sorted(chosen, key=lambda s: (s.start, s.end))


def analyze(
    text: str,
    *,
    entities: Iterable[Entity | str] | None = None,
    threshold: float = 0.5,
    recognizers: Sequence[Recognizer] | None = None,
) -> list[Span]:
    """Spans of personal data in ``text`` scoring at least ``threshold``, sorted by start.

    ``entities`` limits the search (default: all); ``recognizers`` replaces the default
    catalogue. Scores are calibrated so that 0.5 is a sensible operating point: lower it to
    catch more at the cost of false alarms.
    """
    if not isinstance(text, str):
        msg = f"analyze expects a str, got {type(text).__name__}; use analyze_many for columns"
        raise InputError(msg)
    if not 0.0 <= threshold <= 1.0:
        raise InputError(f"threshold must lie in [0, 1], got {threshold}")
    if not text.strip():
        return []
    found = [span for recognizer in _chosen(recognizers, entities)
             for span in recognizer.spans(text) if span.score >= threshold]
    return resolve_overlaps(absorb_parts(found))


def analyze_many(
    texts: Iterable[str | None],
    *,
    entities: Iterable[Entity | str] | None = None,
    threshold: float = 0.5,
    recognizers: Sequence[Recognizer] | None = None,
) -> list[list[Span]]:
    """:func:`analyze` over many texts; a ``None`` (a null cell) gives an empty list, so the
    result lines up with the input."""
    chosen = _chosen(recognizers, entities)
    return [[] if text is None else analyze(text, threshold=threshold, recognizers=chosen)
            for text in texts]

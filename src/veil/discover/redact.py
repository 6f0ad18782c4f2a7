"""De-identify free text given the spans a scanner found: redact, mask, replace or pseudonymize.

Pseudonyms are keyed tokens: ``HMAC-SHA256(key, entity || 0x00 || normalised value)``, encoded
as ten base32 characters (50 bits; collisions stay unlikely far beyond a workspace's subjects).
With the workspace's pseudonym key (kept in the key ring, re-wrapped but never changed by
rotation) the same person gets the same token everywhere in that workspace, so records can still
be linked; without the key a token cannot be reversed or recomputed from a guessed value.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from enum import StrEnum

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.hmac import HMAC

from veil.discover.analyzer import resolve_overlaps
from veil.discover.entities import Entity, Span
from veil.errors import InputError

_SPACES = re.compile(r"\s+")


class Operator(StrEnum):
    REDACT = "redact"  # remove the value entirely
    MASK = "mask"  # keep the length, hide the characters (optionally keep the last few)
    REPLACE = "replace"  # the entity type in angle brackets: <EMAIL_ADDRESS>
    PSEUDONYMIZE = "pseudonymize"  # a keyed, stable token: <PERSON_7QK3M2A9ZD>


class Pseudonymizer:
    """Stable keyed tokens for personal values (see the module docstring for the scheme)."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise InputError("a pseudonym key must be at least 32 bytes")
        self._key = key

    def token(self, entity: Entity | str, value: str) -> str:
        normalised = _SPACES.sub(" ", value.strip()).casefold()
        mac = HMAC(self._key, hashes.SHA256())
        mac.update(str(entity).encode() + b"\x00" + normalised.encode())
        return base64.b32encode(mac.finalize()).decode()[:10]


def redact_text(
    text: str,
    spans: Iterable[Span],
    *,
    operator: Operator | str = Operator.REPLACE,
    pseudonymizer: Pseudonymizer | None = None,
    mask_char: str = "*",
    keep_last: int = 0,
) -> str:
    """Rewrite ``text`` with every span de-identified by ``operator``."""
    try:
        operator = Operator(operator)
    except ValueError:
        msg = f"unknown operator {operator!r}; use one of {', '.join(Operator)}"
        raise InputError(msg) from None
    if operator is Operator.PSEUDONYMIZE and pseudonymizer is None:
        msg = "pseudonymize needs a Pseudonymizer; get one with Workspace.pseudonymizer()"
        raise InputError(msg)
    if len(mask_char) != 1 or keep_last < 0:
        raise InputError("mask_char must be one character and keep_last >= 0")
    pieces, cursor = [], 0
    for span in resolve_overlaps(spans):
        if not 0 <= span.start < span.end <= len(text):
            msg = f"span {span.start}:{span.end} lies outside a text of length {len(text)}"
            raise InputError(msg)
        value = text[span.start : span.end]
        pieces.append(text[cursor : span.start])
        if operator is Operator.MASK:
            kept = value[len(value) - keep_last :] if keep_last else ""
            pieces.append(mask_char * (len(value) - len(kept)) + kept)
        elif operator is Operator.REPLACE:
            pieces.append(f"<{span.entity}>")
        elif operator is Operator.PSEUDONYMIZE:
            pieces.append(f"<{span.entity}_{pseudonymizer.token(span.entity, value)}>")  # type: ignore[union-attr]
        cursor = span.end
    pieces.append(text[cursor:])
    return "".join(pieces)

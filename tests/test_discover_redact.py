"""Redaction operators and keyed pseudonyms."""

from __future__ import annotations

import os

import pytest

from veil import Workspace
from veil.discover.entities import Entity, Span
from veil.discover.redact import Operator, Pseudonymizer, redact_text
from veil.errors import InputError
from veil.keys import MasterKey

TEXT = "Pt Jane Doe called from 415-555-0199 about jane@example.com."
SPANS = [Span(3, 11, Entity.PERSON, 0.9, "t"), Span(24, 36, Entity.PHONE_NUMBER, 0.9, "t"),
         Span(43, 59, Entity.EMAIL_ADDRESS, 0.99, "t")]


def test_operators():
    assert redact_text(TEXT, SPANS) == (
        "Pt <PERSON> called from <PHONE_NUMBER> about <EMAIL_ADDRESS>.")
    assert redact_text(TEXT, SPANS, operator="redact") == "Pt  called from  about ."
    masked = redact_text(TEXT, SPANS, operator=Operator.MASK, keep_last=4)
    assert masked == "Pt **** Doe called from ********0199 about ************.com."


def test_overlaps_keep_the_stronger_span():
    spans = [*SPANS, Span(3, 7, Entity.PERSON, 0.5, "weak"), Span(20, 40, Entity.URL, 0.2, "t")]
    assert redact_text(TEXT, spans).startswith("Pt <PERSON> called from <PHONE_NUMBER>")


def test_pseudonyms_are_stable_keyed_and_normalised():
    key = os.urandom(32)
    one, other = Pseudonymizer(key), Pseudonymizer(os.urandom(32))
    assert one.token(Entity.PERSON, "Jane Doe") == one.token(Entity.PERSON, " jane   DOE ")
    assert one.token(Entity.PERSON, "Jane Doe") != one.token(Entity.PERSON, "John Doe")
    assert one.token(Entity.PERSON, "Jane Doe") != one.token(Entity.EMAIL_ADDRESS, "Jane Doe")
    assert one.token(Entity.PERSON, "Jane Doe") != other.token(Entity.PERSON, "Jane Doe")
    out = redact_text(TEXT, SPANS, operator="pseudonymize", pseudonymizer=one)
    assert "Jane" not in out and out.count("<PERSON_") == 1
    tokens = {one.token(Entity.PERSON, f"person {i}") for i in range(5000)}
    assert len(tokens) == 5000


def test_workspace_pseudonyms_survive_rotation_and_are_logged(tmp_path):
    ws = Workspace.create(tmp_path / "ws", master_key=MasterKey(os.urandom(32)))
    before = ws.for_purpose("linkage").pseudonymizer().token(Entity.PERSON, "Jane Doe")
    ws.rotate_keys(master_key=MasterKey(os.urandom(32)))
    assert ws.pseudonymizer().token(Entity.PERSON, "Jane Doe") == before
    assert [e.action for e in ws.ledger.tail(5)][-3:] == ["keys.use", "keys.rotate", "keys.use"]
    other = Workspace.create(tmp_path / "other", master_key=MasterKey(os.urandom(32)))
    assert other.pseudonymizer().token(Entity.PERSON, "Jane Doe") != before


def test_bad_arguments():
    with pytest.raises(InputError, match="needs a Pseudonymizer"):
        redact_text(TEXT, SPANS, operator="pseudonymize")
    with pytest.raises(InputError, match="unknown operator 'shred'"):
        redact_text(TEXT, SPANS, operator="shred")
    with pytest.raises(InputError, match="outside a text"):
        redact_text("short", SPANS)
    with pytest.raises(InputError, match="32 bytes"):
        Pseudonymizer(b"short")

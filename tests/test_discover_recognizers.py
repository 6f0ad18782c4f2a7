"""The recognizer catalogue and the free-text analyzer: offsets, decoys, context, columns."""

from __future__ import annotations

import itertools
import re
from datetime import date

import polars as pl
import pytest

from veil.discover import validators as v
from veil.discover.analyzer import analyze, analyze_many, resolve_overlaps
from veil.discover.entities import Entity, Span
from veil.discover.names import PersonRecognizer
from veil.discover.patterns import PatternRecognizer
from veil.discover.recognizers import RECOGNIZERS, recognizers
from veil.discover.spacy_ner import SpacyPersonRecognizer, installed_spacy_models
from veil.errors import InputError

E = Entity


def found(text: str, entity: Entity, **kwargs) -> list[str]:
    """The pieces of ``text`` the analyzer reports as ``entity``."""
    return [text[s.start:s.end] for s in analyze(text, **kwargs) if s.entity == entity]


def by_name(name: str):
    return next(r for r in RECOGNIZERS if r.name == name)


# ------------------------------------------------------------------------------ the catalogue


def test_catalogue_covers_every_entity() -> None:
    assert {r.entity for r in RECOGNIZERS} == set(Entity)
    assert len({r.name for r in RECOGNIZERS}) == len(RECOGNIZERS)


def test_recognizers_filters_by_entity() -> None:
    chosen = recognizers([E.US_SSN, "EMAIL_ADDRESS"])
    assert chosen and {r.entity for r in chosen} == {E.US_SSN, E.EMAIL_ADDRESS}
    assert recognizers() == RECOGNIZERS


@pytest.mark.parametrize("rec", [r for r in RECOGNIZERS if isinstance(r, PatternRecognizer)],
                         ids=lambda r: r.name)
def test_patterns_run_in_python_and_polars_alike(rec: PatternRecognizer) -> None:
    re.compile(rec.pattern)
    sample = ["Call 650-253-0000 or mail jane@example.org on 2021-03-04, SSN 536-22-1987.",
              "12 Main Street, Springfield, IL 62704", "x", ""]
    in_polars = pl.Series(sample).str.contains(rec.pattern).to_list()
    in_python = [re.search(rec.pattern, s) is not None for s in sample]
    assert in_polars == in_python


def test_spacy_recognizer_only_with_an_installed_model() -> None:
    has = any(isinstance(r, SpacyPersonRecognizer) for r in RECOGNIZERS)
    assert has == bool(installed_spacy_models())


# --------------------------------------------------------------------------- free text, offsets

CASES = [
    ("Write to jane.doe@example.org today.", E.EMAIL_ADDRESS, "jane.doe@example.org"),
    ("Call me at (650) 253-0000 tomorrow.", E.PHONE_NUMBER, "(650) 253-0000"),
    ("Our London office: +44 20 7946 0958.", E.PHONE_NUMBER, "+44 20 7946 0958"),
    ("Her SSN is 536-22-1987.", E.US_SSN, "536-22-1987"),
    ("Card 4111 1111 1111 1111 expires in May.", E.CREDIT_CARD, "4111 1111 1111 1111"),
    ("Pay to IBAN GB82 WEST 1234 5698 7654 32.", E.IBAN_CODE, "GB82 WEST 1234 5698 7654 32"),
    ("Blocked 58.74.121.78 at the gateway", E.IP_ADDRESS, "58.74.121.78"),
    ("Client 2001:db8::ff00:42:8329 connected", E.IP_ADDRESS, "2001:db8::ff00:42:8329"),
    ("Seen on 2021-03-04 at the clinic.", E.DATE_TIME, "2021-03-04"),
    ("Admitted March 3, 2021 for review.", E.DATE_TIME, "March 3, 2021"),
    ("DOB: 03/04/1975, no allergies.", E.DATE_OF_BIRTH, "03/04/1975"),
    ("She was born on 12 May 1980 in Leeds.", E.DATE_OF_BIRTH, "12 May 1980"),
    ("She lives at 12 Apple Street.", E.STREET_ADDRESS, "12 Apple Street"),
    ("Ship to 350 Fifth Ave, New York, NY 10118 please.", E.STREET_ADDRESS,
     "350 Fifth Ave, New York, NY 10118"),
    ("Wohnt in der Hauptstraße 5 seit Jahren.", E.STREET_ADDRESS, "Hauptstraße 5"),
    ("ZIP code: 02139", E.ZIP_CODE, "02139"),
    ("Driver's license D1234567 on file.", E.US_DRIVER_LICENSE, "D1234567"),
    ("Passport number C03005988 was scanned.", E.PASSPORT, "C03005988"),
    ("MRN: 00123456 admitted overnight.", E.MEDICAL_RECORD_NUMBER, "00123456"),
    ("Docs at https://example.com/a/b.", E.URL, "https://example.com/a/b"),
    ("A 42-year-old woman presented.", E.AGE, "42"),
    ("Patient aged 67 with fever.", E.AGE, "67"),
    ("Age: 42, smoker.", E.AGE, "42"),
    ("35 yo male, stable.", E.AGE, "35"),
    ("Please contact Dr. Sarah Connor about the results.", E.PERSON, "Sarah Connor"),
    ("Yesterday Maria Garcia signed the form.", E.PERSON, "Maria Garcia"),
    ("Thanks, I forwarded it to John O'Brien-Smith.", E.PERSON, "John O'Brien-Smith"),
]


@pytest.mark.parametrize(("text", "entity", "piece"), CASES, ids=[c[2] for c in CASES])
def test_finds_entity_with_offsets(text: str, entity: Entity, piece: str) -> None:
    spans = [s for s in analyze(text) if s.entity == entity]
    assert [(s.start, s.end) for s in spans] == [(text.index(piece), text.index(piece) +
                                                  len(piece))]
    assert 0.5 <= spans[0].score <= 1.0


@pytest.mark.parametrize(("text", "entity"), [
    ("Order 4111111111111112 shipped.", E.CREDIT_CARD),  # fails Luhn
    ("Order 1234567812345670 shipped.", E.CREDIT_CARD),  # Luhn-valid, no issuer
    ("Reference 123456789 attached.", E.US_SSN),  # nine digits, no SSN context
    ("Her SSN is 666-22-1987.", E.US_SSN),  # area 666 is never issued
    ("Pay to GB82 WEST 1234 5698 7654 33.", E.IBAN_CODE),  # corrupted check
    ("Version 1.2.0.0 released.", E.IP_ADDRESS),
    ("Build 999.1.1.1 failed.", E.IP_ADDRESS),
    ("Invoice total 12345 dollars.", E.ZIP_CODE),
    ("Chapter 3.8.18 of the manual", E.DATE_TIME),
    ("Ticket 12 345 678 is open.", E.PHONE_NUMBER),
])
def test_decoys_are_not_reported(text: str, entity: Entity) -> None:
    assert found(text, entity) == []


@pytest.mark.parametrize("text", [
    "We met in May 2020 and again in June.",
    "I will see you in May.",
    "The Committee met on Tuesday to discuss Growth and Strategy.",
    "CAN SOMEONE HELP ME WITH MY ORDER?",
    "Install the Python package with pip.",
    "The meeting moved to Apple Street in Boston.",
])
def test_no_person_in_ordinary_text(text: str) -> None:
    assert found(text, E.PERSON) == []


def test_street_named_like_a_person_is_an_address() -> None:
    text = "Deliver to 1755 Nelson Mandela Drive by noon."
    assert found(text, E.STREET_ADDRESS) == ["1755 Nelson Mandela Drive"]
    assert found(text, E.PERSON) == []


@pytest.mark.parametrize(("text", "address"), [
    ("He gave us his address: 46 velký průhon 426, Opočnice", "46 velký průhon 426"),
    ("Shelby lives at 87 Jakobi 69, Laane", "87 Jakobi 69"),
    ("11 Školní 939\n Apt. 827\n Kaplice", "11 Školní 939"),
])
def test_street_name_then_number_is_an_address_next_to_address_words(text, address) -> None:
    assert address in found(text, E.STREET_ADDRESS)


def test_street_name_then_number_needs_context_in_text_and_is_never_a_column_match() -> None:
    """Without address words "10 with hyperlipidemia Total cholesterol 268" is no address."""
    text = "admitted 2025-04-10 with hyperlipidemia Total cholesterol 268 mg/dL"
    assert found(text, E.STREET_ADDRESS) == []
    rec = next(r for r in RECOGNIZERS if r.name == "street_address_name_number")
    assert rec.spans("his address: 87 Jakobi 69") != []
    cells = pl.Series(["87 Jakobi 69", "address: 87 Jakobi 69"])
    assert rec.matches(cells).to_list() == [0.0, 0.0]
    assert rec.full_match(cells).to_list() == [0.0, 0.0]


def test_title_and_context_raise_person_scores() -> None:
    person = PersonRecognizer()

    def score(text: str, name: str) -> float:
        return max((s.score for s in person.spans(text) if text[s.start:s.end] == name),
                   default=0.0)

    assert score("We asked Mr. Nielsen twice.", "Nielsen") > score("We asked Nielsen twice.",
                                                                   "Nielsen")
    assert score("My name is Kuyra.", "Kuyra") >= 0.5 > score("The Kuyra is ready.", "Kuyra")
    assert score("Dear Anna Weber,", "Anna Weber") >= score("Anna Weber", "Anna Weber")
    assert score("Anna Weber called.", "Anna Weber") > score("Anna", "Anna")


def test_context_raises_pattern_scores() -> None:
    ssn = by_name("us_ssn")
    plain = ssn.spans("value 536-22-1987")[0].score
    named = ssn.spans("SSN 536-22-1987")[0].score
    assert named > plain
    dl = by_name("us_driver_license")
    assert dl.spans("code D1234567")[0].score < 0.5 <= dl.spans("license D1234567")[0].score
    bare = by_name("us_ssn_bare")
    assert bare.spans("driver's license 536221987")[0:1] == []  # negative context drops it


def test_date_of_birth_wins_over_date_with_birth_context() -> None:
    spans = analyze("Date of birth: 1975-03-04")
    assert [s.entity for s in spans] == [E.DATE_OF_BIRTH]
    assert [s.entity for s in analyze("Visit on 1975-03-04")] == [E.DATE_TIME]


# ---------------------------------------------------------------------------------- analyzer


def test_analyze_resolves_overlaps_and_sorts() -> None:
    text = ("Mr. John Smith (SSN 536-22-1987, card 4111 1111 1111 1111) lives at "
            "12 Main Street, Springfield, IL 62704; call 650-253-0000 or mail js@example.org.")
    spans = analyze(text)
    assert spans == sorted(spans, key=lambda s: (s.start, s.end))
    for a, b in itertools.pairwise(spans):
        assert a.end <= b.start
    assert {s.entity for s in spans} >= {E.PERSON, E.US_SSN, E.CREDIT_CARD, E.STREET_ADDRESS,
                                         E.PHONE_NUMBER, E.EMAIL_ADDRESS}
    address = next(s for s in spans if s.entity == E.STREET_ADDRESS)
    assert text[address.start:address.end] == "12 Main Street, Springfield, IL 62704"


def test_resolve_overlaps_prefers_score_then_length() -> None:
    a = Span(0, 10, E.PHONE_NUMBER, 0.6, "a")
    b = Span(5, 12, E.US_SSN, 0.9, "b")
    c = Span(0, 4, E.ZIP_CODE, 0.9, "c")
    d = Span(0, 6, E.DATE_TIME, 0.9, "d")
    assert resolve_overlaps([a, b, c]) == [c, b]
    assert resolve_overlaps([c, d]) == [d]


def test_threshold_and_entities() -> None:
    text = "SSN 536-22-1987, mail js@example.org"
    assert {s.entity for s in analyze(text, entities=[E.EMAIL_ADDRESS])} == {E.EMAIL_ADDRESS}
    assert analyze(text, threshold=1.0) == []
    assert len(analyze(text, threshold=0.0)) >= 2
    with pytest.raises(InputError):
        analyze(text, entities=["NOT_AN_ENTITY"])
    with pytest.raises(InputError):
        analyze(text, threshold=2)
    with pytest.raises(InputError):
        analyze(None)  # type: ignore[arg-type]


def test_analyze_many_lines_up_with_input() -> None:
    out = analyze_many(["mail js@example.org", None, "", "nothing here"])
    assert len(out) == 4
    assert [s.entity for s in out[0]] == [E.EMAIL_ADDRESS]
    assert out[1] == out[2] == out[3] == []


def test_huge_text_is_handled() -> None:
    text = ("lorem ipsum dolor sit amet " * 40_000) + "mail js@example.org"
    assert found(text, E.EMAIL_ADDRESS) == ["js@example.org"]


# ------------------------------------------------------------------------------------ columns


def test_matches_handles_nulls_empties_and_huge_cells() -> None:
    huge = "x" * 1_000_000 + " 536-22-1987"
    column = pl.Series("c", [None, "", "536-22-1987", "SSN: 536-22-1987 on file", huge,
                             "666-22-1987"])
    ssn = by_name("us_ssn")
    contained = ssn.matches(column)
    whole = ssn.full_match(column)
    assert contained.dtype == whole.dtype == pl.Float64 and contained.name == "c"
    assert [x > 0 for x in contained] == [False, False, True, True, True, False]
    assert [x > 0 for x in whole] == [False, False, True, False, False, False]


@pytest.mark.parametrize("column", [
    pl.Series([None, None], dtype=pl.Null),
    pl.Series([True, False]),
    pl.Series([[1, 2], [3]]),
    pl.Series([{"a": 1}, {"a": 2}]),
    pl.Series([b"\x00\x01", b"x"]),
    pl.Series([], dtype=pl.String),
], ids=["null", "bool", "list", "struct", "binary", "empty"])
def test_odd_dtypes_score_zero_without_crashing(column: pl.Series) -> None:
    for rec in RECOGNIZERS:
        for method in (rec.matches, rec.full_match):
            out = method(column)
            assert out.dtype == pl.Float64 and len(out) == len(column)
            assert out.sum() == 0


def test_non_string_columns_are_cast() -> None:
    cards = pl.Series([4111111111111111, 4111111111111112, None])
    assert by_name("credit_card").full_match(cards).to_list() == [0.9, 0.0, 0.0]
    dates = pl.Series([date(1980, 5, 12), None])
    assert by_name("date").full_match(dates).to_list()[0] >= 0.5
    zips = pl.Series(["02139", "1234", "00000"], dtype=pl.Categorical)
    assert [x > 0 for x in by_name("zip_code").full_match(zips)] == [True, False, False]


def test_full_match_tells_a_phone_column_from_free_text() -> None:
    column = pl.Series(["650-253-0000", "please call 650-253-0000 today", "n/a"])
    phone = by_name("phone")
    assert [x > 0 for x in phone.matches(column)] == [True, True, False]
    assert [x > 0 for x in phone.full_match(column)] == [True, False, False]


def test_person_column() -> None:
    column = pl.Series(["John Smith", "MARIA GARCIA", "Smith, John", "Apple Street",
                        "the quick brown fox", None, "", "Anna", "Met Anna Weber today"])
    person = PersonRecognizer()
    whole = person.full_match(column).to_list()
    assert all(x >= 0.5 for x in whole[:3]) and whole[7] >= 0.5
    assert whole[3] == whole[4] == whole[5] == whole[6] == whole[8] == 0.0
    contained = person.matches(column).to_list()
    assert contained[8] > 0 and contained[4] == 0.0 and contained[5] == 0.0


def test_matches_is_vectorised_one_validation_per_distinct_candidate() -> None:
    """100,000 rows, 50 distinct candidates: the validator runs at most 50 times."""
    calls: list[str] = []

    def counting(value: str) -> bool:
        calls.append(value)
        return v.is_us_ssn(value)

    rec = PatternRecognizer("counting_ssn", E.US_SSN, r"\b\d{3}-\d{2}-\d{4}\b", score=0.6,
                            validator=counting, validated_score=0.6)
    candidates = [f"{100 + i:03d}-{10 + i:02d}-{1000 + i:04d}" for i in range(49)]
    candidates.append("666-12-3456")  # invalid: validated once, scores zero
    rows = [f"id {candidates[i % 50]} ok" if i % 4 else f"row {i}" for i in range(100_000)]
    rows[7] = None
    out = rec.matches(pl.Series(rows))
    assert len(calls) <= 50 and len(set(calls)) == len(calls)
    assert len(out) == 100_000
    expected = [0.0 if (r is None or not r.startswith("id") or "666-" in r) else 0.6
                for r in rows]
    assert out.to_list() == expected
    calls.clear()
    rec.full_match(pl.Series(candidates * 2000))
    assert len(calls) <= 50


def test_vectorised_us_phone_check_never_disagrees_with_phonenumbers():
    """Where the one-pass metadata check says "valid in the US", phonenumbers says so too."""
    import random

    import polars as pl

    from veil.discover import validators as v
    from veil.discover.phones import PHONE_VALID_US, phone_score

    rng = random.Random(11)
    layouts = ["({a}) {b:03d}-{c:04d}", "{a}-{b:03d}-{c:04d}", "+1 {a} {b:03d} {c:04d}",
               "{a}.{b:03d}.{c:04d}", "1-{a}-{b:03d}-{c:04d}", "{a}{b:03d}{c:04d}",
               "+44 20 {b:03d} {c:04d}", "{a}-{b:02d}-{c:04d}"]
    values = [rng.choice(layouts).format(a=rng.randint(100, 999), b=rng.randint(0, 999),
                                         c=rng.randint(0, 9999)) for _ in range(4000)]
    values += ["222-222-2222", "1-222-222-2222", "(800) 555-0199", "+1 (415) 555-0199"]
    decided = v.us_phone_numbers(pl.Series(values)).to_list()
    assert sum(decided) > 800
    assert [x for x, d in zip(values, decided, strict=True)
            if d and phone_score(x) != PHONE_VALID_US] == []


def test_vectorised_checks_agree_with_the_per_value_scores():
    """Every recognizer's ``bulk`` shortcut gives exactly what ``value_score`` gives, wherever
    it decides a value, and it decides most of the common shapes."""
    import random

    import polars as pl

    from veil.discover.recognizers import RECOGNIZERS

    rng = random.Random(5)
    d = rng.randint
    dates = [f"{d(1800, 2200)}-{d(0, 14):02d}-{d(0, 33):02d}" for _ in range(3000)]
    dates += [" 2020-02-29 ", "2021-02-29", "1879-12-31", "1880-01-01", "12/31/1999",
              "2017-06-01 12", "2017-06-01\u00a012"]
    phones = [f"({d(100, 999)}) {d(0, 999):03d}-{d(0, 9999):04d}" for _ in range(2000)]
    other = [f"{d(0, 999):03d}-{d(0, 99):02d}-{d(0, 9999):04d}" for _ in range(500)]
    other += [str(d(0, 10 ** d(1, 25))) for _ in range(500)]
    other += [f"+{d(1, 99)} {d(0, 9999)} {d(0, 999999)}" for _ in range(500)]
    words = ["a", "jo.doe", "x-y", "j_o+tag", "-", "a..b", "q" * 64, "q" * 65, "xn--p1ai", "ex-",
             "-ex", "mail", "ÿ", "co", "c0m", "a" * 63, "a" * 64]
    for _ in range(3000):
        host = ".".join(rng.choice(words) for _ in range(d(1, 4)))
        other.append(f"{rng.choice(words)}@{host}{rng.choice(['', '.', ' ', '..'])}")
    other += ["a@" + "b" * 63 + "." + ("c" * 63 + ".") * 3 + "com", "a@b.c", "a@@b.com"]
    other += ["\u2003123-45-6789", "123-45-6789\x1c", "\x1c2017-06-01", "１２３-４５-６７８９",
              "222-222-2222", "", " ", "2017-06-01x", "1-2-3-4-5-6-7"]
    for recognizer in (r for r in RECOGNIZERS if getattr(r, "bulk", None) is not None):
        decided = 0
        for values in (dates, phones, other):
            scores = recognizer.bulk(pl.Series(values)).to_list()
            decided += sum(s is not None for s in scores)
            wrong = [(x, s, recognizer.value_score(x)) for x, s in zip(values, scores, strict=True)
                     if s is not None and recognizer.value_score(x) != s]
            assert wrong == [], (recognizer.name, wrong[:5])
        assert decided >= 100, recognizer.name

"""Dates, weekdays, bare years, ages and card numbers in free text beyond US English."""

from __future__ import annotations

import random
import re

import polars as pl
import pytest
from stdnum import luhn

from veil.discover import validators as v
from veil.discover.analyzer import analyze
from veil.discover.dates import DATE_RECOGNIZERS, GroupRecognizer
from veil.discover.entities import Entity
from veil.discover.recognizers import RECOGNIZERS
from veil.discover.table import scan_table

E = Entity
DATES = (E.DATE_TIME, E.DATE_OF_BIRTH)


def found(text: str, *entities: Entity) -> list[str]:
    return [text[s.start:s.end] for s in analyze(text) if s.entity in entities]


def by_name(name: str):
    return next(r for r in RECOGNIZERS if r.name == name)


# ------------------------------------------------------------------------------------- dates


@pytest.mark.parametrize(("text", "date"), [
    ("Termin am 3. März 2021 bestätigt.", "3. März 2021"),
    ("Rendez-vous le 3 mars 2021 à Paris.", "3 mars 2021"),
    ("La cita es el 3 de marzo de 2021.", "3 de marzo de 2021"),
    ("Visita del 3 marzo 2021 in reparto.", "3 marzo 2021"),
    ("Afspraak op 3 maart 2021 bevestigd.", "3 maart 2021"),
    ("Consulta a 3 de março de 2021 marcada.", "3 de março de 2021"),
    ("Wizyta 3 marca 2021 w szpitalu.", "3 marca 2021"),
    ("Mötet hölls den 3 mars 2021 i Lund.", "3 mars 2021"),
    ("Mødet er den 3. marts 2021.", "3. marts 2021"),
    ("Tapaaminen 3. maaliskuuta 2021 klo 10.", "3. maaliskuuta 2021"),
    ("Schůzka 3. března 2021 v Praze.", "3. března 2021"),
    ("Az ülés 2021. március 3. napján volt.", "2021. március 3."),
    ("Admitted March 3, 2021 for review.", "March 3, 2021"),
    ("Seen on 27-Dec-1986 in clinic.", "27-Dec-1986"),
    ("It happened on the 3rd of March 2021.", "3rd of March 2021"),
    ("It happened on Monday, 3 March 2021.", "Monday, 3 March 2021"),
    ("Es war Montag, 3. März 2021.", "Montag, 3. März 2021"),
    ("C'était lundi 3 mars 2021.", "lundi 3 mars 2021"),
    ("Fue el miércoles, 3 de marzo de 2021.", "miércoles, 3 de marzo de 2021"),
    ("Launched in March 2021.", "March 2021"),
    ("Seit März 2021 in Behandlung.", "März 2021"),
    ("Ingresó en marzo de 2021.", "marzo de 2021"),
    ("MEETING ON MARCH 3, 2021", "MARCH 3, 2021"),
])
def test_written_dates_in_each_language(text: str, date: str) -> None:
    assert found(text, *DATES) == [date]


@pytest.mark.parametrize("text", [
    "Due 31 February 2021.", "Am 31. April 2021 geschlossen.", "Le 30 février 2021.",
    "Il 31 giugno 2021.", "Chapter 3.8.18 of the manual", "Set 3 set 2021x",
])
def test_impossible_or_malformed_dates_are_rejected(text: str) -> None:
    assert found(text, *DATES) == []


@pytest.mark.parametrize(("value", "ok"), [
    ("3. März 2021", True), ("3 de marzo de 2021", True), ("2021. március 3.", True),
    ("Montag, 3. März 2021", True), ("Wednesday, March 3, 2021 at 10:00", True),
    ("1er mars 2021", True), ("3 set 2021", True), ("März 2021", True), ("2021. március", True),
    ("31 February 2020", False), ("29 febbraio 2021", False), ("set 2021", False),
    ("foo 2021", False), ("March 2201", False), ("Montag", False),
])
def test_is_date_reads_every_language_and_stays_real(value: str, ok: bool) -> None:
    assert v.is_date(value) is ok


def test_month_tables_are_consistent() -> None:
    assert all(1 <= m <= 12 for m in v.MONTHS.values())
    assert v.MONTHS["maaliskuuta"] == v.MONTHS["stycznia"] + 2 == v.MONTHS["března"] == 3
    assert set(v.MONTH_NAMES) <= set(v.MONTHS) and "ago" not in v.MONTH_NAMES


# --------------------------------------------------------------------------- weekdays alone


@pytest.mark.parametrize(("text", "day"), [
    ("We met on Tuesday to discuss it.", "Tuesday"),
    ("See you on friday.", "friday"),
    ("Wir sehen uns am Montag.", "Montag"),
    ("On se voit le lundi matin.", "lundi"),
    ("Nos vemos el lunes.", "lunes"),
    ("Spotkanie w środę.", "środę"),
    ("Vi ses på måndag.", "måndag"),
    ("Vi sågs i måndags.", "måndags"),
    ("Tavataan maanantaina.", "maanantaina"),
    ("Találkozunk hétfőn.", "hétfőn"),
])
def test_weekday_after_a_preposition_is_a_date(text: str, day: str) -> None:
    assert found(text, *DATES) == [day]


@pytest.mark.parametrize("text", [
    "Sergeant Joe Friday said nothing.",
    "Ask Mr Friday about it.",
    "On the last Sunday before Labor Day we returned.",
    "Friday",
])
def test_weekday_names_without_a_date_cue_are_not_dates(text: str) -> None:
    assert found(text, *DATES) == []


def test_weekday_attached_to_a_date_is_one_span() -> None:
    text = "It was agreed on Friday, 3 March 2021 by all."
    assert found(text, *DATES) == ["Friday, 3 March 2021"]


# -------------------------------------------------------------------------------- bare years


@pytest.mark.parametrize(("text", "entity"), [
    ("She was born 1956 in Leeds.", E.DATE_OF_BIRTH),
    ("He was born in 1956.", E.DATE_OF_BIRTH),
    ("Born in Leeds in 1956, she moved.", E.DATE_OF_BIRTH),
    ("Er wurde geboren 1956 in Köln.", E.DATE_OF_BIRTH),
    ("Il est né en 1956.", E.DATE_OF_BIRTH),
    ("Está nacido en 1956.", E.DATE_OF_BIRTH),
    ("Urodzony w 1956 roku.", E.DATE_OF_BIRTH),
    ("The firm was founded in 1983.", E.DATE_TIME),
    ("They married Anna in 1983 in Rome.", E.DATE_TIME),
    ("A member since 1999.", E.DATE_TIME),
    ("Seit 1999 im Verein.", E.DATE_TIME),
    ("Depuis 1999 à Lyon.", E.DATE_TIME),
    ("1983-ban költözött.", E.DATE_TIME),
])
def test_year_in_a_date_context_is_the_year_alone(text: str, entity: Entity) -> None:
    spans = [s for s in analyze(text) if s.entity in DATES]
    assert [(text[s.start:s.end], s.entity) for s in spans] == [(re.search(r"\d{4}", text)[0],
                                                                  entity)]


@pytest.mark.parametrize("text", [
    "We saw it in 1983 cases out of 5000.", "Go to room 1983 now.", "It cost $1983.",
    "Total 1983 EUR.", "In 1983 patients the drug failed.", "Born in 1850 in Lviv.",
    "He was born in 2150.", "Order 1983 shipped since yesterday.",
])
def test_year_outside_a_date_context_is_not_a_date(text: str) -> None:
    assert found(text, *DATES) == []


def test_birth_words_in_several_languages_make_a_birth_date() -> None:
    for text in ("geboren am 3. März 1956", "née le 3 mars 1956", "nacido el 3 de marzo de 1956",
                 "nata il 3 marzo 1956", "geboren op 3 maart 1956", "urodzony 3 marca 1956",
                 "född den 3 mars 1956", "født 3. marts 1956", "syntynyt 3. maaliskuuta 1956"):
        spans = analyze(text)
        assert [s.entity for s in spans] == [E.DATE_OF_BIRTH], text
        assert spans[0].score >= 0.8


# --------------------------------------------------------------------------------------- ages


@pytest.mark.parametrize(("text", "age"), [
    ("A 64-year-old man presented.", "64"), ("He just turned 52.", "52"),
    ("At the age of 47 she left.", "47"), ("Patient aged 33 with fever.", "33"),
    ("Age: 45, smoker.", "45"), ("35 yo male, stable.", "35"), ("a 50 year old man", "50"),
    ("Er ist 45 Jahre alt.", "45"), ("Alter: 45", "45"), ("ein 45-jähriger Mann", "45"),
    ("Elle a 45 ans.", "45"), ("âgé de 45 ans", "45"),
    ("Marie Dupont, 45 ans, habite à Lyon", "45"),
    ("Tiene 45 años.", "45"), ("un hombre de 45 años de edad", "45"), ("Ha 45 anni.", "45"),
    ("Hij is 45 jaar.", "45"), ("Ma 45 lat.", "45"), ("Hon är 45 år.", "45"),
    ("Hän on 45 vuotta vanha.", "45"), ("45-vuotias mies", "45"), ("45 éves férfi", "45"),
])
def test_age_span_is_the_number_only(text: str, age: str) -> None:
    spans = [s for s in analyze(text) if s.entity == E.AGE]
    assert [text[s.start:s.end] for s in spans] == [age]
    assert text[spans[0].start - 1:spans[0].start] in ("", " ", ":", "-")


@pytest.mark.parametrize("text", [
    "Wait 45 minutes.", "See page 45.", "Il habite ici depuis 45 ans.",
    "Hace 45 años que vive aquí.",
    "Het gebeurde 45 jaar geleden.", "It turned 90 degrees.", "aged 130 years", "45 lat, 12 lon",
    "In 45 percent of cases.",
])
def test_numbers_that_are_not_ages(text: str) -> None:
    assert found(text, E.AGE) == []


def test_is_age_bounds() -> None:
    assert v.is_age("0") and v.is_age("120") and v.is_age("42-year-old")
    assert not v.is_age("121") and not v.is_age("year-old")


def test_age_columns_are_still_classified() -> None:
    frame = pl.DataFrame({"age": [20 + i % 60 for i in range(200)],
                          "note_age": [f"{20 + i % 60} years old" for i in range(200)]})
    scan = scan_table(frame)
    assert scan.finding("age").entity is E.AGE
    assert scan.finding("note_age").entity is E.AGE
    assert by_name("age").full_match(pl.Series(["45 years old", "aged 33", "45", "page 45"])
                                     ).to_list() == [0.75, 0.75, 0.0, 0.0]


# -------------------------------------------------------------------------- group recognizer


SAMPLES = [
    "On Friday, 3 March 2021 she (aged 33) was born in 1956; founded in 1983, since 1999.",
    "Montag, 3. März 2021: ein 45-jähriger Mann, geboren 1956, Alter: 45, am Dienstag.",
    "le 3 mars 2021, née en 1956, âgée de 45 ans; 2021. március 3., hétfőn, 1983-ban",
    "w środę 3 marca 2021, urodzony w 1956, ma 45 lat; i måndags, den 3 mars 2021",
    "MARCH 3, 2021 and 12/27/1986 and 1998-06-28T14:48:14Z; tiene 45 años de edad",
    "nothing here at all", "",
]


@pytest.mark.parametrize("rec", DATE_RECOGNIZERS, ids=lambda r: r.name)
def test_flat_and_factored_patterns_agree_in_python_and_polars(rec: GroupRecognizer) -> None:
    """The Polars pattern and its Python twin find the same matches, in both engines."""
    for text in SAMPLES:
        flat = [m.span() for m in re.finditer(rec.pattern, text)]
        assert flat == [m.span() for m in re.finditer(rec.text_pattern, text)], text
        polars = pl.Series([text]).str.extract_all(rec.pattern).to_list()[0] or []
        assert polars == [text[a:b] for a, b in flat], text


def test_group_scores_line_up_with_groups() -> None:
    for rec in DATE_RECOGNIZERS:
        assert len(rec.group_scores) == re.compile(rec.pattern).groups
        assert len(rec.group_scores) == re.compile(rec.text_pattern).groups


def test_column_scores_read_the_value_group() -> None:
    date = by_name("date")
    cells = pl.Series(["3. März 2021", "on Tuesday", "since 1999", "since 1850",
                       "31 February 2021"])
    assert date.full_match(cells).to_list() == [0.7, 0.55, 0.6, 0.0, 0.0]


# -------------------------------------------------------------------------------------- cards


def _luhn_number(prefix: str, length: int) -> str:
    body = prefix + "7" * (length - len(prefix) - 1)
    return body + luhn.calc_check_digit(body)


UNLISTED = _luhn_number("9123", 16)  # Luhn-valid, no network issues 91...
UNLISTED_12 = _luhn_number("91", 12)


def card_spans(text: str, threshold: float = 0.5) -> list[tuple[str, float]]:
    return [(text[s.start:s.end], s.score) for s in analyze(text, threshold=threshold)
            if s.entity == E.CREDIT_CARD]


def test_issuer_cards_keep_their_score_with_or_without_context() -> None:
    assert card_spans("ref 4111 1111 1111 1111") == [("4111 1111 1111 1111", 0.9)]
    assert card_spans("Kreditkarte 4111111111111111")[0][1] > 0.9


@pytest.mark.parametrize("context", [
    "card", "Karte", "Kreditkarte", "carte", "carte bancaire", "tarjeta", "carta", "kaart",
    "karta", "kort", "kortti", "credit card number",
])
def test_unlisted_luhn_numbers_count_next_to_card_words(context: str) -> None:
    for number in (UNLISTED, UNLISTED_12):
        spans = card_spans(f"My {context}: {number}, please.")
        assert spans == [(number, 0.6)]


@pytest.mark.parametrize("text", [
    f"Number {UNLISTED} attached.",  # no card word
    f"Order {UNLISTED} shipped.",
    f"Order {UNLISTED} paid by card.",  # an order number, even in a card sentence
    f"Aadhaar card {UNLISTED_12}",  # another identifier's card
    "IBAN DE89 3704 0044 0532 0130 00 for the card",
    "Card 4111111111111112 declined.",  # Luhn fails: never a card, whatever the words
    "Card 1234567812345678 declined.",
    "Kreditkarte +49 1512 3456789 0",  # written as a phone number
])
def test_card_decoys(text: str) -> None:
    assert card_spans(text) == []


def test_luhn_valid_noise_is_no_card_without_card_words() -> None:
    """One random 12-19 digit number in ten passes Luhn: none of them may be called a card
    without card words, in text or in columns."""
    rng = random.Random(19)
    numbers = [_luhn_number(str(rng.randint(1, 9)), rng.randint(12, 19)) for _ in range(300)]
    numbers = [n for n in numbers if not v.is_credit_card(n)]
    assert len(numbers) > 150
    for number in numbers:
        assert card_spans(f"Order reference {number} was shipped.") == []
        assert card_spans(f"Call {number} now.") == []
    unlisted = by_name("credit_card_unlisted")
    assert unlisted.full_match(pl.Series(numbers)).sum() == 0.0
    assert unlisted.matches(pl.Series([f"card {n}" for n in numbers])).sum() == 0.0


def test_card_validators() -> None:
    assert v.is_unlisted_card_number(UNLISTED) and v.is_unlisted_card_number(UNLISTED_12)
    assert not v.is_unlisted_card_number("4111111111111111")  # in the issuer table
    assert not v.is_unlisted_card_number(_luhn_number("91", 11))  # too short
    assert not v.is_unlisted_card_number("000000000000")
    assert not v.is_unlisted_card_number(UNLISTED[:-1] + str((int(UNLISTED[-1]) + 1) % 10))
    assert v.is_credit_card("4111-1111-1111-1111") and not v.is_credit_card("+4111111111111111")

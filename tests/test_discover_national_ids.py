"""National identifiers: valid numbers found, broken check digits and look-alikes not, context
where a bare digit string needs it, and columns of ids classified by the table scan."""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from datetime import date, timedelta

import polars as pl
import pytest

from veil.discover.analyzer import analyze
from veil.discover.column_names import name_hint
from veil.discover.entities import NATIONAL_IDS, Category, Entity
from veil.discover.national_ids import (
    NATIONAL_ID_RECOGNIZERS,
    is_au_medicare,
    is_de_id_card,
    is_sg_nric,
    is_uk_nino,
)
from veil.discover.patterns import PatternRecognizer
from veil.discover.table import scan_table

E = Entity
RECOGNIZER = {r.entity: r for r in NATIONAL_ID_RECOGNIZERS
              if isinstance(r, PatternRecognizer) and not r.needs_context}


def _validator(entity: Entity) -> Callable[[str], bool]:
    rec = RECOGNIZER[entity]
    return lambda value: rec.value_score(value) > 0


# -- valid examples: drawn at random (fixed seed) and kept where the check passes --------------
Draw = Callable[[random.Random], str]


def _d(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(n))


def _day(rng: random.Random, fmt: str, first: int = 1940, last: int = 2004) -> str:
    start = date(first, 1, 1)
    return (start + timedelta(days=rng.randrange((date(last, 12, 31) - start).days))).strftime(fmt)


def _pick(rng: random.Random, letters: str, n: int = 1) -> str:
    return "".join(rng.choice(letters) for _ in range(n))


_DE_ID_ALPHABET = "CFGHJKLMNPRTVWXYZ"
_OMOCODE = "0123456789"

# How people write each id, with the distinctive id's own name as the context word.
DRAWS: dict[Entity, tuple[str, Draw]] = {
    E.UK_NHS: ("NHS number", lambda r: f"{_pick(r, '4567')}{_d(r, 2)} {_d(r, 3)} {_d(r, 4)}"),
    E.UK_NINO: ("National Insurance", lambda r: f"{_pick(r, 'ABCEHJKLMPRSTWXY')}"
                f"{_pick(r, 'ABCEHJKLMPRSTWXY')} {_d(r, 2)} {_d(r, 2)} {_d(r, 2)} "
                f"{_pick(r, 'ABCD')}"),
    E.DE_TAX_ID: ("Steuer-ID", lambda r: f"{_pick(r, '123456789')}{_d(r, 1)} {_d(r, 3)} "
                  f"{_d(r, 3)} {_d(r, 3)}"),
    E.DE_ID_CARD: ("Personalausweis", lambda r: _pick(r, _DE_ID_ALPHABET)
                   + _pick(r, _DE_ID_ALPHABET + string.digits, 8) + _d(r, 1)),
    E.FR_NIR: ("NIR", lambda r: f"{_pick(r, '12')} {_day(r, '%y %m')} {_d(r, 2)} {_d(r, 3)} "
               f"{_d(r, 3)} {_d(r, 2)}"),
    E.ES_NIF: ("DNI", lambda r: f"{_d(r, 8)}-{_pick(r, 'TRWAGMYFPDXBNJZSQVHLCKE')}"),
    E.ES_NIE: ("NIE", lambda r: _pick(r, "XYZ") + _d(r, 7) + _pick(r, "TRWAGMYFPDXBNJZSQVHLCKE")),
    E.IT_FISCAL_CODE: ("codice fiscale", lambda r: _pick(r, string.ascii_uppercase, 6)
                       + _day(r, "%y") + _pick(r, "ABCDEHLMPRST") + f"{r.randint(1, 28):02d}"
                       + _pick(r, "ABCDEFGHILM") + _d(r, 3) + _pick(r, string.ascii_uppercase)),
    E.NL_BSN: ("BSN", lambda r: _d(r, 9)),
    E.BE_NATIONAL_NUMBER: ("rijksregisternummer",
                           lambda r: f"{_day(r, '%y.%m.%d')}-{_d(r, 3)}.{_d(r, 2)}"),
    E.PL_PESEL: ("PESEL", lambda r: _day(r, "%y%m%d", 1940, 1999) + _d(r, 5)),
    E.SE_PERSONNUMMER: ("personnummer", lambda r: f"{_day(r, '%y%m%d')}-{_d(r, 4)}"),
    E.DK_CPR: ("CPR", lambda r: f"{_day(r, '%d%m%y', 1940, 1999)}-{_pick(r, '0123')}{_d(r, 3)}"),
    E.FI_PERSONAL_IDENTITY_CODE: ("henkilötunnus", lambda r: _day(r, "%d%m%y", 2000, 2004)
                                  + f"A{r.randint(2, 899):03d}"
                                  + _pick(r, "0123456789ABCDEFHJKLMNPRSTUVWXY")),
    E.NO_FODSELSNUMMER: ("fødselsnummer", lambda r: f"{_day(r, '%d%m%y', 1940, 1999)} "
                         f"{_pick(r, '01234')}{_d(r, 4)}"),
    E.IE_PPSN: ("PPS number", lambda r: _d(r, 7) + _pick(r, "ABCDEFGHIJKLMNOPQRSTUVW")
                + _pick(r, "A ")),
    E.PT_NIF: ("NIF", lambda r: f"{_pick(r, '123')}{_d(r, 2)} {_d(r, 3)} {_d(r, 3)}"),
    E.AT_SVNR: ("Sozialversicherungsnummer",
                lambda r: f"{_pick(r, '123456789')}{_d(r, 3)} {_day(r, '%d%m%y')}"),
    E.CH_AHV: ("AHV", lambda r: f"756.{_d(r, 4)}.{_d(r, 4)}.{_d(r, 2)}"),
    E.AU_TFN: ("TFN", lambda r: f"{_d(r, 3)} {_d(r, 3)} {_d(r, 3)}"),
    E.AU_ABN: ("ABN", lambda r: f"{_d(r, 2)} {_d(r, 3)} {_d(r, 3)} {_d(r, 3)}"),
    E.AU_ACN: ("ACN", lambda r: f"{_d(r, 3)} {_d(r, 3)} {_d(r, 3)}"),
    E.AU_MEDICARE: ("Medicare", lambda r: f"{_pick(r, '23456')}{_d(r, 3)} {_d(r, 5)} "
                    f"{_pick(r, '123456789')}"),
    E.IN_AADHAAR: ("Aadhaar", lambda r: f"{_pick(r, '23456789')}{_d(r, 3)} {_d(r, 4)} {_d(r, 4)}"),
    E.IN_PAN: ("PAN", lambda r: _pick(r, string.ascii_uppercase, 3) + _pick(r, "PCHFT")
               + _pick(r, string.ascii_uppercase) + _d(r, 4) + _pick(r, string.ascii_uppercase)),
    E.SG_NRIC_FIN: ("NRIC", lambda r: _pick(r, "STFGM") + _d(r, 7)
                    + _pick(r, string.ascii_uppercase)),
    E.KR_RRN: ("주민등록번호", lambda r: f"{_day(r, '%y%m%d', 1940, 1999)}-{_pick(r, '12')}"
               f"{_d(r, 1)}{r.randint(0, 96):02d}{_d(r, 3)}"),
    E.TH_TNIN: ("Thai ID", lambda r: f"{_pick(r, '12345678')}-{_d(r, 4)}-{_d(r, 5)}-"
                f"{_d(r, 2)}-{_d(r, 1)}"),
}

# Shapes a valid checksum alone makes believable (>= 0.5 without the id's name nearby).
DISTINCTIVE = frozenset({
    E.UK_NINO, E.FR_NIR, E.ES_NIF, E.ES_NIE, E.IT_FISCAL_CODE, E.BE_NATIONAL_NUMBER,
    E.FI_PERSONAL_IDENTITY_CODE, E.IE_PPSN, E.CH_AHV, E.IN_PAN, E.SG_NRIC_FIN, E.KR_RRN,
    E.TH_TNIN,
})


def valid_examples(entity: Entity, n: int, seed: int = 19) -> list[str]:
    """``n`` distinct values of ``entity`` written its usual way that pass its check."""
    rng, draw, check = random.Random(f"{entity}-{seed}"), DRAWS[entity][1], _validator(entity)
    found: dict[str, None] = {}
    for _ in range(200_000):
        value = draw(rng).strip()
        if check(value):
            found[value] = None
            if len(found) == n:
                return list(found)
    raise AssertionError(f"could not draw {n} valid {entity}")


def broken(entity: Entity, value: str) -> str:
    """``value`` with one character changed so that its check fails: the last one that can be
    (the check digit, or for a CPR, which has none, its birth date; for a PAN the holder type)."""
    check = _validator(entity)
    for at in reversed(range(len(value))):
        pool = string.digits if value[at].isdigit() else string.ascii_uppercase
        for ch in pool if value[at].isalnum() else ():
            candidate = value[:at] + ch + value[at + 1:]
            if not check(candidate):
                return candidate
    raise AssertionError(f"no invalid variant of {value}")


def found(text: str, entity: Entity) -> list[str]:
    return [text[s.start:s.end] for s in analyze(text) if s.entity is entity]


def test_every_national_id_has_a_recognizer_and_a_draw() -> None:
    assert set(RECOGNIZER) == set(NATIONAL_IDS) == set(DRAWS)


# -- published examples (stdnum's documentation, the issuers' specimens) -----------------------
PUBLISHED: dict[Entity, tuple[str, ...]] = {
    E.UK_NHS: ("943 476 5919", "9434765870"),  # not dashed: that is a US phone number's layout
    E.UK_NINO: ("AB 12 34 56 C", "AB123456C"),
    E.DE_TAX_ID: ("36 574 261 809",),
    E.DE_ID_CARD: ("T220001293", "LZ6311T475", "L01X00T471"),
    E.FR_NIR: ("2 95 10 99 126 111 93", "253072B07300470"),
    E.ES_NIF: ("54362315-K", "54362315K"),
    E.ES_NIE: ("X2482300W", "X-2482300W"),
    E.IT_FISCAL_CODE: ("RCCMNL83S18D969H",),
    E.NL_BSN: ("1112.22.333", "111222333"),
    E.BE_NATIONAL_NUMBER: ("85.07.30-033.28", "85073003328"),
    E.PL_PESEL: ("44051401359", "02211307589"),
    E.SE_PERSONNUMMER: ("880320-0016", "811228-9841"),
    E.DK_CPR: ("211062-5629",),
    E.FI_PERSONAL_IDENTITY_CODE: ("131052-308T",),
    E.NO_FODSELSNUMMER: ("151086 95088",),
    E.IE_PPSN: ("6433435F", "6433435FT", "6433435OA"),
    E.PT_NIF: ("287 024 008", "123456789"),
    E.AT_SVNR: ("1237 010180",),
    E.CH_AHV: ("756.9217.0769.85", "7569217076985"),
    E.AU_TFN: ("123 456 782",),
    E.AU_ABN: ("83 914 571 673", "51 824 753 556"),
    E.AU_ACN: ("004 085 616", "010 499 966"),
    E.AU_MEDICARE: ("2123 45670 1", "2428 77813 2/1"),
    E.IN_AADHAAR: ("2341 2341 2346", "234123412346"),
    E.IN_PAN: ("ACUPA7085R", "AAPPV8261K"),
    E.SG_NRIC_FIN: ("S1234567D", "T1234567J", "F1234567N", "G1234567X", "M1234567K"),
    E.KR_RRN: ("971013-9019902",),
    E.TH_TNIN: ("1-2345-45678-78-1", "3100600445635"),
}


@pytest.mark.parametrize("entity", sorted(DRAWS), ids=str)
def test_valid_ids_are_found_next_to_their_name(entity: Entity) -> None:
    word = DRAWS[entity][0]
    for value in (*PUBLISHED[entity], *valid_examples(entity, 12)):
        text = f"Patient record. {word}: {value}. Thank you."
        assert found(text, entity) == [value], text


@pytest.mark.parametrize("entity", sorted(DRAWS), ids=str)
def test_broken_check_digits_are_not_reported(entity: Entity) -> None:
    word = DRAWS[entity][0]
    for value in (*PUBLISHED[entity][:1], *valid_examples(entity, 6)):
        text = f"{word}: {broken(entity, value)}"
        assert found(text, entity) == [], text


@pytest.mark.parametrize("entity", sorted(DRAWS), ids=str)
def test_context_is_needed_only_for_bare_digit_strings(entity: Entity) -> None:
    values = valid_examples(entity, 12)
    alone = [found(f"Reference {value} was updated.", entity) for value in values]
    if entity in DISTINCTIVE:
        assert alone == [[v] for v in values]
    else:
        assert alone == [[]] * len(values)


def test_the_name_nearby_decides_between_ids_of_one_shape() -> None:
    # 11 digits: a valid PESEL that is also a valid Norwegian birth number, or not: the word
    # decides; a word for another id finds nothing.
    pesel = "44051401359"
    assert found(f"PESEL {pesel}", E.PL_PESEL) == [pesel]
    assert found(f"Steuer-ID {pesel}", E.PL_PESEL) == []
    assert [s.entity for s in analyze(f"BSN {pesel}")] == []
    hetu = "131052-0040"  # a Finnish code all digits has a Danish CPR's shape: it needs its name
    assert found(f"Ref. {hetu}", E.FI_PERSONAL_IDENTITY_CODE) == []
    assert found(f"henkilötunnus {hetu}", E.FI_PERSONAL_IDENTITY_CODE) == [hetu]
    tfn = "123 456 782"  # a valid TFN; as an ACN its check digit is wrong
    assert found(f"TFN {tfn}", E.AU_TFN) == [tfn]
    assert found(f"ACN {tfn}", E.AU_ACN) == []


def _scored(text: str, entity: Entity) -> list[tuple[str, float]]:
    return [(text[s.start:s.end], s.score) for s in analyze(text) if s.entity is entity]


def test_a_generic_name_reports_a_bare_id_below_its_own_name() -> None:
    fnr = "24117043041"  # valid only as a Norwegian birth number
    own = _scored(f"fødselsnummer: {fnr}", E.NO_FODSELSNUMMER)
    for text in (f"national identity number: {fnr}", f"{fnr} is the national identity number",
                 f"Patient Rita Moe, ID {fnr}, admitted today.", f"ID: {fnr}"):
        ((value, score),) = _scored(text, E.NO_FODSELSNUMMER)
        assert value == fnr and 0.5 <= score < own[0][1], text
    for text in (f"Reference {fnr} was updated.", f"order ID {fnr}", f"user id: {fnr}",
                 f"Steuer-ID {fnr}"):
        assert found(text, E.NO_FODSELSNUMMER) == [], text


def test_the_name_may_stand_a_clause_away() -> None:
    cases = {
        "We need the personal identity number of the account holder: 580927-7352":
            (E.SE_PERSONNUMMER, "580927-7352"),
        "5068 270384 is the Austrian social security number on the form.":
            (E.AT_SVNR, "5068 270384"),
        "566 081 476 is the tax file number on the form.": (E.AU_TFN, "566 081 476"),
        "My national register number is 17100383813.": (E.BE_NATIONAL_NUMBER, "17100383813"),
    }
    for text, (entity, value) in cases.items():
        assert [(text[s.start:s.end], s.entity) for s in analyze(text)] == [(value, entity)]


def test_a_name_beyond_another_number_is_that_numbers() -> None:
    text = "Applicant Hans Edlund - personal identity number 820502-9104 - order 263940548"
    assert [s.entity for s in analyze(text) if s.entity in NATIONAL_IDS] == [E.SE_PERSONNUMMER]


def test_an_id_is_found_in_its_own_layout_not_a_neighbours() -> None:
    spaced = "150680 02467"  # Norway's layout; the digits also pass a Belgian number's check
    assert found(f"My national identity number is {spaced}.", E.NO_FODSELSNUMMER) == [spaced]
    assert found(f"rijksregisternummer {spaced}", E.BE_NATIONAL_NUMBER) == []


def test_the_country_the_text_points_to_decides_between_generic_matches() -> None:
    both = "27110553523"  # a valid PESEL and a valid Norwegian birth number
    assert found(f"A client in Norway gave the national identity number {both}.",
                 E.NO_FODSELSNUMMER) == [both]
    assert found(f"A client in Poland gave the national identity number {both}.",
                 E.PL_PESEL) == [both]


# -- look-alikes: numbers that are no national id ----------------------------------------------
LOOK_ALIKES = (
    "Call me on +44 20 7946 0958 or (412) 523-6009, mobile 0151 496 0123.",
    "Ruf mich an: 030 12345678 oder +49 170 1234567.",
    "Telefono +34 612 345 678, teléfono fijo 913 123 456.",
    "Born 1985-07-30, admitted 30.07.1985, discharged 07/30/1985 at 10:45.",
    "Order 10000000001 shipped; invoice 2021-000123; tracking 1Z999AA10123456784.",
    "Total amount 1.234.567,89 EUR (1,234,567.89 USD), balance 123456789.00.",
    "SSN 536-22-1987, card 4111 1111 1111 1111, IBAN DE89 3704 0044 0532 0130 00.",
    "ISBN 978-3-16-148410-0, EAN 4006381333931, version 10.0.19041.1",
    "IP 192.168.100.200 and 2001:db8::8a2e:370:7334, postcode SW1A 1AA, PLZ 10115.",
)


@pytest.mark.parametrize("text", LOOK_ALIKES)
def test_look_alikes_are_no_national_ids(text: str) -> None:
    assert [s for s in analyze(text) if s.entity in NATIONAL_IDS] == []


def test_ids_do_not_steal_other_entities() -> None:
    text = "SSN 536-22-1987, card 4111 1111 1111 1111, phone (412) 523-6009."
    assert {s.entity for s in analyze(text)} == {E.US_SSN, E.CREDIT_CARD, E.PHONE_NUMBER}


# -- the checks python-stdnum lacks, against published examples --------------------------------
def test_uk_nino_rules() -> None:
    assert is_uk_nino("AB 12 34 56 C") and is_uk_nino("JG103759A")
    # HMRC's specimen QQ, unallocated prefixes, D/F/I/Q/U/V, O second, a suffix past D
    assert not any(map(is_uk_nino, ("QQ123456C", "GB123456A", "ZZ123456D", "DA123456A",
                                    "AO123456A", "AB123456E", "AB12345C")))


def test_de_id_card_check_digit() -> None:
    assert all(map(is_de_id_card, ("T220001293", "LZ6311T475", "L01X00T471")))
    assert not any(map(is_de_id_card, ("T220001294", "A220001293", "TTTTTTTTT3", "T22000129")))


def test_au_medicare_check_digit() -> None:
    assert is_au_medicare("2123 45670 1") and is_au_medicare("2428 77813 2/1")
    assert not any(map(is_au_medicare, ("2123 45671 1", "1123 45670 1", "2123 4567 1")))


def test_sg_nric_check_letter() -> None:
    assert all(map(is_sg_nric, ("S1234567D", "T1234567J", "F1234567N", "G1234567X",
                                "M1234567K", "S0000001I")))
    assert not any(map(is_sg_nric, ("S1234567A", "G1234567N", "M1234567X", "A1234567D")))


# -- columns ------------------------------------------------------------------------------------
def _finding(values: list[str], column: str):
    frame = pl.DataFrame({column: values, "n": list(range(len(values)))})
    return scan_table(frame).finding(column)


@pytest.mark.parametrize("entity", sorted(DRAWS), ids=str)
def test_a_column_of_ids_is_classified(entity: Entity) -> None:
    values = valid_examples(entity, 60)
    plain = _finding(values, "c7")
    assert (plain.category, plain.entity) == (Category.DIRECT_IDENTIFIER, entity)


def test_a_pesel_column_is_classified_and_its_name_adds_confidence() -> None:
    values = valid_examples(E.PL_PESEL, 200)
    unnamed, named = _finding(values, "c7"), _finding(values, "PESEL")
    assert unnamed.entity is named.entity is E.PL_PESEL
    assert named.confidence > unnamed.confidence
    assert named.evidence["whole_cell_share"] == 1.0


LOOK_ALIKE_COLUMNS: dict[str, Draw] = {  # about 1 in 10 of each passes some id's check
    "order_no": lambda r: _d(r, 11),
    "epoch": lambda r: str(r.randint(1_500_000_000, 1_700_000_000)),
    "phone": lambda r: f"{r.randint(201, 989)}-{r.randint(200, 999)}-{_d(r, 4)}",
    "telefono": lambda r: f"6{_d(r, 2)} {_d(r, 3)} {_d(r, 3)}",
    "ssn": lambda r: f"{r.randint(100, 665)}{r.randint(10, 99)}{_d(r, 4)}",
    "amount": lambda r: f"{r.randint(1, 999)} {_d(r, 3)} {_d(r, 3)}",
}


@pytest.mark.parametrize("column", sorted(LOOK_ALIKE_COLUMNS))
def test_numbers_that_pass_a_check_by_chance_are_no_id_column(column: str) -> None:
    rng = random.Random(7)
    values = [LOOK_ALIKE_COLUMNS[column](rng) for _ in range(300)]
    assert _finding(values, column).entity not in NATIONAL_IDS


def test_name_rules_for_national_ids() -> None:
    hints = {n: (h.name, h.entity) if (h := name_hint(n)) else None for n in (
        "nhs_number", "NINO", "Steuer-ID", "Personalausweisnummer", "numero_securite_sociale",
        "DNI", "nif_pt", "codice_fiscale", "BSN", "pesel", "Fødselsnummer", "henkilötunnus",
        "AHV-Nr", "abn", "abn_flag", "cpr", "cpr_performed", "pan", "pan_card")}
    nid = "national_id"
    assert hints == {
        "nhs_number": (nid, E.UK_NHS), "NINO": (nid, E.UK_NINO),
        "Steuer-ID": (nid, E.DE_TAX_ID), "Personalausweisnummer": (nid, E.DE_ID_CARD),
        "numero_securite_sociale": (nid, E.FR_NIR), "DNI": (nid, E.ES_NIF),
        "nif_pt": (nid, E.PT_NIF), "codice_fiscale": (nid, E.IT_FISCAL_CODE),
        "BSN": (nid, E.NL_BSN), "pesel": (nid, E.PL_PESEL),
        "Fødselsnummer": (nid, E.NO_FODSELSNUMMER),
        "henkilötunnus": (nid, E.FI_PERSONAL_IDENTITY_CODE), "AHV-Nr": (nid, E.CH_AHV),
        "abn": (nid, E.AU_ABN), "abn_flag": None, "cpr": (nid, E.DK_CPR),
        "cpr_performed": None, "pan": ("credit_card", E.CREDIT_CARD),
        "pan_card": (nid, E.IN_PAN),
    }

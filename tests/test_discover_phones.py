"""Phone numbers beyond the US: regions read from the text, tiers, spans, look-alikes, columns."""

from __future__ import annotations

import phonenumbers
import polars as pl
import pytest
from faker import Faker

from veil.discover.analyzer import analyze
from veil.discover.entities import Entity
from veil.discover.phones import PHONE_RECOGNIZERS, phone_score
from veil.discover.regions import DEFAULT_REGIONS, regions_of, suggested_regions
from veil.discover.table import scan_table

PHONE = PHONE_RECOGNIZERS[0]


def phones(text: str) -> list[str]:
    return [text[s.start:s.end] for s in analyze(text) if s.entity == Entity.PHONE_NUMBER]


def valid_in(number: str, region: str) -> bool:
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number_for_region(parsed, region)


# ------------------------------------------------------------------------------------ regions

@pytest.mark.parametrize(("text", "first"), [
    ("Ruf mich an, +49 30 1234567", "DE"),
    ("Wire it to FR76 3000 6000 0112 3456 7890 189 today", "FR"),
    ("Write to anna@firma.pl or see www.example.se", "PL"),
    ("Our office in Denmark moved.", "DK"),
    ("Ik ben er niet, het is te laat.", "NL"),
    ("Nie wiem, czy pani jest w domu.", "PL"),
    ("Send it to SW1A 1AA please.", "GB"),
    ("Ulica Polna 3, 00-950 Warszawa", "PL"),
])
def test_regions_follow_the_signals(text: str, first: str) -> None:
    assert regions_of(text)[0] == first


def test_regions_default_when_nothing_points_anywhere() -> None:
    assert regions_of("12345 67 89") == DEFAULT_REGIONS
    assert suggested_regions("12345 67 89") == ()
    assert suggested_regions("Ruf mich an, +49 30 1234567")[0] == "DE"
    assert {"US", "GB", "DE", "FR", "PL", "NO", "IS"} <= set(DEFAULT_REGIONS)


def test_language_words_map_to_all_their_countries() -> None:
    assert set(regions_of("Das ist nicht mein Auto und der Hund")) == {"DE", "AT", "CH"}


def test_generic_domains_and_phone_layouts_are_not_signals() -> None:
    assert regions_of("https://tool.io 08-123 456 78") == DEFAULT_REGIONS


# ------------------------------------------------------------------- positives, per country

NO_CUE = [
    ("DE", "Unser Büro ist unter 030 12345678 erreichbar.", "030 12345678"),
    ("FR", "Vous pouvez joindre le cabinet au 01 42 68 53 00 pour un rendez-vous.",
     "01 42 68 53 00"),
    ("ES", "Puede encontrar la oficina en el 912 345 678 por la mañana.", "912 345 678"),
    ("IT", "Il numero della segreteria è 06 4782 1234 e non cambia.", "06 4782 1234"),
    ("NL", "Het kantoor is bereikbaar op 020 123 4567 en niet in het weekend.", "020 123 4567"),
    ("PL", "Pani Anna jest dostępna pod numerem 601 234 567 od rana.", "601 234 567"),
    ("SE", "Kontoret har nummer 08-123 456 78 och är öppet i dag.", "08-123 456 78"),
    ("DK", "Jeg er på kontoret og kan nås på 32 12 34 56 hele dagen.", "32 12 34 56"),
    ("FI", "Olen toimistolla ja numero on 09 1234 5678 koko päivän.", "09 1234 5678"),
    ("NO", "Jeg er ikke hjemme, men 22 12 34 56 virker i Oslo.", "22 12 34 56"),
    ("GB", "The surgery in London is on 020 7123 4567 until six.", "020 7123 4567"),
    ("IE", "The clinic in Dublin is on 01 234 5678 during the week.", "01 234 5678"),
    ("AT", "Sie erreichen das Büro in Wien unter 01 5134567 ab acht.", "01 5134567"),
    ("CH", "Die Praxis in Zürich ist unter 044 668 18 00 erreichbar.", "044 668 18 00"),
    ("BE", "Het kantoor in Brussel is bereikbaar op 02 512 34 56 vanaf negen.", "02 512 34 56"),
    ("PT", "Não há problema, o escritório atende no 213 456 789 até às seis.", "213 456 789"),
    ("US", "The office line is (650) 253-0000 for now.", "(650) 253-0000"),
    ("CA", "Our Toronto office is at 416-979-1234 in Canada.", "416-979-1234"),
    ("AU", "The Sydney office is on 02 9374 4000 in Australia.", "02 9374 4000"),
    ("PL", "Zadzwoń jutro: +48 22 123 45 67", "+48 22 123 45 67"),
    ("DE", "Zentrale +49 (0)30 1234567, sonst nichts.", "+49 (0)30 1234567"),
]
CUED = [
    ("DE", "Telefon: 030 12345678", "030 12345678"),
    ("DE", "Handy 0151 23456789", "0151 23456789"),
    ("FR", "Téléphone : 01 42 68 53 00", "01 42 68 53 00"),
    ("FR", "Portable 06 12 34 56 78", "06 12 34 56 78"),
    ("ES", "Teléfono: 912 345 678", "912 345 678"),
    ("ES", "Móvil 612 345 678", "612 345 678"),
    ("IT", "Cellulare 347 123 4567", "347 123 4567"),
    ("NL", "Telefoon: 020 123 4567", "020 123 4567"),
    ("PL", "Tel. 22 123 45 67", "22 123 45 67"),
    ("SE", "Tel: 08-123 456 78", "08-123 456 78"),
    ("DK", "Tlf. 32 12 34 56", "32 12 34 56"),
    ("FI", "Puh. 09 1234 5678", "09 1234 5678"),
    ("NO", "Tlf 22 12 34 56", "22 12 34 56"),
    ("GB", "Mobile: 07400 123456", "07400 123456"),
    ("IE", "Phone 01 234 5678", "01 234 5678"),
    ("AT", "Fax: 01 5134567", "01 5134567"),
    ("CH", "Tel. 044 668 18 00", "044 668 18 00"),
    ("BE", "GSM 0470 12 34 56", "0470 12 34 56"),
    ("PT", "Telefone: 213 456 789", "213 456 789"),
    ("US", "Fax (650) 253-0000", "(650) 253-0000"),
    ("CA", "Phone: 416-979-1234", "416-979-1234"),
    ("AU", "Mobile 0412 345 678", "0412 345 678"),
    ("HU", "If the line is busy, try 06-1/681 6406 or write.", "06-1/681 6406"),
    ("IT", "Chiamami al 0783151045 x96.", "0783151045"),
    ("NL", "0612345678 is mijn nummer.", "0612345678"),
]


@pytest.mark.parametrize(("region", "text", "number"), NO_CUE + CUED,
                         ids=[f"{c[0]}-{c[2]}" for c in NO_CUE + CUED])
def test_valid_numbers_are_found_with_exact_spans(region: str, text: str, number: str) -> None:
    assert valid_in(number, region)  # the case itself is a real number
    assert phones(text) == [number]


def test_a_number_valid_only_where_nothing_points_needs_a_cue() -> None:
    assert valid_in("609 141 777", "PL") and not valid_in("609 141 777", "GB")
    assert phones("The parcel 609 141 777 arrived late.") == []
    assert phones("Her mobile: 609 141 777 works.") == ["609 141 777"]


def test_a_possible_number_needs_a_cue() -> None:
    assert phones("The reference 041-412-293 was sent with the letter.") == []
    assert phones("Mobile: 041-412-293") == ["041-412-293"]


# ---------------------------------------------------------------------------- span boundaries

@pytest.mark.parametrize(("text", "number"), [
    ("tel:+4930123456", "+4930123456"),
    ("Desk: 986.291.2294x751 today", "986.291.2294"),
    ("Ruf an: +49 30 1234567 ext. 12.", "+49 30 1234567"),
    ("Call (07) 5331 0577.", "(07) 5331 0577"),
    ("Fax: 030/1234567, danke", "030/1234567"),
    ("Zentrale: +33 (0)1 41 63 60 83.", "+33 (0)1 41 63 60 83"),
])
def test_span_excludes_tel_scheme_extension_and_punctuation(text: str, number: str) -> None:
    assert phones(text) == [number]


@pytest.mark.parametrize(("number", "plus"), [
    ("00420 702 310 498", "+420 702 310 498"),
    ("00421 948 356 033", "+421 948 356 033"),
    ("(351) 289 485 160", "+351 289 485 160"),
])
def test_a_number_dialled_from_abroad_names_its_country(number: str, plus: str) -> None:
    text = "If the busy signal persists, try {} or write to us."
    assert phones(text.format(number)) == [number]
    assert analyze(text.format(number))[0].score == analyze(text.format(plus))[0].score


@pytest.mark.parametrize(("text", "number"), [
    ("You can reach the ward at 33847532, ask for room 556.", "33847532"),
    ("Emergency contact: Joseph, 3219229977", "3219229977"),
    ("Tél : 0183870703", "0183870703"),
    ("my mobile is 938623998", "938623998"),
    ("0583031296 è il mio numero.", "0583031296"),  # the text is Italian, the "0" a trunk
])
def test_a_bare_digit_run_needs_a_phone_word_or_a_trunk_prefix_at_home(
        text: str, number: str) -> None:
    assert phones(text) == [number]


@pytest.mark.parametrize("text", [
    "The parcel 612345678 arrived late.",
    "Reference 0183870703 was updated.",  # a trunk "0", but nothing says where
    "Fax 07533 612854, Kundennummer 106347173",  # the cue is the other number's
    "Bestellung ORD-2018-00885 wird um 12:52 versandt.",
    "Call about reference 20230115 today.",
    "Call me back about the 20231215 report.",  # a date, a valid Danish mobile's digits
])
def test_bare_runs_and_codes_without_a_cue_of_their_own_are_not_phones(text: str) -> None:
    assert phones(text) in ([], ["07533 612854"])


def test_a_number_named_as_a_personal_id_is_not_a_phone() -> None:
    assert phones("My national identity number is 5068 270384.") == []
    assert phones("5068 270384 is the Austrian social security number on the form.") == []
    assert phones("Rufen Sie 030 12345678 an.") == ["030 12345678"]


def test_international_numbers_outscore_national_ones() -> None:
    plus = analyze("Zentrale +49 30 1234567.")[0].score
    national = analyze("Die Zentrale ist 030 1234567 und mehr.")[0].score
    assert plus > national >= 0.5


# ---------------------------------------------------------------------------------- negatives

@pytest.mark.parametrize("text", [
    "Termin am 12.03.2021 um 14:30 Uhr.",
    "Invoice dated 2021-03-12 for the order.",
    "Founded in 1983, renovated 2021.",
    "Der Kaufpreis beträgt 1 250 000 EUR.",
    "Le budget est de 12 345 678 pour l'année.",
    "Her SSN is 536-22-1987.",
    "IBAN DE89 3704 0044 0532 0130 00 bitte.",
    "PESEL: 44051401359, data urodzenia 1944.",
    "BSN 1234.56.782 van de klant.",
    "Card 4111 1111 1111 1111 expires in May.",
    "Kod pocztowy 00-950 Warszawa",
    "Ticket 12 345 678 is open.",
    "The total was 1234567.89 last year.",
])
def test_look_alikes_are_not_phones(text: str) -> None:
    assert phones(text) == []


def test_id_word_nearby_lowers_a_valid_national_number() -> None:
    assert phones("Pani jest pod numerem 601 234 567.") == ["601 234 567"]
    assert phones("Jej PESEL 601 234 567 jest w aktach.") == []


# ------------------------------------------------------------------------------------ columns

def test_column_scores_valid_numbers_of_common_regions() -> None:
    assert phone_score("030 12345678") >= 0.5
    assert phone_score("+48 22 123 45 67") >= 0.5
    assert phone_score("1 250 000") < 0.5  # an amount's layout
    assert phone_score("12.03.2021") == 0.0


def _faker_numbers(locale: str, region: str, count: int) -> list[str]:
    fake = Faker(locale)
    fake.seed_instance(19)
    numbers = (fake.phone_number() for _ in range(count * 3))
    return [n for n in numbers if valid_in(n, region)][:count]


def test_scan_table_classifies_a_column_of_european_numbers() -> None:
    values = [n for locale, region in (("de_DE", "DE"), ("fr_FR", "FR"), ("pl_PL", "PL"))
              for n in _faker_numbers(locale, region, 100)]
    assert len(values) == 300
    assert min(phone_score(n) for n in values) >= 0.5
    scan = scan_table(pl.DataFrame({"kontakt": values}))
    (found,) = scan.columns
    assert found.entity is Entity.PHONE_NUMBER
    assert found.confidence >= 0.5


def test_column_bulk_path_agrees_with_the_per_value_score() -> None:
    column = pl.Series(["030 12345678", "(650) 253-0000", "12.03.2021", "+48 22 123 45 67"])
    assert PHONE.full_match(column).to_list() == [phone_score(x) for x in column]

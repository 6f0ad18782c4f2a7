"""Street addresses and postcodes of the EU/EEA, the UK, the US, Canada and Australia."""

from __future__ import annotations

import polars as pl
import pytest

from veil.discover.addresses import ADDRESS_RECOGNIZERS, postcode_countries
from veil.discover.analyzer import analyze
from veil.discover.entities import Category, Entity
from veil.discover.table import scan_table

E = Entity


def found(text: str, entity: Entity) -> list[str]:
    return [text[s.start:s.end] for s in analyze(text) if s.entity == entity]


def by_name(name: str):
    return next(r for r in ADDRESS_RECOGNIZERS if r.name == name)


@pytest.mark.parametrize(("text", "address"), [
    # DE, AT, CH: number after the street, glued or separate street word, floor units
    ("Meine Adresse ist Hauptstraße 5a, 10115 Berlin.", "Hauptstraße 5a, 10115 Berlin"),
    ("Lieferung an Berliner Straße 12, 3. OG bitte.", "Berliner Straße 12, 3. OG"),
    ("Mariahilfer Straße 45/3/12, A-1060 Wien", "Mariahilfer Straße 45/3/12, A-1060 Wien"),
    ("Bahnhofstrasse 1, 8001 Zürich", "Bahnhofstrasse 1, 8001 Zürich"),
    # FR, BE, ES, IT, PT: Romance street words before the name
    ("Il habite 12 rue de Rivoli, 75001 Paris.", "12 rue de Rivoli, 75001 Paris"),
    ("Rue de la Loi 16, 1000 Bruxelles", "Rue de la Loi 16, 1000 Bruxelles"),
    ("Envíelo a Calle Mayor, 5, 2º B, 28013 Madrid.", "Calle Mayor, 5, 2º B, 28013 Madrid"),
    ("Abita in Via Roma 10, 00184 Roma.", "Via Roma 10, 00184 Roma"),
    ("Rua Augusta 25, 1100-048 Lisboa", "Rua Augusta 25, 1100-048 Lisboa"),
    # NL, PL, CZ, HU
    ("Kalverstraat 92, 1012 PH Amsterdam", "Kalverstraat 92, 1012 PH Amsterdam"),
    ("Adres: ul. Marszałkowska 12/4, 00-950 Warszawa", "ul. Marszałkowska 12/4, 00-950 Warszawa"),
    ("Václavské náměstí 5, 110 00 Praha", "Václavské náměstí 5, 110 00 Praha"),
    ("Cím: Váci utca 7, 1052 Budapest", "Váci utca 7, 1052 Budapest"),
    # SE, DK, NO, FI, Baltics, SI
    ("Bor på Drottninggatan 53, 111 51 Stockholm", "Drottninggatan 53, 111 51 Stockholm"),
    ("Nørrebrogade 12, 2200 København N", "Nørrebrogade 12, 2200 København N"),
    ("Storgata 5, 0155 Oslo", "Storgata 5, 0155 Oslo"),
    ("Osoite: Kauppakatu 14, 00100 Helsinki", "Kauppakatu 14, 00100 Helsinki"),
    ("Brīvības iela 55, LV-1010 Rīga", "Brīvības iela 55, LV-1010 Rīga"),
    ("Slovenska cesta 5, 1000 Ljubljana", "Slovenska cesta 5, 1000 Ljubljana"),
    # IE, UK, US, CA, AU
    ("Post it to 12 Main Street, Dublin D02 X285.", "12 Main Street, Dublin D02 X285"),
    ("Flat 3, 12 High Street, London SW1A 1AA", "Flat 3, 12 High Street, London SW1A 1AA"),
    ("1600 Pennsylvania Ave NW, Washington, DC 20500",
     "1600 Pennsylvania Ave NW, Washington, DC 20500"),
    ("24 Sussex Drive, Ottawa, ON K1M 1M4", "24 Sussex Drive, Ottawa, ON K1M 1M4"),
    ("1 Macquarie Street, Sydney NSW 2000", "1 Macquarie Street, Sydney NSW 2000"),
    # military, PO boxes, units, several lines
    ("Mail: PSC 1234, Box 5678, APO AE 09012.", "PSC 1234, Box 5678, APO AE 09012"),
    ("Unit 2050 Box 4190, APO AP 96522", "Unit 2050 Box 4190, APO AP 96522"),
    ("Postfach 12 34 56, 80331 München", "Postfach 12 34 56, 80331 München"),
    ("Write to 350 Fifth Ave\nSuite 300\nNew York, NY 10118",
     "350 Fifth Ave\nSuite 300\nNew York, NY 10118"),
    ("Apt. 12, 40 Elm Road", "Apt. 12, 40 Elm Road"),
    ("Wohnung 4, Lindenallee 3", "Wohnung 4, Lindenallee 3"),
])
def test_addresses_by_country_family_and_their_spans(text: str, address: str) -> None:
    assert found(text, E.STREET_ADDRESS) == [address]
    assert found(text, E.ZIP_CODE) == []  # a postcode inside an address is part of it


def test_street_corner_is_the_two_streets() -> None:
    text = "Meet me at the corner of Main Street and Oak Avenue at noon."
    assert found(text, E.STREET_ADDRESS) == ["Main Street and Oak Avenue"]
    assert found("Main Street and Oak Avenue were repaved.", E.STREET_ADDRESS) == []


@pytest.mark.parametrize(("text", "code"), [
    ("my zip is 940", "940"),
    ("postcode: 00-950", "00-950"),
    ("PLZ 10115", "10115"),
    ("ZIP code: 02139", "02139"),
    ("Il travaille à 75008 Paris.", "75008"),
    ("Er wohnt in 1010 Wien.", "1010"),
    ("Office near SW1A 1AA London", "SW1A 1AA"),
    ("postnummer 114 55", "114 55"),
    ("Postal code K1A 0B1", "K1A 0B1"),
    ("Sydney NSW 2000", "2000"),
    ("2100 København Ø", "2100"),
])
def test_postcode_alone_needs_a_postal_word_or_a_city(text: str, code: str) -> None:
    assert found(text, E.ZIP_CODE) == [code]


@pytest.mark.parametrize("text", [
    "In 2012 Zürich hosted the games.",  # a year before a city
    "Invoice total 12345 dollars.",
    "Call 030 12345678 at 10:30.",
    "Morgan Stanley reported 2019 revenue of 1500 EUR.",
    "Santa Clara",
    "Main Street is closed.",  # a capitalised street without a number stays weak
    "Smith et al. Nature 2019 showed it.",
    "He scored 12345 points in 2019.",
    "Departure Gate 5 is closed.",
    "Hearing 2 was adjourned.",
    "The code SW1A 1AA appears alone.",
    "Order A-1010 shipped on 12 May 2021.",
    "Tel. +46 8 114 55 00",
])
def test_no_address_or_postcode_in_ordinary_text(text: str) -> None:
    assert found(text, E.STREET_ADDRESS) == []
    assert found(text, E.ZIP_CODE) == []


def test_a_house_number_is_never_a_postcode() -> None:
    assert found("Shipping to 12345 Elm Street today", E.ZIP_CODE) == []
    assert found("Shipping to 12345 Elm Street today", E.STREET_ADDRESS) == ["12345 Elm Street"]


@pytest.mark.parametrize(("code", "country", "valid"), [
    ("SW1A 1AA", "GB", True), ("EC1A 1BB", "GB", True), ("QA1 1AA", "GB", False),
    ("1012 AB", "NL", True), ("1012 SA", "NL", False), ("0123 AB", "NL", False),
    ("00-950", "PL", True), ("114 55", "SE", True), ("014 55", "SE", False),
    ("K1A 0B1", "CA", True), ("D1A 0B1", "CA", False), ("D02 X285", "IE", True),
    ("A-1010", "AT", True), ("A-0999", "AT", False), ("75008", "FR", True),
    ("99000", "FR", False), ("52001", "ES", True), ("53001", "ES", False),
    ("1100-048", "PT", True), ("02139", "US", True), ("00000", "US", False),
    ("2000", "AU", True), ("0150", "NO", True), ("0150", "DK", False),
])
def test_postcode_formats_per_country(code: str, country: str, valid: bool) -> None:
    assert (country in postcode_countries(code)) is valid


def test_columns_of_addresses_and_postcodes() -> None:
    zip_code = by_name("zip_code")
    cells = pl.Series(["SW1A 1AA", "K1A 0B1", "02139", "1012 AB", "2019", "1012 SA", None])
    assert [x > 0 for x in zip_code.full_match(cells)] == [True] * 4 + [False] * 3
    eu = by_name("street_address_eu")
    streets = pl.Series(["Hauptstraße 5a, 10115 Berlin", "Kauppakatu 14", "Hearing 2",
                         "see Hauptstraße 5a, 10115 Berlin"])
    assert [x > 0 for x in eu.full_match(streets)] == [True, True, False, False]
    assert [x > 0 for x in eu.matches(streets)] == [True, True, False, True]


def test_scan_table_finds_address_and_postcode_columns() -> None:
    n = 60
    streets = ["Hauptstraße", "Kauppakatu", "Drottninggatan", "Váci utca", "Via Roma"]
    frame = pl.DataFrame({
        "anschrift": [f"{streets[i % 5]} {i + 1}, {10115 + i} Berlin" for i in range(n)],
        "postcode": [f"SW{1 + i % 9}A {i % 10}AA" for i in range(n)],
        "amount": [f"{1900 + i}" for i in range(n)],
    })
    found_ = {f.column: f for f in scan_table(frame).columns}
    assert (found_["anschrift"].category, found_["anschrift"].entity) == (
        Category.DIRECT_IDENTIFIER, E.STREET_ADDRESS)
    assert (found_["postcode"].category, found_["postcode"].entity) == (
        Category.QUASI_IDENTIFIER, E.ZIP_CODE)
    assert found_["amount"].entity is not E.ZIP_CODE


@pytest.mark.parametrize(("text", "address"), [
    # a street named without a street word, its number, then "postcode city"
    ("Return to sender: R. Horáková, Mádrova 9, 627 14 Jablonné nad Orlicí",
     "Mádrova 9, 627 14 Jablonné nad Orlicí"),
    ("She moved to Drumul Ene 96, 943746 Cisnadie in 1988.", "Drumul Ene 96, 943746 Cisnadie"),
    ("Ship to Canale Benito, 167, 63083 Quartucciu", "Canale Benito, 167, 63083 Quartucciu"),
    ("Please ship the parcel to Pri malem kamnu 4, 9369 Postojna.",
     "Pri malem kamnu 4, 9369 Postojna"),
    # units: Finnish staircase, Czech "byt", Dutch floors, Danish "4. th", Norwegian H-numbers
    ("Our office is at Jäkälätie 97, B 8, 09398 Myrskylä; parking",
     "Jäkälätie 97, B 8, 09398 Myrskylä"),
    ("She moved to Mezilesní 23, byt 8 in 2018.", "Mezilesní 23, byt 8"),
    ("Leveren aan Zarahof 29, 8-hoog, 7852 ZQ Deurningen.",
     "Zarahof 29, 8-hoog, 7852 ZQ Deurningen"),
    ("Bor på Svenstrup Allé 3, 4. th, 9706 Vallensbæk", "Svenstrup Allé 3, 4. th, 9706 Vallensbæk"),
    ("Die Rechnung geht an Chris-Kahr-Ring 60, Stiege 2/Top 4.",
     "Chris-Kahr-Ring 60, Stiege 2/Top 4"),
    # more street words; lower-case text next to address words
    ("Return to sender: D. Escamilla, Glorieta de Catalina Boix, 217, 8º izda",
     "Glorieta de Catalina Boix, 217, 8º izda"),
    ("Nous avons déménagé au avenue Morard 223.", "avenue Morard 223"),
    ("ik woon op noahhof 23, 1-hoog", "noahhof 23, 1-hoog"),
    ("The patient lives at Hercegovačka 31 with her son.", "Hercegovačka 31"),
    # further English street types: with address words or a unit
    ("Please ship the parcel to 48 Tina Ford.", "48 Tina Ford"),
    ("Our new office is at 15 Bobby Forge Apt 7; parking costs 974 zł.", "15 Bobby Forge Apt 7"),
    ("Please ship the parcel to Unit 2, 125 Nolan Cross.", "Unit 2, 125 Nolan Cross"),
])
def test_addresses_without_a_street_word_or_with_units(text: str, address: str) -> None:
    assert found(text, E.STREET_ADDRESS) == [address]
    assert found(text, E.ZIP_CODE) == []


@pytest.mark.parametrize(("text", "streets"), [
    ("At the corner of avenue Hoarau and rue de Chauvin.", "avenue Hoarau and rue de Chauvin"),
    ("The accident happened at the corner of Vinogradska and Goljačke.",
     "Vinogradska and Goljačke"),
    ("Meet at the corner of Via Severino and Via Leblanc at noon.",
     "Via Severino and Via Leblanc"),
])
def test_street_corner_in_any_language(text: str, streets: str) -> None:
    assert found(text, E.STREET_ADDRESS) == [streets]


@pytest.mark.parametrize(("text", "code"), [
    ("65195 is outside our delivery zone.", "65195"),
    ("LT-15884 is outside our delivery zone.", "LT-15884"),
    ("Our store covers the T9S 5P7 area.", "T9S 5P7"),
    ("The customer lives in 2623 North Jonathanland.", "2623"),
    ("il mio cap è 80055", "80055"),
])
def test_postcode_with_a_delivery_phrase_or_a_place(text: str, code: str) -> None:
    assert found(text, E.ZIP_CODE) == [code]


@pytest.mark.parametrize("text", [
    "Delivery is free for postcode 43706 and orders over $722.29.",
    "Delivery is free for postcode 9367 and orders over 685 EUR.",
])
def test_amounts_are_not_postcodes(text: str) -> None:
    assert len(found(text, E.ZIP_CODE)) == 1


@pytest.mark.parametrize("text", [
    "She moved to Berlin 2 years ago.",
    "Version 3, 2019 Edition was released.",
    "Chapter 5, 1200 Words long.",
    "Spring 2019 semester starts.",
    "We sold 3 Day Pass tickets.",
    "The store covers the 415 area code.",
    "She moved to Plečnikov podhod 39 in 1984.",
])
def test_look_alikes_of_the_looser_shapes(text: str) -> None:
    spans = found(text, E.STREET_ADDRESS) + found(text, E.ZIP_CODE)
    assert all(not s.endswith(("1984", "2019")) for s in spans)
    if "Plečnikov" not in text:
        assert spans == []

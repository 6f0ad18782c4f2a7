"""Known-answer vectors for the PII validators: real test numbers pass, corruptions fail."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veil.discover import validators as v

# ------------------------------------------------------------------------------ payment cards

# Issuers' published test numbers (Visa, Mastercard, Amex, Discover, JCB, Diners).
CARDS = ["4111111111111111", "4012888888881881", "5500005555555559", "5555555555554444",
         "2223003122003222", "378282246310005", "371449635398431", "6011111111111117",
         "3530111333300000", "30569309025904", "4111 1111 1111 1111", "4111-1111-1111-1111"]


@pytest.mark.parametrize("number", CARDS)
def test_card_test_numbers_pass(number: str) -> None:
    assert v.is_credit_card(number)


@pytest.mark.parametrize("number", [
    "4111111111111112",  # Luhn digit off by one
    "1234567812345670",  # Luhn-valid, but no issuer starts with 12
    "0000000000000000",  # Luhn-valid run of zeros
    "411111111111",  # too short
    "41111111111111111111",  # too long
    "4111a11111111111",
    "",
])
def test_card_decoys_fail(number: str) -> None:
    assert not v.is_credit_card(number)


def test_luhn_reference_vector() -> None:
    assert v.luhn_checksum_ok("79927398713")
    assert not v.luhn_checksum_ok("79927398710")
    assert not v.luhn_checksum_ok("")


def test_every_single_digit_corruption_of_a_card_fails() -> None:
    number = "4111111111111111"
    for i, ch in enumerate(number):
        corrupted = number[:i] + str((int(ch) + 1) % 10) + number[i + 1:]
        assert not v.is_credit_card(corrupted), corrupted


# ----------------------------------------------------------------------------------------- IBAN

IBANS = ["GB82WEST12345698765432", "GB82 WEST 1234 5698 7654 32", "DE89370400440532013000",
         "DE89 3704 0044 0532 0130 00", "FR1420041010050500013M02606", "NO9386011117947",
         "NL91ABNA0417164300", "BE68539007547034", "CH9300762011623852957"]


@pytest.mark.parametrize("iban", IBANS)
def test_iban_examples_pass(iban: str) -> None:
    assert v.is_iban(iban)


@pytest.mark.parametrize("iban", ["GB82WEST12345698765432", "DE89370400440532013000"])
def test_every_single_digit_corruption_of_an_iban_fails(iban: str) -> None:
    for i, ch in enumerate(iban):
        if ch.isdigit():
            corrupted = iban[:i] + str((int(ch) + 1) % 10) + iban[i + 1:]
            assert not v.is_iban(corrupted), corrupted


@pytest.mark.parametrize("iban", [
    "GB82WEST1234569876543",  # one character short for GB
    "XX82WEST12345698765432",  # no such country
    "GB82WEST1234569876543Z",
    "GB8",
    "",
])
def test_iban_decoys_fail(iban: str) -> None:
    assert not v.is_iban(iban)


# --------------------------------------------------------------------------------------- US SSN


@pytest.mark.parametrize("ssn", ["531-21-7351", "536 22 1987", "536221987", "001-01-0001",
                                 "899-99-9999"])
def test_ssn_valid(ssn: str) -> None:
    assert v.is_us_ssn(ssn)


@pytest.mark.parametrize("ssn", [
    "000-12-3456", "666-12-3456", "900-12-3456", "999-12-3456",  # area never issued
    "123-00-4567",  # group 00
    "123-45-0000",  # serial 0000
    "078-05-1120", "219-09-9999",  # voided after appearing in advertising
    "123-45 6789",  # mixed separators
    "12-345-6789", "1234-56-789", "53-621-987", "5362219870", "",
])
def test_ssn_invalid(ssn: str) -> None:
    assert not v.is_us_ssn(ssn)


# --------------------------------------------------------------------------------------- phones


@pytest.mark.parametrize("number", ["(650) 253-0000", "650-253-0000", "+1 650-253-0000",
                                    "+44 20 7946 0958", "+49 30 901820", "650.253.0000"])
def test_phone_valid(number: str) -> None:
    assert v.is_phone_number(number)


@pytest.mark.parametrize("number", ["555-0123", "123-456-7890", "000-000-0000", "12",
                                    "1998-06-28 14", "2017/06/01 12", "not a phone"])
def test_phone_invalid_in_us(number: str) -> None:
    assert not v.is_phone_number(number)


def test_phone_other_regions_and_possible_numbers() -> None:
    assert not v.is_phone_number("(07) 5331 0577")  # not a US number ...
    assert v.is_phone_number_any_region("(07) 5331 0577")  # ... but an Australian one
    assert v.is_possible_phone_number("001-420-335-7509x38548")
    assert not v.is_possible_phone_number("2017-06-01 12")  # a date, not a number
    assert not v.is_possible_phone_number("1111111")


# ----------------------------------------------------------------------------------- addresses


@pytest.mark.parametrize("ip", ["58.74.121.78", "255.255.255.255", "10.0.0.1"])
def test_ipv4(ip: str) -> None:
    assert v.is_ipv4(ip) and v.is_ip_address(ip) and not v.is_ipv6(ip)


@pytest.mark.parametrize("ip", ["2001:db8::1", "::1", "fe80::1ff:fe23:4567:890a",
                                "2001:0db8:85a3:0000:0000:8a2e:0370:7334"])
def test_ipv6(ip: str) -> None:
    assert v.is_ipv6(ip) and v.is_ip_address(ip)


@pytest.mark.parametrize("ip", ["256.1.1.1", "1.2.3", "01.2.3.4", "2001:db8:::1", "14:48:14",
                                "12345::", "", "a.b.c.d"])
def test_ip_invalid(ip: str) -> None:
    assert not v.is_ip_address(ip)


# ------------------------------------------------------------------------------------------ dates


@pytest.mark.parametrize("date", ["1998-06-28", "1998-06-28 14:48:14", "1998-06-28T14:48:14Z",
                                  "12/27/1986", "12/1/1977", "27.12.1986", "27/12/1986",
                                  "29 March 2017", "March 29, 2017", "Dec 27th, 1986",
                                  "2024-02-29"])
def test_real_dates(date: str) -> None:
    assert v.is_date(date)


@pytest.mark.parametrize("date", ["2023-02-29", "13/13/2000", "1700-01-01", "99/99/99",
                                  "31 February 2020", "not a date", ""])
def test_impossible_dates(date: str) -> None:
    assert not v.is_date(date)


# ------------------------------------------------------------------------------ email, URL, ZIP


@pytest.mark.parametrize("email", ["jane.doe@example.org", "a+tag@sub.example.co.uk",
                                   "x@example.museum"])
def test_email_valid(email: str) -> None:
    assert v.is_email(email)


@pytest.mark.parametrize("email", ["a..b@example.com", ".a@example.com", "a@b", "a@b.c1",
                                   "a@@b.com", "a@-b.com", "@example.com", ""])
def test_email_invalid(email: str) -> None:
    assert not v.is_email(email)


@pytest.mark.parametrize("url", ["http://www.example.co.uk/", "https://example.pl/a?b=c",
                                 "www.example.com", "http://localhost:8080/x",
                                 "ftp://192.0.2.1/file"])
def test_url_valid(url: str) -> None:
    assert v.is_url(url)


@pytest.mark.parametrize("url", ["javascript:alert(1)", "http://x", "http://a.b:99999",
                                 "ftp://", "mailto:a@b.com", ""])
def test_url_invalid(url: str) -> None:
    assert not v.is_url(url)


def test_zip() -> None:
    assert v.is_us_zip("02139") and v.is_us_zip("02139-4307")
    assert not any(v.is_us_zip(z) for z in ["00000", "1234", "123456", "12345-0000", "1234a"])


# -------------------------------------------------------------- licences, passports, MRNs, ages


def test_id_number_formats() -> None:
    assert v.is_us_driver_license("D1234567") and v.is_us_driver_license("481195160")
    assert v.is_us_driver_license("S123-456-78-901-2")
    assert not v.is_us_driver_license("111111111") and not v.is_us_driver_license("ABC")
    assert v.is_passport_number("C03005988") and v.is_passport_number("340020013")
    assert not v.is_passport_number("999999999") and not v.is_passport_number("X")
    assert v.is_medical_record_number("MRN-0012345") and v.is_medical_record_number("00123456")
    assert not v.is_medical_record_number("0000000") and not v.is_medical_record_number("12")


def test_age() -> None:
    assert v.is_age("42-year-old") and v.is_age("aged 0")
    assert not v.is_age("300-year-old") and not v.is_age("year-old")


# ------------------------------------------------------------------------- never raise, only say

VALIDATORS = [v.is_credit_card, v.is_iban, v.is_us_ssn, v.is_phone_number,
              v.is_phone_number_any_region, v.is_possible_phone_number, v.is_ip_address,
              v.is_date, v.is_email, v.is_url, v.is_us_zip, v.is_us_driver_license,
              v.is_passport_number, v.is_medical_record_number, v.is_age]


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=40))
def test_validators_never_raise(value: str) -> None:
    for validator in VALIDATORS:
        assert validator(value) in (True, False)

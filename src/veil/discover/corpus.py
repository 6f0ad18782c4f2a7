"""Labelled texts in the languages and formats of the EU/EEA, UK, US, Canada and Australia, for
measuring the recognizers (``bench/pii_eval.py``) on data they were not written against.

Each text comes from a sentence template whose slots are filled with values from Faker's
locale providers; the spans are known because the generator places them. Deterministic for a
``seed``: the same arguments give the same texts.

Values
    Names, streets, cities, postcodes, e-mail addresses, company names: Faker's provider for
    the locale (the Baltic locales lack street and city data and use a short list of real ones).
    Check-digit values are drawn at random and kept only when python-stdnum validates them
    (rejection sampling; no checksum written here): national ids, IBANs (for countries
    without a Faker bank provider the BBAN is drawn from stdnum's IBAN structure and its
    check digits come from ``stdnum.iban.calc_check_digits``), credit cards (Luhn). The UK
    National Insurance number has no check digit and no stdnum module: it is drawn from the
    allowed prefix letters (HMRC's rules) and a suffix A-D.
    Phone numbers are Faker's, kept only when ``phonenumbers`` says they are VALID for the
    locale's region (stricter than the possible length: real numbers lie in assigned ranges,
    and a recognizer may fairly use that); locales without a Faker phone provider get
    phonenumbers' example numbers with random digits, kept under the same test. An extension
    ("x123") may follow a number, outside its span.
    Addresses follow the locale's layout: the house number after the street in Germanic,
    Nordic, Central European and Iberian/Italian addresses ("Hauptstraße 5", "Via Roma, 12"),
    before it in the UK, Ireland, North America, Australia and France; sometimes with a unit
    part ("Flat 3, ...", "Apt 4B", "2º B", "lgh 1102"), a postcode and city, over two lines;
    US military addresses; "the corner of X and Y".

Label conventions (what a span covers)
    PERSON: the name tokens only, a middle initial included, never a title (Mr, Frau, Dr) nor a
    credential; a surname alone after a title is a PERSON. STREET_ADDRESS: the whole contiguous
    address (number, street, unit, postcode and city, with its commas and line breaks), never a
    country nor a trailing full stop; "the corner of X and Y" labels "X and Y". ZIP_CODE: a
    postcode standing alone (the code only). PHONE_NUMBER: the number with its "+cc" and
    parentheses, no "tel:" word nor extension. DATE_TIME: the date with an attached weekday, a
    weekday alone, a bare year in a date context ("born in 1956"); birth dates are DATE_TIME.
    AGE: the number only. National ids, IBANs, cards: the value as written, separators
    included. Never labelled (distractors): organisations and places named like people
    ("Morgan Stanley", "Santa Clara"), cities alone, amounts, order numbers, times, years
    outside a date context, room numbers.

Held-out split
    Templates are grouped by language and entity family; in each group the ~30 % whose SHA-1
    of the template text sorts first (at least one) are held out: ``split="tune"`` never uses
    them and ``split="heldout"`` uses only them, so every family has held-out templates and the
    choice does not move when other groups change. In the held-out split about 20 % of the
    texts with a name take it from Faker locales the name lexicon never reads (``UNSEEN_NAME
    _LOCALES``); those texts carry the locale label ``"unseen_names"``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import random
import re
import string
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import Literal

import phonenumbers
from faker import Faker
from stdnum import iban as stdnum_iban
from stdnum import luhn, numdb
from stdnum.at import vnr
from stdnum.au import abn, acn, tfn
from stdnum.be import nn
from stdnum.ch import ssn as ch_ssn
from stdnum.de import idnr
from stdnum.dk import cpr
from stdnum.es import dni, nie
from stdnum.fi import hetu
from stdnum.fr import nir
from stdnum.gb import nhs
from stdnum.ie import pps
from stdnum.it import codicefiscale
from stdnum.nl import bsn
from stdnum.no import fodselsnummer
from stdnum.pl import pesel
from stdnum.pt import nif
from stdnum.se import personnummer
from stdnum.us import ssn as us_ssn

from veil.discover.entities import Entity

__all__ = ["LOCALES", "MONTHS", "UNSEEN_NAME_LOCALES", "WEEKDAYS", "LabelledText", "Template",
           "generate", "id_is_valid", "templates"]

Split = Literal["tune", "heldout"]
SpanT = tuple[int, int, str]
HELDOUT_SHARE = 0.3
UNSEEN_SHARE = 0.2
UNSEEN_LABEL = "unseen_names"
UNSEEN_NAME_LOCALES = ("vi_VN", "fil_PH", "zu_ZA", "yo_NG", "tw_GH", "az_AZ", "uz_UZ")


@dataclass(frozen=True)
class LabelledText:
    text: str
    spans: tuple[SpanT, ...]  # (start, end exclusive, Entity value), sorted
    locale: str
    template_id: str


@dataclass(frozen=True)
class Locale:
    code: str
    region: str  # phonenumbers / IBAN country
    lang: str  # template language: "en" or one with native templates
    number_after: bool  # house number after the street name
    ids: tuple[Entity, ...] = ()


def _loc(code: str, region: str, lang: str, after: bool, *ids: Entity) -> Locale:
    return Locale(code, region, lang, after, ids)


E = Entity
LOCALES: dict[str, Locale] = {loc.code: loc for loc in (
    _loc("en_US", "US", "en", False, E.US_SSN),
    _loc("en_GB", "GB", "en", False, E.UK_NHS, E.UK_NINO),
    _loc("en_IE", "IE", "en", False, E.IE_PPSN),
    _loc("en_CA", "CA", "en", False),
    _loc("en_AU", "AU", "en", False, E.AU_TFN, E.AU_ABN, E.AU_ACN),
    _loc("de_DE", "DE", "de", True, E.DE_TAX_ID),
    _loc("de_AT", "AT", "de", True, E.AT_SVNR),
    _loc("de_CH", "CH", "de", True, E.CH_AHV),
    _loc("fr_FR", "FR", "fr", False, E.FR_NIR),
    _loc("fr_CH", "CH", "fr", True, E.CH_AHV),
    _loc("es_ES", "ES", "es", True, E.ES_NIF, E.ES_NIE),
    _loc("it_IT", "IT", "it", True, E.IT_FISCAL_CODE),
    _loc("nl_NL", "NL", "nl", True, E.NL_BSN),
    _loc("nl_BE", "BE", "nl", True, E.BE_NATIONAL_NUMBER),
    _loc("pt_PT", "PT", "en", True, E.PT_NIF),
    _loc("pl_PL", "PL", "pl", True, E.PL_PESEL),
    _loc("cs_CZ", "CZ", "en", True),
    _loc("sk_SK", "SK", "en", True),
    _loc("sv_SE", "SE", "sv", True, E.SE_PERSONNUMMER),
    _loc("da_DK", "DK", "en", True, E.DK_CPR),
    _loc("fi_FI", "FI", "en", True, E.FI_PERSONAL_IDENTITY_CODE),
    _loc("no_NO", "NO", "en", True, E.NO_FODSELSNUMMER),
    _loc("hu_HU", "HU", "en", True),
    _loc("ro_RO", "RO", "en", True),
    _loc("hr_HR", "HR", "en", True),
    _loc("sl_SI", "SI", "en", True),
    _loc("et_EE", "EE", "en", True),
    _loc("lt_LT", "LT", "en", True),
    _loc("lv_LV", "LV", "en", True),
)}

# ----------------------------------------------------------------------------- dates

MONTHS: dict[str, tuple[str, ...]] = {
    "en": ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"),
    "de": ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September",
           "Oktober", "November", "Dezember"),
    "fr": ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
           "octobre", "novembre", "décembre"),
    "es": ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
           "septiembre", "octubre", "noviembre", "diciembre"),
    "it": ("gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto",
           "settembre", "ottobre", "novembre", "dicembre"),
    "nl": ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus",
           "september", "oktober", "november", "december"),
    # Polish dates use the genitive ("3 marca 2021").
    "pl": ("stycznia", "lutego", "marca", "kwietnia", "maja", "czerwca", "lipca", "sierpnia",
           "września", "października", "listopada", "grudnia"),
    "sv": ("januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti",
           "september", "oktober", "november", "december"),
}
WEEKDAYS: dict[str, tuple[str, ...]] = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "de": ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"),
    "fr": ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
    "es": ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"),
    "it": ("lunedì", "martedì", "mercoledì", "giovedì", "venerdì", "sabato", "domenica"),
    "nl": ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag"),
    "pl": ("poniedziałek", "wtorek", "środa", "czwartek", "piątek", "sobota", "niedziela"),
    "sv": ("måndag", "tisdag", "onsdag", "torsdag", "fredag", "lördag", "söndag"),
}
# Spoken date layouts per language: {d} day, {M} month name, {W} weekday, {y} year.
_WORD_DATES: dict[str, tuple[str, ...]] = {
    "en": ("{d} {M} {y}", "{M} {d}, {y}", "{W}, {d} {M} {y}", "{W}, {M} {d}, {y}",
           "{M3} {d}, {y}", "{d} {M3} {y}"),
    "de": ("{d}. {M} {y}", "{W}, {d}. {M} {y}", "{W}, den {d}. {M} {y}"),
    "fr": ("{d} {M} {y}", "{W} {d} {M} {y}"),
    "es": ("{d} de {M} de {y}", "{W}, {d} de {M} de {y}", "{W} {d} de {M} de {y}"),
    "it": ("{d} {M} {y}", "{W} {d} {M} {y}"),
    "nl": ("{d} {M} {y}", "{W} {d} {M} {y}"),
    "pl": ("{d} {M} {y}", "{W}, {d} {M} {y}"),
    "sv": ("{d} {M} {y}", "{W} {d} {M} {y}"),
}
_NUMERIC_DATES: dict[str, tuple[str, ...]] = {
    "US": ("{m:02d}/{d:02d}/{y}", "{m}/{d}/{y}", "{y}-{m:02d}-{d:02d}"),
    "CA": ("{y}-{m:02d}-{d:02d}", "{d:02d}/{m:02d}/{y}"),
    "slash": ("{d:02d}/{m:02d}/{y}", "{d}/{m}/{y}", "{y}-{m:02d}-{d:02d}"),
    "dot": ("{d:02d}.{m:02d}.{y}", "{d}.{m}.{y}", "{y}-{m:02d}-{d:02d}"),
    "dash": ("{d:02d}-{m:02d}-{y}", "{y}-{m:02d}-{d:02d}"),
    "iso": ("{y}-{m:02d}-{d:02d}",),
}
_DATE_STYLE = {"US": "US", "CA": "CA", "GB": "slash", "IE": "slash", "AU": "slash",
               "FR": "slash", "ES": "slash", "IT": "slash", "PT": "slash", "NL": "dash",
               "BE": "slash", "SE": "iso", "LT": "iso", "HU": "iso", "LV": "dot"}


# ----------------------------------------------------------------------------- templates

@dataclass(frozen=True)
class Template:
    text: str
    family: str  # the entity the template is written for ("NONE": distractors only)
    lang: str

    @property
    def id(self) -> str:
        return f"{self.lang}.{self.family}.{_digest(self.text)[:8]}"


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()  # noqa: S324 - a stable order, not security


# Slots: {person} full name, {surname}, {first}, {address}, {corner} ("X and Y"), {zip},
# {phone}, {email}, {date}, {weekday}, {year} (a year in a date context), {age}, {card},
# {iban}, {ip}, {id} (a national id of the locale) with {id_name} (its name). Unlabelled:
# {org}, {place}, {city}, {amount}, {order}, {time}, {room}, {qty}, {model}. A template
# written all in lower case gets lower-case names and addresses.
_EN: dict[str, tuple[str, ...]] = {
    "PERSON": (
        "Patient {person} was admitted to ward 7 on {date}.",
        "Please forward the invoice to {person} at {org}.",
        "Dear Mr {surname}, your appointment has been moved to {weekday}.",
        "I spoke with {person} yesterday about the {amount} refund.",
        "Referred by Dr. {surname}; the patient's daughter {first} will attend.",
        "my name is {person} and i need help with order {order}",
        "{person} signed the contract on behalf of {org}.",
        "Account holder: {person}",
        "Hi {first}, thanks for calling {org} today.",
        "The claim was reviewed by {person}, MD, in room {room}.",
        "we met {person} near {place} last week",
        "Witness statement taken from Mrs {surname} at {time}.",
    ),
    "STREET_ADDRESS": (
        "Please ship the parcel to {address}.",
        "Home address: {address}",
        "She moved to {address} in {year}.",
        "Billing address on file is {address}, order {order}.",
        "The patient lives at {address} with her son.",
        "i live at {address} if you need to send anything",
        "Meet me at the corner of {corner} at {time}.",
        "Our new office is at {address}; parking costs {amount}.",
        "The accident happened at the corner of {corner}.",
        "Return to sender: {person}, {address}",
    ),
    "ZIP_CODE": (
        "My zip code is {zip}.",
        "Postcode: {zip}",
        "Delivery is free for postcode {zip} and orders over {amount}.",
        "Which branch serves {zip}?",
        "The customer lives in {zip} {city}.",
        "please enter your postal code ({zip}) again",
        "Our store in {place} covers the {zip} area.",
        "{zip} is outside our delivery zone.",
    ),
    "PHONE_NUMBER": (
        "Call me on {phone} after {time}.",
        "{phone} is my number.",
        "Tel: {phone}",
        "You can reach the ward at {phone}, ask for room {room}.",
        "Fax: {phone}",
        "my mobile is {phone}",
        "If the line is busy, try {phone} or write to {org}.",
        "Contact {person} ({phone}) for order {order}.",
        "Emergency contact: {first}, {phone}",
    ),
    "EMAIL_ADDRESS": (
        "Send the report to {email}.",
        "E-mail: {email}",
        "You can write to {email} about order {order}.",
        "{person} <{email}>",
        "contact me at {email} please",
        "The newsletter went to {email} by mistake.",
        "Reply to {email} before {weekday}.",
        "Her work address is {email}, at {org}.",
    ),
    "DATE_TIME": (
        "The appointment is on {date} at {time}.",
        "Date of birth: {date}",
        "He was born in {year} in {place}.",
        "Discharged {date}; follow-up in room {room}.",
        "See you on {weekday}!",
        "The contract was signed on {date} for {amount}.",
        "born on {date}",
        "Payment due {date}, invoice {order}.",
        "We founded the club in {year} with {qty} members.",
        "Last visit: {date}",
    ),
    "AGE": (
        "A {age}-year-old man presented with chest pain.",
        "The patient, aged {age}, was discharged on {weekday}.",
        "She just turned {age}.",
        "At the age of {age} he moved to {place}.",
        "{person} is {age} years old.",
        "age: {age}",
        "my son is {age} and loves {org} cereal",
        "Female, {age} yrs, room {room}.",
    ),
    "CREDIT_CARD": (
        "Card number: {card}",
        "Please charge {amount} to my card {card}.",
        "{card} expires next month.",
        "Visa {card}, cardholder {person}",
        "i paid with {card} for order {order}",
        "The card ending in the digits of {card} was declined.",
        "Refund {amount} to credit card {card}.",
        "Mastercard: {card} (exp 08/27)",
    ),
    "IBAN_CODE": (
        "IBAN: {iban}",
        "Please transfer {amount} to {iban}.",
        "My account is {iban}, bank {org}.",
        "Salary goes to {iban} on the 25th.",
        "send the money to {iban} please",
        "Beneficiary {person}, IBAN {iban}",
        "{iban} is the account for the deposit.",
        "Direct debit from account {iban} for invoice {order}.",
    ),
    "IP_ADDRESS": (
        "Login from {ip} at {time}.",
        "The server {ip} stopped responding.",
        "Blocked IP: {ip}",
        "{ip} made {qty} requests in one minute.",
        "user connected via {ip}",
        "Whitelist {ip} for the {org} VPN.",
        "Suspicious access from address {ip} on {weekday}.",
        "Gateway {ip}, port 8443",
    ),
    "NATIONAL_ID": (
        "{id_name}: {id}",
        "My {id_name} is {id}.",
        "Patient {person}, {id_name} {id}, admitted {date}.",
        "Please confirm your {id_name} ({id}) before {weekday}.",
        "{id} is the {id_name} on the form.",
        "the {id_name} is {id}",
        "Applicant {person} - {id_name} {id} - order {order}",
        "We need the {id_name} of the account holder: {id}",
        "ID {id} was verified by {org}.",
    ),
    "NONE": (
        "{org} reported {amount} in revenue for {qty} stores.",
        "Order {order} ships from {place} at {time}.",
        "The {model} model costs {amount}.",
        "Meeting in room {room} at {time} with the {org} team.",
        "We sold {qty} units to {org} last quarter.",
        "Flight to {place} departs at {time}, gate {room}.",
        "invoice {order} total {amount}",
        "{org} opened an office in {place}.",
    ),
}

_NATIVE: dict[str, dict[str, tuple[str, ...]]] = {
    "de": {
        "PERSON": (
            "Patient {person} wurde am {date} aufgenommen.",
            "Sehr geehrte Frau {surname}, Ihr Termin ist am {weekday}.",
            "Herr {surname} hat bei {org} angerufen.",
            "Ansprechpartner: {person}, Zimmer {room}",
            "ich heiße {person} und habe eine frage zu bestellung {order}",
        ),
        "STREET_ADDRESS": (
            "Bitte liefern Sie an {address}.",
            "Anschrift: {address}",
            "Wir sind umgezogen: {address}",
            "ich wohne in der {address}",
            "Die Rechnung über {amount} geht an {address}.",
        ),
        "ZIP_CODE": ("Postleitzahl: {zip}", "Die Filiale in {zip} {city} ist geschlossen.",
                     "PLZ {zip}, bitte prüfen.", "meine plz ist {zip}"),
        "PHONE_NUMBER": ("Telefon: {phone}", "Rufen Sie mich unter {phone} an.",
                         "{phone} ist meine Nummer.", "erreichbar ab {time} unter {phone}",
                         "Fax {phone}, Kundennummer {order}"),
        "EMAIL_ADDRESS": ("E-Mail: {email}", "Bitte schreiben Sie an {email}.",
                          "meine mail ist {email}", "Kontakt {person} ({email})"),
        "DATE_TIME": ("Geburtsdatum: {date}", "Der Termin ist am {date} um {time}.",
                      "Er wurde {year} in {place} geboren.", "Bis {weekday}!",
                      "Entlassung am {date}."),
        "AGE": ("Der Patient ist {age} Jahre alt.",
                "Eine {age}-jährige Frau kam in die Notaufnahme.",
                "im alter von {age} jahren", "Alter: {age}"),
        "CREDIT_CARD": ("Kreditkarte: {card}", "Bitte belasten Sie {amount} auf {card}.",
                        "Kartennummer {card}", "ich habe mit {card} bezahlt"),
        "IBAN_CODE": ("IBAN: {iban}", "Bitte überweisen Sie {amount} auf {iban}.",
                      "Kontoinhaber {person}, IBAN {iban}", "meine iban ist {iban}"),
        "IP_ADDRESS": ("Zugriff von {ip} um {time}.", "Der Server {ip} antwortet nicht.",
                       "IP-Adresse: {ip}", "gesperrt: {ip}"),
        "NATIONAL_ID": ("{id_name}: {id}", "Meine {id_name} lautet {id}.",
                        "Versicherter {person}, {id_name} {id}", "die {id_name} ist {id}"),
        "NONE": ("{org} meldet {amount} Umsatz.", "Bestellung {order} wird um {time} versandt.",
                 "Besprechung in Raum {room} mit {org}.", "Wir haben {qty} Stück verkauft."),
    },
    "fr": {
        "PERSON": (
            "Le patient {person} a été admis le {date}.",
            "Madame {surname}, votre rendez-vous est {weekday}.",
            "M. {surname} a appelé {org} ce matin.",
            "Interlocuteur : {person}, bureau {room}",
            "je m'appelle {person} et j'ai une question sur la commande {order}",
        ),
        "STREET_ADDRESS": ("Livrer à {address}.", "Adresse : {address}",
                           "Nous avons déménagé au {address}.", "j'habite au {address}",
                           "La facture de {amount} est envoyée au {address}."),
        "ZIP_CODE": ("Code postal : {zip}", "L'agence de {zip} {city} est fermée.",
                     "mon code postal est {zip}", "CP {zip}, à vérifier."),
        "PHONE_NUMBER": ("Tél : {phone}", "Appelez-moi au {phone}.", "{phone} est mon numéro.",
                         "joignable après {time} au {phone}"),
        "EMAIL_ADDRESS": ("Courriel : {email}", "Écrivez à {email}.", "mon mail est {email}",
                          "Contact {person} ({email})"),
        "DATE_TIME": ("Date de naissance : {date}", "Le rendez-vous est le {date} à {time}.",
                      "Il est né en {year} à {place}.", "À {weekday} !", "Sortie le {date}."),
        "AGE": ("Le patient a {age} ans.", "Une femme de {age} ans s'est présentée aux urgences.",
                "âgé de {age} ans", "Âge : {age}"),
        "CREDIT_CARD": ("Carte bancaire : {card}", "Débitez {amount} sur la carte {card}.",
                        "Numéro de carte {card}", "j'ai payé avec la carte {card}"),
        "IBAN_CODE": ("IBAN : {iban}", "Merci de virer {amount} sur {iban}.",
                      "Titulaire {person}, IBAN {iban}", "mon iban est {iban}"),
        "IP_ADDRESS": ("Connexion depuis {ip} à {time}.", "Le serveur {ip} ne répond plus.",
                       "Adresse IP : {ip}", "bloqué : {ip}"),
        "NATIONAL_ID": ("{id_name} : {id}", "Mon {id_name} est {id}.",
                        "Assuré {person}, {id_name} {id}", "le {id_name} est {id}"),
        "NONE": ("{org} annonce {amount} de chiffre d'affaires.",
                 "La commande {order} part à {time}.", "Réunion en salle {room} avec {org}.",
                 "Nous avons vendu {qty} unités."),
    },
    "es": {
        "PERSON": ("El paciente {person} ingresó el {date}.",
                   "Estimada Sra. {surname}, su cita es el {weekday}.",
                   "El Sr. {surname} llamó a {org}.", "Contacto: {person}, despacho {room}",
                   "me llamo {person} y tengo una duda sobre el pedido {order}"),
        "STREET_ADDRESS": ("Enviar a {address}.", "Dirección: {address}",
                           "Nos hemos mudado a {address}.", "vivo en {address}",
                           "La factura de {amount} va a {address}."),
        "ZIP_CODE": ("Código postal: {zip}", "La oficina de {zip} {city} está cerrada.",
                     "mi código postal es el {zip}", "CP {zip}, por favor revise."),
        "PHONE_NUMBER": ("Teléfono: {phone}", "Llámeme al {phone}.", "{phone} es mi número.",
                         "disponible a partir de las {time} en el {phone}"),
        "EMAIL_ADDRESS": ("Correo: {email}", "Escriba a {email}.", "mi correo es {email}",
                          "Contacto {person} ({email})"),
        "DATE_TIME": ("Fecha de nacimiento: {date}", "La cita es el {date} a las {time}.",
                      "Nació en {year} en {place}.", "¡Hasta el {weekday}!", "Alta el {date}."),
        "AGE": ("El paciente tiene {age} años.", "Una mujer de {age} años acudió a urgencias.",
                "con {age} años de edad", "Edad: {age}"),
        "CREDIT_CARD": ("Tarjeta: {card}", "Cargue {amount} a la tarjeta {card}.",
                        "Número de tarjeta {card}", "pagué con la tarjeta {card}"),
        "IBAN_CODE": ("IBAN: {iban}", "Transfiera {amount} a {iban}.",
                      "Titular {person}, IBAN {iban}", "mi iban es {iban}"),
        "IP_ADDRESS": ("Acceso desde {ip} a las {time}.", "El servidor {ip} no responde.",
                       "Dirección IP: {ip}", "bloqueada: {ip}"),
        "NATIONAL_ID": ("{id_name}: {id}", "Mi {id_name} es {id}.",
                        "Paciente {person}, {id_name} {id}", "el {id_name} es {id}"),
        "NONE": ("{org} facturó {amount}.", "El pedido {order} sale a las {time}.",
                 "Reunión en la sala {room} con {org}.", "Vendimos {qty} unidades."),
    },
    "it": {
        "PERSON": ("Il paziente {person} è stato ricoverato il {date}.",
                   "Gentile Sig.ra {surname}, l'appuntamento è {weekday}.",
                   "Il Sig. {surname} ha chiamato {org}.", "Referente: {person}, stanza {room}",
                   "mi chiamo {person} e ho una domanda sull'ordine {order}"),
        "STREET_ADDRESS": ("Spedire a {address}.", "Indirizzo: {address}",
                           "Ci siamo trasferiti in {address}.", "abito in {address}",
                           "La fattura di {amount} va a {address}."),
        "ZIP_CODE": ("CAP: {zip}", "La filiale di {zip} {city} è chiusa.", "il mio cap è {zip}",
                     "Codice postale {zip}, da verificare."),
        "PHONE_NUMBER": ("Telefono: {phone}", "Chiamami al {phone}.", "{phone} è il mio numero.",
                         "raggiungibile dopo le {time} al {phone}"),
        "EMAIL_ADDRESS": ("Email: {email}", "Scrivete a {email}.", "la mia mail è {email}",
                          "Contatto {person} ({email})"),
        "DATE_TIME": ("Data di nascita: {date}", "L'appuntamento è il {date} alle {time}.",
                      "È nato nel {year} a {place}.", "A {weekday}!", "Dimesso il {date}."),
        "AGE": ("Il paziente ha {age} anni.", "Una donna di {age} anni si è presentata.",
                "all'età di {age} anni", "Età: {age}"),
        "CREDIT_CARD": ("Carta di credito: {card}", "Addebitare {amount} sulla carta {card}.",
                        "Numero carta {card}", "ho pagato con la carta {card}"),
        "IBAN_CODE": ("IBAN: {iban}", "Bonificare {amount} su {iban}.",
                      "Intestatario {person}, IBAN {iban}", "il mio iban è {iban}"),
        "IP_ADDRESS": ("Accesso da {ip} alle {time}.", "Il server {ip} non risponde.",
                       "Indirizzo IP: {ip}", "bloccato: {ip}"),
        "NATIONAL_ID": ("{id_name}: {id}", "Il mio {id_name} è {id}.",
                        "Paziente {person}, {id_name} {id}", "il {id_name} è {id}"),
        "NONE": ("{org} ha fatturato {amount}.", "L'ordine {order} parte alle {time}.",
                 "Riunione in sala {room} con {org}.", "Abbiamo venduto {qty} pezzi."),
    },
    "nl": {
        "PERSON": ("Patiënt {person} is op {date} opgenomen.",
                   "Beste mevrouw {surname}, uw afspraak is op {weekday}.",
                   "Meneer {surname} heeft {org} gebeld.", "Contactpersoon: {person}, kamer {room}",
                   "ik heet {person} en heb een vraag over bestelling {order}"),
        "STREET_ADDRESS": ("Leveren aan {address}.", "Adres: {address}",
                           "Wij zijn verhuisd naar {address}.", "ik woon op {address}",
                           "De factuur van {amount} gaat naar {address}."),
        "ZIP_CODE": ("Postcode: {zip}", "Het filiaal in {zip} {city} is gesloten.",
                     "mijn postcode is {zip}", "Postcode {zip} klopt niet."),
        "PHONE_NUMBER": ("Telefoon: {phone}", "Bel mij op {phone}.", "{phone} is mijn nummer.",
                         "bereikbaar na {time} op {phone}"),
        "EMAIL_ADDRESS": ("E-mail: {email}", "Schrijf naar {email}.", "mijn mail is {email}",
                          "Contact {person} ({email})"),
        "DATE_TIME": ("Geboortedatum: {date}", "De afspraak is op {date} om {time}.",
                      "Hij is in {year} geboren in {place}.", "Tot {weekday}!",
                      "Ontslagen op {date}."),
        "AGE": ("De patiënt is {age} jaar oud.", "Een vrouw van {age} jaar meldde zich.",
                "op {age}-jarige leeftijd", "Leeftijd: {age}"),
        "CREDIT_CARD": ("Creditcard: {card}", "Schrijf {amount} af van kaart {card}.",
                        "Kaartnummer {card}", "ik heb betaald met {card}"),
        "IBAN_CODE": ("IBAN: {iban}", "Maak {amount} over naar {iban}.",
                      "Rekeninghouder {person}, IBAN {iban}", "mijn iban is {iban}"),
        "IP_ADDRESS": ("Inlog vanaf {ip} om {time}.", "De server {ip} reageert niet.",
                       "IP-adres: {ip}", "geblokkeerd: {ip}"),
        "NATIONAL_ID": ("{id_name}: {id}", "Mijn {id_name} is {id}.",
                        "Patiënt {person}, {id_name} {id}", "het {id_name} is {id}"),
        "NONE": ("{org} meldt {amount} omzet.", "Bestelling {order} vertrekt om {time}.",
                 "Overleg in kamer {room} met {org}.", "We verkochten {qty} stuks."),
    },
    "pl": {
        "PERSON": ("Pacjent {person} został przyjęty {date}.",
                   "Szanowna Pani {surname}, wizyta jest w {weekday}.",
                   "Pan {surname} dzwonił do {org}.", "Osoba kontaktowa: {person}, pokój {room}",
                   "nazywam się {person} i mam pytanie o zamówienie {order}"),
        "STREET_ADDRESS": ("Proszę wysłać na adres {address}.", "Adres: {address}",
                           "Przeprowadziliśmy się: {address}", "mieszkam przy {address}",
                           "Faktura na {amount} idzie na {address}."),
        "ZIP_CODE": ("Kod pocztowy: {zip}", "Oddział {zip} {city} jest zamknięty.",
                     "mój kod pocztowy to {zip}", "Kod {zip} do sprawdzenia."),
        "PHONE_NUMBER": ("Telefon: {phone}", "Proszę dzwonić pod {phone}.",
                         "{phone} to mój numer.", "dostępny po {time} pod numerem {phone}"),
        "EMAIL_ADDRESS": ("E-mail: {email}", "Proszę pisać na {email}.", "mój mail to {email}",
                          "Kontakt {person} ({email})"),
        "DATE_TIME": ("Data urodzenia: {date}", "Wizyta jest {date} o {time}.",
                      "Urodził się w {year} roku w {place}.", "Do zobaczenia w {weekday}!",
                      "Wypis {date}."),
        "AGE": ("Pacjent ma {age} lat.", "Kobieta w wieku {age} lat zgłosiła się na SOR.",
                "w wieku {age} lat", "Wiek: {age}"),
        "CREDIT_CARD": ("Karta kredytowa: {card}", "Proszę obciążyć kartę {card} kwotą {amount}.",
                        "Numer karty {card}", "płaciłem kartą {card}"),
        "IBAN_CODE": ("IBAN: {iban}", "Proszę przelać {amount} na {iban}.",
                      "Posiadacz {person}, IBAN {iban}", "mój iban to {iban}"),
        "IP_ADDRESS": ("Logowanie z {ip} o {time}.", "Serwer {ip} nie odpowiada.",
                       "Adres IP: {ip}", "zablokowany: {ip}"),
        "NATIONAL_ID": ("{id_name}: {id}", "Mój {id_name} to {id}.",
                        "Pacjent {person}, {id_name} {id}", "numer {id_name} to {id}"),
        "NONE": ("{org} ma {amount} przychodu.", "Zamówienie {order} wyjeżdża o {time}.",
                 "Spotkanie w sali {room} z {org}.", "Sprzedaliśmy {qty} sztuk."),
    },
    "sv": {
        "PERSON": ("Patienten {person} lades in {date}.",
                   "Hej fru {surname}, ditt besök är på {weekday}.",
                   "Herr {surname} ringde till {org}.", "Kontaktperson: {person}, rum {room}",
                   "jag heter {person} och har en fråga om order {order}"),
        "STREET_ADDRESS": ("Skicka till {address}.", "Adress: {address}",
                           "Vi har flyttat till {address}.", "jag bor på {address}",
                           "Fakturan på {amount} går till {address}."),
        "ZIP_CODE": ("Postnummer: {zip}", "Kontoret i {zip} {city} är stängt.",
                     "mitt postnummer är {zip}", "Postnr {zip}, kontrollera."),
        "PHONE_NUMBER": ("Telefon: {phone}", "Ring mig på {phone}.", "{phone} är mitt nummer.",
                         "nås efter {time} på {phone}"),
        "EMAIL_ADDRESS": ("E-post: {email}", "Skriv till {email}.", "min mejl är {email}",
                          "Kontakt {person} ({email})"),
        "DATE_TIME": ("Födelsedatum: {date}", "Besöket är den {date} kl. {time}.",
                      "Han föddes {year} i {place}.", "Vi ses på {weekday}!",
                      "Utskriven {date}."),
        "AGE": ("Patienten är {age} år gammal.", "En {age}-årig kvinna sökte vård.",
                "vid {age} års ålder", "Ålder: {age}"),
        "CREDIT_CARD": ("Kreditkort: {card}", "Debitera {amount} på kort {card}.",
                        "Kortnummer {card}", "jag betalade med {card}"),
        "IBAN_CODE": ("IBAN: {iban}", "Överför {amount} till {iban}.",
                      "Kontoinnehavare {person}, IBAN {iban}", "mitt iban är {iban}"),
        "IP_ADDRESS": ("Inloggning från {ip} kl. {time}.", "Servern {ip} svarar inte.",
                       "IP-adress: {ip}", "blockerad: {ip}"),
        "NATIONAL_ID": ("{id_name}: {id}", "Mitt {id_name} är {id}.",
                        "Patient {person}, {id_name} {id}", "{id_name} är {id}"),
        "NONE": ("{org} omsatte {amount}.", "Order {order} skickas kl. {time}.",
                 "Möte i rum {room} med {org}.", "Vi sålde {qty} enheter."),
    },
}


@cache
def templates() -> tuple[tuple[Template, bool], ...]:
    """Every template with whether it is held out (see the module docstring)."""
    groups = [("en", fam, texts) for fam, texts in _EN.items()]
    groups += [(lang, fam, texts) for lang, fams in _NATIVE.items() for fam, texts in fams.items()]
    out = []
    for lang, family, texts in groups:
        ranked = sorted(texts, key=_digest)
        held = set(ranked[:max(1, round(HELDOUT_SHARE * len(texts)))])
        out += [(Template(t, family, lang), t in held) for t in texts]
    return tuple(out)


# ----------------------------------------------------------------------------- values

ID_NAMES: dict[Entity, tuple[str, str]] = {  # (English name, native name)
    E.US_SSN: ("SSN", "social security number"), E.UK_NHS: ("NHS number", "NHS no"),
    E.UK_NINO: ("National Insurance number", "NI number"), E.IE_PPSN: ("PPS number", "PPSN"),
    E.AU_TFN: ("tax file number", "TFN"), E.AU_ABN: ("ABN", "Australian Business Number"),
    E.AU_ACN: ("ACN", "company number"), E.DE_TAX_ID: ("German tax ID", "Steuer-ID"),
    E.AT_SVNR: ("Austrian social security number", "Sozialversicherungsnummer"),
    E.CH_AHV: ("AHV number", "AHV-Nummer"), E.FR_NIR: ("NIR", "numéro de sécurité sociale"),
    E.ES_NIF: ("DNI", "DNI"), E.ES_NIE: ("NIE", "NIE"),
    E.IT_FISCAL_CODE: ("codice fiscale", "codice fiscale"), E.NL_BSN: ("BSN", "BSN-nummer"),
    E.BE_NATIONAL_NUMBER: ("national register number", "rijksregisternummer"),
    E.PT_NIF: ("NIF", "NIF"), E.PL_PESEL: ("PESEL", "PESEL"),
    E.SE_PERSONNUMMER: ("personal identity number", "personnummer"),
    E.DK_CPR: ("CPR number", "CPR-nummer"), E.FI_PERSONAL_IDENTITY_CODE: (
        "personal identity code", "henkilötunnus"),
    E.NO_FODSELSNUMMER: ("national identity number", "fødselsnummer"),
}

_NINO_FIRST = "ABCEGHJKLMNOPRSTWXYZ"  # HMRC: not D, F, I, Q, U, V
_NINO_SECOND = "ABCEGHJKLMNPRSTWXYZ"  # nor O second
_NINO_BANNED = {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}


def _nino_ok(value: str) -> bool:
    v = value.replace(" ", "").upper()
    return (len(v) == 9 and v[0] in _NINO_FIRST and v[1] in _NINO_SECOND
            and v[:2] not in _NINO_BANNED and v[2:8].isdigit() and v[8] in "ABCD")


# Entity -> validator (stdnum's, the HMRC rule for the NINO).
_ID_VALID: dict[Entity, Callable[[str], bool]] = {
    E.US_SSN: us_ssn.is_valid, E.UK_NHS: nhs.is_valid, E.UK_NINO: _nino_ok,
    E.IE_PPSN: pps.is_valid, E.AU_TFN: tfn.is_valid, E.AU_ABN: abn.is_valid,
    E.AU_ACN: acn.is_valid, E.DE_TAX_ID: idnr.is_valid, E.AT_SVNR: vnr.is_valid,
    E.CH_AHV: ch_ssn.is_valid, E.FR_NIR: nir.is_valid, E.ES_NIF: dni.is_valid,
    E.ES_NIE: nie.is_valid, E.IT_FISCAL_CODE: codicefiscale.is_valid, E.NL_BSN: bsn.is_valid,
    E.BE_NATIONAL_NUMBER: nn.is_valid, E.PT_NIF: nif.is_valid, E.PL_PESEL: pesel.is_valid,
    E.SE_PERSONNUMMER: personnummer.is_valid, E.DK_CPR: cpr.is_valid,
    E.FI_PERSONAL_IDENTITY_CODE: hetu.is_valid, E.NO_FODSELSNUMMER: fodselsnummer.is_valid,
}


def id_is_valid(entity: str, value: str) -> bool:
    """Whether ``value`` is a valid ``entity`` national id (stdnum; HMRC's rule for NINO)."""
    return _ID_VALID[Entity(entity)](value)


def _digits(rng: random.Random, n: int, first: str = string.digits) -> str:
    return rng.choice(first) + "".join(rng.choices(string.digits, k=n - 1))


def _ddmmyy(rng: random.Random) -> str:
    d = _random_date(rng, 1940, 2005)
    return f"{d.day:02d}{d.month:02d}{d.year % 100:02d}"


def _spaced(value: str, groups: Sequence[int], sep: str = " ") -> str:
    out, i = [], 0
    for g in groups:
        out.append(value[i:i + g])
        i += g
    return sep.join(out)


def _idnr_candidate(rng: random.Random) -> str:
    """Eleven digits shaped like a German tax id (in the first ten, one digit twice and the
    others once), so that only the check digit is left to chance."""
    digits = rng.sample("0123456789", 9)
    digits.append(rng.choice(digits))
    rng.shuffle(digits)
    return "".join(digits) + rng.choice("0123456789")


# Entity -> (candidate drawer, writer in a usual format). Faker's ssn() where it draws the id.
_ID_DRAW: dict[Entity, tuple[Callable[[random.Random, Faker], str],
                             Callable[[random.Random, str], str]]] = {
    E.US_SSN: (lambda r, f: f.ssn(), lambda r, v: v),
    E.UK_NHS: (lambda r, f: _digits(r, 10, "4"), lambda r, v: r.choice((nhs.format(v), v))),
    E.UK_NINO: (lambda r, f: r.choice(_NINO_FIRST) + r.choice(_NINO_SECOND) + _digits(r, 6)
                + r.choice("ABCD"),
                lambda r, v: r.choice((_spaced(v, (2, 2, 2, 2, 1)), v))),
    E.IE_PPSN: (lambda r, f: _digits(r, 7) + r.choice(string.ascii_uppercase[:23])
                + r.choice(("", "", "A", "W")), lambda r, v: v),
    E.AU_TFN: (lambda r, f: _digits(r, 9, "123456789"), lambda r, v: r.choice((tfn.format(v), v))),
    E.AU_ABN: (lambda r, f: _digits(r, 11, "123456789"), lambda r, v: r.choice((abn.format(v), v))),
    E.AU_ACN: (lambda r, f: _digits(r, 9), lambda r, v: r.choice((acn.format(v), v))),
    E.DE_TAX_ID: (lambda r, f: _idnr_candidate(r),
                  lambda r, v: r.choice((_spaced(v, (2, 3, 3, 3)), v))),
    E.AT_SVNR: (lambda r, f: f.ssn(), lambda r, v: r.choice((_spaced(v, (4, 6)), v))),
    E.CH_AHV: (lambda r, f: f.ssn(), lambda r, v: v),
    E.FR_NIR: (lambda r, f: f.ssn(), lambda r, v: r.choice((nir.format(v), v))),
    E.ES_NIF: (lambda r, f: _digits(r, 8) + r.choice(string.ascii_uppercase),
               lambda r, v: r.choice((v, f"{v[:8]}-{v[8:]}"))),
    E.ES_NIE: (lambda r, f: r.choice("XYZ") + _digits(r, 7) + r.choice(string.ascii_uppercase),
               lambda r, v: r.choice((v, f"{v[0]}-{v[1:8]}-{v[8:]}"))),
    E.IT_FISCAL_CODE: (lambda r, f: f.ssn(), lambda r, v: v),
    E.NL_BSN: (lambda r, f: _digits(r, 9), lambda r, v: r.choice((bsn.format(v), v))),
    E.BE_NATIONAL_NUMBER: (lambda r, f: f.ssn(), lambda r, v: r.choice((nn.format(v), v))),
    E.PT_NIF: (lambda r, f: _digits(r, 9, "123"),
               lambda r, v: r.choice((_spaced(v, (3, 3, 3)), v))),
    E.PL_PESEL: (lambda r, f: f.ssn(), lambda r, v: v),
    E.SE_PERSONNUMMER: (lambda r, f: f.ssn(), lambda r, v: v),
    E.DK_CPR: (lambda r, f: _ddmmyy(r) + _digits(r, 4), lambda r, v: f"{v[:6]}-{v[6:]}"),
    E.FI_PERSONAL_IDENTITY_CODE: (lambda r, f: f.ssn(), lambda r, v: v),
    E.NO_FODSELSNUMMER: (lambda r, f: f.ssn(), lambda r, v: r.choice((_spaced(v, (6, 5)), v))),
}


def _accepted(draw: Callable[[], str], ok: Callable[[str], bool], what: str) -> str:
    """Rejection sampling: the first drawn candidate ``ok`` accepts."""
    for _ in range(2000):
        value = draw()
        if ok(value):
            return value
    msg = f"no valid {what} in 2000 draws"  # a broken drawer, not bad luck
    raise RuntimeError(msg)


def _random_date(rng: random.Random, first: int = 1935, last: int = 2030) -> date:
    return date.fromordinal(rng.randint(date(first, 1, 1).toordinal(),
                                        date(last, 12, 28).toordinal()))


_ORGS = ("Morgan Stanley", "Johnson & Johnson", "Ernst & Young", "Goldman Sachs",
         "Marks & Spencer", "Procter & Gamble", "Barnes & Noble", "Charles Schwab",
         "Wells Fargo", "Dolce & Gabbana", "Louis Vuitton", "Hugo Boss", "Ralph Lauren",
         "Tommy Hilfiger", "Albert Heijn", "Mercedes-Benz", "Philip Morris", "Ben & Jerry's",
         "Harvey Nichols", "Hewlett-Packard", "Lidl", "Siemens")
_PLACES = ("Santa Clara", "St. Louis", "San Jose", "Saint-Denis", "Santa Monica", "St. Helens",
           "Port Elizabeth", "Mount Vernon", "Fort Collins", "San Sebastián", "Sankt Moritz")
_BALTIC = {  # (cities, street suffix, postcode prefix, postcode digits)
    "et_EE": (("Tallinn", "Tartu", "Pärnu", "Narva", "Viljandi"), "tänav", "", 5),
    "lt_LT": (("Vilnius", "Kaunas", "Klaipėda", "Šiauliai", "Panevėžys"), "gatvė", "LT-", 5),
    "lv_LV": (("Rīga", "Daugavpils", "Liepāja", "Jelgava", "Ventspils"), "iela", "LV-", 4),
}
_UNITS: dict[str, tuple[str, ...]] = {
    "US": ("Apt {n}", "Apt. {n}B", "Suite {n}0", "Unit {n}"), "CA": ("Apt {n}", "Suite {n}0"),
    "DE": ("Wohnung {n}", "{n}. OG"), "AT": ("Top {n}", "Stiege 2/Top {n}"), "CH": ("{n}. Stock",),
    "FR": ("Appt {n}", "Bât. B"), "ES": ("{n}º B", "{n}º izda"), "IT": ("int. {n}", "scala B"),
    "PT": ("{n}º Esq", "{n}º Dto"), "NL": ("{n}-hoog",), "BE": ("bus {n}",),
    "SE": ("lgh 1{n}02",), "DK": ("{n}. tv", "{n}. th"), "NO": ("H0{n}01",),
    "PL": ("m. {n}",), "CZ": ("byt {n}",), "FI": ("A {n}", "B {n}"),
}
_UNIT_BEFORE = {"GB": ("Flat {n}", "Apartment {n}"), "AU": ("Unit {n}", "Flat {n}"),
                "IE": ("Apartment {n}", "Flat {n}")}
_COMMA_NUMBER = {"IT", "ES", "PT"}  # "Via Roma, 12"
_MILITARY_ZIPS = {"AA": (34001, 34099), "AE": (9001, 9898), "AP": (96201, 96698)}


@dataclass
class _Context:
    """The values of one text, drawn lazily so a slot used twice names the same thing."""

    loc: Locale
    fake: Faker
    names: Faker
    rng: random.Random
    lang: str
    lower: bool
    cache: dict[str, tuple[str, list[SpanT]]] = field(default_factory=dict)


def _only(text: str, entity: Entity | None) -> tuple[str, list[SpanT]]:
    return text, [] if entity is None else [(0, len(text), entity.value)]


def _person(c: _Context) -> str:
    first, last = c.names.first_name(), c.names.last_name()
    if c.rng.random() < 0.15:
        first += f" {c.rng.choice(string.ascii_uppercase)}{c.rng.choice(('', '.'))}"
    family_first = c.names.locales[0] in {"hu_HU", "vi_VN"}
    return f"{last} {first}" if family_first else f"{first} {last}"


def _street_name(c: _Context) -> str:
    if c.loc.code in _BALTIC:
        return f"{c.fake.last_name()} {_BALTIC[c.loc.code][1]}"
    return c.fake.street_name()


def _street(c: _Context) -> str:
    """Street with house number (and sometimes a unit) in the locale's layout."""
    r, region = c.rng, c.loc.region
    number = str(r.choice((r.randint(1, 40), r.randint(1, 250), r.randint(100, 99999)
                           if region in {"US", "CA", "AU"} else r.randint(1, 120))))
    if c.loc.number_after and r.random() < 0.2 and region in {"DE", "NL", "AT", "SE", "NO", "DK"}:
        number += r.choice("ab")
    if c.loc.number_after:
        sep = ", " if region in _COMMA_NUMBER else " "
        street = f"{_street_name(c)}{sep}{number}"
        if region == "PL" and r.random() < 0.4:
            street = f"ul. {street}/{r.randint(1, 60)}"
    else:
        street = f"{number}{',' if region == 'FR' and r.random() < 0.2 else ''} {_street_name(c)}"
    if r.random() < 0.2:
        n = str(r.randint(1, 9))
        if region in _UNIT_BEFORE:
            return f"{r.choice(_UNIT_BEFORE[region]).format(n=n)}, {street}"
        if region in _UNITS:
            unit = r.choice(_UNITS[region]).format(n=n)
            return f"{street}{' ' if region in {'US', 'CA'} else ', '}{unit}"
    return street


def _zip_text(c: _Context) -> str:
    if c.loc.code in _BALTIC:
        _, _, prefix, n = _BALTIC[c.loc.code]
        return prefix + _digits(c.rng, n, "1234")
    code = c.fake.postcode()
    if c.loc.region in {"CA", "IE"} and " " not in code and len(code) in {6, 7}:
        code = f"{code[:3]} {code[3:]}"
    elif c.loc.region == "NL" and len(code) == 6:
        code = f"{code[:4]} {code[4:]}"
    return code


def _city(c: _Context) -> str:
    if c.loc.code in _BALTIC:
        return c.rng.choice(_BALTIC[c.loc.code][0])
    return c.fake.city()


def _locality(c: _Context) -> str:
    """Postcode and city in the locale's order."""
    region = c.loc.region
    if region == "US":
        return f"{_city(c)}, {c.fake.state_abbr()} {c.fake.postcode()}"
    if region == "CA":
        return f"{_city(c)}, {c.fake.province_abbr()} {_zip_text(c)}"
    if region == "AU":
        return f"{_city(c)} {c.fake.state_abbr()} {_zip_text(c)}"
    if region in {"GB", "IE"}:
        return f"{_city(c)} {_zip_text(c)}" if region == "GB" else f"{_city(c)}, {_zip_text(c)}"
    return f"{_zip_text(c)} {_city(c)}"


def _military(c: _Context) -> str:
    state = c.rng.choice(sorted(_MILITARY_ZIPS))
    low, high = _MILITARY_ZIPS[state]
    box = c.rng.choice((c.fake.military_apo(), c.fake.military_dpo(), c.fake.military_ship()))
    kind = "FPO" if box.startswith("US") else c.rng.choice(("APO", "DPO"))
    return f"{box}, {kind} {state} {c.rng.randint(low, high):05d}"


def _address(c: _Context) -> str:
    r = c.rng.random()
    if c.loc.region == "US" and r < 0.1:
        return _military(c)
    street = _street(c)
    if r < 0.45:
        return street
    joint = "\n" if r > 0.85 else ", "
    return f"{street}{joint}{_locality(c)}"


def _phone(c: _Context) -> tuple[str, list[SpanT]]:
    region = c.loc.region
    if _has_provider("phone_number", c.loc.code):
        number = _accepted(lambda: re.split(r"\s*(?:x|ext\.?)\s*\d+$", c.fake.phone_number())[0],
                           lambda v: _valid_phone(v, region), f"{region} phone")
    else:
        number = _accepted(lambda: _example_phone(c.rng, region),
                           lambda v: _valid_phone(v, region), f"{region} phone")
    ext = f" x{c.rng.randint(10, 999)}" if c.rng.random() < 0.05 else ""
    return number + ext, [(0, len(number), E.PHONE_NUMBER.value)]


def _valid_phone(value: str, region: str) -> bool:
    try:
        return phonenumbers.is_valid_number_for_region(phonenumbers.parse(value, region), region)
    except phonenumbers.NumberParseException:
        return False


def _example_phone(rng: random.Random, region: str) -> str:
    kind = rng.choice((phonenumbers.PhoneNumberType.MOBILE,
                       phonenumbers.PhoneNumberType.FIXED_LINE))
    example = phonenumbers.example_number_for_type(region, kind)
    national = str(example.national_number)
    keep = max(2, len(national) - 6)
    example.national_number = int(national[:keep] + _digits(rng, len(national) - keep))
    style = rng.choice((phonenumbers.PhoneNumberFormat.NATIONAL,
                        phonenumbers.PhoneNumberFormat.INTERNATIONAL))
    return phonenumbers.format_number(example, style)


def _date(c: _Context) -> str:
    d, r = _random_date(c.rng), c.rng
    style = _NUMERIC_DATES[_DATE_STYLE.get(c.loc.region, "dot")]
    lang = c.lang if c.lang in _WORD_DATES else "en"
    if r.random() < 0.4:
        return r.choice(style).format(d=d.day, m=d.month, y=d.year)
    month = MONTHS[lang][d.month - 1]
    day = "1er" if lang == "fr" and d.day == 1 else str(d.day)
    return r.choice(_WORD_DATES[lang]).format(
        d=day, M=month, M3=month[:3], W=WEEKDAYS[lang][d.weekday()], y=d.year)


# Issuer prefixes and lengths (Visa, Mastercard old and 2-series, Amex, Discover).
_CARD_PREFIXES = (("4", 16), ("51", 16), ("55", 16), ("2221", 16), ("34", 15), ("37", 15),
                  ("6011", 16))


def _card(c: _Context) -> str:
    prefix, length = c.rng.choice(_CARD_PREFIXES)
    digits = _accepted(lambda: prefix + _digits(c.rng, length - len(prefix)), luhn.is_valid,
                       "card")
    if c.rng.random() < 0.2:
        return digits
    groups = (4, 6, 5) if length == 15 else (4, 4, 4, 4)
    return _spaced(digits, groups, c.rng.choice((" ", " ", "-", "")))


@cache
def _has_provider(kind: str, locale: str) -> bool:
    """Whether Faker has its own ``kind`` provider for ``locale`` (else it falls back to
    en_US formats, wrong for the region)."""
    return importlib.util.find_spec(f"faker.providers.{kind}.{locale}") is not None


@cache
def _bban_structure(country: str) -> str:
    return numdb.get("iban").info(country)[0][1]["bban"]


def _iban(c: _Context) -> str:
    country = c.loc.region
    if country in {"US", "CA", "AU"}:  # no IBANs at home: an account abroad
        country = c.rng.choice(("GB", "DE", "FR", "IE", "NL", "ES"))
    if _has_provider("bank", c.loc.code) and country == c.loc.region:
        value = _accepted(c.fake.iban, stdnum_iban.is_valid, "IBAN")
    else:
        value = _accepted(lambda: _structured_iban(c.rng, country), stdnum_iban.is_valid, "IBAN")
    return stdnum_iban.format(value) if c.rng.random() < 0.6 else value


def _structured_iban(rng: random.Random, country: str) -> str:
    alphabet = {"n": string.digits, "a": string.ascii_uppercase,
                "c": string.digits + string.ascii_uppercase}
    bban = "".join("".join(rng.choices(alphabet[kind], k=int(n)))
                   for n, kind in re.findall(r"(\d+)!([nac])", _bban_structure(country)))
    return country + stdnum_iban.calc_check_digits(f"{country}00{bban}") + bban


def _national_id(c: _Context) -> Entity:
    if "id" not in c.cache:
        entity = c.rng.choice(c.loc.ids)
        draw, write = _ID_DRAW[entity]
        value = _accepted(lambda: draw(c.rng, c.fake), _ID_VALID[entity], entity.value)
        c.cache["id"] = _only(write(c.rng, value), entity)
    return Entity(c.cache["id"][1][0][2])


def _org(c: _Context) -> str:
    """A company: one named like people, or Faker's when it is more than a bare surname."""
    company = c.fake.company()
    return company if " " in company and c.rng.random() < 0.5 else c.rng.choice(_ORGS)


def _amount(c: _Context) -> str:
    value = c.rng.randint(1, 99999) / 100
    return c.rng.choice((f"€{value:,.2f}", f"${value:,.2f}", f"£{value:.2f}",
                         f"{value:.2f} EUR", f"CHF {value:.2f}", f"{int(value)} zł",
                         f"{int(value)} kr")).replace(",", "\u202f" if c.lang == "fr" else ",")


_SLOTS: dict[str, Callable[[_Context], tuple[str, list[SpanT]]]] = {
    "person": lambda c: _only(_person(c), E.PERSON),
    "surname": lambda c: _only(c.names.last_name(), E.PERSON),
    "first": lambda c: _only(c.names.first_name(), E.PERSON),
    "address": lambda c: _only(_address(c), E.STREET_ADDRESS),
    "corner": lambda c: _only(f"{_street_name(c)} and {_street_name(c)}", E.STREET_ADDRESS),
    "zip": lambda c: _only(_zip_text(c), E.ZIP_CODE),
    "phone": _phone,
    "email": lambda c: _only(c.rng.choice((c.fake.email, c.fake.free_email,
                                           c.fake.company_email))(), E.EMAIL_ADDRESS),
    "date": lambda c: _only(_date(c), E.DATE_TIME),
    "weekday": lambda c: _only(c.rng.choice(WEEKDAYS[c.lang if c.lang in WEEKDAYS else "en"]),
                               E.DATE_TIME),
    "year": lambda c: _only(str(c.rng.randint(1930, 2024)), E.DATE_TIME),
    "age": lambda c: _only(str(c.rng.choice((c.rng.randint(1, 17), c.rng.randint(18, 99)))),
                           E.AGE),
    "card": lambda c: _only(_card(c), E.CREDIT_CARD),
    "iban": lambda c: _only(_iban(c), E.IBAN_CODE),
    "ip": lambda c: _only(c.fake.ipv6() if c.rng.random() < 0.2 else c.fake.ipv4_public(),
                          E.IP_ADDRESS),
    "id": lambda c: (_national_id(c), c.cache["id"])[1],
    "id_name": lambda c: _only(ID_NAMES[_national_id(c)][c.lang != "en"], None),
    "org": lambda c: _only(_org(c), None),
    "place": lambda c: _only(c.rng.choice(_PLACES), None),
    "city": lambda c: _only(_city(c), None),
    "amount": lambda c: _only(_amount(c), None),
    "order": lambda c: _only(c.rng.choice((f"#{_digits(c.rng, 6)}", f"A-{_digits(c.rng, 5)}",
                                           _digits(c.rng, 9, "123456789"),
                                           f"ORD-{c.rng.randint(2015, 2025)}-{_digits(c.rng, 5)}")),
                             None),
    "time": lambda c: _only(c.rng.choice((f"{c.rng.randint(0, 23)}:{c.rng.randint(0, 59):02d}",
                                          f"{c.rng.randint(1, 12)}:{c.rng.randint(0, 59):02d} pm")),
                            None),
    "room": lambda c: _only(c.rng.choice((str(c.rng.randint(1, 999)),
                                          f"B-{c.rng.randint(1, 99)}")), None),
    "qty": lambda c: _only(str(c.rng.randint(2, 5000)), None),
    "model": lambda c: _only(c.rng.choice((str(c.rng.randint(1990, 2025)),
                                           f"X{c.rng.randint(100, 999)}")), None),
}
_LOWERED = {"person", "surname", "first", "address", "corner", "email", "city"}
_SLOT = re.compile(r"\{(\w+)\}")


def _render(template: Template, c: _Context) -> tuple[str, tuple[SpanT, ...]]:
    parts: list[str] = []
    spans: list[SpanT] = []
    at = 0
    pos = 0
    for m in _SLOT.finditer(template.text):
        literal = template.text[pos:m.start()]
        parts.append(literal)
        at += len(literal)
        value, inner = _SLOTS[m.group(1)](c)
        if c.lower and m.group(1) in _LOWERED and len(value.lower()) == len(value):
            value = value.lower()
        spans += [(at + s, at + e, ent) for s, e, ent in inner]
        parts.append(value)
        at += len(value)
        pos = m.end()
    parts.append(template.text[pos:])
    return "".join(parts), tuple(sorted(spans))


# ----------------------------------------------------------------------------- generation

# Families drawn more often: national ids are spread over many entities.
_FAMILY_WEIGHT = {"NATIONAL_ID": 5}


@cache
def _faker(locale: str) -> Faker:
    return Faker(locale)


def generate(n: int, *, seed: int = 0, split: Split = "tune",
             locales: Sequence[str] | None = None) -> list[LabelledText]:
    """``n`` labelled texts, the locales taken in turn (so each appears once ``n`` covers
    them); deterministic for ``seed``. ``split`` picks the tuning or the held-out templates."""
    if split not in ("tune", "heldout"):
        msg = f"split must be 'tune' or 'heldout', got {split!r}"
        raise ValueError(msg)
    codes = list(LOCALES) if locales is None else list(locales)
    unknown = [code for code in codes if code not in LOCALES]
    if unknown:
        msg = f"unknown locales {unknown}; known: {', '.join(LOCALES)}"
        raise ValueError(msg)
    rng = random.Random(f"{seed}/{split}")
    for code in (*codes, *UNSEEN_NAME_LOCALES):
        _faker(code).seed_instance(zlib.crc32(f"{seed}/{split}/{code}".encode()))
    pool: dict[str, dict[str, list[Template]]] = {}
    for template, held in templates():
        if held == (split == "heldout"):
            pool.setdefault(template.lang, {}).setdefault(template.family, []).append(template)
    return [_one(LOCALES[codes[i % len(codes)]], pool, rng, split) for i in range(n)]


def _one(loc: Locale, pool: dict[str, dict[str, list[Template]]], rng: random.Random,
         split: Split) -> LabelledText:
    lang = loc.lang if loc.lang in pool and rng.random() < 0.5 else "en"
    families = [f for f in pool[lang] if f != "NATIONAL_ID" or loc.ids]
    family = rng.choices(families, weights=[_FAMILY_WEIGHT.get(f, 1) for f in families])[0]
    template = rng.choice(pool[lang][family])
    names, label = _faker(loc.code), loc.code
    named = any(s in template.text for s in ("{person}", "{surname}", "{first}"))
    if split == "heldout" and named and rng.random() < UNSEEN_SHARE:
        names, label = _faker(rng.choice(UNSEEN_NAME_LOCALES)), UNSEEN_LABEL
    literal = _SLOT.sub("", template.text)
    lower = any(ch.isalpha() for ch in literal) and not any(ch.isupper() for ch in literal)
    context = _Context(loc, _faker(loc.code), names, rng, lang, lower)
    text, spans = _render(template, context)
    return LabelledText(text, spans, label, template.id)

"""Classify every column of a table as a direct identifier, quasi-identifier, sensitive or other.

Values are stronger evidence than names (a column called ``notes`` may hold SSNs, one called
``c7`` may hold emails), so each column is decided by the first rule that fires:

1. **Unsupported types.** Nested (List/Array/Struct) columns are OTHER with evidence
   ``"skipped: nested type"``; Binary and Object columns are not value-scanned either and fall
   back to the column-name rule. Each skip raises a ``UserWarning``.
2. **Whole-cell values.** Every recognizer runs once over the distinct cells (capped at
   ``MAX_CELL_CHARS``); a column whose non-null cells are mostly (>= 50 %) one entity as the
   whole cell takes that entity: DIRECT_IDENTIFIER for names, contact details, SSNs, cards,
   IBANs, addresses, licences, passports, MRNs, IPs and URLs; QUASI_IDENTIFIER for birth dates,
   ZIP codes, other dates and ages. Date/Datetime columns are dates; cells that are mostly
   ICD-10 codes make a SENSITIVE column. Generic patterns (ZIP code, age, licence, passport,
   MRN, ICD-10) give way to a column-name rule that disagrees: an ``income`` column full of
   five-digit numbers holds salaries, not ZIP codes, and clinic ``C01`` is not a tongue tumour.
3. **Free text.** Long, many-token cells (mean >= 32 characters and >= 5 tokens) of which at
   least 1 % contain a person's name, contact details or an identifying number are a
   DIRECT_IDENTIFIER with entity ``None``; ``evidence["contained"]`` lists what was found and in
   what share of cells (clinical notes). A short column in which most cells *contain* a
   strongly validated identifier (``"Jane <jane@example.com>"``) is that identifier.
4. **Column names** (:data:`NAME_RULES`): the name is accent-folded, split on case and
   punctuation, and matched against keyword rules in several languages, most specific first
   (``clinic_name`` is a care site, not a person). A weak value pattern agreeing with the name
   (>= 20 % of cells) sets the entity.
5. **Unique per-row values** (distinct ratio >= 0.98 over >= 50 cells, strings or integers,
   short): a record identifier, DIRECT_IDENTIFIER.
6. **Known vocabularies**: sex/gender codes, ethnicity labels, marital statuses and US states
   make a QUASI_IDENTIFIER even under an uninformative name.
7. Otherwise OTHER.

Quasi-identifier risk: for every combination of 1..``max_combination`` quasi-identifier
columns, the share of scanned rows whose combination of values is unique. At most
``MAX_QI_COMBINATIONS`` combinations are evaluated, taking the highest-cardinality columns
first (they make the riskiest combinations); ``TableScan.qi_truncated`` says when the cap bit.
On a sample, a record unique in the population is unique in the sample too, so the sample's
unique share over-states the population's: read it as an upper bound.
"""

from __future__ import annotations

import codecs
import io
import itertools
import math
import os
import re
import time
import unicodedata
import warnings
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import polars as pl

from veil.discover.entities import Category, Entity
from veil.errors import InputError, MalformedSourceError

__all__ = [
    "MAX_CELL_CHARS",
    "MAX_QI_COMBINATIONS",
    "NAME_RULES",
    "ColumnFinding",
    "NameRule",
    "QiRisk",
    "Recognizer",
    "TableScan",
    "name_hint",
    "read_source",
    "scan_file",
    "scan_table",
]

MAX_CELL_CHARS = 10_000
_WORKERS = min(2, os.cpu_count() or 1)  # column workers
"""Cells are cut to this many characters before pattern matching, so one huge cell cannot
dominate the scan time."""

MAX_QI_COMBINATIONS = 256
"""Quasi-identifier combinations evaluated at most (see the module docstring)."""

_MOSTLY = 0.5  # share of cells that makes a column "mostly" one entity
_CORROBORATED = 0.2  # share of a weak pattern enough when the column name agrees
_TEXT_CONTAINS = 0.01  # share of free-text cells containing an identifier that flags it
_TEXT_CHARS, _TEXT_TOKENS = 32.0, 5.0  # mean length and tokens of free text
_UNIQUE_RATIO, _UNIQUE_MIN_CELLS, _UNIQUE_MAX_CHARS = 0.98, 50, 64.0
_HINT_CONFIDENCE = 0.6
_SNIFF_BYTES = 8192
_HEAD_BYTES = 1 << 20  # first read when only the head of a file is wanted
_MAX_LINE_CHARS = 1 << 20  # longer text lines are split, so a file without newlines stays lazy

DIRECT_ENTITIES = frozenset({
    Entity.PERSON, Entity.EMAIL_ADDRESS, Entity.PHONE_NUMBER, Entity.US_SSN, Entity.CREDIT_CARD,
    Entity.IBAN_CODE, Entity.STREET_ADDRESS, Entity.US_DRIVER_LICENSE, Entity.PASSPORT,
    Entity.MEDICAL_RECORD_NUMBER, Entity.IP_ADDRESS, Entity.URL,
})
QUASI_ENTITIES = frozenset({Entity.DATE_OF_BIRTH, Entity.ZIP_CODE, Entity.DATE_TIME, Entity.AGE})
# Patterns that many harmless values also fit: a disagreeing column name overrides them.
_WEAK_ENTITIES = frozenset({
    Entity.ZIP_CODE, Entity.AGE, Entity.US_DRIVER_LICENSE, Entity.PASSPORT,
    Entity.MEDICAL_RECORD_NUMBER, Entity.DATE_TIME, Entity.DATE_OF_BIRTH,
})
# Validated (checksum, structure) identifiers trusted when merely contained in short cells.
_STRONG_ENTITIES = frozenset({
    Entity.EMAIL_ADDRESS, Entity.PHONE_NUMBER, Entity.US_SSN, Entity.CREDIT_CARD,
    Entity.IBAN_CODE, Entity.IP_ADDRESS, Entity.URL,
})

_ICD10 = r"^[A-TV-Z][0-9][0-9AB](\.[0-9A-TV-Z]{1,4})?$"
_DATE = (
    r"^\s*(\d{4}-\d{1,2}-\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?"
    r"|\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}|\d{4}/\d{1,2}/\d{1,2}|\d{8}T\d{4,6}Z?)\s*$"
)


def category_of(entity: Entity) -> Category:
    """The category a column holding only ``entity`` falls into."""
    if entity in DIRECT_ENTITIES:
        return Category.DIRECT_IDENTIFIER
    if entity in QUASI_ENTITIES:
        return Category.QUASI_IDENTIFIER
    return Category.OTHER


class Recognizer(Protocol):
    """What the scanner needs from a recognizer (see ``veil.discover.recognizers``)."""

    name: str
    entity: Entity

    def matches(self, values: pl.Series) -> pl.Series:
        """Float64 score per cell for a valid match *inside* the cell; 0.0 for none."""
        ...

    def full_match(self, values: pl.Series) -> pl.Series:
        """Float64 score per cell that *is* one valid match as a whole; 0.0 otherwise."""
        ...


# -- column-name rules ------------------------------------------------------------------------
@dataclass(frozen=True)
class NameRule:
    """A keyword rule on normalised column names; ``name`` is a stable key (HIPAA maps it)."""

    name: str
    category: Category
    entity: Entity | None
    pattern: re.Pattern[str]


def _rule(name: str, category: Category, entity: Entity | None, *words: str) -> NameRule:
    """Match any of ``words`` as whole ``_``-separated tokens of the normalised name; a word
    ending in ``*`` matches as a token prefix."""
    alternatives = "|".join(w[:-1] + "[a-z0-9]*" if w.endswith("*") else w for w in words)
    return NameRule(name, category, entity, re.compile(f"(?:^|_)(?:{alternatives})(?:_|$)"))


_NUM = "(?:id|no|nr|num|number|nbr)"  # suffixes that make a word a number: patient_no
_D, _Q, _S = Category.DIRECT_IDENTIFIER, Category.QUASI_IDENTIFIER, Category.SENSITIVE
_PERSON_PREFIX = (
    "(?:first|last|given|family|middle|full|maiden|nick|fore|sur|patient|person|customer|client"
    "|member|employee|subject|contact|guardian|spouse|mother|father|legal|preferred|display)"
)
NAME_RULES: tuple[NameRule, ...] = (
    # Dates before the words they qualify: "birth_date" is a date, "birth_place" a place.
    _rule("birth_place", _Q, None, "birth_?place", "place_of_birth", "lugar_de_nacimiento",
          "geburtsort", "lieu_de_naissance"),
    _rule("birth_year", _Q, None, "birth_?year", "year_of_birth", "yob", "geburtsjahr"),
    _rule("birth_date", _Q, Entity.DATE_OF_BIRTH, "birth*", "dob", "date_of_birth", "born",
          "fecha_de_nacimiento", "nacimiento", "geburtsdatum", "geburtstag", "naissance",
          "nascita", "nascimento"),
    _rule("death_date", _Q, Entity.DATE_TIME, "dod", "date_of_death", "death_?date",
          "death_?dt", "died_on", "fecha_de_defuncion", "sterbedatum"),
    _rule("event_date", _Q, Entity.DATE_TIME, "date", "dates", "dt", "datum", "fecha",
          "timestamp", "datetime", "admission", "discharge", "admitted_on", "discharged_on",
          "visit_?date", "service_?date", "date_*"),
    # Contact details and identifying numbers.
    _rule("ssn", _D, Entity.US_SSN, "ssn", "ssns", "social_security*", "socialsecurity*"),
    _rule("national_id", _D, None, "national_id*", "nin", "nino", "dni", "nif", "bsn", "nie",
          "tax_?id", "tin", "itin", "curp", "cpf", "steuer_?id", "personalausweis*",
          "id_card", "identity_card"),
    _rule("email", _D, Entity.EMAIL_ADDRESS, "e_?mail*", "mail", "correo*", "courriel",
          "mail_address"),
    _rule("fax", _D, Entity.PHONE_NUMBER, "fax*", "telefax"),
    _rule("phone", _D, Entity.PHONE_NUMBER, "phone*", "telephone*", "tel", "mobile*",
          "cell", "cellphone", "handy", "telefon*", "movil", "celular", "portable", "msisdn"),
    _rule("url", _D, Entity.URL, "url", "urls", "uri", "website", "web_?site", "homepage",
          "web", "profile_?url", "link"),
    _rule("ip_address", _D, Entity.IP_ADDRESS, "ip", "ip_?address*", "ipv4", "ipv6",
          "remote_?addr*", "client_?ip"),
    _rule("device", _D, None, "device_?id", "device_?serial*", "imei", "udid", "idfa",
          "mac_?address", "serial", f"serial_?{_NUM}", "advertising_id"),
    _rule("vehicle", _D, None, "vin", "license_?plate", "licence_?plate", f"plate_?{_NUM}",
          "number_?plate", "vehicle*", "kennzeichen", "matricula"),
    _rule("drivers_license", _D, Entity.US_DRIVER_LICENSE, "drivers?_?licen[cs]e*",
          "driving_?licen[cs]e*", f"dl_?{_NUM}", "fuhrerschein*"),
    _rule("passport", _D, Entity.PASSPORT, "passport*", "reisepass*", "pasaporte",
          "passeport"),
    _rule("certificate_license", _D, None, "licen[cs]e*", "certificate*", "npi", "dea"),
    _rule("credit_card", _D, Entity.CREDIT_CARD, "credit_?card*", f"card_?{_NUM}", f"cc_?{_NUM}",
          "ccn", "pan", "kreditkarte*", "tarjeta*"),
    _rule("iban", _D, Entity.IBAN_CODE, "iban*"),
    _rule("health_plan", _D, None, "health_?plan*", f"insurance_?{_NUM}",
          "member_?id", f"policy_?{_NUM}", "beneficiary*", "subscriber_?id",
          "medicaid*", "medicare*"),
    _rule("account", _D, None, f"account_?{_NUM}", "acct*", "account",
          "bank_?account*", "kontonummer", "cuenta"),
    _rule("record_id", _D, Entity.MEDICAL_RECORD_NUMBER, "mrn", "medical_record*",
          f"record_?{_NUM}", f"patient_?(?:{_NUM}|key|ref)", f"chart_?{_NUM}",
          "encounter_?id", f"case_?{_NUM}", "episode_?id", "admission_?id",
          "visit_?id"),
    _rule("person_id", _D, None,
          "(?:person|subject|participant|customer|client|user|employee|student|citizen|"
          "resident|guest|visitor|applicant|individual|contact)_?"
          "(?:id|no|nr|num|number|key|ref|uuid|guid|code)"),
    _rule("username", _D, None, "user_?name", "login", "screen_?name", "nickname"),
    # Places: before names, so "clinic_name" and "city_name" are not people.
    _rule("care_site", _Q, None, "clinics?", f"clinic_?(?:{_NUM}|code)", "sites?",
          "site_?id", "facility*", "hospital*", "providers?", "provider_?id", "practice",
          "ward", "centre", "center", "location_?id"),
    _rule("city", _Q, None, "city", "cities", "town", "municipality", "county", "district",
          "neighbou?rhood", "precinct", "census_?tract", "tract", "block_?group", "ciudad",
          "ville", "stadt", "ort", "comune", "localidad", "village", "suburb"),
    _rule("state", _Q, None, "state", "province", "region", "bundesland", "estado",
          "state_?code", "territory"),
    _rule("country", _Q, None, "country", "country_?code", "pais", "pays"),
    _rule("geo_coordinates", _Q, None, "lat", "latitude", "lon", "lng", "longitude",
          "geo*", "gps", "coordinates", "geolocation", "location"),
    _rule("street_address", _D, Entity.STREET_ADDRESS, "address*", "addr*", "street*",
          f"house_?{_NUM}", "residence", "direccion", "adresse", "indirizzo", "strasse", "calle",
          "rue", "endereco", "domicilio", "anschrift"),
    _rule("zip", _Q, Entity.ZIP_CODE, "zip*", "postcode", "postal*", "post_?code", "plz",
          "cp", "codigo_postal", "code_postal", "postleitzahl"),
    NameRule("person_name", _D, Entity.PERSON, re.compile(
        rf"^(?:{_PERSON_PREFIX}_?)?names?(?:_?\d+)?$|(?:^|_)(?:firstname|lastname|fullname"
        r"|surname|forename|nombres?|apellidos?|prenom|vorname|nachname|cognome|voornaam"
        r"|achternaam|initials)(?:_|$)")),
    # Demographics that identify in combination.
    _rule("sexual_orientation", _S, None, "sexual_?orientation", "orientation", "sexuality"),
    _rule("sex", _Q, None, "sex", "gender", "sexo", "sexe", "geschlecht", "genero", "genre"),
    _rule("age", _Q, Entity.AGE, "age", "ages", "age_?(?:years|yrs|at|group|band|bracket)*",
          "edad", "alter", "idade"),
    _rule("ethnicity", _Q, None, "race", "ethnic*", "ancestry", "nationality", "etnia",
          "raza", "herkunft"),
    _rule("marital_status", _Q, None, "marital*", "civil_?status", "estado_civil",
          "familienstand", "married"),
    _rule("occupation", _Q, None, "occupation*", "job*", "profession*", "employer*",
          "education*", "beruf", "ocupacion", "profesion"),
    _rule("language", _Q, None, "language", "primary_?language", "preferred_?language"),
    # Special categories: what must not be learned about a person.
    _rule("religion", _S, None, "religio*", "faith", "belief*", "denomination", "church"),
    _rule("politics", _S, None, "politic*", "party_?affiliation", "trade_?union*",
          "union_?member*"),
    _rule("biometric", _S, None, "biometric*", "fingerprint*", "retina*", "iris_?scan*",
          "voice_?print*", "faceprint*", "face_?(?:encoding|embedding|template)",
          "palm_?print*", "gait"),
    _rule("photo", _D, None, "photo*", "picture*", "portrait*", "face_?image*", "headshot*",
          "selfie*", "mugshot*", "image*"),
    _rule("diagnosis", _S, None, "diagnos*", "diag", "dx", "icd*", "condition*", "disease*",
          "disorder*", "illness*", "comorbid*", "problem_?list", "diagnostico", "diagnose"),
    _rule("treatment", _S, None, "procedure*", "cpt", "medication*", "drug*", "rx",
          "prescription*", "dosage", "dose", "therapy", "treatment*", "vaccin*", "surgery"),
    _rule("health_status", _S, None, "allerg*", "symptom*", "pregnan*", "disabilit*",
          "smok*", "alcohol*", "hiv", "mental_?health", "psych*", "genetic*", "genotype*",
          "dna", "blood_?type", "health*"),
    _rule("lab_value", _S, None, "glucose*", "hba1c*", "a1c", "cholesterol*", "ldl", "hdl",
          "triglycerid*", "bp", "systolic*", "diastolic*", "blood_?pressure", "bmi",
          "weight*", "height*", "heart_?rate", "pulse", "temperature", "spo2", "oxygen*",
          "creatinine*", "egfr", "hemoglobin*", "haemoglobin*", "hgb", "hematocrit*", "wbc",
          "rbc", "platelet*", "sodium", "potassium", "albumin", "bilirubin", "tsh", "psa",
          "inr", "lab", "labs", "lab_?value*", "lab_?result*", "test_?result*", "vitals"),
    _rule("outcome", _S, None, "readmit*", "mortality", "died", "death", "deceased",
          "outcome*", "survival", "survived", "prognosis", "icu_?admission"),
    _rule("financial", _S, None, "salary*", "income*", "wage*", "pay", "payroll",
          "compensation", "bonus", "balance*", "credit_?score*", "credit_?limit", "debt*",
          "loan*", "mortgage*", "net_?worth", "gehalt", "salario", "salaire", "sueldo",
          "ingresos", "revenue", "transaction_?amount"),
)


def _normalise(name: str) -> str:
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    split = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", folded)
    split = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", split)
    return re.sub(r"[^a-z0-9]+", "_", split.lower()).strip("_")


def name_hint(column: str) -> NameRule | None:
    """The first :data:`NAME_RULES` entry that fires on ``column``, or ``None``."""
    normalised = _normalise(column)
    return next((rule for rule in NAME_RULES if rule.pattern.search(normalised)), None)


# -- results ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ColumnFinding:
    """The verdict on one column, with the evidence it rests on (no raw values)."""

    column: str
    category: Category
    entity: Entity | None
    confidence: float
    evidence: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "category": str(self.category),
            "entity": None if self.entity is None else str(self.entity),
            "confidence": self.confidence,
            "evidence": _jsonable(self.evidence),
        }


@dataclass(frozen=True)
class QiRisk:
    """Share of scanned rows unique on ``columns``, and how many classes those values form."""

    columns: tuple[str, ...]
    unique_share: float
    classes: int

    def to_dict(self) -> dict[str, Any]:
        return {"columns": list(self.columns), "unique_share": self.unique_share,
                "classes": self.classes}


@dataclass(frozen=True)
class TableScan:
    """Findings for every column, the quasi-identifier risk, and what was scanned.

    ``rows`` is ``None`` when a file was read only in part and its length is unknown.
    """

    columns: list[ColumnFinding]
    qi_risk: list[QiRisk]
    rows: int | None
    scanned_rows: int
    seconds: float
    qi_truncated: bool = False
    source: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def sampled(self) -> bool:
        return self.rows is None or self.scanned_rows < self.rows

    def by_category(self, category: Category | str) -> list[str]:
        wanted = Category(category)
        return [f.column for f in self.columns if f.category is wanted]

    def finding(self, column: str) -> ColumnFinding:
        for found in self.columns:
            if found.column == column:
                return found
        msg = f"no column {column!r} in this scan; columns: {[f.column for f in self.columns]}"
        raise KeyError(msg)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "scanned_rows": self.scanned_rows,
            "sampled": self.sampled,
            "seconds": round(self.seconds, 6),
            "source": self.source,
            "columns": [f.to_dict() for f in self.columns],
            "qi_risk": [r.to_dict() for r in self.qi_risk],
            "qi_truncated": self.qi_truncated,
            "warnings": list(self.warnings),
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float):
        return round(value, 6) if math.isfinite(value) else None
    if isinstance(value, str):
        return str(value)
    return value


# -- recognizers ------------------------------------------------------------------------------
def _default_recognizers() -> tuple[Recognizer, ...]:
    from veil.discover.recognizers import RECOGNIZERS  # optional at import time

    return tuple(RECOGNIZERS)


@dataclass
class _EntityHits:
    entity: Entity
    contained: float = 0.0  # share of cells with a match inside
    whole: float = 0.0  # share of cells that are a match as a whole
    score: float = 0.0  # mean score over the whole-cell matches (else the contained ones)


# Recognizers run in this order of entities: specific, validated ones first, so a column they
# settle never pays for the slow, generic ones (phone-number parsing, name lexicons).
_PRIORITY = (
    Entity.US_SSN, Entity.EMAIL_ADDRESS, Entity.CREDIT_CARD, Entity.IBAN_CODE, Entity.IP_ADDRESS,
    Entity.URL, Entity.DATE_TIME, Entity.DATE_OF_BIRTH, Entity.PHONE_NUMBER,
    Entity.STREET_ADDRESS, Entity.PERSON,
)
_CANDIDATE_BLOCK = 1 << 22  # bytes of joined values per string in the candidate test
_SETTLED = 0.9  # whole-cell share of one of _PRIORITY's entities that decides a short column


def _ordered(recognizers: Sequence[Recognizer]) -> list[Recognizer]:
    rank = {e: i for i, e in enumerate(_PRIORITY)}
    return sorted(recognizers, key=lambda r: rank.get(Entity(r.entity), len(rank)))


def _with_candidates(recognizers: Sequence[Recognizer], uniq: pl.Series) -> list[Recognizer]:
    """Drop the pattern recognizers whose regex matches no value.

    All patterns are tested in one Polars pass over the distinct values joined by newlines
    into a few large strings: a regex search stops at its first match, so a live pattern
    costs almost nothing and only the dead ones read everything, without per-value overhead.
    ``(?m)`` keeps ``^``/``$`` matching at each value's edges; a newline is a word boundary
    like the edge of a string, so every match inside a value is a match in the joined text
    (a match across two values only keeps a recognizer that finds nothing: slower, never
    wrong). Patterns with ``\\A``/``\\z`` are always kept.
    """
    patterned = [(i, r.pattern) for i, r in enumerate(recognizers)
                 if isinstance(getattr(r, "pattern", None), str)
                 and "\\A" not in r.pattern and "\\z" not in r.pattern]
    if not patterned or len(uniq) == 0:
        return list(recognizers)
    blocks = (uniq.to_frame("v")
              .with_columns((pl.col("v").str.len_bytes().cum_sum() // _CANDIDATE_BLOCK)
                            .alias("block"))
              .group_by("block").agg(pl.col("v").str.join("\n")))
    any_hit = blocks.select(
        pl.col("v").str.contains(f"(?m:{pattern})").any().alias(str(i))
        for i, pattern in patterned
    ).row(0)
    dead = {i for (i, _), hit in zip(patterned, any_hit, strict=True) if not hit}
    return [r for i, r in enumerate(recognizers) if i not in dead]


def _hits(
    recognizers: Sequence[Recognizer], uniq: pl.Series, weight: pl.Series, total: int,
    *, whole: bool,
) -> dict[Entity, _EntityHits]:
    """Per entity, the share of cells any of its recognizers matches, over distinct values.

    A recognizer sees only the values its entity's earlier recognizers left unmatched, so a
    strict phone check followed by a loose one validates each number once. Short columns
    (``whole``) ask for whole-cell matches first and for contained ones only among the rest;
    once an entity of ``_PRIORITY`` covers ``_SETTLED`` of the cells as whole cells the column
    is decided and later recognizers are skipped. Free text asks for contained matches only.
    """
    masks: dict[Entity, _Matched] = {}
    recognizers = _with_candidates(recognizers, uniq)
    for recognizer in _ordered(recognizers) if whole else recognizers:
        entity = Entity(recognizer.entity)
        matched = masks.setdefault(entity, _Matched.empty(len(uniq)))
        if whole:
            matched.add(recognizer, uniq, whole=True)
        matched.add(recognizer, uniq, whole=False)
        if whole and entity in _PRIORITY and matched.share(weight, total, whole=True) >= _SETTLED:
            break
    found = {}
    for entity, matched in masks.items():
        contained = matched.share(weight, total, whole=False)
        if contained:
            found[entity] = _EntityHits(entity, contained, matched.share(weight, total, whole=True),
                                        matched.score(weight))
    return found


@dataclass
class _Matched:
    """Which distinct values an entity's recognizers matched so far, and with what score."""

    whole: pl.Series  # Boolean per distinct value
    inside: pl.Series  # Boolean: contains a match (whole matches included)
    whole_score: pl.Series  # Float64: the first whole-cell recognizer's score
    inside_score: pl.Series  # Float64: the first recognizer's score

    @classmethod
    def empty(cls, n: int) -> _Matched:
        no, zero = pl.repeat(False, n, eager=True), pl.repeat(0.0, n, eager=True)
        return cls(no, no.clone(), zero, zero.clone())

    def add(self, recognizer: Recognizer, uniq: pl.Series, *, whole: bool) -> None:
        todo = (~self.whole if whole else ~self.inside).arg_true()
        if len(todo) == 0:
            return
        values = uniq.gather(todo)
        scores = _as_scores(
            recognizer.full_match(values) if whole else recognizer.matches(values),
            len(values))
        hit = scores > 0
        if not hit.any():
            return
        rows, got = todo.filter(hit), scores.filter(hit)
        if whole:
            self.whole = self.whole.scatter(rows, True)
            self.whole_score = self.whole_score.scatter(rows, got)
        self.inside = self.inside.scatter(rows, True)
        self.inside_score = self.inside_score.scatter(rows, got)

    def share(self, weight: pl.Series, total: int, *, whole: bool) -> float:
        return float(weight.filter(self.whole if whole else self.inside).sum()) / total

    def score(self, weight: pl.Series) -> float:
        """Mean score over the whole-cell matches, or over the contained ones if none."""
        mask, scores = ((self.whole, self.whole_score) if self.whole.any()
                        else (self.inside, self.inside_score))
        return _weighted_mean(scores.filter(mask), weight.filter(mask))


def _as_scores(scores: pl.Series | Iterable[float], length: int) -> pl.Series:
    series = scores if isinstance(scores, pl.Series) else pl.Series(list(scores))
    if len(series) != length:
        msg = f"a recognizer returned {len(series)} scores for {length} values"
        raise RuntimeError(msg)
    return series.cast(pl.Float64).fill_null(0.0).fill_nan(0.0)


def _weighted_mean(values: pl.Series, weight: pl.Series) -> float:
    total = weight.sum()
    return float((values * weight).sum() / total) if total else 0.0


# -- one column -------------------------------------------------------------------------------
@dataclass
class _Column:
    """Evidence gathered about one column before the decision."""

    name: str
    dtype: pl.DataType
    scanned: int
    non_null: int
    hint: NameRule | None
    distinct_ratio: float = 0.0
    mean_chars: float = 0.0
    mean_tokens: float = 0.0
    free_text: bool = False
    hits: dict[Entity, _EntityHits] = field(default_factory=dict)
    icd10_share: float = 0.0
    date_share: float = 0.0
    vocabulary: str | None = None
    vocabulary_share: float = 0.0
    over_89_share: float | None = None

    @property
    def null_share(self) -> float:
        return 1 - self.non_null / self.scanned if self.scanned else 1.0

    def evidence(self, entity: Entity | None, **extra: Any) -> dict[str, Any]:
        hit = self.hits.get(entity) if entity is not None else None
        evidence: dict[str, Any] = {
            "match_share": hit.contained if hit else 0.0,
            "whole_cell_share": hit.whole if hit else 0.0,
            "null_share": self.null_share,
            "distinct_ratio": self.distinct_ratio,
            "name_hint": self.hint.name if self.hint else None,
            "scanned": self.scanned,
            "dtype": str(self.dtype),
        }
        if self.free_text:
            evidence["mean_chars"] = self.mean_chars
            evidence["mean_tokens"] = self.mean_tokens
        if self.icd10_share:
            evidence["icd10_share"] = self.icd10_share
        if self.over_89_share is not None:
            evidence["over_89_share"] = self.over_89_share
        evidence.update(extra)
        return evidence


_SEX = frozenset({"m", "f", "male", "female", "man", "woman", "men", "women", "x", "u",
                  "unknown", "other", "non-binary", "nonbinary", "intersex", "diverse",
                  "weiblich", "mannlich", "masculino", "femenino", "homme", "femme", "h", "w"})
_ETHNIC_WORDS = ("white", "black", "asian", "hispanic", "latin", "caucasian", "african",
                 "native", "pacific", "islander", "indian", "alaska", "multiracial",
                 "two or more", "mixed", "arab", "middle eastern")
_FILLER = frozenset({"unknown", "other", "declined", "not reported", "prefer not to say", "",
                     "none", "n/a", "na"})
_MARITAL = frozenset({"single", "married", "divorced", "widowed", "separated",
                      "never married", "domestic partner", "partnered", "civil partnership",
                      "unknown", "other"})
_US_STATES = frozenset(re.findall(r"[A-Z]{2}",
    "AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ "
    "NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY DC PR GU VI AS MP",
))


def _vocabulary(uniq: pl.Series, weight: pl.Series, total: int) -> tuple[str | None, float]:
    """A demographic vocabulary the (few) distinct values come from, and its cell share."""
    if not 1 <= len(uniq) <= 64:
        return None, 0.0
    folded = [_fold(v) for v in uniq.to_list()]
    counts = weight.to_list()

    def share(test: Any) -> tuple[float, int]:
        inside = [(v, c) for v, c in zip(folded, counts, strict=True) if test(v)]
        return sum(c for _, c in inside) / total, len({v for v, _ in inside} - _FILLER)

    checks = (
        ("sex", lambda v: v in _SEX, 2),
        ("ethnicity", lambda v: v in _FILLER or any(w in v for w in _ETHNIC_WORDS), 3),
        ("marital_status", lambda v: v in _MARITAL, 2),
        ("state", lambda v: v.upper() in _US_STATES, 3),
    )
    for label, test, min_distinct in checks:
        covered, distinct = share(test)
        if covered >= 0.95 and distinct >= min_distinct:
            return label, covered
    return None, 0.0


def _fold(value: Any) -> str:
    text = unicodedata.normalize("NFKD", str(value)).encode("ascii", "ignore").decode()
    return text.strip().lower()


def _gather(
    name: str, series: pl.Series, recognizers: Sequence[Recognizer], *, force_text: bool,
) -> _Column:
    """Collect the value evidence for a scannable (non-nested, non-binary) column."""
    dtype = series.dtype
    col = _Column(name, dtype, len(series), len(series) - series.null_count(), name_hint(name))
    if col.non_null == 0:
        return col
    values = series.drop_nulls()
    if dtype == pl.Date or dtype == pl.Datetime:
        col.distinct_ratio = values.n_unique() / col.non_null
        col.date_share = 1.0
        if col.hint is not None and col.hint.name == "birth_date":
            col.over_89_share = _over_89_from_birth(values)
        return col
    if dtype.is_float() or dtype.is_decimal() or dtype == pl.Boolean or dtype.is_temporal():
        col.distinct_ratio = values.n_unique() / col.non_null
        if dtype.is_numeric() and col.hint is not None and col.hint.name == "age":
            col.over_89_share = float((values.cast(pl.Float64) > 89).mean())  # type: ignore[arg-type]
        return col
    text = values.cast(pl.String).str.slice(0, MAX_CELL_CHARS).rename("value")
    counts = text.value_counts(sort=False)
    uniq, weight = counts["value"], counts["count"]
    col.distinct_ratio = len(uniq) / col.non_null
    lengths = uniq.str.len_chars()
    col.mean_chars = _weighted_mean(lengths.cast(pl.Float64), weight)
    col.mean_tokens = _weighted_mean(
        uniq.str.count_matches(" ", literal=True).cast(pl.Float64) + 1.0, weight)
    col.free_text = force_text or (col.mean_chars >= _TEXT_CHARS
                                   and col.mean_tokens >= _TEXT_TOKENS)
    col.hits = _hits(recognizers, uniq, weight, col.non_null, whole=not col.free_text)
    if dtype.is_integer() and col.hint is not None and col.hint.name == "age":
        col.over_89_share = float((values.cast(pl.Float64) > 89).mean())  # type: ignore[arg-type]
    if not col.free_text:
        stripped = uniq.str.strip_chars()
        col.icd10_share = weight.filter(stripped.str.contains(_ICD10)).sum() / col.non_null
        col.date_share = weight.filter(stripped.str.contains(_DATE)).sum() / col.non_null
        col.vocabulary, col.vocabulary_share = _vocabulary(uniq, weight, col.non_null)
    return col


def _over_89_from_birth(values: pl.Series) -> float:
    """Share of birth dates more than 89 years before the latest one (a proxy for age > 89)."""
    days = values.cast(pl.Date).cast(pl.Int64)
    latest = days.max()
    return float(((latest - days) > int(89.5 * 365.25)).mean())  # type: ignore[operator]


def _noisy_or(*confidences: float) -> float:
    remaining = 1.0
    for c in confidences:
        remaining *= 1.0 - min(max(c, 0.0), 1.0)
    return round(1.0 - remaining, 4)


def _decide(col: _Column) -> ColumnFinding:
    """Turn gathered evidence into a verdict, in the order the module docstring gives."""
    hint = col.hint
    hint_conf = _HINT_CONFIDENCE if hint else 0.0

    def finding(category: Category, entity: Entity | None, confidence: float, reason: str,
                *, source: Entity | None = None, **extra: Any) -> ColumnFinding:
        evidence = col.evidence(source or entity, reason=reason, **extra)
        return ColumnFinding(col.name, category, entity, round(min(confidence, 1.0), 4),
                             evidence)

    if col.non_null == 0:
        if hint:
            return finding(hint.category, hint.entity, hint_conf / 2, "name_hint (all null)")
        return finding(Category.OTHER, None, 0.5, "all null")

    # 2. whole-cell values
    if col.date_share >= _MOSTLY and not col.hits:
        hinted_birth = hint is not None and hint.entity is Entity.DATE_OF_BIRTH
        entity = Entity.DATE_OF_BIRTH if hinted_birth else Entity.DATE_TIME
        if hint is None or hint.category is Category.QUASI_IDENTIFIER or hinted_birth:
            return finding(Category.QUASI_IDENTIFIER, entity,
                           _noisy_or(col.date_share * 0.9, hint_conf), "date values",
                           match_share=col.date_share, whole_cell_share=col.date_share)
    icd = col.icd10_share >= _MOSTLY and (hint is None or hint.category is Category.SENSITIVE)
    best = _best_whole(col)
    if best is not None:
        category, entity = category_of(best.entity), best.entity
        weak = entity in _WEAK_ENTITIES
        if icd and weak:
            return _icd_finding(col, finding)
        if weak and hint is not None and hint.entity is not entity and not (
            entity is Entity.DATE_TIME and hint.entity is Entity.DATE_OF_BIRTH
        ):
            return finding(hint.category, hint.entity, _noisy_or(hint_conf, 0.2),
                           "name_hint over weak pattern", weak_pattern=str(entity),
                           weak_share=best.whole)
        if entity is Entity.DATE_TIME and hint is not None and hint.name == "birth_date":
            entity = Entity.DATE_OF_BIRTH
        agrees = hint is not None and hint.entity is entity
        return finding(category, entity,
                       _noisy_or(best.whole * best.score, hint_conf if agrees else 0.0),
                       "whole-cell values", source=best.entity)
    if icd:
        return _icd_finding(col, finding)
    if col.date_share >= _MOSTLY and (hint is None or hint.category is not Category.SENSITIVE):
        entity = Entity.DATE_OF_BIRTH if hint and hint.name == "birth_date" else Entity.DATE_TIME
        return finding(Category.QUASI_IDENTIFIER, entity, col.date_share * 0.9, "date values",
                       match_share=col.date_share, whole_cell_share=col.date_share)

    # 3. identifiers inside the cells
    contained = {e: h for e, h in col.hits.items() if h.contained > 0}
    if col.free_text:
        direct = {e: h for e, h in contained.items()
                  if e in DIRECT_ENTITIES and h.contained >= _TEXT_CONTAINS}
        if direct:
            inside = {str(e): h.contained for e, h in sorted(contained.items())}
            share = max(h.contained for h in direct.values())
            return finding(Category.DIRECT_IDENTIFIER, None,
                           _noisy_or(*(h.contained * h.score for h in direct.values())),
                           "free text containing identifiers", contained=inside,
                           match_share=share)
    else:
        strong = [h for e, h in contained.items()
                  if e in _STRONG_ENTITIES and h.contained >= _MOSTLY]
        if strong:
            top = max(strong, key=lambda h: (h.contained, h.score))
            return finding(Category.DIRECT_IDENTIFIER, top.entity, top.contained * top.score,
                           "contained values")

    # 4. column name
    if hint is not None:
        entity = hint.entity
        corroborated = entity is not None and entity in col.hits and (
            col.hits[entity].whole >= _CORROBORATED)
        conf = _noisy_or(hint_conf, col.hits[entity].whole if corroborated else 0.0)  # type: ignore[index]
        extra: dict[str, Any] = {}
        if col.free_text and contained:
            extra["contained"] = {str(e): h.contained for e, h in sorted(contained.items())}
        return finding(hint.category, entity, conf, "name_hint", **extra)

    # 5. unique per-row values
    dtype = col.dtype
    if ((dtype == pl.String or dtype.is_integer() or dtype == pl.Categorical)
            and col.non_null >= _UNIQUE_MIN_CELLS and col.distinct_ratio >= _UNIQUE_RATIO
            and col.mean_chars <= _UNIQUE_MAX_CHARS and not col.free_text):
        return finding(Category.DIRECT_IDENTIFIER, None, 0.7 * col.distinct_ratio,
                       "unique per-row values (record identifier)")

    # 6. demographic vocabularies
    if col.vocabulary is not None:
        return finding(Category.QUASI_IDENTIFIER, None, 0.8 * col.vocabulary_share,
                       f"{col.vocabulary} vocabulary", vocabulary=col.vocabulary)

    # 7. nothing personal found
    if col.free_text and contained:
        inside = {str(e): h.contained for e, h in sorted(contained.items())}
        quasi = {e: h for e, h in contained.items()
                 if e in QUASI_ENTITIES and h.contained >= _TEXT_CONTAINS}
        if quasi:
            return finding(Category.QUASI_IDENTIFIER, None,
                           _noisy_or(*(h.contained * h.score for h in quasi.values())),
                           "free text containing quasi-identifiers", contained=inside)
        return finding(Category.OTHER, None, 0.5, "no identifying values", contained=inside)
    best_share = max((h.whole for h in col.hits.values()), default=0.0)
    return finding(Category.OTHER, None, round(1.0 - best_share, 4), "no identifying values")


def _best_whole(col: _Column) -> _EntityHits | None:
    """The entity most cells are, as a whole; validated patterns beat generic ones."""
    mostly = [h for h in col.hits.values() if h.whole >= _MOSTLY]
    if not mostly:
        return None
    return max(mostly, key=lambda h: (h.entity not in _WEAK_ENTITIES, h.whole, h.score))


def _icd_finding(col: _Column, finding: Any) -> ColumnFinding:
    hint = col.hint
    agrees = hint is not None and hint.category is Category.SENSITIVE
    return finding(Category.SENSITIVE, None,
                   _noisy_or(col.icd10_share * 0.8, _HINT_CONFIDENCE if agrees else 0.0),
                   "ICD-10 diagnosis codes")


def _skipped(name: str, series: pl.Series, why: str) -> ColumnFinding:
    """A column whose values cannot be pattern-matched: OTHER if nested, else the name rule."""
    hint = name_hint(name)
    nested = series.dtype.is_nested()
    evidence = {
        "match_share": 0.0, "whole_cell_share": 0.0,
        "null_share": series.null_count() / len(series) if len(series) else 1.0,
        "distinct_ratio": None, "name_hint": hint.name if hint else None,
        "scanned": 0, "dtype": str(series.dtype), "reason": f"skipped: {why}",
    }
    if hint is None or nested:
        return ColumnFinding(name, Category.OTHER, None, 0.0, evidence)
    return ColumnFinding(name, hint.category, hint.entity, _HINT_CONFIDENCE / 2, evidence)


def _unsupported(dtype: pl.DataType) -> str | None:
    if dtype.is_nested():
        return "nested type"
    if dtype == pl.Binary:
        return "binary type"
    if dtype == pl.Object:
        return "unsupported type Object (mixed Python objects); cast it to String to scan it"
    return None


# -- quasi-identifier risk --------------------------------------------------------------------
def qi_risk(
    frame: pl.DataFrame, columns: Sequence[str], *, max_combination: int = 3,
    limit: int = MAX_QI_COMBINATIONS,
) -> tuple[list[QiRisk], bool]:
    """Unique share of every combination of 1..``max_combination`` of ``columns`` on ``frame``,
    worst first, and whether ``limit`` cut the enumeration short."""
    if not columns or frame.height == 0 or max_combination < 1:
        return [], False
    # Dense integer codes: one cheap pass per column, then every group_by is over integers.
    codes = frame.select(pl.col(c).rank("dense").fill_null(0).alias(c) for c in columns)
    order = sorted(columns, key=lambda c: (-codes[c].max(), columns.index(c)))  # type: ignore[operator]
    combos: list[tuple[str, ...]] = []
    truncated = False
    for size in range(1, min(max_combination, len(order)) + 1):
        for combo in itertools.combinations(order, size):
            if len(combos) >= limit:
                truncated = True
                break
            combos.append(combo)
    risks = []
    rows = frame.height
    for combo in combos:
        sizes = codes.group_by(list(combo)).len()["len"]
        risks.append(QiRisk(combo, float((sizes == 1).sum() / rows), len(sizes)))
    risks.sort(key=lambda r: (-r.unique_share, len(r.columns), r.columns))
    return risks, truncated


# -- the table scan ---------------------------------------------------------------------------
def scan_table(
    frame: pl.DataFrame,
    *,
    sample: int | None = 10_000,
    seed: int = 0,
    max_combination: int = 3,
    recognizers: Sequence[Recognizer] | None = None,
) -> TableScan:
    """Classify every column of ``frame`` (see the module docstring for the rules).

    ``sample=None`` scans every cell; otherwise a uniform, seeded sample of ``sample`` rows
    (all rows when the table is smaller). Raises :class:`~veil.errors.InputError` for an empty
    table; never fails on a single column's contents.
    """
    return _scan(frame, sample=sample, seed=seed, max_combination=max_combination,
                 recognizers=recognizers, text_columns=(), rows=_FRAME_ROWS, source=None)


_FRAME_ROWS = -1  # _scan's rows: the frame's own height (a file's may be unknown: None)


def _text_bytes(series: pl.Series) -> int:
    return int(series.str.len_bytes().sum() or 0) if series.dtype == pl.String else 0


def _scan(
    frame: pl.DataFrame, *, sample: int | None, seed: int, max_combination: int,
    recognizers: Sequence[Recognizer] | None, text_columns: Iterable[str], rows: int | None,
    source: str | None,
) -> TableScan:
    start = time.perf_counter()
    if isinstance(frame, pl.LazyFrame):
        frame = frame.collect()
    if not isinstance(frame, pl.DataFrame):
        msg = f"scan_table needs a polars DataFrame; got {type(frame).__name__}"
        raise InputError(msg)
    if frame.width == 0 or frame.height == 0:
        msg = (f"empty table: {frame.height} rows x {frame.width} columns; "
               "a scan needs at least one row and one column")
        raise InputError(msg)
    if sample is not None and (isinstance(sample, bool) or sample < 1):
        msg = f"sample must be a positive number of rows or None for a full scan; got {sample!r}"
        raise InputError(msg)
    if max_combination < 0:
        msg = f"max_combination must be >= 0; got {max_combination}"
        raise InputError(msg)
    recs = _default_recognizers() if recognizers is None else tuple(recognizers)
    forced = set(text_columns)

    skipped = {c: why for c, dtype in frame.schema.items()
               if (why := _unsupported(dtype)) is not None}
    findings = {c: _skipped(c, frame[c], why) for c, why in skipped.items()}
    notes = [f"column {c!r} ({frame.schema[c]}) was not scanned: {why}"
             for c, why in skipped.items()]
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=3)

    scannable = [c for c in frame.columns if c not in skipped]
    scanned = frame.select(scannable)
    if sample is not None and scanned.height > sample:
        scanned = scanned.sample(n=sample, seed=seed)
    def judge(name: str) -> ColumnFinding:
        series = scanned[name]
        if series.dtype in (pl.Categorical, pl.Enum):
            series = series.cast(pl.String)
        return _decide(_gather(name, series, recs, force_text=name in forced))

    # Columns are independent and their regex passes run in Polars without the GIL, so two
    # workers keep both cores busy; the slowest (free text) column then sets the pace.
    # The longest text goes first so it is not left running alone at the end.
    order = sorted(scannable, key=lambda c: -_text_bytes(scanned[c]))
    with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
        findings |= dict(zip(order, pool.map(judge, order), strict=True))

    columns = [findings[c] for c in frame.columns]
    quasi = [f.column for f in columns
             if f.category is Category.QUASI_IDENTIFIER and f.column in scannable]
    risks, truncated = qi_risk(scanned, quasi, max_combination=max_combination)
    return TableScan(
        columns=columns,
        qi_risk=risks,
        rows=frame.height if rows == _FRAME_ROWS else rows,
        scanned_rows=scanned.height if scannable else 0,
        seconds=time.perf_counter() - start,
        qi_truncated=truncated,
        source=source,
        warnings=notes,
    )


# -- files ------------------------------------------------------------------------------------
_CSV = {".csv": ",", ".tsv": "\t", ".tab": "\t"}
_TEXT = {".txt", ".md", ".log", ".text"}
_PARQUET = {".parquet", ".pq"}
_NDJSON = {".jsonl", ".ndjson"}


def scan_file(
    path: str | Path,
    *,
    sample: int | None = 10_000,
    seed: int = 0,
    max_combination: int = 3,
    recognizers: Sequence[Recognizer] | None = None,
) -> TableScan:
    """Scan a CSV/TSV, Parquet, JSON-lines or text file (one ``text`` column of lines).

    With ``sample`` only the *first* ``sample`` rows are read, so a 10 GB file costs the same
    as a small one; this head is not a uniform sample, so sorted files bias it (use
    ``sample=None`` or :func:`scan_table` on a loaded frame for a uniform one). Unreadable
    input raises :class:`~veil.errors.MalformedSourceError` saying why.
    """
    path = Path(path)
    frame, rows = read_source(path, limit=sample)
    return _scan(frame, sample=None, seed=seed, max_combination=max_combination,
                 recognizers=recognizers,
                 text_columns=("text",) if path.suffix.lower() in _TEXT else (),
                 rows=rows, source=str(path))


def read_source(path: str | Path, *, limit: int | None = None) -> tuple[pl.DataFrame, int | None]:
    """The first ``limit`` rows (all if ``None``) of a file, and its row count if known."""
    path = Path(path)
    suffix = path.suffix.lower()
    if not path.is_file():
        msg = f"no such file: {path}"
        raise InputError(msg)
    if limit is not None and (isinstance(limit, bool) or limit < 1):
        msg = f"sample must be a positive number of rows or None; got {limit!r}"
        raise InputError(msg)
    with path.open("rb") as fh:
        head = fh.read(_SNIFF_BYTES)
    if not head:
        msg = f"{path} is an empty file; there is nothing to scan"
        raise MalformedSourceError(msg)
    if suffix in _PARQUET:
        return _read_parquet(path, head, limit)
    if suffix not in _CSV and suffix not in _TEXT and suffix not in _NDJSON:
        msg = (f"cannot scan {path.name}: unsupported file type {suffix or '(none)'}; "
               f"use one of {', '.join(sorted({*_CSV, *_TEXT, *_PARQUET, *_NDJSON}))}")
        raise InputError(msg)
    nul = head.find(b"\x00")
    if nul >= 0:
        msg = f"{path} looks binary (NUL byte at offset {nul}), not {suffix[1:].upper()} text"
        raise MalformedSourceError(msg)
    _check_utf8(path, head, final=len(head) < _SNIFF_BYTES)
    if suffix in _TEXT:
        return _read_lines(path, limit)
    return _read_rows(path, suffix, limit)


def _read_rows(path: Path, suffix: str, limit: int | None) -> tuple[pl.DataFrame, int | None]:
    try:
        if limit is not None:
            frame, complete = _read_head(path, suffix, limit)
        else:
            frame, complete = _parse(path, suffix, None), True
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        if "utf" in str(exc).lower():
            _raise_if_not_utf8(path)
        msg = f"cannot parse {path} as {suffix[1:].upper()}: {str(exc).splitlines()[0]}"
        raise MalformedSourceError(msg) from None
    if frame.height == 0 or frame.width == 0:
        msg = f"{path} holds no rows (only a header or blank lines)"
        raise MalformedSourceError(msg)
    return frame, frame.height if complete else None


def _read_head(path: Path, suffix: str, limit: int) -> tuple[pl.DataFrame, bool]:
    """The first ``limit`` rows, parsed from a prefix of the file that grows 4x until it holds
    them: Polars' own ``n_rows`` still maps and checks the whole file. Returns the frame and
    whether the whole file was read."""
    size = _HEAD_BYTES
    with path.open("rb") as fh:
        while True:
            fh.seek(0)
            data = fh.read(size)
            whole = len(data) < size or fh.read(1) == b""
            if not whole:
                data = data[: data.rfind(b"\n") + 1] or data  # whole lines only
            _check_utf8(path, data, final=True)
            try:
                frame = _parse(data, suffix, limit + 1)  # one more: is there more?
            except pl.exceptions.PolarsError:
                if whole:
                    raise
                frame = None  # a quoted field may span the cut: read more
            if frame is not None and (whole or frame.height >= limit):
                return frame.head(limit), whole and frame.height <= limit
            size *= 4


def _parse(source: Path | bytes, suffix: str, limit: int | None) -> pl.DataFrame:
    """Parse CSV/TSV or JSON lines; a column whose type the first rows mis-predict sends the
    read back as all-strings rather than failing."""
    data = io.BytesIO(source) if isinstance(source, bytes) else source
    if suffix in _NDJSON:
        return pl.read_ndjson(data, infer_schema_length=10_000, n_rows=limit)
    options: dict[str, Any] = {"separator": _CSV[suffix], "n_rows": limit}
    try:
        return pl.read_csv(data, infer_schema_length=10_000, try_parse_dates=True, **options)
    except pl.exceptions.ComputeError as exc:
        if "utf" in str(exc).lower():
            raise
        if isinstance(data, io.BytesIO):
            data.seek(0)
        return pl.read_csv(data, infer_schema=False, **options)


def _read_parquet(path: Path, head: bytes, limit: int | None) -> tuple[pl.DataFrame, int]:
    if not head.startswith(b"PAR1"):
        msg = f"{path} is not a Parquet file (it does not start with the PAR1 magic bytes)"
        raise MalformedSourceError(msg)
    try:
        lazy = pl.scan_parquet(path)
        rows = int(lazy.select(pl.len()).collect().item())  # from the footer, no data read
        frame = (lazy if limit is None else lazy.head(limit)).collect()
    except (pl.exceptions.PolarsError, OSError) as exc:
        msg = f"cannot read {path} as Parquet: {str(exc).splitlines()[0]}"
        raise MalformedSourceError(msg) from None
    if frame.width == 0 or rows == 0:
        msg = f"{path} holds no rows"
        raise MalformedSourceError(msg)
    return frame, rows


def _not_utf8(path: Path, offset: int, byte: int) -> MalformedSourceError:
    return MalformedSourceError(
        f"{path} is not valid UTF-8: byte 0x{byte:02x} at offset {offset} cannot be decoded; "
        "re-encode the file as UTF-8 (for example: iconv -f latin1 -t utf-8)")


def _check_utf8(path: Path, head: bytes, *, final: bool) -> None:
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=final)
    except UnicodeDecodeError as exc:
        raise _not_utf8(path, exc.start, head[exc.start]) from None


def _raise_if_not_utf8(path: Path) -> None:
    """On a parse failure, find the first byte that is not UTF-8 (reads the file once)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            pending = len(decoder.getstate()[0])
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                data = decoder.getstate()[0] + chunk if pending else chunk
                start = offset - pending + exc.start
                raise _not_utf8(path, start, (data[exc.start:] or b"\x00")[0]) from None
            offset += len(chunk)


def _read_lines(path: Path, limit: int | None) -> tuple[pl.DataFrame, int | None]:
    """Non-blank lines, decoded lazily chunk by chunk so only what is needed is read."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    lines: list[str] = []
    carry, offset, complete = "", 0, True
    with path.open("rb") as fh:
        while True:
            chunk = fh.read(1 << 16)
            pending = len(decoder.getstate()[0])
            try:
                text = decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                data = (decoder.getstate()[0] + chunk) if pending else chunk
                byte = (data[exc.start:] or b"\x00")[0]
                raise _not_utf8(path, offset - pending + exc.start, byte) from None
            offset += len(chunk)
            parts = (carry + text).splitlines(keepends=True)
            carry = parts.pop() if parts and chunk and not parts[-1].endswith(("\n", "\r")) else ""
            if len(carry) > _MAX_LINE_CHARS:
                parts.append(carry)
                carry = ""
            lines.extend(p.rstrip("\r\n") for p in parts if p.strip())
            if limit is not None and len(lines) >= limit:
                complete = len(lines) == limit and not carry and fh.read(1) == b""
                del lines[limit:]
                break
            if not chunk:
                break
    if not lines:
        msg = f"{path} holds only blank lines; there is nothing to scan"
        raise MalformedSourceError(msg)
    frame = pl.DataFrame({"text": lines}, schema={"text": pl.String})
    return frame, len(lines) if complete else None

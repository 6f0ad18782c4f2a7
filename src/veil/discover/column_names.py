"""Column-name keyword rules: what a column's name alone says it holds.

Names are weaker evidence than values (see ``veil.discover.table``), but they decide a column
whose values say nothing, and overrule generic value patterns they disagree with. The name is
accent-folded and split on case and punctuation before the rules, most specific first, match.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from veil.discover.entities import Category, Entity

__all__ = ["NAME_RULES", "NameRule", "name_hint"]


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

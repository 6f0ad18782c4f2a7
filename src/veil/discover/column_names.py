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
    return NameRule(name, category, entity, re.compile(_tokens(words)))


def _tokens(words: tuple[str, ...]) -> str:
    alternatives = "|".join(w[:-1] + "[a-z0-9]*" if w.endswith("*") else w for w in words)
    return f"(?:^|_)(?:{alternatives})(?:_|$)"


_NUM = "(?:id|no|nr|num|number|nbr)"  # suffixes that make a word a number: patient_no
_D, _Q, _S = Category.DIRECT_IDENTIFIER, Category.QUASI_IDENTIFIER, Category.SENSITIVE


def _id_words(*words: str, bare: tuple[str, ...] = ()) -> str:
    """A name regex for one national id: ``words`` as tokens anywhere in the name; ``bare``
    (short words with other meanings: "abn" is also "abnormal", "cpr" resuscitation) only as
    the whole name or with a number suffix ("abn_no")."""
    alone = f"|^(?:{'|'.join(bare)})(?:_?{_NUM})?$" if bare else ""
    return _tokens(words) + alone


# National ids by name, in the languages of their countries. They share the rule name
# "national_id" (HIPAA's "other unique identifying number") and set the entity. "nif" is
# Spain's (the DNI as a tax number, the entity ES_NIF); Portugal's is "nif_pt"/"contribuinte".
# "pan" stays a card number (PCI's primary account number) and "medicare" a US health plan
# number: the values tell an Indian PAN or an Australian Medicare card apart.
_NATIONAL_ID_NAMES: tuple[tuple[Entity, str], ...] = (
    (Entity.UK_NHS, _id_words("nhs", "nhsno")),
    (Entity.UK_NINO, _id_words("nino", "ni_?(?:no|number)", "national_?insurance*")),
    (Entity.DE_TAX_ID, _id_words("steuer_?id*", "steuer_?identifikationsnummer",
                                 "steueridentifikationsnummer", "idnr")),
    (Entity.DE_ID_CARD, _id_words("personalausweis*", "ausweis_?(?:no|nr|nummer|number)",
                                  "ausweisnummer")),
    (Entity.FR_NIR, _id_words("insee", "numero_?securite_?sociale", "num_?secu",
                              "securite_?sociale", "no_?secu", bare=("nir",))),
    (Entity.PT_NIF, _id_words("nif_?pt", "contribuinte", "numero_?contribuinte")),
    (Entity.ES_NIE, _id_words("nie", "numero_?extranjero")),
    (Entity.ES_NIF, _id_words("dni", "nif", "documento_?nacional*")),
    (Entity.IT_FISCAL_CODE, _id_words("codice_?fiscale", "cod_?fiscale", "codicefiscale",
                                      "fiscal_?code")),
    (Entity.NL_BSN, _id_words("bsn", "burgerservicenummer", "sofi_?nummer", "sofinummer")),
    (Entity.BE_NATIONAL_NUMBER, _id_words("rijksregisternummer", "rijksregister_?nummer",
                                          "registre_?national", "niss", "insz",
                                          "numero_?national")),
    (Entity.PL_PESEL, _id_words("pesel")),
    (Entity.SE_PERSONNUMMER, _id_words("personnummer", "personnr")),
    (Entity.DK_CPR, _id_words("cpr_?(?:no|nr|num|nummer|number)", bare=("cpr",))),
    (Entity.FI_PERSONAL_IDENTITY_CODE, _id_words("hetu", "henkilotunnus",
                                                 "personbeteckning")),
    # NFKD leaves no "o" for "ø": "fødselsnummer" folds to "fdselsnummer".
    (Entity.NO_FODSELSNUMMER, _id_words("fodselsnummer", "foedselsnummer", "fdselsnummer",
                                        bare=("fnr",))),
    (Entity.IE_PPSN, _id_words("ppsn", "pps_?(?:no|nr|num|number)",
                               "personal_?public_?service*")),
    (Entity.AT_SVNR, _id_words("svnr", "sv_?nr", "sv_?nummer", "vsnr",
                               "sozialversicherungsnummer", "versicherungsnummer")),
    (Entity.CH_AHV, _id_words("ahv*", "avs", "no_?avs")),
    (Entity.AU_TFN, _id_words("tfn", "tax_?file", "tax_?file_?(?:no|nr|number)")),
    (Entity.AU_ABN, _id_words("australian_?business_?number", bare=("abn",))),
    (Entity.AU_ACN, _id_words("australian_?company_?number", bare=("acn",))),
    (Entity.AU_MEDICARE, _id_words("au_?medicare*", "medicare_?card*")),
    (Entity.IN_AADHAAR, _id_words("aadhaar*", "aadhar*", "adhaar*", "uidai")),
    (Entity.IN_PAN, _id_words("pan_?card*", "permanent_?account_?number")),
    (Entity.SG_NRIC_FIN, _id_words("nric*")),
    (Entity.KR_RRN, _id_words("jumin*", "resident_?registration*", bare=("rrn",))),
    (Entity.TH_TNIN, _id_words("tnin", "thai_?id*", "thai_?national_?id*")),
)
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
    *(NameRule("national_id", _D, entity, re.compile(pattern))
      for entity, pattern in _NATIONAL_ID_NAMES),
    _rule("national_id", _D, None, "national_id*", "nin", "tax_?id", "tin", "itin", "curp",
          "cpf", "id_card", "identity_card"),
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

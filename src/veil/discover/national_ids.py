"""National identifiers of the countries GDPR covers (and Presidio's others), each validated by
its check digits with ``python-stdnum``.

Each identifier is found by the layouts people write it in (its usual spaces, dashes and dots),
one regex per family of shapes (nine digits, ten, eleven...) that the family's ids share, and
validated by stdnum's ``is_valid`` on the match (stdnum strips the separators). The few stdnum
lacks (UK National Insurance number, German ID card, Australian Medicare card,
Singapore NRIC/FIN) get a small function implementing the published rule, cited there.

Scores follow the catalogue's calibration (``veil.discover.recognizers``):

* a distinctive shape (letters and digits, or a layout no other number has, such as the Swiss
  ``756.xxxx.xxxx.xx``) whose check passes scores 0.8-0.95 on its own (the German ID card,
  letters and digits but one check digit and a passport's alphabet, 0.45);
* a bare digit string scores :data:`WEAK` (0.3): a mod-11 or Luhn check passes one random
  number in ten or eleven, and eleven-digit strings alone fit a PESEL, a German tax id, a
  Belgian national number, a Norwegian birth number and an Australian ABN. The id's own name
  nearby ("PESEL", "BSN", "Steuer-ID"...) adds :data:`CONTEXT_BOOST` and decides which one it
  is. A name any of them goes by ("national identity number", "ID number", :data:`ID_CUES`)
  adds the smaller :data:`GENERIC_BOOST`: enough to report the number, not to say whose it is,
  so :data:`REGION_BOOST` then prefers the id of a country the text points to
  (:func:`veil.discover.regions.suggested_regions`). Words are looked for further away than
  for other entities (:func:`id_window`): an id is often named a clause away ("the personal
  identity number of the account holder: ..."), and its check digit already vouches for it.
  In columns, where there are no words, a column whose values nearly all pass one check is
  no accident: it is classified as that id (at a low confidence the column name raises, see
  ``veil.discover.column_names``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from stdnum.at import vnr
from stdnum.au import abn, acn, tfn
from stdnum.be import nn
from stdnum.ch import ssn
from stdnum.de import idnr
from stdnum.dk import cpr
from stdnum.es import dni, nie
from stdnum.fi import hetu
from stdnum.fr import nir
from stdnum.gb import nhs
from stdnum.ie import pps
from stdnum.in_ import aadhaar, pan
from stdnum.it import codicefiscale
from stdnum.kr import rrn
from stdnum.nl import bsn
from stdnum.no import fodselsnummer
from stdnum.pl import pesel
from stdnum.pt import nif
from stdnum.se import personnummer
from stdnum.th import pin

from veil.discover.entities import Entity
from veil.discover.patterns import PatternRecognizer, Recognizer, _clip, _has_words
from veil.discover.regions import suggested_regions

__all__ = [
    "CONTEXT_BOOST",
    "GENERIC_BOOST",
    "ID_CUES",
    "NATIONAL_ID_RECOGNIZERS",
    "REGION_BOOST",
    "WEAK",
    "NationalIdRecognizer",
    "clause_window",
    "id_window",
    "is_au_medicare",
    "is_de_id_card",
    "is_sg_nric",
    "is_uk_nino",
    "names_an_id",
]

WEAK = 0.3
"""Score of a bare digit string whose check passed: it needs its name nearby to count."""
CONTEXT_BOOST = 0.65
"""Added by the id's name nearby: a weak match with context scores 0.95, above a card
number's Luhn check (0.9) that one thirteen-digit id in ten also passes."""
GENERIC_BOOST = 0.3
"""Added by a name any national id goes by (:data:`ID_CUES`): a weak match scores 0.6."""
REGION_BOOST = 0.05
"""Added when the text points to the id's country: between ids of one shape, the local one."""

ID_BEFORE = 64  # characters before an id searched for its name ("... of the holder: ")
ID_AFTER = 48  # and after it ("... is the Austrian social security number")

ID_CUES: tuple[str, ...] = (
    "national identity number", "national identification number", "national id",
    "national id number", "identity number", "identification number",
    "personal identification number", "personal identity number", "personal id",
    "personal number", "personal code", "identity code", "id number", "id no", "id-no",
    "id nr", "id-nr", "id card number", "citizen id",
    "identitätsnummer", "personennummer", "ausweisnummer", "identifikationsnummer",
    "numéro d'identification", "numéro d'identité",
    "número de identificación", "número de identidad", "numero di identificazione",
    "identificatienummer", "persoonsnummer", "numer identyfikacyjny", "identitetsnummer",
    "personnummer",
)
"""Names any of several countries' ids goes by, in the languages veil reads (lower case)."""
# "ID" alone names a personal id as the label of its own clause ("Patient X, ID 123..."), not
# after another noun ("order ID", "user ID", "Steuer-ID").
_ID_LABEL = re.compile(
    r"(?:^|[^\w\s/-]|\s[-–—])[ \t]*(?:id|i\.d\.)(?: no\.?| nr\.?| number)?\s*[:#]?\s*$",
    re.MULTILINE)


_OTHER_NUMBER = re.compile(r"\d{3,}")


def clause_window(text: str, start: int, end: int, before: int, after: int
                  ) -> tuple[str, str]:
    """The lower-cased ``before`` characters before ``text[start:end]`` and ``after`` after
    it, each only up to another number, to which a word beyond it belongs ("personal identity
    code 271238-075A - order 263940548", "Fax 07533 612854, Kundennummer 106347173")."""
    head = text[max(0, start - before):start]
    tail = text[end:end + after]
    numbers = list(_OTHER_NUMBER.finditer(head))
    if numbers:
        head = head[numbers[-1].end():]
    following = _OTHER_NUMBER.search(tail)
    if following:
        tail = tail[:following.start()]
    return head.lower(), tail.lower()


def id_window(text: str, start: int, end: int) -> tuple[str, str]:
    """The text around an id searched for its name: wider than other entities' windows
    (``veil.discover.patterns``), as ids are often named a clause away ("the personal
    identity number of the account holder: ...")."""
    return clause_window(text, start, end, ID_BEFORE, ID_AFTER)


def _names(before: str, after: str, words: tuple[str, ...]) -> bool:
    return _has_words(f"{before} \x00 {after}", words)


def _generic_cue(before: str, after: str) -> bool:
    """Whether the text around a value names a personal id without saying whose."""
    return _names(before, after, ID_CUES) or _ID_LABEL.search(before) is not None


def names_an_id(text: str, start: int, end: int) -> bool:
    """Whether the text around ``text[start:end]`` calls it a personal id of some country
    (a phone number's recognizer yields to it)."""
    return _generic_cue(*id_window(text, start, end))


# ------------------------------------------------------------ checks python-stdnum does not have

_NINO = re.compile(r"[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]\d{6}[A-D]")
_NINO_UNUSED_PREFIXES = frozenset({"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"})


def is_uk_nino(value: str) -> bool:
    """UK National Insurance number: two prefix letters, six digits, suffix A-D (no check digit).

    HMRC National Insurance Manual NIM39110: neither prefix letter is D, F, I, Q, U or V, the
    second is not O, and BG, GB, KN, NK, NT, TN and ZZ are never allocated (so HMRC's specimen
    ``QQ 12 34 56 C`` is not valid).
    """
    compact = value.replace(" ", "").upper()
    return _NINO.fullmatch(compact) is not None and compact[:2] not in _NINO_UNUSED_PREFIXES


_ICAO_WEIGHTS = (7, 3, 1)
_DE_ID_SERIAL = re.compile(r"[CFGHJKLMNPRTVWXYZ][CFGHJKLMNPRTVWXYZ0-9]{8}")


def _icao_check_digit(text: str) -> int:
    """ICAO Doc 9303 part 3, 4.9: digits as themselves, A-Z as 10-35, weights 7, 3, 1, mod 10."""
    return sum(int(ch, 36) * _ICAO_WEIGHTS[i % 3] for i, ch in enumerate(text)) % 10


def is_de_id_card(value: str) -> bool:
    """German identity card (Personalausweis, since November 2010) document number with its
    check digit: a nine-character serial over the alphabet of PAuswV annex 1 (digits and the
    consonants C F G H J K L M N P R T V W X Y Z, a letter first) and the ICAO 9303 check digit
    printed after it in the machine-readable zone: specimen ``T22000129`` + ``3``. A serial
    needs a digit; all letters is a word."""
    compact = value.strip().upper()
    serial, check = compact[:-1], compact[-1:]
    return (len(compact) == 10 and _DE_ID_SERIAL.fullmatch(serial) is not None
            and any(ch.isdigit() for ch in serial) and check.isdigit()
            and _icao_check_digit(serial) == int(check))


def is_de_id_card_serial(value: str) -> bool:
    """A German identity card's nine-character serial as printed on its front, without the
    check digit: nothing to check beyond the alphabet and at least one digit."""
    compact = value.strip().upper()
    return _DE_ID_SERIAL.fullmatch(compact) is not None and any(ch.isdigit() for ch in compact)


_MEDICARE = re.compile(r"[2-6][0-9]{9}")
_MEDICARE_WEIGHTS = (1, 3, 7, 9, 1, 3, 7, 9)


def is_au_medicare(value: str) -> bool:
    """Australian Medicare card number: ten digits (card number, check digit, issue number),
    optionally ``/`` and the individual reference number. The first digit is 2-6 and the ninth
    is the sum of the first eight weighted 1, 3, 7, 9, 1, 3, 7, 9, mod 10 (the rule Presidio's
    ``AuMedicareRecognizer`` implements; example ``2123 45670 1``)."""
    digits = value.split("/")[0].replace(" ", "")
    if _MEDICARE.fullmatch(digits) is None:
        return False
    total = sum(w * int(d) for w, d in zip(_MEDICARE_WEIGHTS, digits[:8], strict=True))
    return total % 10 == int(digits[8])


_NRIC_WEIGHTS = (2, 7, 6, 5, 4, 3, 2)
_NRIC_OFFSET = {"S": 0, "T": 4, "F": 0, "G": 4, "M": 3}
_NRIC_LETTERS = {"S": "JZIHGFEDCBA", "T": "JZIHGFEDCBA", "F": "XWUTRQPNMLK",
                 "G": "XWUTRQPNMLK", "M": "XWUTRQPNJLK"}


def is_sg_nric(value: str) -> bool:
    """Singapore NRIC (S, T) or FIN (F, G, M) number: prefix, seven digits, check letter.

    The seven digits weighted 2, 7, 6, 5, 4, 3, 2, plus 4 for the T and G series and 3 for the
    M series (ICA's 2022 M-series notice), mod 11, index a letter table per series (e.g.
    ``S1234567D``, ``G1234567X``, ``M1234567K``). For M, ICA's table ``KLJNPQRTUWX`` is indexed
    by 10 minus the remainder; it is stored here reversed, indexed like the others.
    """
    compact = value.strip().upper()
    if len(compact) != 9 or compact[0] not in _NRIC_OFFSET or not compact[1:8].isdigit():
        return False
    total = _NRIC_OFFSET[compact[0]] + sum(
        w * int(d) for w, d in zip(_NRIC_WEIGHTS, compact[1:8], strict=True))
    return _NRIC_LETTERS[compact[0]][total % 11] == compact[8]


def _is_pt_personal_nif(value: str) -> bool:
    """A Portuguese NIF of a person: stdnum's check, and a first digit of 1-3 or 45
    (companies' numbers begin 5-9 and are no personal data)."""
    compact = value.replace(" ", "")
    return (compact[:1] in ("1", "2", "3") or compact[:2] == "45") and nif.is_valid(value)


# ------------------------------------------------------------------------------------ scoring


@dataclass(frozen=True)
class NationalIdRecognizer(PatternRecognizer):
    """A national id: its own name adds ``context_boost``, a generic one :data:`GENERIC_BOOST`,
    both looked for in :func:`id_window`; a text pointing to ``region`` adds
    :data:`REGION_BOOST`."""

    region: str = ""

    def with_context(self, text: str, start: int, end: int, score: float) -> float:
        before, after = id_window(text, start, end)
        if _names(before, after, self.context):
            score += self.context_boost
        elif _generic_cue(before, after):
            score += GENERIC_BOOST
        if self.region in suggested_regions(text):
            score += REGION_BOOST
        return _clip(score)


_CACHE = 65_536  # distinct values whose check is remembered (a column asks twice)


def _tiered(is_valid: Callable[[str], bool], formatted: str, formatted_score: float
            ) -> Callable[[str], float]:
    """Score ``formatted_score`` for a valid value written in the id's own distinctive layout
    (``formatted``, a regex for the whole value), :data:`WEAK` for the same digits bare."""
    layout = re.compile(formatted)

    def score(value: str) -> float:
        if not is_valid(value):
            return 0.0
        return formatted_score if layout.fullmatch(value) else WEAK
    return score


def _written(is_valid: Callable[[str], bool], layouts: tuple[str, ...]
             ) -> Callable[[str], bool]:
    """``is_valid`` for values written in one of ``layouts`` (regexes for the whole value)."""
    shape = re.compile("|".join(layouts))
    return lambda value: shape.fullmatch(value) is not None and is_valid(value)


_REGION_OF = {"UK": "GB"}  # an id entity's prefix -> its phonenumbers region


def _id(entity: Entity, pattern: str, is_valid: Callable[[str], bool], score: float,
        context: tuple[str, ...], *, name: str | None = None, layout: str | None = None,
        written: tuple[str, ...] = (), needs_context: bool = False) -> PatternRecognizer:
    """One national-id recognizer: ``score`` when ``is_valid`` passes, raised by
    :data:`CONTEXT_BOOST` next to one of ``context`` (lower case). With ``layout`` only a value
    written that way scores ``score``; the same id bare scores :data:`WEAK`. With ``written``
    only values in one of those layouts count. Checks are cached: a column scan asks
    ``full_match`` and then ``matches`` about the same values."""
    check = lru_cache(maxsize=_CACHE)(_written(is_valid, written) if written else is_valid)
    scorer = lru_cache(maxsize=_CACHE)(_tiered(check, layout, score)) if layout else None
    country = entity.value.split("_")[0]
    return NationalIdRecognizer(
        name or entity.value.lower(), entity, pattern, score=score, validator=check,
        validated_score=score, context=context, context_boost=CONTEXT_BOOST, scorer=scorer,
        needs_context=needs_context, region=_REGION_OF.get(country, country))


def _layouts(*alternatives: str) -> str:
    return rf"\b(?:{'|'.join(alternatives)})\b"


# One pattern per family of shapes, shared by the family's recognizers: the usual layouts of
# every id in it, longest first (a regex alternation takes the first that fits). A column scan
# tests each distinct pattern once for whether a column holds candidates at all, so the
# families, not the 28 ids, set that cost; each id's check rejects its neighbours' layouts.
_LETTERED = _layouts(
    r"[A-Z]{6}[0-9LMNP-V]{2}[ABCDEHLMPRST][0-9LMNP-V]{2}[A-Z][0-9LMNP-V]{3}[A-Z]",  # IT
    r"[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[A-D]",  # UK NINO
    r"[0-9]{6}[-+A-FU-Y][0-9]{3}[0-9A-FHJ-NPR-Y]",  # FI: date, century sign, serial, check
    r"[0-9]{8}-?[A-HJ-NP-TV-Z]",  # ES DNI: check letters exclude I, O, U
    r"[XYZ]-?[0-9]{7}-?[A-HJ-NP-TV-Z]",  # ES NIE
    r"[A-Z]{3}[ABCFGHJLPT][A-Z][0-9]{4}[A-Z]",  # IN PAN: 4th letter the holder type
    r"[STFGM][0-9]{7}[A-Z]",  # SG NRIC/FIN
    r"[0-9]{7} ?[A-W][ABHWTX]?",  # IE PPSN
    r"[CFGHJ-NPRTV-Z][CFGHJ-NPRTV-Z0-9]{8}[0-9]?",  # DE ID card serial (+ check digit)
)
_NINE = _layouts(r"[0-9]{4}\.[0-9]{2}\.[0-9]{3}", r"[0-9]{3} [0-9]{3} [0-9]{3}", r"[0-9]{9}")
# Layouts of ten- and eleven-digit ids, each one country's: an id is found written its own
# way or bare, not in a neighbour's layout that its check happens to pass.
_BARE_TEN, _BARE_ELEVEN = r"[0-9]{10}", r"[0-9]{11}"
_NHS_SPACED = r"[0-9]{3} [0-9]{3} [0-9]{4}"
_MEDICARE_SPACED = r"[2-6][0-9]{3} [0-9]{5} [0-9](?:/[1-9])?"  # (+ individual reference)
_SVNR_SPACED = r"[0-9]{4} [0-9]{6}"  # AT: serial, check, birth date
_DATED_SERIAL = r"(?:19|20)?[0-9]{6}[-+]?[0-9]{4}"  # SE (10 or 12 digits), DK: date, serial
_BE_DOTTED = r"[0-9]{2}\.[0-9]{2}\.[0-9]{2}-[0-9]{3}\.[0-9]{2}"
_SPACED_2333 = r"[0-9]{2} [0-9]{3} [0-9]{3} [0-9]{3}"  # DE tax id, AU ABN
_NO_SPACED = r"[0-9]{6} [0-9]{5}"  # birth date, serial and check digits
_TEN = _layouts(_NHS_SPACED, _MEDICARE_SPACED, _SVNR_SPACED, _DATED_SERIAL)
_ELEVEN = _layouts(_BE_DOTTED, _SPACED_2333, _NO_SPACED, _BARE_ELEVEN)
_TWELVE = _layouts(r"[2-9][0-9]{3}(?: [0-9]{4} [0-9]{4}|-[0-9]{4}-[0-9]{4}|[0-9]{8})")
_LONG = _layouts(
    r"[12] [0-9]{2} [0-9]{2} (?:[0-9]{2}|2[AB]) [0-9]{3} [0-9]{3} [0-9]{2}",  # FR NIR
    r"[12][0-9]{4}(?:[0-9]{2}|2[AB])[0-9]{8}",
    r"756\.[0-9]{4}\.[0-9]{4}\.[0-9]{2}", r"756 [0-9]{4} [0-9]{4} [0-9]{2}",  # CH AHV
    r"[1-8]-[0-9]{4}-[0-9]{5}-[0-9]{2}-[0-9]", r"[1-8] [0-9]{4} [0-9]{5} [0-9]{2} [0-9]",  # TH
    r"[0-9]{6}-[0-9]{7}",  # KR: birth date, gender and century, serial, check
    r"[0-9]{13}",  # CH, TH, KR bare
)

_E = Entity
_DE_ID_CONTEXT = ("personalausweis", "personalausweisnummer", "ausweis", "ausweisnummer",
                  "ausweis-nr", "id card", "identity card", "dokumentennummer")

NATIONAL_ID_RECOGNIZERS: tuple[Recognizer, ...] = (
    # --- distinctive shapes: letters and digits, or a layout of their own ---------------------
    _id(_E.UK_NINO, _LETTERED, is_uk_nino, 0.85,
        ("national insurance", "ni number", "ni no", "nino", "nin", "insurance number")),
    _id(_E.ES_NIF, _LETTERED, dni.is_valid, 0.9,
        ("dni", "nif", "d.n.i.", "n.i.f.", "documento nacional de identidad", "documento",
         "identidad")),
    _id(_E.ES_NIE, _LETTERED, nie.is_valid, 0.9,
        ("nie", "n.i.e.", "extranjero", "extranjería", "identidad de extranjero")),
    _id(_E.IT_FISCAL_CODE, _LETTERED, codicefiscale.is_valid, 0.95,
        ("codice fiscale", "cod. fiscale", "cf", "c.f.", "fiscal code", "tax code")),
    _id(_E.IE_PPSN, _LETTERED, pps.is_valid, 0.8,
        ("ppsn", "pps", "pps no", "pps number", "personal public service")),
    _id(_E.IN_PAN, _LETTERED, pan.is_valid, 0.85,
        ("pan", "pan card", "pan no", "permanent account number", "income tax")),
    _id(_E.SG_NRIC_FIN, _LETTERED, is_sg_nric, 0.9,
        ("nric", "fin", "nric/fin", "identity card", "ic", "ic no")),
    # A letter for the century (2000s) or as the check character; all digits is a CPR's shape.
    _id(_E.FI_PERSONAL_IDENTITY_CODE, _LETTERED, hetu.is_valid, 0.9,
        ("henkilötunnus", "henkilotunnus", "hetu", "personbeteckning",
         "personal identity code", "identity code"), layout=r".*[A-Z].*"),
    _id(_E.FR_NIR, _LONG, nir.is_valid, 0.95,  # 13 digits + mod-97 key, 1 and 2 for the sex
        ("nir", "insee", "sécurité sociale", "securite sociale", "sécu", "secu",
         "carte vitale", "social security")),
    _id(_E.CH_AHV, _LONG, ssn.is_valid, 0.95,
        ("ahv", "ahv-nr", "ahv-nummer", "avs", "numéro avs", "sozialversicherungsnummer",
         "social security", "oasi"), layout=r"756[. ].*"),
    _id(_E.KR_RRN, _LONG, rrn.is_valid, 0.95,
        ("rrn", "resident registration", "registration number", "주민등록번호", "주민번호",
         "jumin"), layout=r".*-.*"),
    _id(_E.TH_TNIN, _LONG, pin.is_valid, 0.95,
        ("thai id", "national id", "id card", "tnin", "citizen id", "identification number",
         "เลขประจำตัวประชาชน", "บัตรประชาชน"), layout=r".*[ -].*"),
    _id(_E.BE_NATIONAL_NUMBER, _ELEVEN, nn.is_valid, 0.85,
        ("rijksregisternummer", "rijksregister", "registre national", "numéro national",
         "national number", "national register number", "national registry number", "niss",
         "insz", "identificatienummer"), layout=r".*\..*",
        written=(_BE_DOTTED, _BARE_ELEVEN)),
    # --- bare digit strings (and the German ID card's serial): their name must be near --------
    _id(_E.DE_ID_CARD, _LETTERED, is_de_id_card, 0.45, _DE_ID_CONTEXT),
    _id(_E.DE_ID_CARD, _LETTERED, is_de_id_card_serial, WEAK, _DE_ID_CONTEXT,
        name="de_id_card_serial", needs_context=True),
    _id(_E.UK_NHS, _TEN, nhs.is_valid, WEAK,
        ("nhs", "nhs number", "nhs no", "national health service", "health service"),
        written=(_NHS_SPACED, _BARE_TEN)),
    _id(_E.DE_TAX_ID, _ELEVEN, idnr.is_valid, WEAK,
        ("steuer-id", "steuerid", "steuer-idnr", "steuer-identifikationsnummer",
         "steueridentifikationsnummer", "identifikationsnummer", "idnr", "id-nr",
         "steuerliche identifikationsnummer", "tax id", "tin"),
        written=(_SPACED_2333, _BARE_ELEVEN)),
    _id(_E.NL_BSN, _NINE, bsn.is_valid, WEAK,
        ("bsn", "burgerservicenummer", "sofinummer", "sofi-nummer", "citizen service number")),
    _id(_E.PL_PESEL, _ELEVEN, pesel.is_valid, WEAK, ("pesel", "nr pesel", "numer pesel"),
        written=(_BARE_ELEVEN,)),
    _id(_E.SE_PERSONNUMMER, _TEN, personnummer.is_valid, WEAK,
        ("personnummer", "personnr", "person number", "personal identity number",
         "personnummret"),
        written=(_DATED_SERIAL,)),
    _id(_E.DK_CPR, _TEN, cpr.is_valid, WEAK - 0.05,  # a birth date: no check digit since 2007
        ("cpr", "cpr-nr", "cpr-nummer", "cpr nr", "cpr-nr.", "personnummer"),
        written=(r"[0-9]{6}-?[0-9]{4}",)),
    _id(_E.NO_FODSELSNUMMER, _ELEVEN, fodselsnummer.is_valid, WEAK,
        ("fødselsnummer", "fodselsnummer", "fnr", "f.nr", "personnummer", "birth number",
         "d-nummer"),
        written=(_NO_SPACED, _BARE_ELEVEN)),
    _id(_E.PT_NIF, _NINE, _is_pt_personal_nif, WEAK,
        ("nif", "contribuinte", "número de contribuinte", "numero de contribuinte",
         "identificação fiscal", "identificacao fiscal")),
    _id(_E.AT_SVNR, _TEN, vnr.is_valid, WEAK,
        ("sozialversicherungsnummer", "versicherungsnummer", "svnr", "sv-nr", "sv-nummer",
         "vsnr", "e-card", "social security"),
        written=(_SVNR_SPACED, _BARE_TEN)),
    _id(_E.AU_TFN, _NINE, tfn.is_valid, WEAK, ("tfn", "tax file number", "tax file no")),
    _id(_E.AU_ABN, _ELEVEN, abn.is_valid, WEAK, ("abn", "australian business number"),
        written=(_SPACED_2333, _BARE_ELEVEN)),
    _id(_E.AU_ACN, _NINE, acn.is_valid, WEAK,
        ("acn", "australian company number", "company number")),
    _id(_E.AU_MEDICARE, _TEN, is_au_medicare, WEAK,
        ("medicare", "medicare card", "medicare number", "medicare no"),
        written=(_MEDICARE_SPACED, _BARE_TEN)),
    _id(_E.IN_AADHAAR, _TWELVE, aadhaar.is_valid, WEAK,
        ("aadhaar", "aadhar", "adhaar", "uid", "uidai", "aadhaar no", "aadhaar number")),
)

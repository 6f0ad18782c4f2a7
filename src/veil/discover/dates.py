"""Dates, birth dates and ages in free text and columns, in the languages of ``validators.MONTHS``.

A date counts when it names a real calendar day or month (``validators.is_date``); a birth date
is a date with birth words near it. A weekday alone, a bare year and an age are words or
numbers that only the words before them make personal data ("on Tuesday", "born in 1956",
"aged 33"): the regexes read those words, but the span is the weekday, the year or the age
alone (:class:`GroupRecognizer`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from veil.discover import validators as v
from veil.discover.entities import Entity
from veil.discover.patterns import PatternRecognizer, Recognizer, _compiled, settles

__all__ = ["DATE_RECOGNIZERS", "GroupRecognizer"]


def _value_group(match: re.Match[str]) -> int:
    """The first capture group that took part in ``match``."""
    return next(i for i in range(1, (match.re.groups or 0) + 1) if match.start(i) >= 0)


@dataclass(frozen=True)
class GroupRecognizer(PatternRecognizer):
    """A :class:`PatternRecognizer` whose regex reads the words around a value but reports the
    value alone: the span, and what the validator sees, is the first capture group that took
    part in the match ("64" of "a 64-year-old", "1956" of "born in 1956"), so every
    alternative of the pattern captures one group. In columns a cell matches as the whole
    phrase ("aged 33" is an age cell; a bare "33" is not: no word says so).

    ``group_scores`` holds the score of a valid value per capture group, so that alternatives
    of different strength share one pattern, one pass over a column. ``text_pattern`` is the
    same regex spelt for Python ``re`` (see ``validators.words_regex``); free text uses it.
    """

    group_scores: tuple[float, ...] = ()
    text_pattern: str = ""

    def text_regex(self) -> re.Pattern[str]:
        return _compiled(self.text_pattern or self.pattern)

    def candidate(self, match: re.Match[str]) -> tuple[int, int, float]:
        group = _value_group(match)
        start, end = match.span(group)
        score = super().value_score(match.string[start:end])
        if score > 0.0 and self.group_scores:
            score = self.group_scores[group - 1]
        return start, end, score

    def value_score(self, value: str) -> float:
        match = self.text_regex().search(value)
        return 0.0 if match is None else self.candidate(match)[2]


def _scored(*alternatives: tuple[str, float]) -> tuple[str, tuple[float, ...]]:
    """Alternatives joined into one pattern, and the score of each of its capture groups."""
    pattern = "|".join(p for p, _ in alternatives)
    return pattern, tuple(s for p, s in alternatives for _ in range(re.compile(p).groups))


# -- word lists ---------------------------------------------------------------------------------

# A weekday alone is a date right after a preposition ("on Tuesday", "moved to Friday", "am
# Montag", "w środę", "i måndags"); Finnish and Hungarian say "on Monday" with a suffix
# ("maanantaina", "hétfőn"). Not after "last", "next" or "the": "the last Sunday before Labor
# Day" names no day, and "Joe Friday" none at all.
_WEEKDAY_CUES = """
    on to until till by from since before after am bis seit ab vor nach le dès depuis avant après
    à el hasta desde para il di entro da op tot sinds vanaf na no até w we od do przed po på i
    till sedan från före efter til siden fra før etter v ve před"""
_WEEKDAY_AFTER_CUE = (*v.WEEKDAY_NAMES, "środę", "sobotę", "niedzielę", "středu", "sobotu",
                      "neděli", *(f"{w}s" for w in v.WEEKDAY_NAMES if w.endswith("dag")))
_WEEKDAY_INFLECTED = """
    maanantaina tiistaina keskiviikkona torstaina perjantaina lauantaina sunnuntaina
    hétfőn kedden szerdán csütörtökön pénteken szombaton"""
# A bare year after words that date it: a birth ("born in 1956", "geboren 1956", "né en
# 1956"), another event ("founded in 1983", "married Anna in 1983"), "since 1999", "1983-ban".
# Not "in 1983" alone ("in 1983 cases"), "room 1983" or an amount.
_YEAR_WORDS = """
    in the year en em el año ano no nel anno im jahr jahre w roku i år v roce vuonna op around
    circa ca. um vers hacia"""
_IN = "in en em nel w i v vuonna"
_BIRTH = """
    born b. geboren geb. jahrgang né née nacido nacida nato nata nascido nascida urodzony
    urodzona urodził urodziła född født syntynyt narozen narozena narodil narodila született"""
_EVENT = """
    founded established married died graduated moved retired joined started diagnosed
    emigrated immigrated divorced hired arrived began opened built published released launched
    elected appointed enrolled deceased wurde werd gegründet verheiratet gestorben verstorben
    geheiratet umgezogen fondé fondée mariée marié décédé décédée mort morte fundado fundada casado
    casada fallecido fallecida murió fondato fondata sposato sposata morto morta deceduto
    deceduta opgericht getrouwd overleden verhuisd faleceu falecido falecida założony
    założona zmarł zmarła grundad grundat gift död avled grundlagt grunnlagt død perustettu
    kuoli založen založena zemřel zemřela"""
_SINCE = """
    since until till year seit bis depuis année l'année desde hasta dal sinds tot até od do
    sedan sen siden vuodesta vuoteen jaar"""
# "my son is 6": the people whose age a number after "is" usually is
_KIN = """
    son daughter child kid baby boy girl brother sister grandson granddaughter husband wife
    mother father mom mum dad"""
_AGE_LABELS = "age âge alter edad età leeftijd idade wiek ålder alder ikä věk"

_S = r"[ \t]+"
_YEAR = r"\d{4}"
_DAY = r"\d{1,2}"


class _Patterns:
    """The regexes, spelt flat for Polars or ``factored`` for Python (``words_regex``)."""

    def __init__(self, *, factored: bool) -> None:
        self.factored = factored

    def any(self, words: str | tuple[str, ...]) -> str:
        listed = words.split() if isinstance(words, str) else words
        return f"(?:{v.words_regex(listed, factored=self.factored)})"

    def _month(self) -> str:
        return rf"{self.any(tuple(v.MONTHS))}\b\.?"  # "Dec." takes its full stop

    def _day_dates(self) -> tuple[str, str]:
        """A weekday before a date, and dates with a day: numeric, day-month-year and
        month-day-year."""
        month = self._month()
        weekday = (rf"(?:{self.any(v.WEEKDAYS)}\b\.?,?{_S}"
                   rf"(?:(?:the|le|den|der|el|il){_S})?)")
        numeric = (r"\d{4}-\d{1,2}-\d{1,2}(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?"
                   r"(?:Z|[+-]\d{2}:?\d{2})?)?"
                   r"|\d{4}/\d{1,2}/\d{1,2}|\d{1,2}[/-]\d{1,2}[/-](?:\d{4}|\d{2})"
                   r"|\d{1,2}\.\d{1,2}\.\d{4}")
        day_month_year = (rf"{_DAY}(?:\.|st|nd|rd|th|er)?(?:{_S}(?:of|de|di|del))?(?:{_S}|-)"
                          rf"{month},?(?:{_S}(?:de|del))?(?:{_S}|-){_YEAR}")
        month_day_year = rf"{month}{_S}{_DAY}(?:st|nd|rd|th)?,?{_S}{_YEAR}"
        return weekday, rf"(?:{numeric}|{day_month_year}|{month_day_year})\b"

    def date(self) -> str:
        weekday, day_dates = self._day_dates()
        month = self._month()
        named = rf"{self.any(tuple(v.MONTH_NAMES))}\b"  # written out: alone, it is a month
        year_month_day = rf"{_YEAR}\.[ \t]?{month}(?:{_S}{_DAY}\b\.?)?"  # "2021. március 3."
        month_year = rf"{named}\.?,?{_S}(?:(?:of|de){_S})?{_YEAR}"
        return rf"\b({weekday}?{day_dates}|{year_month_day}|{month_year}\b)"

    def weekday_date(self) -> str:
        """A weekday and its date after a preposition ("on Friday, 3 March 2021"): read
        before :meth:`weekday` can take "on Friday" alone."""
        weekday, day_dates = self._day_dates()
        return rf"\b{self.any(_WEEKDAY_CUES)}{_S}({weekday}{day_dates})"

    def year_after(self, cue: str) -> str:
        """A year right after one of ``cue`` (and year words: "born in the year 1956"), or
        after it, a few words and "in" ("born in Leeds in 1956", "moved to 12 Main Street,
        Springfield in 1983")."""
        cue, words, into = self.any(cue), self.any(_YEAR_WORDS), self.any(_IN)
        return (rf"\b{cue}(?:(?:{_S}{words})*{_S}({_YEAR})\b"
                rf"|(?:{_S}\S+){{1,8}}?{_S}{into}{_S}({_YEAR})\b)")

    def year_before_birth(self) -> str:
        """A year before the birth word that ends a Dutch, German or Hungarian clause ("is in
        1975 geboren", "1975-ben született")."""
        return (rf"\b({_YEAR})(?:-[^\W\d_]+)?(?:{_S}\S+){{0,4}}?{_S}"
                rf"{self.any('geboren született')}\b")

    def weekday(self) -> str:
        return (rf"\b{self.any(_WEEKDAY_CUES)}{_S}({self.any(_WEEKDAY_AFTER_CUE)})\b"
                rf"|\b({self.any(_WEEKDAY_INFLECTED)})\b")

    def event_year(self) -> str:
        return (rf"{self.year_after(_EVENT)}|\b{self.any(_SINCE)}{_S}({_YEAR})\b"
                rf"|\b({_YEAR})-(?:ban|ben|ig|től|tól)\b|\b({_YEAR}){_S}óta\b")

    def explicit_age(self) -> str:
        """"a 64-year-old", "aged 33", "at the age of 47", "45 Jahre alt", "45-jährig",
        "Alter: 45", "âgé de 45 ans", "45 años de edad", "45 éves", "my son is 6"..."""
        a = self.any
        number_first = "|".join((  # one group for all: Python reads the number once
            rf"[ \t]*-?[ \t]*{a('years year yrs yr y jahre jahr jaar år vuotta')}[ \t]*-?[ \t]*"
            rf"{a('old alt oud gammal gammel vanha')}\b",
            rf"[ \t]?{a('yo y/o y.o')}\b",
            rf"{_S}(?:{a('years')}{_S}of{_S}{a('age')}|{a('años')}{_S}de{_S}{a('edad')}"
            rf"|{a('anos')}{_S}de{_S}{a('idade')})\b",
            rf"[ \t]?-?[ \t]?{a('jährig jarig letni letn letý letá årig åring vuotia éves enne')}",
        ))
        word_first = "|".join((
            a("aged age"), rf"{a(_AGE_LABELS)}[ \t]*:", rf"{a('age')}{_S}of",
            rf"{a('âgé âgée âgés âgées âge')}{_S}de", rf"{a('alter')}{_S}von",
            rf"{a('edad idade')}{_S}de", rf"{a('età')}{_S}di", rf"{a('leeftijd')}{_S}van",
            rf"w{_S}wieku", rf"ve{_S}věku", rf"{a(_KIN)}{_S}{a('is was turns turned')}{_S}",
        ))
        return (rf"\b(\d{{1,3}})(?:{number_first})|\b(?:{word_first})[ \t]*(\d{{1,3}})\b"
                rf"|\b{a('turned')}{_S}(\d{{1,3}})(?:[ \t]*[.,;:!?)]"
                rf"|{_S}{a('years year today yesterday last this on in and but')}\b)")

    def age_in_years(self) -> str:
        """"45 ans", "45 años", "45 anni", "45 jaar", "45 lat", "45 år", "45 vuotta", "45 yrs"."""
        return rf"\b(\d{{1,3}}){_S}{self.any('ans años anos anni jaar lat år vuotta yrs')}\b"


_DATE_SCORE, _WEEKDAY_SCORE, _YEAR_SCORE = 0.7, 0.55, 0.6
# A date is a birth date only next to birth words (+0.6); a birth year always has them.
_BIRTH_DATE_SCORE, _BIRTH_YEAR_SCORE = 0.3, 0.15
_AGE_SCORE, _AGE_IN_YEARS_SCORE = 0.75, 0.5


def _date_patterns(p: _Patterns) -> tuple[str, tuple[float, ...]]:
    return _scored((p.date(), _DATE_SCORE), (p.weekday_date(), _DATE_SCORE),
                   (p.weekday(), _WEEKDAY_SCORE), (p.event_year(), _YEAR_SCORE))


def _birth_patterns(p: _Patterns) -> tuple[str, tuple[float, ...]]:
    return _scored((p.date(), _BIRTH_DATE_SCORE), (p.year_after(_BIRTH), _BIRTH_YEAR_SCORE),
                   (p.year_before_birth(), _BIRTH_YEAR_SCORE))


def _age_patterns(p: _Patterns) -> tuple[str, tuple[float, ...]]:
    return _scored((p.explicit_age(), _AGE_SCORE), (p.age_in_years(), _AGE_IN_YEARS_SCORE))


_FLAT, _FACTORED = _Patterns(factored=False), _Patterns(factored=True)


def _dated(value: str) -> bool:
    """A real date, a year 1900-2099 or a weekday: what the date patterns' groups capture."""
    return v.is_date(value) or v.is_year(value) or not any(ch.isdigit() for ch in value)


_DOB_CONTEXT = (
    "born", "dob", "d.o.b", "d.o.b.", "date of birth", "birth date", "birthdate", "birthday",
    "birth", "b.", "geboren", "geboren op", "geb.", "geburtsdatum", "geburtstag", "jahrgang",
    "né", "née", "naissance", "date de naissance", "nacido", "nacida", "fecha de nacimiento",
    "nacimiento", "nato", "nata", "data di nascita", "nascita", "geboortedatum", "nascido",
    "nascida", "data de nascimento", "nascimento", "urodzony", "urodzona", "urodził",
    "urodziła", "data urodzenia", "född", "födelsedatum", "født", "fødselsdato", "syntynyt",
    "syntymäaika", "syntymäpäivä", "narozen", "narozena", "narodil", "narodila",
    "datum narození", "született", "születési")
_DATE_CONTEXT = ("date", "dated", "on", "since", "until", "when", "appointment", "admitted",
                 "discharged", "visit", "seen", "scheduled", "deadline", "due", "datum",
                 "fecha", "data")
_AGE_CONTEXT = (
    "patient", "pt", "man", "woman", "male", "female", "boy", "girl", "age", "âgé", "âgée",
    "edad", "età", "leeftijd", "idade", "wiek", "ålder", "alder", "ikä", "patiente",
    "paciente", "paziente", "patiënt", "pacjent", "pacjentka", "potilas", "homme", "femme",
    "hombre", "mujer", "uomo", "donna", "vrouw", "kvinna", "kvinne", "mies", "nainen",
    "mężczyzna", "kobieta", "tiene", "tenía", "cumplió", "cumple", "aveva", "compiuto",
    "skończył", "skończyła", "fyllde", "fyldte", "fylte", "täytti")
# Words that make "45 ans" a span of time ("depuis 45 ans", "45 jaar geleden"), or "45 lat"
# a latitude.
_SPAN_OF_TIME = (
    "depuis", "il y a", "pendant", "durant", "hace", "durante", "desde", "fa", "geleden",
    "sinds", "gedurende", "temu", "przez", "sedan", "siden", "sitten", "ago", "há", "atrás",
    "seit", "lon", "latitude", "longitude")


def _group_recognizer(name: str, entity: Entity,
                      patterns: Callable[[_Patterns], tuple[str, tuple[float, ...]]],
                      **kwargs: Any) -> GroupRecognizer:
    """One recognizer from a pattern builder: the flat spelling, its Python twin, the scores."""
    pattern, scores = patterns(_FLAT)
    return GroupRecognizer(name, entity, pattern, group_scores=scores,
                           text_pattern=patterns(_FACTORED)[0], **kwargs)


DATE_RECOGNIZERS: tuple[Recognizer, ...] = (
    _group_recognizer(
        "date", Entity.DATE_TIME, _date_patterns, score=0.3, validator=_dated,
        context=_DATE_CONTEXT, context_boost=0.1, bulk=settles(v.iso_dates, _DATE_SCORE)),
    _group_recognizer(
        "date_of_birth", Entity.DATE_OF_BIRTH, _birth_patterns, score=0.3, validator=_dated,
        context=_DOB_CONTEXT, context_boost=0.6, bulk=settles(v.iso_dates, _BIRTH_DATE_SCORE)),
    _group_recognizer(
        "age", Entity.AGE, _age_patterns, score=0.3, validator=v.is_age,
        context=_AGE_CONTEXT, context_boost=0.1, negative_context=_SPAN_OF_TIME,
        negative_penalty=0.3),
)

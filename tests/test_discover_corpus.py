"""The generated evaluation corpus: deterministic, labelled by the conventions, split cleanly."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date, datetime

import phonenumbers
import pytest
from stdnum import iban, luhn

from veil.discover.corpus import (
    LOCALES,
    MONTHS,
    UNSEEN_NAME_LOCALES,
    WEEKDAYS,
    LabelledText,
    generate,
    id_is_valid,
    templates,
)
from veil.discover.entities import NATIONAL_IDS

N = len(LOCALES) * 20


@pytest.fixture(scope="module")
def tune() -> list[LabelledText]:
    return generate(N, seed=3)


@pytest.fixture(scope="module")
def heldout() -> list[LabelledText]:
    return generate(N, seed=3, split="heldout")


def _spans(texts: list[LabelledText]) -> list[tuple[LabelledText, str, str]]:
    return [(t, t.text[s:e], entity) for t in texts for s, e, entity in t.spans]


def test_same_seed_same_texts_other_seed_other_texts() -> None:
    assert generate(60, seed=5) == generate(60, seed=5)
    assert generate(60, seed=5) != generate(60, seed=6)
    assert generate(60, seed=5, split="heldout") == generate(60, seed=5, split="heldout")


def test_unknown_split_or_locale_is_refused() -> None:
    with pytest.raises(ValueError, match="split"):
        generate(1, split="train")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="xx_XX"):
        generate(1, locales=["xx_XX"])


def test_spans_lie_inside_the_text_sorted_and_never_overlap(tune, heldout) -> None:
    for t in tune + heldout:
        for (s, e, _), nxt in zip(t.spans, (*t.spans[1:], None), strict=False):
            assert 0 <= s < e <= len(t.text)
            assert t.text[s:e] == t.text[s:e].strip()
            assert nxt is None or e <= nxt[0]


def _is_date(value: str) -> bool:
    """A calendar date in one of the corpus's layouts, a weekday, or a year."""
    words = {w.lower() for names in (*MONTHS.values(), *WEEKDAYS.values()) for w in names}
    if value.lower() in {w.lower() for names in WEEKDAYS.values() for w in names}:
        return True
    if re.fullmatch(r"\d{4}", value):
        return 1900 <= int(value) <= 2030
    for fmt in ("%m/%d/%Y", "%d/%m/%Y", "%Y-%m-%d", "%d.%m.%Y", "%d-%m-%Y"):
        try:
            datetime.strptime(value, fmt)
            return True
        except ValueError:
            continue
    tokens = re.findall(r"\w+", value.lower().replace("1er", "1"))
    months = {m.lower(): i + 1 for names in MONTHS.values() for i, m in enumerate(names)}
    months.update({m[:3].lower(): i + 1 for i, m in enumerate(MONTHS["en"])})
    day = [int(t) for t in tokens if t.isdigit() and len(t) <= 2]
    year = [int(t) for t in tokens if t.isdigit() and len(t) == 4]
    month = [months[t] for t in tokens if t in months]
    rest = [t for t in tokens if not t.isdigit() and t not in months and t not in words]
    if len(day) != 1 or len(year) != 1 or len(month) != 1 or set(rest) - {"de", "den"}:
        return False
    date(year[0], month[0], day[0])  # raises on 31 February
    return True


def test_every_span_is_what_the_conventions_say(tune, heldout) -> None:
    for t, value, entity in _spans(tune + heldout):
        if entity == "AGE":
            assert value.isdigit() and 0 < int(value) < 120, value
        elif entity == "DATE_TIME":
            assert _is_date(value), value
        elif entity in NATIONAL_IDS:
            assert id_is_valid(entity, value), (entity, value)
        elif entity == "US_SSN":
            assert id_is_valid(entity, value)
        elif entity == "PHONE_NUMBER":
            # an unseen-names text keeps its base locale's phone, which the label hides
            regions = [LOCALES[t.locale].region] if t.locale in LOCALES else \
                {loc.region for loc in LOCALES.values()}
            assert any(phonenumbers.is_possible_number(phonenumbers.parse(value, r))
                       for r in regions), value
            assert "x" not in value and "tel" not in value.lower()
        elif entity == "CREDIT_CARD":
            assert luhn.is_valid(re.sub(r"[ -]", "", value)), value
        elif entity == "IBAN_CODE":
            assert iban.is_valid(value), value
        elif entity == "PERSON":
            assert not re.match(r"(?i)(mr|mrs|ms|dr|frau|herr|sra?)\b", value), value
        elif entity == "STREET_ADDRESS":
            assert not value.endswith("."), value


def test_corner_and_military_addresses_follow_the_conventions() -> None:
    texts = generate(3000, seed=1, locales=["en_US"])
    corners = [t.text[s:e] for t in texts for s, e, ent in t.spans
               if ent == "STREET_ADDRESS" and "corner of " + t.text[s:e] in t.text]
    assert corners and all(" and " in c for c in corners)
    military = [t.text[s:e] for t in texts for s, e, ent in t.spans
                if ent == "STREET_ADDRESS" and re.search(r"\b[AFD]PO A[AEP] \d{5}$", t.text[s:e])]
    assert military


def test_distractors_are_not_labelled(tune) -> None:
    for t in tune:
        for org in ("Morgan Stanley", "Santa Clara", "Johnson & Johnson", "St. Louis"):
            at = t.text.find(org)
            if at >= 0:
                assert all(e <= at or s >= at + len(org) for s, e, _ in t.spans), t.text
    assert any(t.template_id.split(".")[1] == "NONE" and not t.spans for t in tune)


def test_tune_and_heldout_templates_are_disjoint_and_every_family_is_held_out(tune,
                                                                                heldout) -> None:
    held: dict[tuple[str, str], list[bool]] = defaultdict(list)
    for template, is_held in templates():
        held[template.lang, template.family].append(is_held)
    assert all(any(flags) and not all(flags) for flags in held.values())
    assert all(len(flags) >= (8 if lang == "en" else 4) for (lang, _), flags in held.items())
    ids = {t.id: h for t, h in templates()}
    assert {t.template_id for t in tune}.isdisjoint({t.template_id for t in heldout})
    assert not any(ids[t.template_id] for t in tune)
    assert all(ids[t.template_id] for t in heldout)
    families = {t.template_id.split(".")[1] for t in heldout}
    assert families >= {"PERSON", "STREET_ADDRESS", "PHONE_NUMBER", "NATIONAL_ID", "NONE"}


def test_every_locale_appears_and_unseen_names_only_in_heldout(tune, heldout) -> None:
    assert {t.locale for t in tune} == set(LOCALES)
    assert {t.locale for t in heldout} == {*LOCALES, "unseen_names"}
    named = [t for t in heldout if any(e == "PERSON" for *_, e in t.spans)]
    share = sum(t.locale == "unseen_names" for t in named) / len(named)
    assert 0.1 < share < 0.3
    assert len(UNSEEN_NAME_LOCALES) == 7


def test_native_templates_and_national_ids_of_each_locale_appear(tune) -> None:
    langs = {t.template_id.split(".")[0] for t in tune}
    assert langs >= {"en", "de", "fr", "es", "it", "nl", "pl", "sv"}
    ids = {e for *_, e in _spans(tune) if e in NATIONAL_IDS}
    assert {"PL_PESEL", "DE_TAX_ID", "UK_NHS", "FR_NIR", "NL_BSN"} <= ids


def test_a_locale_subset_uses_only_those_locales() -> None:
    texts = generate(40, seed=2, locales=["pl_PL", "fi_FI"])
    assert {t.locale for t in texts} == {"pl_PL", "fi_FI"}

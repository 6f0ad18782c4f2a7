"""The PII evaluation's scoring rule: the figures in the closing notes rest on it."""

from __future__ import annotations

import pytest
from bench.pii_eval import Record, evaluate


def _score(gold: tuple[tuple[int, int, str], ...], predicted: list[tuple[int, int, str]]):
    record = Record("x" * 100, gold)
    return evaluate(lambda _text: predicted, [record])


def test_overlap_of_half_or_more_counts_and_exact_needs_identical_offsets() -> None:
    result = _score(((10, 20, "EMAIL_ADDRESS"),), [(10, 21, "EMAIL_ADDRESS")])
    email = result["entities"]["EMAIL_ADDRESS"]
    assert (email["tp"], email["fp"], email["fn"]) == (1, 0, 0)
    assert email["exact_f1"] == 0.0


def test_small_overlap_wrong_entity_and_duplicates_are_errors() -> None:
    gold = ((0, 10, "PERSON"), (50, 60, "PHONE_NUMBER"))
    predicted = [(8, 20, "PERSON"),  # IoU 2/20
                 (50, 60, "US_SSN"),  # entity the data never labels: not scored
                 (50, 60, "PHONE_NUMBER"), (51, 60, "PHONE_NUMBER")]  # one gold, two guesses
    result = _score(gold, predicted)
    person, phone = result["entities"]["PERSON"], result["entities"]["PHONE_NUMBER"]
    assert (person["tp"], person["fp"], person["fn"]) == (0, 1, 1)
    assert (phone["tp"], phone["fp"], phone["fn"]) == (1, 1, 0)
    assert phone["precision"] == pytest.approx(0.5)
    assert result["false_positives"]["PHONE_NUMBER"] == ["x" * 9]
    assert "US_SSN" not in result["entities"]
    micro = result["micro"]
    assert (micro["tp"], micro["fp"], micro["fn"]) == (1, 2, 1)


def test_finer_entity_folds_into_the_labelled_family() -> None:
    """A date of birth is scored as a DATE_TIME when the data only labels DATE_TIME."""
    result = _score(((5, 15, "DATE_TIME"),), [(5, 15, "DATE_OF_BIRTH")])
    assert result["entities"]["DATE_TIME"]["f1"] == 1.0


def test_false_negatives_are_the_labelled_text_no_prediction_matched() -> None:
    gold = ((0, 10, "PERSON"), (20, 30, "PERSON"))
    result = _score(gold, [(0, 10, "PERSON")])
    assert result["false_negatives"]["PERSON"] == ["x" * 10]


def test_the_generated_corpus_is_scored_by_entity_and_by_locale() -> None:
    """National ids keep their own names; each locale is scored on its own texts; a perfect
    analyzer scores 1 everywhere, one that finds nothing 0."""
    from bench.pii_eval import corpus_records, evaluate_by_locale

    records = corpus_records(60, "heldout", seed=1)
    gold = {r.text: list(r.gold) for r in records}
    perfect = evaluate_by_locale(gold.__getitem__, records)
    assert perfect["all"]["micro"]["f1"] == 1.0
    assert {k for k in perfect if k != "all"} == {r.locale for r in records}
    assert any(e.startswith(("PL_", "UK_", "DE_", "FR_")) for e in perfect["all"]["entities"])
    nothing = evaluate_by_locale(lambda _text: [], records)
    locale = records[0].locale
    expected = sum(len(r.gold) for r in records if r.locale == locale)
    assert nothing[locale]["micro"]["fn"] == expected
    assert nothing["all"]["micro"]["f1"] == 0.0

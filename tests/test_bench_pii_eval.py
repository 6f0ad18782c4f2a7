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

"""EU AI Act classification: each rule of Art. 5, 6 and 50 lands a declared use in its class
with the obligations that class brings, and a declaration that is wrong is refused, naming
what is allowed."""

from __future__ import annotations

from typing import Any

import pytest

from veil.errors import InputError
from veil.govern.ai_act import (
    EVIDENCE_KINDS,
    MAX_DESCRIPTION,
    UNDECLARED_REASON,
    Classification,
    DecisionRole,
    Domain,
    IntendedUse,
    Obligation,
    RiskClass,
    classify,
)

PROHIBITED = [Domain.SUBLIMINAL_MANIPULATION, Domain.EXPLOITING_VULNERABILITIES,
              Domain.SOCIAL_SCORING, Domain.PREDICTIVE_POLICING_PROFILING,
              Domain.UNTARGETED_FACE_SCRAPING, Domain.EMOTION_RECOGNITION_WORK_EDUCATION,
              Domain.BIOMETRIC_CATEGORISATION_SENSITIVE,
              Domain.REALTIME_REMOTE_BIOMETRIC_ID_LAW_ENFORCEMENT]
SYSTEM_ARTICLES = [f"Art. {n}" for n in range(9, 16)]


def use(domain: Domain | str, role: DecisionRole | str = DecisionRole.ASSISTS,
        **flags: Any) -> IntendedUse:
    return IntendedUse(domain=domain, description="score the people it concerns",
                       affected="applicants of the bank", decision_role=role, **flags)


def articles(result: Classification) -> list[str]:
    return [o.article for o in result.obligations]


@pytest.mark.parametrize("domain", PROHIBITED)
def test_prohibited_practices_are_unacceptable(domain: Domain) -> None:
    result = classify(use(domain))
    assert result.risk_class is RiskClass.UNACCEPTABLE
    assert result.reference.startswith("Art. 5(1)(")
    assert articles(result) == ["Art. 5"]
    assert "must not be placed on the market" in result.reason


def test_credit_scoring_that_decides_is_high_and_needs_a_fria() -> None:
    result = classify(use(Domain.CREDIT_SCORING, DecisionRole.DECIDES))
    assert result.risk_class is RiskClass.HIGH
    assert result.reference == "Annex III 5(b)"
    assert "Art. 27" in articles(result)
    assert "without human review" in result.reason


def test_fria_follows_the_deployer_and_skips_critical_infrastructure() -> None:
    assert "Art. 27" not in articles(classify(use(Domain.EMPLOYMENT_RECRUITMENT)))
    assert "Art. 27" in articles(classify(use(Domain.EMPLOYMENT_RECRUITMENT, public_body=True)))
    assert "Art. 27" in articles(classify(use(Domain.LAW_ENFORCEMENT)))
    infrastructure = classify(use(Domain.CRITICAL_INFRASTRUCTURE, public_body=True))
    assert "Art. 27" not in articles(infrastructure)
    assert "Art. 49(5)" in articles(infrastructure)
    assert "Art. 49(1)" not in articles(infrastructure)


def test_employment_that_assists_stays_high_and_says_oversight_is_no_exemption() -> None:
    result = classify(use(Domain.EMPLOYMENT_RECRUITMENT, DecisionRole.ASSISTS))
    assert result.risk_class is RiskClass.HIGH
    assert "human oversight" in result.reason
    assert "not an exemption" in result.reason
    assert {"Art. 14", "Art. 17", "Art. 43", "Art. 49(1)", "Art. 72"} <= set(articles(result))


def test_narrow_procedural_task_without_profiling_is_not_high() -> None:
    result = classify(use(Domain.EMPLOYMENT_TASK_ALLOCATION, narrow_procedural=True))
    assert result.risk_class is RiskClass.MINIMAL
    assert "Art. 6(3)" in result.reference
    assert "Art. 6(4)" in result.reason
    assert articles(result) == ["Art. 6(4)", "Art. 49(2)"]


def test_derogated_emotion_recognition_keeps_its_transparency_duty() -> None:
    result = classify(use(Domain.EMOTION_RECOGNITION, narrow_procedural=True))
    assert result.risk_class is RiskClass.LIMITED
    assert "Art. 50(3)" in articles(result)


def test_profiling_rules_out_the_derogation() -> None:
    result = classify(use(Domain.EMPLOYMENT_MONITORING, narrow_procedural=True,
                          profiling=True))
    assert result.risk_class is RiskClass.HIGH
    assert "profiles natural persons" in result.reason


def test_medical_device_is_high_under_article_6_1() -> None:
    result = classify(use(Domain.MEDICAL_DEVICE, DecisionRole.NONE, narrow_procedural=True))
    assert result.risk_class is RiskClass.HIGH
    assert result.reference == "Art. 6(1), Annex I (MDR)"
    assert "Annex III uses only" in result.reason
    assert "Art. 27" not in articles(result)  # Art. 27 covers Annex III systems only
    assert "Art. 49(1)" not in articles(result)


def test_vehicle_requirements_come_through_type_approval() -> None:
    result = classify(use(Domain.VEHICLE))
    assert result.risk_class is RiskClass.HIGH
    assert "Art. 2(2)" in result.reason
    assert articles(result) == SYSTEM_ARTICLES


def test_chatbot_is_limited_under_article_50() -> None:
    result = classify(use(Domain.CHATBOT, DecisionRole.NONE))
    assert result.risk_class is RiskClass.LIMITED
    assert result.reference == "Art. 50(1)"
    assert articles(result) == ["Art. 50(1)"]


def test_analytics_is_minimal_with_no_obligations() -> None:
    result = classify(use(Domain.ANALYTICS_STATISTICS, DecisionRole.NONE))
    assert result.risk_class is RiskClass.MINIMAL
    assert result.obligations == ()
    assert "Art. 95" in result.reason


@pytest.mark.parametrize("domain", list(Domain))
@pytest.mark.parametrize("role", list(DecisionRole))
def test_every_domain_classifies(domain: Domain, role: DecisionRole) -> None:
    for flags in ({}, {"narrow_procedural": True}, {"narrow_procedural": True,
                                                    "profiling": True, "public_body": True}):
        result = classify(use(domain, role, **flags))
        assert result.reason and result.reference and domain.reference
        assert all(kind in EVIDENCE_KINDS for o in result.obligations
                   for kind in o.evidence_kinds)
        assert len({o.article for o in result.obligations}) == len(result.obligations)
        assert result.to_dict()["risk_class"] == str(result.risk_class)


@pytest.mark.parametrize("domain", [d for d in Domain
                                    if classify(use(d)).risk_class is RiskClass.HIGH])
def test_high_risk_obligations_include_articles_9_to_15(domain: Domain) -> None:
    assert articles(classify(use(domain)))[:7] == SYSTEM_ARTICLES


def test_obligation_outside_veil_has_no_evidence_and_bad_kind_is_refused() -> None:
    quality = next(o for o in classify(use(Domain.CREDIT_SCORING)).obligations
                   if o.article == "Art. 17")
    assert quality.evidence_kinds == ()
    with pytest.raises(InputError, match=r"evidence kind.*'vibes'.*model_card"):
        Obligation("Art. 9", "Risk", "manage it", ("vibes",))


def test_invalid_domain_names_the_allowed_values() -> None:
    with pytest.raises(InputError, match=r"'domain'.*'astrology'.*credit_scoring"):
        use("astrology")
    with pytest.raises(InputError, match=r"'decision_role'.*assists"):
        use(Domain.CHATBOT, "advises")


@pytest.mark.parametrize(("field", "value", "message"), [
    ("description", "  ", "'description' needs a non-empty text"),
    ("description", "x" * (MAX_DESCRIPTION + 1), f"keep it to {MAX_DESCRIPTION}"),
    ("affected", "", "'affected' needs a non-empty text"),
    ("profiling", "false", "'profiling' is true or false"),
])
def test_bad_fields_are_refused(field: str, value: object, message: str) -> None:
    data = {**use(Domain.CHATBOT).to_dict(), field: value}
    with pytest.raises(InputError, match=message):
        IntendedUse.from_dict(data)


def test_from_dict_round_trip_coerces_strings() -> None:
    original = use("credit_scoring", "decides", profiling=True, public_body=True)
    assert original.domain is Domain.CREDIT_SCORING
    assert original.decision_role is DecisionRole.DECIDES
    data = original.to_dict()
    assert data["domain"] == "credit_scoring"
    assert IntendedUse.from_dict(data) == original
    minimal = {k: data[k] for k in ("domain", "description", "affected", "decision_role")}
    assert IntendedUse.from_dict(minimal).profiling is False


def test_from_dict_refuses_unknown_and_missing_keys() -> None:
    data = use(Domain.CHATBOT).to_dict()
    with pytest.raises(InputError, match=r"unexpected \['owner'\]"):
        IntendedUse.from_dict({**data, "owner": "me"})
    del data["affected"]
    with pytest.raises(InputError, match=r"missing \['affected'\]"):
        IntendedUse.from_dict(data)
    with pytest.raises(InputError, match="mapping"):
        IntendedUse.from_dict(["chatbot"])  # type: ignore[arg-type]


def test_undeclared_reason_points_at_the_declaration() -> None:
    assert "Annex III" in UNDECLARED_REASON and "declare" in UNDECLARED_REASON

"""The EU AI Act (Regulation (EU) 2024/1689): the risk class of a model's declared use, and
what that class obliges.

A model carries an :class:`IntendedUse`: the area it is used in (:class:`Domain`), who its
output concerns and how its output reaches them (:class:`DecisionRole`). :func:`classify` maps
it onto the Act's classes: a prohibited practice (Art. 5) is unacceptable; a safety component
of a product under Annex I (Art. 6(1)) or a use listed in Annex III (Art. 6(2)) is high risk,
unless an Annex III use qualifies for the Art. 6(3) derogation (which profiling always rules
out); an Art. 50 use carries transparency duties (limited); anything else is minimal.

For each class the :class:`Classification` lists the obligations, each with the kinds of
evidence veil holds that can show it is met (:data:`EVIDENCE_KINDS`). An obligation with no
such kind (a quality management system, registration, post-market monitoring) has to be shown
outside veil; the report says so rather than leaving it out.

Pure logic: nothing here reads or writes a workspace.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from veil.errors import InputError

__all__ = ["EVIDENCE_KINDS", "MAX_DESCRIPTION", "UNDECLARED_REASON", "Classification",
           "DecisionRole", "Domain", "IntendedUse", "Obligation", "RiskClass", "classify"]

# What veil can show, and where it comes from: the vocabulary of Obligation.evidence_kinds.
EVIDENCE_KINDS: Mapping[str, str] = MappingProxyType({
    "model_card": "technical documentation: intended use, metrics, privacy guarantee",
    "lineage": "the dataset versions and fingerprints the model learnt from",
    "classification": "the discover scan of the training data: its personal data categories",
    "ledger": "tamper-evident logs of every use",
    "attack_results": "measured membership and attribute inference",
    "dp_guarantee": "the differential privacy epsilon the model was trained under",
    "access_control": "the guard: MFA, roles, purposes",
    "encryption": "weights sealed at rest, TLS in transit",
    "risk_matrix": "the privacy risk matrix of the workspace",
    "human_oversight": "the decision role declared as assists or none",
    "accuracy_metrics": "held-out metrics on the model card",
    "intended_use": "the declared use stored with the model",
})

UNDECLARED_REASON = ("no intended use declared: the risk class cannot be determined "
                     "(Art. 6, Annex III); declare it with veil")

MAX_DESCRIPTION = 500


class _Kind(StrEnum):
    """Which part of the Act a domain falls under; decides the classification rule."""

    PROHIBITED = "prohibited"  # Art. 5
    PRODUCT = "product"  # Art. 6(1), Annex I Section A
    PRODUCT_SECTORAL = "product_sectoral"  # Art. 6(1), Annex I Section B, via Art. 2(2)
    LISTED = "listed"  # Art. 6(2), Annex III
    TRANSPARENCY = "transparency"  # Art. 50
    MINIMAL = "minimal"


@dataclass(frozen=True)
class _Rule:
    kind: _Kind
    reference: str
    what: str  # the use in words, starting the reason sentence
    transparency: tuple[str, ...] = ()  # Art. 50 paragraphs that apply on top
    fria: bool = False  # Art. 27 applies whoever deploys (5(b), 5(c), or public by definition)
    why: str = ("is not a prohibited practice, is not listed in Annex I or Annex III and "
                "carries no Art. 50 duty")  # minimal only


class Domain(StrEnum):
    """The area a model is used in, as the Act draws its lines. Where the Act excludes a use
    from a listed area (biometric verification, fraud detection) it has its own value, so
    declaring it does not read as the listed use."""

    # Art. 5(1): prohibited practices
    SUBLIMINAL_MANIPULATION = "subliminal_manipulation"
    EXPLOITING_VULNERABILITIES = "exploiting_vulnerabilities"
    SOCIAL_SCORING = "social_scoring"
    PREDICTIVE_POLICING_PROFILING = "predictive_policing_profiling"
    UNTARGETED_FACE_SCRAPING = "untargeted_face_scraping"
    EMOTION_RECOGNITION_WORK_EDUCATION = "emotion_recognition_work_education"
    BIOMETRIC_CATEGORISATION_SENSITIVE = "biometric_categorisation_sensitive"
    REALTIME_REMOTE_BIOMETRIC_ID_LAW_ENFORCEMENT = "realtime_remote_biometric_id_law_enforcement"
    # Annex III: high-risk areas (Art. 6(2))
    REMOTE_BIOMETRIC_IDENTIFICATION = "remote_biometric_identification"
    BIOMETRIC_CATEGORISATION = "biometric_categorisation"
    EMOTION_RECOGNITION = "emotion_recognition"
    CRITICAL_INFRASTRUCTURE = "critical_infrastructure"
    EDUCATION_ADMISSION = "education_admission"
    EDUCATION_ASSESSMENT = "education_assessment"
    EDUCATION_PLACEMENT = "education_placement"
    EDUCATION_PROCTORING = "education_proctoring"
    EMPLOYMENT_RECRUITMENT = "employment_recruitment"
    EMPLOYMENT_PROMOTION_TERMINATION = "employment_promotion_termination"
    EMPLOYMENT_TASK_ALLOCATION = "employment_task_allocation"
    EMPLOYMENT_MONITORING = "employment_monitoring"
    PUBLIC_BENEFITS_ELIGIBILITY = "public_benefits_eligibility"
    CREDIT_SCORING = "credit_scoring"
    LIFE_HEALTH_INSURANCE_PRICING = "life_health_insurance_pricing"
    EMERGENCY_TRIAGE = "emergency_triage"
    LAW_ENFORCEMENT = "law_enforcement"
    MIGRATION_BORDER = "migration_border"
    ADMINISTRATION_OF_JUSTICE = "administration_of_justice"
    ELECTION_INFLUENCE = "election_influence"
    # Art. 6(1), Annex I: safety components of regulated products
    MEDICAL_DEVICE = "medical_device"
    IN_VITRO_DIAGNOSTIC = "in_vitro_diagnostic"
    MACHINERY = "machinery"
    VEHICLE = "vehicle"
    OTHER_SAFETY_COMPONENT = "other_safety_component"
    # Art. 50: transparency
    CHATBOT = "chatbot"
    SYNTHETIC_CONTENT = "synthetic_content"
    DEEPFAKE = "deepfake"
    # minimal risk
    ANALYTICS_STATISTICS = "analytics_statistics"
    RECOMMENDATION = "recommendation"
    SPAM_FILTER = "spam_filter"
    BIOMETRIC_VERIFICATION = "biometric_verification"
    FRAUD_DETECTION = "fraud_detection"
    RESEARCH = "research"
    OTHER = "other"

    @property
    def reference(self) -> str:
        """The article or annex point the domain comes from, e.g. ``Annex III 5(b)``."""
        return _RULES[self].reference


class DecisionRole(StrEnum):
    """How the model's output reaches the people it concerns."""

    NONE = "none"  # no effect on individuals: statistics, research
    ASSISTS = "assists"  # a human decides with the output
    DECIDES = "decides"  # the output takes effect without human review


class RiskClass(StrEnum):
    """The Act's tiers, from banned (Art. 5) to no duty beyond voluntary codes (Art. 95)."""

    UNACCEPTABLE = "unacceptable"
    HIGH = "high"
    LIMITED = "limited"
    MINIMAL = "minimal"


_P, _L, _T, _M = _Kind.PROHIBITED, _Kind.LISTED, _Kind.TRANSPARENCY, _Kind.MINIMAL
_RULES: Mapping[Domain, _Rule] = MappingProxyType({
    Domain.SUBLIMINAL_MANIPULATION: _Rule(
        _P, "Art. 5(1)(a)", "subliminal, manipulative or deceptive techniques that distort "
        "behaviour and cause significant harm"),
    Domain.EXPLOITING_VULNERABILITIES: _Rule(
        _P, "Art. 5(1)(b)", "exploiting the vulnerabilities of people due to their age, "
        "disability or social or economic situation"),
    Domain.SOCIAL_SCORING: _Rule(_P, "Art. 5(1)(c)", "social scoring of natural persons"),
    Domain.PREDICTIVE_POLICING_PROFILING: _Rule(
        _P, "Art. 5(1)(d)", "predicting that a person will commit a crime solely from "
        "profiling or personality traits"),
    Domain.UNTARGETED_FACE_SCRAPING: _Rule(
        _P, "Art. 5(1)(e)", "building facial recognition databases by untargeted scraping of "
        "facial images from the internet or CCTV"),
    Domain.EMOTION_RECOGNITION_WORK_EDUCATION: _Rule(
        _P, "Art. 5(1)(f)", "inferring emotions at the workplace or in education (other "
        "than for medical or safety reasons)"),
    Domain.BIOMETRIC_CATEGORISATION_SENSITIVE: _Rule(
        _P, "Art. 5(1)(g)", "biometric categorisation to infer race, political opinions, "
        "trade union membership, religion, sex life or sexual orientation"),
    Domain.REALTIME_REMOTE_BIOMETRIC_ID_LAW_ENFORCEMENT: _Rule(
        _P, "Art. 5(1)(h)", "real-time remote biometric identification in publicly "
        "accessible spaces for law enforcement (outside the narrow Art. 5(2) exceptions)"),
    Domain.REMOTE_BIOMETRIC_IDENTIFICATION: _Rule(
        _L, "Annex III 1(a)", "remote biometric identification"),
    Domain.BIOMETRIC_CATEGORISATION: _Rule(
        _L, "Annex III 1(b)", "biometric categorisation by inferred sensitive or protected "
        "attributes", transparency=("50(3)",)),
    Domain.EMOTION_RECOGNITION: _Rule(
        _L, "Annex III 1(c)", "emotion recognition", transparency=("50(3)",)),
    Domain.CRITICAL_INFRASTRUCTURE: _Rule(
        _L, "Annex III 2", "a safety component in critical digital infrastructure, road "
        "traffic or the supply of water, gas, heating or electricity"),
    Domain.EDUCATION_ADMISSION: _Rule(
        _L, "Annex III 3(a)", "deciding access or admission to education and training"),
    Domain.EDUCATION_ASSESSMENT: _Rule(
        _L, "Annex III 3(b)", "evaluating learning outcomes"),
    Domain.EDUCATION_PLACEMENT: _Rule(
        _L, "Annex III 3(c)", "assessing the level of education a person will receive or "
        "can access"),
    Domain.EDUCATION_PROCTORING: _Rule(
        _L, "Annex III 3(d)", "monitoring students for prohibited behaviour during tests"),
    Domain.EMPLOYMENT_RECRUITMENT: _Rule(
        _L, "Annex III 4(a)", "recruiting or selecting people (targeted job ads, filtering "
        "applications, evaluating candidates)"),
    Domain.EMPLOYMENT_PROMOTION_TERMINATION: _Rule(
        _L, "Annex III 4(b)", "deciding on promotion or termination of work relationships"),
    Domain.EMPLOYMENT_TASK_ALLOCATION: _Rule(
        _L, "Annex III 4(b)", "allocating tasks by individual behaviour or personal traits"),
    Domain.EMPLOYMENT_MONITORING: _Rule(
        _L, "Annex III 4(b)", "monitoring and evaluating the performance and behaviour of "
        "workers"),
    Domain.PUBLIC_BENEFITS_ELIGIBILITY: _Rule(
        _L, "Annex III 5(a)", "evaluating eligibility for public assistance benefits and "
        "services, including healthcare", fria=True),
    Domain.CREDIT_SCORING: _Rule(
        _L, "Annex III 5(b)", "evaluating creditworthiness or establishing a credit score",
        fria=True),
    Domain.LIFE_HEALTH_INSURANCE_PRICING: _Rule(
        _L, "Annex III 5(c)", "risk assessment and pricing in life and health insurance",
        fria=True),
    Domain.EMERGENCY_TRIAGE: _Rule(
        _L, "Annex III 5(d)", "classifying emergency calls, dispatching first responders or "
        "triaging emergency patients"),
    Domain.LAW_ENFORCEMENT: _Rule(
        _L, "Annex III 6", "use by or for law enforcement authorities (victim or offending "
        "risk, polygraphs, evidence reliability, profiling)", fria=True),
    Domain.MIGRATION_BORDER: _Rule(
        _L, "Annex III 7", "migration, asylum and border control (risk assessment, "
        "examining applications, identifying people)", fria=True),
    Domain.ADMINISTRATION_OF_JUSTICE: _Rule(
        _L, "Annex III 8(a)", "assisting a judicial authority or dispute resolution in "
        "researching and applying facts and the law", fria=True),
    Domain.ELECTION_INFLUENCE: _Rule(
        _L, "Annex III 8(b)", "influencing the outcome of an election or referendum or "
        "voting behaviour"),
    Domain.MEDICAL_DEVICE: _Rule(
        _Kind.PRODUCT, "Art. 6(1), Annex I (MDR)", "a medical device or its safety component"),
    Domain.IN_VITRO_DIAGNOSTIC: _Rule(
        _Kind.PRODUCT, "Art. 6(1), Annex I (IVDR)",
        "an in vitro diagnostic medical device or its safety component"),
    Domain.MACHINERY: _Rule(
        _Kind.PRODUCT, "Art. 6(1), Annex I (Machinery Regulation)",
        "a safety component of machinery"),
    Domain.VEHICLE: _Rule(
        _Kind.PRODUCT_SECTORAL, "Art. 6(1), Annex I Section B (vehicle type-approval)",
        "a safety component of a motor vehicle"),
    Domain.OTHER_SAFETY_COMPONENT: _Rule(
        _Kind.PRODUCT, "Art. 6(1), Annex I Section A",
        "a safety component of a product under Annex I Section A (toys, lifts, radio or "
        "pressure equipment, ...)"),
    Domain.CHATBOT: _Rule(
        _T, "Art. 50(1)", "a system that interacts directly with people",
        transparency=("50(1)",)),
    Domain.SYNTHETIC_CONTENT: _Rule(
        _T, "Art. 50(2)", "generating synthetic audio, images, video or text",
        transparency=("50(2)",)),
    Domain.DEEPFAKE: _Rule(
        _T, "Art. 50(2), Art. 50(4)", "generating or manipulating deep fakes",
        transparency=("50(2)", "50(4)")),
    Domain.ANALYTICS_STATISTICS: _Rule(_M, "Art. 95", "aggregate analytics and statistics"),
    Domain.RECOMMENDATION: _Rule(_M, "Art. 95", "recommending content or products"),
    Domain.SPAM_FILTER: _Rule(_M, "Art. 95", "spam filtering"),
    Domain.BIOMETRIC_VERIFICATION: _Rule(
        _M, "Annex III 1(a)", "biometric verification that only confirms a person is who "
        "they claim to be", why="is excluded from Annex III 1(a)"),
    Domain.FRAUD_DETECTION: _Rule(
        _M, "Annex III 5(b)", "detecting financial fraud", why="is excluded from Annex III 5(b)"),
    Domain.RESEARCH: _Rule(
        _M, "Art. 2(6)", "a model developed and used solely for scientific research",
        why="is outside the Act (Art. 2(6)) until it is put to another use"),
    Domain.OTHER: _Rule(
        _M, "Art. 95", "a use declared as 'other'",
        why="was matched to no Art. 5, Annex I, Annex III or Art. 50 area (check that none "
        "fits)"),
})


@dataclass(frozen=True)
class Obligation:
    """One duty the Act places on the system, with the kinds of veil evidence that can show
    it is met (none: it has to be shown outside veil)."""

    article: str
    title: str
    requires: str
    evidence_kinds: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        kinds = tuple(self.evidence_kinds)
        unknown = [k for k in kinds if k not in EVIDENCE_KINDS]
        if unknown:
            raise InputError(f"obligation {self.article} names unknown evidence kind(s) "
                             f"{unknown}; choose from {list(EVIDENCE_KINDS)}")
        object.__setattr__(self, "evidence_kinds", kinds)

    def to_dict(self) -> dict[str, Any]:
        return {"article": self.article, "title": self.title, "requires": self.requires,
                "evidence_kinds": list(self.evidence_kinds)}


_PROHIBITION = Obligation(
    "Art. 5", "Prohibited AI practice",
    "The system must not be placed on the market, put into service or used in the Union.")
_RISK_MANAGEMENT = Obligation(
    "Art. 9", "Risk management system",
    "Identify, estimate and mitigate the risks to health, safety and fundamental rights "
    "throughout the system's life, and test it against them.",
    ("risk_matrix", "attack_results", "intended_use"))
_DATA_GOVERNANCE = Obligation(
    "Art. 10", "Data and data governance",
    "Training, validation and test data must be relevant, representative and examined for "
    "bias; special categories used for bias detection need strict safeguards.",
    ("lineage", "classification", "dp_guarantee", "access_control"))
_DOCUMENTATION = Obligation(
    "Art. 11", "Technical documentation (Annex IV)",
    "Draw up the Annex IV technical documentation before the system is placed on the market "
    "and keep it up to date.",
    ("model_card", "lineage", "intended_use", "accuracy_metrics"))
_RECORD_KEEPING = Obligation(
    "Art. 12", "Record-keeping",
    "The system must automatically log events over its lifetime so that its use can be "
    "traced and monitored.",
    ("ledger",))
_INFORMATION = Obligation(
    "Art. 13", "Transparency and information to deployers",
    "Give deployers instructions for use stating the intended purpose, the accuracy and its "
    "limits, and the human oversight measures.",
    ("model_card", "intended_use", "accuracy_metrics"))
_OVERSIGHT = Obligation(
    "Art. 14", "Human oversight",
    "Design the system so that natural persons can effectively oversee it, understand its "
    "output, and disregard, override or stop it.",
    ("human_oversight", "intended_use"))
_ACCURACY = Obligation(
    "Art. 15", "Accuracy, robustness and cybersecurity",
    "Reach and declare an appropriate level of accuracy, and resist errors and attacks such "
    "as data poisoning, adversarial examples and confidentiality attacks.",
    ("accuracy_metrics", "attack_results", "encryption", "access_control"))
_QUALITY = Obligation(
    "Art. 17", "Quality management system",
    "The provider runs a documented quality management system covering design, testing, "
    "data management, incident reporting and accountability.")
_DEPLOYER = Obligation(
    "Art. 26", "Obligations of deployers",
    "Use the system according to its instructions, assign competent human oversight, keep "
    "its logs for at least six months and inform the workers and people it concerns.",
    ("ledger", "human_oversight", "intended_use"))
_FRIA = Obligation(
    "Art. 27", "Fundamental rights impact assessment",
    "Before first use, the deployer assesses the affected groups, the risks of harm to them, "
    "the human oversight and the measures if risks materialise, and notifies the market "
    "surveillance authority.",
    ("intended_use", "risk_matrix", "human_oversight"))
_CONFORMITY = Obligation(
    "Art. 43", "Conformity assessment",
    "Pass the conformity assessment before the system is placed on the market, then draw up "
    "the EU declaration of conformity and affix the CE marking (Art. 47, 48).")
_REGISTRATION = Obligation(
    "Art. 49(1)", "Registration in the EU database",
    "Register the provider and the system in the EU database before placing it on the market "
    "(biometric, law enforcement and migration systems in its non-public section); public "
    "deployers also register their use.")
_NATIONAL_REGISTRATION = Obligation(
    "Art. 49(5)", "Registration at national level",
    "Critical infrastructure systems are registered with the national authority rather than "
    "in the EU database.")
_POST_MARKET = Obligation(
    "Art. 72", "Post-market monitoring",
    "The provider runs a post-market monitoring plan that collects and analyses data on the "
    "system's performance throughout its life.")
_DEROGATION_RECORD = Obligation(
    "Art. 6(4)", "Documented non-high-risk assessment",
    "The provider documents why the Annex III system is not high risk before placing it on "
    "the market, and hands the assessment to the authorities on request.",
    ("intended_use",))
_DEROGATION_REGISTRATION = Obligation(
    "Art. 49(2)", "Registration of the non-high-risk assessment",
    "Register the provider and the system in the EU database even though it was assessed as "
    "not high risk.")
_ART50: Mapping[str, Obligation] = MappingProxyType({
    "50(1)": Obligation(
        "Art. 50(1)", "Disclose interaction with an AI system",
        "People interacting with the system are told they are dealing with an AI system, "
        "unless it is obvious from the context."),
    "50(2)": Obligation(
        "Art. 50(2)", "Mark synthetic content",
        "Generated audio, images, video or text are marked in a machine-readable format and "
        "detectable as artificially generated."),
    "50(3)": Obligation(
        "Art. 50(3)", "Inform people exposed to emotion recognition or biometric "
        "categorisation",
        "The deployer informs the people exposed to the system of its operation and processes "
        "their personal data under the GDPR."),
    "50(4)": Obligation(
        "Art. 50(4)", "Disclose deep fakes",
        "The deployer discloses that the content was artificially generated or manipulated."),
})
_SYSTEM = (_RISK_MANAGEMENT, _DATA_GOVERNANCE, _DOCUMENTATION, _RECORD_KEEPING, _INFORMATION,
           _OVERSIGHT, _ACCURACY)


def _choice(enum: type[StrEnum], value: object, field: str) -> Any:
    try:
        return enum(value)
    except ValueError:
        raise InputError(f"intended use field {field!r}: {value!r} is not one of "
                         f"{[str(e) for e in enum]}") from None


def _text(value: object, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"intended use field {field!r} needs a non-empty text")
    return value.strip()


@dataclass(frozen=True)
class IntendedUse:
    """What a model is declared to be used for: the input the classification rests on."""

    domain: Domain
    description: str  # the use in the provider's words
    affected: str  # who the output concerns, e.g. "patients discharged from the clinics"
    decision_role: DecisionRole
    profiling: bool = False  # profiles natural persons: an Annex III use stays high (Art. 6(3))
    narrow_procedural: bool = False  # meets an Art. 6(3) condition (narrow/preparatory task...)
    public_body: bool = False  # deployer is public or provides public services (Art. 27(1))

    def __post_init__(self) -> None:
        description = _text(self.description, "description")
        if len(description) > MAX_DESCRIPTION:
            raise InputError(f"intended use field 'description' has {len(description)} "
                             f"characters; keep it to {MAX_DESCRIPTION}")
        for flag in ("profiling", "narrow_procedural", "public_body"):
            if not isinstance(getattr(self, flag), bool):
                raise InputError(f"intended use field {flag!r} is true or false, not "
                                 f"{getattr(self, flag)!r}")
        fields = {"domain": _choice(Domain, self.domain, "domain"),
                  "decision_role": _choice(DecisionRole, self.decision_role, "decision_role"),
                  "description": description, "affected": _text(self.affected, "affected")}
        for key, value in fields.items():
            object.__setattr__(self, key, value)

    def to_dict(self) -> dict[str, Any]:
        return {"domain": str(self.domain), "description": self.description,
                "affected": self.affected, "decision_role": str(self.decision_role),
                "profiling": self.profiling, "narrow_procedural": self.narrow_procedural,
                "public_body": self.public_body}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> IntendedUse:
        """An intended use from :meth:`to_dict`'s shape (stored with a model, or a file)."""
        if not isinstance(data, Mapping):
            raise InputError(f"an intended use is a mapping of its fields, not "
                             f"{type(data).__name__}")
        missing = sorted(_REQUIRED - set(data))
        extra = sorted(set(data) - _REQUIRED - _OPTIONAL)
        if missing or extra:
            raise InputError(f"an intended use needs the fields {sorted(_REQUIRED)} (and may "
                             f"have {sorted(_OPTIONAL)}); missing {missing}, unexpected {extra}")
        return cls(**data)


_REQUIRED = frozenset({"domain", "description", "affected", "decision_role"})
_OPTIONAL = frozenset({"profiling", "narrow_procedural", "public_body"})


@dataclass(frozen=True)
class Classification:
    """Where a declared use falls in the Act, why, and what it obliges."""

    risk_class: RiskClass
    reference: str  # the article or annex point the class rests on
    reason: str  # one sentence a DPO can read
    obligations: tuple[Obligation, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"risk_class": str(self.risk_class), "reference": self.reference,
                "reason": self.reason, "obligations": [o.to_dict() for o in self.obligations]}


def _role_note(role: DecisionRole) -> str:
    """Why the declared role leaves a high-risk class where it is."""
    return {
        DecisionRole.ASSISTS: "a human deciding with its output does not lower the class: "
                              "human oversight is an Art. 14 obligation, not an exemption",
        DecisionRole.DECIDES: "its output takes effect without human review, so the Art. 14 "
                              "oversight measures must be built in (and GDPR Art. 22 limits "
                              "such decisions)",
        DecisionRole.NONE: "a declared role of none does not lower the class: only the "
                           "Art. 6(3) conditions can",
    }[role]


def _sentence(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def _listed(use: IntendedUse, rule: _Rule, what: str) -> Classification:
    """Annex III: high, unless the Art. 6(3) derogation applies (never when profiling)."""
    transparency = tuple(_ART50[p] for p in rule.transparency)
    if use.narrow_procedural and not use.profiling:
        risk = RiskClass.LIMITED if transparency else RiskClass.MINIMAL
        return Classification(risk, f"{rule.reference}, Art. 6(3)", _sentence(
            f"{what} is listed in {rule.reference}, but it is declared a narrow "
            f"procedural or preparatory task that does not profile people, so the Art. 6(3) "
            f"derogation makes it {risk} risk",
            "the provider must document that assessment before placing it on the market and "
            "register it (Art. 6(4), Art. 49(2))"),
            (_DEROGATION_RECORD, _DEROGATION_REGISTRATION, *transparency))
    registration = (_NATIONAL_REGISTRATION if use.domain is Domain.CRITICAL_INFRASTRUCTURE
                    else _REGISTRATION)
    fria = ((_FRIA,) if use.domain is not Domain.CRITICAL_INFRASTRUCTURE
            and (rule.fria or use.public_body) else ())
    return Classification(RiskClass.HIGH, rule.reference, _sentence(
        f"{what} is listed in {rule.reference}, so it is high risk (Art. 6(2))",
        "it profiles natural persons, so the Art. 6(3) derogation cannot apply"
        if use.narrow_procedural else "",
        _role_note(use.decision_role)),
        (*_SYSTEM, _QUALITY, _DEPLOYER, *fria, _CONFORMITY, registration, *transparency,
         _POST_MARKET))


def classify(use: IntendedUse) -> Classification:
    """The risk class of ``use``, the article it rests on, why, and the obligations."""
    rule = _RULES[use.domain]
    what = rule.what[0].upper() + rule.what[1:]
    derogation = ("the Art. 6(3) derogation covers Annex III uses only"
                  if use.narrow_procedural else "")
    match rule.kind:
        case _Kind.PROHIBITED:
            return Classification(RiskClass.UNACCEPTABLE, rule.reference, (
                f"{what} is a prohibited practice ({rule.reference}): it must not be placed "
                "on the market, put into service or used in the Union"), (_PROHIBITION,))
        case _Kind.PRODUCT:
            return Classification(RiskClass.HIGH, rule.reference, _sentence(
                f"{what} is high risk under {rule.reference} where the product must pass a "
                "third-party conformity assessment under that law", derogation,
                _role_note(use.decision_role)),
                (*_SYSTEM, _QUALITY, _DEPLOYER, _CONFORMITY, _POST_MARKET))
        case _Kind.PRODUCT_SECTORAL:
            return Classification(RiskClass.HIGH, rule.reference, _sentence(
                f"{what} is high risk under {rule.reference}, but its requirements "
                "(Art. 9-15) apply through the type-approval law, not directly (Art. 2(2), "
                "Art. 102-109)", derogation, _role_note(use.decision_role)), _SYSTEM)
        case _Kind.LISTED:
            return _listed(use, rule, what)
        case _Kind.TRANSPARENCY:
            return Classification(RiskClass.LIMITED, rule.reference, (
                f"{what} carries the transparency duties of {rule.reference} and is otherwise "
                "not high risk"), tuple(_ART50[p] for p in rule.transparency))
    return Classification(RiskClass.MINIMAL, rule.reference, (
        f"{what} {rule.why}, so it is minimal risk: voluntary codes of conduct (Art. 95) and "
        "staff AI literacy (Art. 4) apply"), ())

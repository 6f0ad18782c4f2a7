"""A federation definition: which sites train which model, how, and under what guarantee.

Written in Python (:class:`Federation`) or TOML (:func:`load`); both pass the same checks, so a
mistake is reported before any site reads a row or spends budget::

    name = "readmission"
    target = "readmitted_30d"
    features = ["age", "bmi", "sex"]
    model = "logreg"            # or "mlp" (hidden = 64)
    rounds = 10
    strategy = "fedavg"         # fedprox (proximal_mu), fedadam (server_lr)

    [public]                    # facts every site agrees on; nothing is read from the data
    bounds = { age = [18, 95], bmi = [10, 70] }
    categories = { sex = ["F", "M"] }
    classes = [0, 1]

    [privacy]
    mode = "central"            # none | central | local
    unit = "record"             # or "site"; see Privacy
    epsilon = 3.0
    delta = 1e-5
    clipping_norm = 1.0
    sample_rate = 0.1

    [secure_aggregation]
    num_shares = 3              # each site's mask key is split among this many sites
    threshold = 2               # shares needed to rebuild it (collusion and dropout limits)

    [[sites]]
    name = "north"
    workspace = "sites/north"   # a veil workspace; or several sites in one, each its dataset
    dataset = "patients"
    key_file = "sites/north.key"
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from veil.errors import InputError

__all__ = ["STRATEGIES", "Federation", "Privacy", "SecureAggregation", "Site", "load"]

STRATEGIES = ("fedavg", "fedprox", "fedadam")
Mode = Literal["none", "central", "local"]


def _positive(name: str, value: Any, *, whole: bool = False) -> None:
    kinds = (int,) if whole else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not (
            math.isfinite(value) and value > 0):
        kind = "whole number >= 1" if whole else "positive finite number"
        raise InputError(f"{name} must be a {kind}; got {value!r}")


@dataclass(frozen=True)
class Site:
    """One data holder: a dataset in a veil workspace that only its own ClientApp opens."""

    name: str
    workspace: str
    dataset: str
    key_file: str | None = None  # else the site's VEIL_MASTER_KEY / VEIL_PASSPHRASE

    def check(self) -> None:
        for label in ("name", "workspace", "dataset"):
            value = getattr(self, label)
            if not isinstance(value, str) or not value.strip():
                raise InputError(f"site {label} must be a non-empty string; got {value!r}")


@dataclass(frozen=True)
class Privacy:
    """The guarantee: (``epsilon``, ``delta``)-DP over all rounds for the chosen ``unit``.

    ``unit = "record"`` (cross-silo: a few hospitals or banks, each with many people): DP-SGD
    across the sites. Each round every site draws a Poisson batch of its rows at
    ``sample_rate``, clips each row's gradient to ``clipping_norm`` and sends the sum; the
    server adds the Gaussian noise once to the total (``central`` only), so the noise is that
    of one DP-SGD run over the pooled rows. Every person at every site is protected.

    ``unit = "site"`` (cross-device: many sites, each one person or a few): a site's whole
    update is clipped to ``clipping_norm``. ``central``: the server noises the sum of the
    updates and divides it by the number of sites, fixed before the run whoever answers;
    ``local``: each site noises its own update before it leaves. Protects each site's whole
    contribution, and so everyone in it, but
    with a handful of sites the noise drowns the signal.

    With secure aggregation the server never sees a single site's update, only the sum."""

    mode: Mode = "none"
    epsilon: float | None = None
    delta: float | None = None
    clipping_norm: float = 1.0
    unit: Literal["record", "site"] = "record"
    sample_rate: float = 0.1  # record unit: each row's chance to be in a round's batch

    def check(self) -> None:
        if self.mode not in ("none", "central", "local"):
            raise InputError(f"privacy mode must be none, central or local; got {self.mode!r}")
        if self.mode == "none":
            return
        _positive("privacy epsilon", self.epsilon)
        _positive("privacy clipping_norm", self.clipping_norm)
        if not (isinstance(self.delta, int | float) and not isinstance(self.delta, bool)
                and 0 < self.delta < 1):
            raise InputError(f"privacy delta must be in (0, 1); got {self.delta!r}")
        if self.unit not in ("record", "site"):
            raise InputError(f"privacy unit must be 'record' or 'site'; got {self.unit!r}")
        if self.unit == "record" and self.mode != "central":
            raise InputError("record-level DP across sites adds its noise centrally (mode "
                             "'central'); for local noise use unit 'site'")
        if not (isinstance(self.sample_rate, float) and 0 < self.sample_rate <= 1):
            raise InputError(f"privacy sample_rate must be in (0, 1]; got {self.sample_rate!r}")


@dataclass(frozen=True)
class SecureAggregation:
    """Flower's SecAgg+ settings. Each site's masks are secret-shared among ``num_shares``
    sites (itself and its neighbours); any ``threshold`` of them rebuild a dropped site's mask,
    and fewer than ``threshold`` colluding sites (with the server) learn nothing of a site's
    update. A round survives while every site keeps ``threshold`` live holders of its shares."""

    enabled: bool = True
    num_shares: int = 3
    threshold: int = 2
    timeout: float | None = 120.0  # seconds to wait for each stage's replies
    clipping_range: float = 8.0  # parameters are clipped to +-this before quantization
    quantization_range: int = 2**22

    def check(self) -> None:
        if not self.enabled:
            return
        _positive("secure_aggregation num_shares", self.num_shares, whole=True)
        _positive("secure_aggregation threshold", self.threshold, whole=True)
        if self.num_shares < 3 or not 2 <= self.threshold < self.num_shares:
            raise InputError("secure aggregation needs num_shares >= 3 and 2 <= threshold < "
                             f"num_shares; got {self.num_shares} and {self.threshold}")
        if self.timeout is not None:
            _positive("secure_aggregation timeout", self.timeout)
        _positive("secure_aggregation clipping_range", self.clipping_range)


@dataclass(frozen=True)
class Federation:
    """Sites, model, rounds, strategy and privacy of one federated training run."""

    name: str
    sites: Sequence[Site]
    target: str
    features: Sequence[str]
    bounds: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    categories: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    classes: Sequence[Any] = (0, 1)
    model: str = "logreg"
    hidden: int = 64
    rounds: int = 10
    strategy: str = "fedavg"
    proximal_mu: float = 0.1  # FedProx
    server_lr: float = 0.1  # FedAdam
    local_epochs: int = 1
    batch_size: int = 64
    lr: float = 0.5
    holdout: float = 0.2  # each site's held-out share, for its metrics
    min_sites: int = 2  # a round fails below this many answering sites
    min_rows: int = 100  # a site with fewer training rows is excluded
    max_update_norm: float = 100.0  # an update longer than this (L2) is excluded as oversized
    privacy: Privacy = field(default_factory=Privacy)
    secure_aggregation: SecureAggregation = field(default_factory=SecureAggregation)
    seed: int | None = None

    def check(self) -> None:
        """Refuse a definition that cannot run, naming the problem."""
        if not isinstance(self.name, str) or not self.name.strip():
            raise InputError("a federation needs a name")
        if not self.sites:
            raise InputError("a federation needs at least two sites; it has none")
        for site in self.sites:
            if not isinstance(site, Site):
                raise InputError(f"sites must be Site entries; got {type(site).__name__}")
            site.check()
        names = [s.name for s in self.sites]
        if len(set(names)) != len(names):
            raise InputError(f"site names must be unique; got {names}")
        if len(self.sites) < 2:
            raise InputError("a federation needs at least two sites")
        if not self.features or self.target in self.features:
            raise InputError("name at least one feature, and not the target")
        for column in self.features:
            if column not in self.bounds and column not in self.categories:
                raise InputError(f"feature {column!r} needs public bounds or categories in the "
                                 "federation definition (nothing is read from the sites' data)")
        for column, (lower, upper) in self.bounds.items():
            if not (math.isfinite(lower) and math.isfinite(upper) and lower < upper):
                raise InputError(f"bounds of {column!r} must be finite with lower < upper")
        if len(self.classes) < 2:
            raise InputError("the target needs at least two public classes")
        if self.model not in ("logreg", "mlp"):
            raise InputError(f"model must be 'logreg' or 'mlp'; got {self.model!r}")
        if self.strategy not in STRATEGIES:
            raise InputError(f"strategy must be one of {list(STRATEGIES)}; got "
                             f"{self.strategy!r}")
        for name in ("hidden", "rounds", "local_epochs", "batch_size", "min_sites", "min_rows"):
            _positive(name, getattr(self, name), whole=True)
        for name in ("lr", "server_lr", "max_update_norm"):
            _positive(name, getattr(self, name))
        if not (isinstance(self.proximal_mu, int | float) and self.proximal_mu >= 0):
            raise InputError(f"proximal_mu must be >= 0; got {self.proximal_mu!r}")
        if not 0 < self.holdout < 1:
            raise InputError(f"holdout must be a share in (0, 1); got {self.holdout!r}")
        if not 2 <= self.min_sites <= len(self.sites):
            raise InputError(f"min_sites must be between 2 and the {len(self.sites)} sites; "
                             f"got {self.min_sites}")
        self.privacy.check()
        if (self.privacy.mode != "none" and self.privacy.unit == "record"
                and self.strategy == "fedprox"):
            raise InputError("record-level DP takes one gradient step per round, so FedProx's "
                             "local proximal term has nothing to act on; use fedavg (SGD on "
                             "the server) or fedadam (Adam on the server)")
        self.secure_aggregation.check()
        if self.secure_aggregation.enabled and self.secure_aggregation.num_shares > len(
                self.sites):
            raise InputError(f"secure_aggregation num_shares {self.secure_aggregation.num_shares}"
                             f" exceeds the {len(self.sites)} sites")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], base: Path | None = None) -> Federation:
        """A checked federation from plain data (TOML, JSON); site paths relative to ``base``."""
        data = dict(data)
        public = dict(data.pop("public", {}) or {})
        for key in ("bounds", "categories", "classes"):
            if key in public:
                data[key] = public.pop(key)
        if public:
            raise InputError(f"unknown [public] entries {sorted(public)}")
        try:
            sites = [Site(**_relative(dict(s), base)) for s in data.pop("sites", [])]
            privacy = Privacy(**dict(data.pop("privacy", {}) or {}))
            secure = SecureAggregation(**dict(data.pop("secure_aggregation", {}) or {}))
            bounds = {c: (float(b[0]), float(b[1])) for c, b in
                      dict(data.pop("bounds", {}) or {}).items()}
            federation = cls(sites=sites, privacy=privacy, secure_aggregation=secure,
                             bounds=bounds, **data)
        except TypeError as exc:  # an unknown or missing key
            raise InputError(f"malformed federation definition: {exc}") from None
        except (ValueError, IndexError) as exc:
            raise InputError(f"malformed federation definition: {exc}") from None
        federation.check()
        return federation


def _relative(site: dict[str, Any], base: Path | None) -> dict[str, Any]:
    if base is not None:
        for key in ("workspace", "key_file"):
            if isinstance(site.get(key), str) and not Path(site[key]).is_absolute():
                site[key] = str(base / site[key])
    return site


def load(path: str | Path) -> Federation:
    """Read and check a federation definition from a TOML file."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"no federation definition at {path}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path} is not valid TOML: {exc}") from None
    return Federation.from_dict(data, base=path.parent)

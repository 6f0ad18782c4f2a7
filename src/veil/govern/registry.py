"""The governance namespaces of a session: ``session.purposes`` (the ``govern`` right to
change), ``session.consent`` (the ``consent`` right), ``session.retention`` (``govern``) and
``session.requests`` (data subject requests, the ``dsar`` right). Each is a thin shell over
:mod:`veil.govern.purposes`, :mod:`~veil.govern.consent`, :mod:`~veil.govern.retention` and
:mod:`~veil.govern.dsar`, after the guard decided the call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from veil.access.policy import Operation
from veil.govern import consent, dsar, purposes, retention

if TYPE_CHECKING:
    from veil.access.scope import Scope
    from veil.access.session import Session
    from veil.workspace.store import Store

__all__ = ["Consents", "Purposes", "Requests", "RetentionRules"]


class _Namespace:
    def __init__(self, session: Session) -> None:
        self._session = session

    def _allowed(self, operation: Operation, dataset: str | None = None
                 ) -> tuple[Store, Scope]:
        return self._session._store, self._session._allow(operation, dataset=dataset)


class Purposes(_Namespace):
    """Why personal data may be used: the registry every non-owner session names."""

    def add(self, purpose: purposes.Purpose) -> purposes.Purpose:
        """Register a purpose (refused if it breaks GDPR Art. 6/9 rules; see
        :class:`~veil.govern.purposes.Purpose`)."""
        return purposes.add(*self._allowed(Operation.GOVERN), purpose)

    def end(self, name: str, *, on: datetime | date | str) -> purposes.Purpose:
        """End a purpose: nothing may be done for it after ``on``."""
        return purposes.end(*self._allowed(Operation.GOVERN), name, on=on)

    def get(self, name: str) -> purposes.Purpose:
        return purposes.get(self._session._store, name)

    def list(self) -> list[purposes.Purpose]:
        return purposes.all(self._session._store)


class Consents(_Namespace):
    """Per subject and purpose: given or withdrawn, when, from what source, which notice."""

    def record(self, events: pl.DataFrame | Sequence[Mapping[str, Any]]
               ) -> consent.ConsentReport:
        """Record events (subject, purpose, state given/withdrawn, at, source, notice)."""
        return consent.record(*self._allowed(Operation.CONSENT), events)

    def give(self, subject: str | int, purpose: str, *, source: str, notice: str,
             at: datetime | None = None) -> consent.ConsentReport:
        return self.record([_event(subject, purpose, "given", source, notice, at)])

    def withdraw(self, subject: str | int, purpose: str, *, source: str, notice: str,
                 at: datetime | None = None) -> consent.ConsentReport:
        """Withdrawal takes effect for every later operation; budgets are not refunded."""
        return self.record([_event(subject, purpose, "withdrawn", source, notice, at)])

    def import_file(self, path: str | Path) -> consent.ConsentReport:
        """Bulk import from CSV or Parquet (columns as for :meth:`record`)."""
        return consent.import_file(*self._allowed(Operation.CONSENT), path)

    def history(self, subject: str | int, purpose: str | None = None
                ) -> list[consent.ConsentEvent]:
        return consent.history(*self._allowed(Operation.CONSENT), subject, purpose)


class RetentionRules(_Namespace):
    """How long each dataset's versions and rows are kept."""

    def set(self, dataset: str, policy: retention.Retention | None) -> None:
        retention.set_policy(*self._allowed(Operation.GOVERN, dataset), dataset, policy)

    def get(self, dataset: str) -> retention.Retention | None:
        return retention.get_policy(self._session._store, dataset)

    def enforce(self, *, dry_run: bool = False, now: datetime | None = None
                ) -> retention.RetentionReport:
        """New versions without expired rows, versions past their time crypto-shredded
        (idempotent; ``dry_run`` only reports)."""
        return retention.enforce(*self._allowed(Operation.GOVERN),
                                 now=now or datetime.now(UTC), dry_run=dry_run)


class Requests(_Namespace):
    """Data subject requests: access (Art. 15), erasure (Art. 17), rectification (Art. 16)."""

    def access(self, subject: str | int, *, out_dir: str | Path | None = None
               ) -> dsar.AccessReport:
        """Everything held about ``subject`` (written to ``out_dir`` as JSON and CSV too)."""
        return dsar.access(*self._allowed(Operation.DSAR), subject, out_dir=out_dir)

    def erase(self, subject: str | int) -> dsar.Receipt:
        """Erase ``subject`` everywhere; the receipt proves the erasure entry is in the
        signed ledger."""
        return dsar.erase(*self._allowed(Operation.DSAR), subject)

    def rectify(self, subject: str | int, dataset: str, changes: Mapping[str, Any]
                ) -> dsar.Rectification:
        """A new version of ``dataset`` with ``subject``'s rows corrected."""
        return dsar.rectify(*self._allowed(Operation.DSAR, dataset), subject, dataset, changes)

    def status(self, request_id: str) -> dsar.RequestStatus:
        """A request's state, summary and the artifacts an erasure flagged."""
        return dsar.status(self._allowed(Operation.DSAR)[0], request_id)


def _event(subject: str | int, purpose: str, state: str, source: str, notice: str,
           at: datetime | None) -> dict[str, Any]:
    return {"subject": subject, "purpose": purpose, "state": state,
            "at": at or datetime.now(UTC), "source": source, "notice": notice}

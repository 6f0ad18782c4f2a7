"""One exception hierarchy for veil, so callers choose the level they catch.

::

    VeilError                      code
    ├── InputError                 input.*        the caller's input is wrong; nothing was written
    │   ├── MalformedSourceError   input.malformed    unreadable, ragged, empty or badly encoded
    │   ├── SchemaError            input.schema       missing/null subject ids, unsupported types
    │   ├── InvalidNameError       input.name         a dataset name that is not allowed
    │   └── HierarchyError         input.hierarchy    a generalization hierarchy that is malformed
    │                                                 or does not cover the data
    ├── NotFoundError              notfound       a workspace, dataset, version or entry is unknown
    ├── WorkspaceError             workspace      the workspace cannot be created or opened as asked
    │   └── WorkspaceBusyError     workspace.busy     the write lock stayed taken past the wait,
    │                                                 or a dataset kept changing under a request
    ├── PrivacyModelError          privacy.unmet  no release meets the privacy model within the
    │                                             suppression limit (never a weaker one instead)
    ├── PrivacyBudgetError         privacy.budget a DP query would exceed a privacy budget
    ├── FederationError            federation     a federated or multi-party run cannot go on:
    │                                             too few sites or parties answered, a round
    │                                             did not aggregate
    ├── AccessError                access.*       who may reach the workspace, and how
    │   ├── AuthenticationError    access.auth        credentials refused; one message for every
    │   │                                             cause (unknown name, wrong factor, bad token)
    │   ├── LockedError            access.locked      too many failures; locked until a stated time
    │   └── AccessDenied           access.denied      the guard refused the call
    ├── KeyringError               keys.*         master key missing or wrong, data key destroyed
    │   ├── MasterKeyUnavailableError keys.unavailable  no passphrase, key file or env key
    │   ├── WrongMasterKeyError    keys.wrong         the key material does not open this workspace
    │   └── KeyDestroyedError      keys.destroyed     crypto-shredded; the data is gone for good
    └── IntegrityError             integrity.*    stored bytes or records changed behind veil's back
        ├── VaultIntegrityError    integrity.vault    a vault file fails authentication
        ├── LedgerIntegrityError   integrity.ledger   the audit ledger fails verification
        │   └── RollbackError      integrity.rollback an anchored head is ahead of the catalog
        ├── InvalidShare           integrity.share    a key share cannot be opened; one message
        │                                             for every cause (wrong key, any change)
        └── BoundStateError        integrity.state    budget, spend, settings, version, model,
                                                      purpose, consent, retention, lineage or
                                                      request rows differ from the ledger
                                                      entries that bind them

Verification failures of vault files say only *which file* failed, never which check, so an
attacker learns nothing from the message; caller mistakes get messages that say how to fix them.
"""

from __future__ import annotations

from datetime import datetime


class VeilError(Exception):
    """Root of every error veil raises on purpose; ``code`` is stable and machine-readable."""

    code = "veil"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InputError(VeilError):
    code = "input"


class MalformedSourceError(InputError):
    code = "input.malformed"


class SchemaError(InputError):
    code = "input.schema"


class InvalidNameError(InputError):
    code = "input.name"


class HierarchyError(InputError):
    code = "input.hierarchy"


class NotFoundError(VeilError):
    code = "notfound"


class WorkspaceError(VeilError):
    code = "workspace"


class WorkspaceBusyError(WorkspaceError):
    code = "workspace.busy"


class PrivacyModelError(VeilError):
    code = "privacy.unmet"


class PrivacyBudgetError(VeilError):
    code = "privacy.budget"


class FederationError(VeilError):
    code = "federation"


class AccessError(VeilError):
    code = "access"


class AuthenticationError(AccessError):
    """Credentials were refused. One message for every cause (unknown principal, wrong password,
    wrong or replayed code, bad token) so a caller learns nothing about which part was wrong."""

    code = "access.auth"

    def __init__(self) -> None:
        super().__init__("authentication failed")


class LockedError(AccessError):
    """Too many failed attempts; the principal is refused, even with the right credentials,
    until ``until`` (saying so is no oracle worth hiding: OWASP allows it)."""

    code = "access.locked"

    def __init__(self, until: datetime) -> None:
        super().__init__(f"the account is locked until {until.isoformat(timespec='seconds')} "
                         "after too many failed attempts; try again then, or ask an "
                         "administrator to unlock it")
        self.until = until


class AccessDenied(AccessError):
    """The guard refused the call: policy, purpose, step-up or consent said no (the message
    names what was missing). Wrong credentials are :class:`AuthenticationError` instead."""

    code = "access.denied"


class KeyringError(VeilError):
    code = "keys"


class MasterKeyUnavailableError(KeyringError):
    code = "keys.unavailable"


class WrongMasterKeyError(KeyringError):
    code = "keys.wrong"


class KeyDestroyedError(KeyringError):
    code = "keys.destroyed"


class IntegrityError(VeilError):
    code = "integrity"


class VaultIntegrityError(IntegrityError):
    code = "integrity.vault"


class LedgerIntegrityError(IntegrityError):
    code = "integrity.ledger"


class RollbackError(LedgerIntegrityError):
    """An anchored head proves the catalog once held more (or other) entries than now."""

    code = "integrity.rollback"


class InvalidShare(IntegrityError):
    """A key share (:mod:`veil.keys.share`) was refused: not for this recipient key, changed,
    truncated or malformed. One fixed message for every cause, so a forger probing with altered
    shares learns nothing about which check failed."""

    code = "integrity.share"

    def __init__(self) -> None:
        super().__init__("the key share cannot be opened: it is damaged, altered or meant for "
                         "another recipient key")


class BoundStateError(IntegrityError):
    """Catalog rows a guarantee depends on differ from the ledger entries that bind them."""

    code = "integrity.state"

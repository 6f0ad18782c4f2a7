"""A veil service over HTTPS, for ``veil --server URL``: the calls a remote command makes,
answered by the service's routes and returned as the library's own objects, so a command prints
the same thing whether its session is local or remote.

:class:`Remote` has the methods of :class:`~veil.access.session.Session` that the remote
commands call (datasets, a DP query, a budget, models, the ledger) and nothing else. The server
is trusted through a CA file (the workspace's, which ``veil serve`` issues its certificate from)
or the system's store; the bearer token is a kept login (``veil login --server``) or an API
token, and the purpose goes with every request as ``X-Veil-Purpose``. A problem the server
answers (RFC 9457 JSON) is raised as the veil error its ``type`` names, so the CLI prints its
``detail`` and exits with the same code as it would locally.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import polars as pl

from veil.dp.budget import Budget, Remaining
from veil.dp.execute import Cost, DPResult
from veil.errors import (
    AccessDenied,
    AccessError,
    AuthenticationError,
    FederationError,
    InputError,
    IntegrityError,
    KeyDestroyedError,
    KeyringError,
    LockedError,
    NotFoundError,
    PrivacyBudgetError,
    PrivacyModelError,
    VeilError,
    WorkspaceBusyError,
    WorkspaceError,
)
from veil.ledger import Entry, LedgerKey, SignedTreeHead, Verification
from veil.workspace.catalog import DatasetVersion

__all__ = ["Remote", "RemoteError", "normalized"]

PURPOSE_HEADER = "x-veil-purpose"
_TIMEOUT = httpx.Timeout(600.0, connect=15.0)  # a DP query on a large table takes a while

# a problem's ``type`` (veil's error code) -> the error raised here; longest prefix wins
_KINDS: dict[str, type[VeilError]] = {
    "input": InputError, "notfound": NotFoundError, "workspace": WorkspaceError,
    "workspace.busy": WorkspaceBusyError, "privacy.unmet": PrivacyModelError,
    "privacy.budget": PrivacyBudgetError, "federation": FederationError,
    "access": AccessError, "access.auth": AuthenticationError, "access.locked": LockedError,
    "access.denied": AccessDenied, "keys": KeyringError, "keys.destroyed": KeyDestroyedError,
    "integrity": IntegrityError,
}
# problems the service raises itself (``http.<status>``), by status
_BY_STATUS: dict[int, type[VeilError]] = {
    401: AuthenticationError, 403: AccessDenied, 404: NotFoundError, 409: PrivacyBudgetError,
    410: KeyDestroyedError, 413: InputError, 422: InputError, 423: LockedError,
}


class RemoteError(VeilError):
    """The server could not be reached, or answered something that is not veil's."""

    code = "remote"


def normalized(url: str) -> str:
    """``url`` as the service's base address (``https://host:port``, no trailing slash); plain
    HTTP only to a loopback address (a bearer token never crosses a network in clear)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InputError("--server takes an address like https://host:8443")
    if parts.scheme == "http":
        from veil.api.server import is_loopback  # the server's own rule (and only then: heavy)

        if not is_loopback(parts.hostname):
            raise InputError("--server must be https:// (plain http only to a loopback "
                             "address)")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def _error(response: httpx.Response) -> VeilError:
    """The veil error a problem response stands for (its detail as the message)."""
    try:
        problem = response.json()
    except ValueError:
        problem = {}
    if not isinstance(problem, dict):
        problem = {}
    code = str(problem.get("type") or f"http.{response.status_code}")
    detail = str(problem.get("detail") or f"the server answered {response.status_code} "
                 f"{response.reason_phrase}")
    parts = code.split(".")
    prefixes = (".".join(parts[:n]) for n in range(len(parts), 0, -1))
    kind = next((_KINDS[p] for p in prefixes if p in _KINDS), None) or _BY_STATUS.get(
        response.status_code, RemoteError)
    if code == "http.401":  # the kept session expired or was revoked
        detail += "; sign in again: veil login --server URL USER"
    error = Exception.__new__(kind)  # some kinds build their own message; this is the server's
    VeilError.__init__(error, detail)
    error.code = code
    return error


class Remote:
    """A session on the service at ``url`` (see the module docstring)."""

    def __init__(self, url: str, *, token: str | None = None, purpose: str,
                 ca: Path | None = None) -> None:
        self.url = normalized(url)
        context = ssl.create_default_context(cafile=str(ca) if ca else None)
        headers = {PURPOSE_HEADER: purpose}
        if token:
            headers["authorization"] = f"Bearer {token}"
        self._http = httpx.Client(base_url=self.url, verify=context, headers=headers,
                                  timeout=_TIMEOUT)
        self.purpose, self.ca = purpose, ca

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Remote:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """The JSON answer of one request (None when empty); a problem is raised as its veil
        error, an unreachable or untrusted server as :class:`RemoteError`."""
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            reason = str(exc) or type(exc).__name__
            if "CERTIFICATE_VERIFY_FAILED" in reason:
                reason = ("its certificate is not trusted; pass --ca with the CA file the "
                          "server's administrator gives (veil serve prints its path)")
            raise RemoteError(f"cannot reach {self.url}: {reason}") from None
        if response.is_error:
            raise _error(response)
        return response.json() if response.content else None

    # -- signing in ----------------------------------------------------------------------------
    def login(self, user: str, password: str, *, totp: str | None = None,
              recovery_code: str | None = None, hours: float = 1.0) -> tuple[str, str]:
        """(principal, session token) for password and TOTP code (or a recovery code)."""
        signed = self.call("POST", "/auth/login", json={
            "user": user, "password": password, "totp": totp, "recovery_code": recovery_code,
            "hours": hours})
        return signed["principal"], signed["token"]

    def logout(self) -> None:
        """Revoke this session's token on the server."""
        self.call("POST", "/auth/logout")

    # -- datasets ------------------------------------------------------------------------------
    def datasets(self) -> list[DatasetVersion]:
        return [_version(v) for v in self.call("GET", "/datasets")]

    def versions(self, name: str) -> list[DatasetVersion]:
        return [_version(v) for v in self.call("GET", f"/datasets/{_name(name)}/versions")]

    def version(self, name: str, version: int | None = None) -> DatasetVersion:
        """A version's record with its classification; the newest one when ``version`` is
        None."""
        if version is None:
            version = self.versions(name)[-1].version
        found = self.call("GET", f"/datasets/{_name(name)}/versions/{int(version)}")
        return _version(found, self.call("GET", f"/datasets/{_name(name)}/classification",
                                         params={"version": found["version"]}))

    def read(self, name: str, version: int | None = None,
             columns: Sequence[str] | None = None) -> pl.DataFrame:
        """The first rows of a version (at most the service's window of 1,000 per read: a
        remote read is for looking, not export); logged as a read by the server."""
        params: dict[str, Any] = {"limit": 1000}
        if version is not None:
            params["version"] = version
        if columns is not None:
            params["columns"] = list(columns)
        found = self.call("GET", f"/datasets/{_name(name)}/rows", params=params)
        return pl.from_dicts(found["rows"], schema=found["columns"], infer_schema_length=None)

    # -- differential privacy ------------------------------------------------------------------
    def query(self, query: str, *, epsilon: float | None = None, delta: float | None = None,
              rho: float | None = None, alpha: float = 0.05,
              version: int | None = None) -> DPResult:
        """A DP answer (to SQL text) computed and spent by the server."""
        answer = self.call("POST", "/dp/query", json={
            "sql": query, "epsilon": epsilon, "delta": delta, "rho": rho, "alpha": alpha,
            "version": version})
        return DPResult.from_dict(answer, remaining=answer.get("remaining"),
                                  cached=bool(answer.get("cached")))

    def budget(self, name: str, principal: str | None = None) -> Remaining:
        found = self.call("GET", f"/dp/budgets/{_name(name)}",
                          params={"principal": principal} if principal else None)
        return Remaining(found["dataset"], found["principal"],
                         Budget(found["accountant"], **found["budget"]),
                         Cost(**found["spent"]), found["queries"])

    # -- models --------------------------------------------------------------------------------
    def models(self) -> list[dict[str, Any]]:
        """Every registered model version's description, with its card rendered here from it
        (the same text the server keeps)."""
        from veil.train.registry import card

        found = []
        for meta in self.call("GET", "/models"):  # less the keys a model lacks (sent as null)
            meta = {k: v for k, v in meta.items()
                    if v is not None or k not in ("training", "federation")}
            found.append(meta | dict(zip(("card_markdown", "card_html"), card(meta),
                                         strict=True)))
        return found

    # -- the ledger ----------------------------------------------------------------------------
    @property
    def ledger(self) -> RemoteLedger:
        return RemoteLedger(self)

    def verify(self, trusted: Sequence[SignedTreeHead] = ()) -> Verification:
        """The server's full verification of its ledger (and that it extends ``trusted``); a
        failure is raised as an integrity error, as a local one is."""
        found = self.call("POST", "/audit/verify",
                          json={"trusted": [h.to_dict() for h in trusted]})
        if not found["ok"]:
            raise IntegrityError("; ".join(found["problems"]) or "the ledger does not verify")
        return Verification(found["entries"], found["nodes"], found["heads"],
                            bytes.fromhex(found["root"]), found["bound"] or 0)


class RemoteLedger:
    """The read side of the server's ledger that remote commands use."""

    PAGE = 500  # the most entries the service returns per page

    def __init__(self, remote: Remote) -> None:
        self._remote = remote

    def tail(self, limit: int, action: str | None = None) -> list[Entry]:
        """The newest ``limit`` entries (of ``action`` only, when given), oldest first: pages
        newest first until enough are found."""
        found: list[Entry] = []
        offset = 0
        while len(found) < limit:
            page = self._remote.call("GET", "/audit/entries", params={
                "offset": offset, "limit": self.PAGE if action else min(limit - len(found),
                                                                          self.PAGE),
                "order": "newest"})["entries"]
            found += [Entry.from_dict(e) for e in page if action in (None, e["action"])]
            offset += len(page)
            if not page:
                break
        return found[:limit][::-1]

    def head(self) -> SignedTreeHead | None:
        head = self._published()["head"]
        return None if head is None else SignedTreeHead.from_dict(head)

    @property
    def key(self) -> LedgerKey:
        return LedgerKey.from_bytes(bytes.fromhex(self._published()["public_key"]))

    def _published(self) -> dict[str, Any]:
        return self._remote.call("GET", "/audit/head")


def _name(name: str) -> str:
    """A name as one path segment."""
    return quote(name, safe="")


def _version(data: dict[str, Any], classification: dict[str, Any] | None = None
             ) -> DatasetVersion:
    """A version as the service describes it (its vault file and key id stay on the server)."""
    return DatasetVersion(data["dataset"], data["version"], data["rows"], data["columns"],
                          data["subject_id"], data["fingerprint"], data["provenance"],
                          classification, data["created"], data["destroyed"], "", "")

"""Encrypted inference between two organisations, on top of :mod:`veil.he.ckks`.

Client side (no workspace): :func:`write_keys` / :func:`load_keys` keep a
:class:`~veil.he.ckks.Client` on disk (``secret.ctx``, mode 0600, with the secret key; and
``public.ctx`` for the server); :func:`features` turns a table into the matrix a registered
model reads, using the model's exported encoding (:func:`encoding_document`) so the client
encodes exactly as the model was trained.

Server side (the workspace holding the model): :func:`evaluate_registered` loads the model
(audited ``model.load``), evaluates it on the ciphertexts and appends an ``he.evaluate``
ledger event with sizes, the CKKS parameters, the context fingerprint and SHA-256 digests of
the ciphertext files: never a value from a row.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from veil.errors import InputError, NotFoundError
from veil.he.ckks import Client, Server
from veil.he.envelope import EncryptedBatch
from veil.he.weights import plain_model
from veil.train.features import Encoding

if TYPE_CHECKING:
    from veil.access.session import Session
    from veil.train.model import Model

__all__ = ["PUBLIC_FILE", "SECRET_FILE", "encoding_document", "evaluate_model",
           "evaluate_registered", "features", "load_encoding", "load_keys", "write_keys"]

SECRET_FILE = "secret.ctx"  # noqa: S105 (a file name)
PUBLIC_FILE = "public.ctx"


# -- the client's keys on disk ----------------------------------------------------------------


def write_keys(directory: str | os.PathLike[str], *, depth: int = 1,
               force: bool = False) -> Client:
    """A new client: ``directory/secret.ctx`` (0600, keep it) and ``directory/public.ctx``
    (send it to the server). Refuses to overwrite existing keys unless ``force``."""
    folder = Path(directory)
    secret_path, public_path = folder / SECRET_FILE, folder / PUBLIC_FILE
    if not force and (secret_path.exists() or public_path.exists()):
        raise InputError(f"{folder} already holds CKKS keys; pass force=True (--force) to "
                         "replace them (ciphertexts under the old keys become unreadable)")
    client = Client(depth=depth)
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(secret_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        os.fchmod(fh.fileno(), 0o600)
        fh.write(client.to_bytes())
    public_path.write_bytes(client.public_context())
    return client


def load_keys(directory: str | os.PathLike[str]) -> Client:
    """The client written by :func:`write_keys` in ``directory``."""
    path = Path(directory) / SECRET_FILE
    if not path.is_file():
        raise NotFoundError(f"no CKKS keys in {directory} (no {SECRET_FILE}); make them with "
                            "`veil he keys DIR`")
    return Client.from_bytes(path.read_bytes())


# -- encoding rows as the model expects ---------------------------------------------------------
def encoding_document(ws: Session, name: str, version: int | None = None) -> dict[str, Any]:
    """What a client needs to encode rows for a registered model (public settings: bounds,
    categories, classes, feature order; no weights, no data), as JSON-ready data."""
    found = [m for m in ws.models() if m["name"] == name
             and (version is None or m["version"] == version)]
    if not found:
        known = sorted({m["name"] for m in ws.models()})
        raise NotFoundError(f"no model {name!r}" + (f" version {version}" if version else "")
                            + f"; registered models: {known}")
    meta = found[-1]
    encoding = Encoding.from_dict(meta["encoding"])
    return {"model": name, "version": meta["version"], "architecture": meta.get("architecture"),
            "features": encoding.width, "encoding": encoding.to_dict()}


def load_encoding(document: Mapping[str, Any] | str | os.PathLike[str]) -> Encoding:
    """An :class:`Encoding` from :func:`encoding_document`'s output (or a file holding it, or
    a bare ``Encoding.to_dict()``)."""
    if not isinstance(document, Mapping):
        try:
            document = json.loads(Path(document).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read the encoding file {document}: {exc}") from None
    data = document.get("encoding", document) if isinstance(document, Mapping) else None
    try:
        return Encoding.from_dict(data)  # type: ignore[arg-type]
    except (KeyError, TypeError, ValueError, AttributeError):
        raise InputError("not a model encoding; export one with `veil he encoding MODEL "
                         "--out enc.json`") from None


def features(frame: pl.DataFrame, *, encoding: Encoding | None = None,
             columns: Sequence[str] | None = None) -> np.ndarray:
    """The (samples, features) matrix: through ``encoding`` (as the model reads a table), else
    ``columns`` (or every column) in order, which must be numeric."""
    if encoding is not None:
        return encoding.features(frame)
    wanted = list(columns) if columns else list(frame.columns)
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise InputError(f"the table lacks column(s) {missing}; it has {frame.columns}")
    bad = [c for c in wanted if not frame.schema[c].is_numeric()]
    if bad:
        raise InputError(f"column(s) {bad} are not numeric; pass the model's encoding "
                         "(--encoding) to encode them as the model does")
    return frame.select(wanted).cast(pl.Float64).to_numpy()


# -- the server ---------------------------------------------------------------------------------
def evaluate_model(ws: Session, model: Model, public_context: bytes, batch: bytes) -> bytes:
    """Encrypted logits of a loaded registered ``model`` on ``batch``; logs ``he.evaluate``
    as ``ws``'s principal and purpose."""
    plain_model(model)  # refuse an unsupported model before touching the ciphertexts
    server = Server(public_context)
    header = EncryptedBatch.from_bytes(batch, kind="batch")
    started = time.perf_counter()
    scores = server.evaluate(batch, model)
    seconds = time.perf_counter() - started
    ws.record("he.evaluate", f"{model.name}@{model.version}", samples=header.rows,
              features=header.width, layout=header.layout,
              classes=len(model.encoding.classes), context=server.fingerprint,
              params=header.params.to_dict(), seconds=round(seconds, 4),
              batch_sha256=hashlib.sha256(batch).hexdigest(),
              scores_sha256=hashlib.sha256(scores).hexdigest())
    return scores


def evaluate_registered(ws: Session, model_name: str, public_context: bytes, batch: bytes,
                        *, version: int | None = None, module: Any = None) -> bytes:
    """Load ``model_name`` (audited), evaluate it on the client's ciphertexts under the
    client's public context, log ``he.evaluate`` and return the encrypted scores' bytes."""
    model = ws.model(model_name, version, module=module)
    return evaluate_model(ws, model, public_context, batch)

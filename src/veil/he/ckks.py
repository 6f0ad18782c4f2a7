"""Encrypted inference with CKKS (TenSEAL): the client encrypts, the server computes logits on
ciphertexts, only the client decrypts.

The server returns *logits*, never probabilities: a polynomial sigmoid holds only on a
bounded range (a cubic one gave -143 outside |logit| <= 5), while the client applies the exact
sigmoid/softmax after decryption, so the probability it reads is as exact as the logit.
Two packings: ``"columns"`` (one ciphertext per feature holding up to N/2 samples; fast,
for batches) and ``"rows"`` (one sample per ciphertext, features chunked by N/2; for a single
sample's latency; needs Galois keys; linear models only).
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from typing import Any

import numpy as np
import tenseal as ts

from veil.errors import InputError, IntegrityError
from veil.he.envelope import EncryptedBatch, fingerprint
from veil.he.params import Params
from veil.he.weights import PlainModel, plain_model

__all__ = ["Client", "Server", "evaluate", "softmax"]

_LAYOUTS = ("columns", "rows")


def _context(params: Params, *, galois: bool) -> ts.Context:
    ctx = ts.context(ts.SCHEME_TYPE.CKKS, params.poly_modulus_degree,
                     coeff_mod_bit_sizes=list(params.coeff_mod_bit_sizes))
    ctx.global_scale = 2.0 ** params.scale_bits
    if galois:
        ctx.generate_galois_keys()
    return ctx


_MAGIC = b"VEILCKKSKEY1\n"  # a saved client (secret key included)


class Client:
    """Holds the secret key; encrypts features and decrypts the scores the server returns.

    ``depth`` picks the smallest 128-bit parameter set for that many multiplications (1 for
    a linear model, 3 for an MLP with a quadratic activation); ``params`` overrides it.
    ``rows=True`` adds the Galois keys the one-sample-per-ciphertext layout needs (they make
    the public context much larger).
    """

    def __init__(self, params: Params | None = None, *, depth: int = 1,
                 rows: bool = False) -> None:
        self.params = params if params is not None else Params.for_depth(depth)
        self._ctx = _context(self.params, galois=rows)
        public = self._ctx.copy()
        public.make_context_public()
        self._public = public.serialize()
        self.fingerprint = fingerprint(self._public)
        self.rows = rows

    def to_bytes(self) -> bytes:
        """The full client (secret key included): a JSON header, the secret context and the exact
        public context bytes the server holds (re-serializing a context changes its bytes, and so
        its fingerprint, so the public part is kept as it was sent)."""
        secret = self._ctx.serialize(save_secret_key=True)
        public = self.public_context()
        header = json.dumps({"params": self.params.to_dict(), "rows": self.rows,
                             "fingerprint": self.fingerprint,
                             "lengths": [len(secret), len(public)]},
                            separators=(",", ":")).encode()
        return b"".join((_MAGIC, struct.pack(">I", len(header)), header, secret, public))

    @classmethod
    def from_bytes(cls, data: bytes) -> Client:
        """Restore a client written by :meth:`to_bytes`."""
        data = bytes(data)
        if not data.startswith(_MAGIC) or len(data) < len(_MAGIC) + 4:
            raise InputError("not a veil CKKS secret context (bad magic); make one with "
                             "`veil he keys DIR`")
        (size,) = struct.unpack_from(">I", data, len(_MAGIC))
        start = len(_MAGIC) + 4
        try:
            header = json.loads(data[start:start + size])
            params = Params.from_dict(header["params"])
            secret_len, public_len = (int(n) for n in header["lengths"])
            rows, expected = bool(header["rows"]), str(header["fingerprint"])
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(f"malformed CKKS secret context header: {exc}") from None
        body = start + size
        if body + secret_len + public_len != len(data):
            raise IntegrityError("the CKKS secret context is truncated or padded")
        public = data[body + secret_len:]
        if fingerprint(public) != expected:
            raise IntegrityError("the CKKS secret context's public part does not match its "
                                 "fingerprint")
        try:
            ctx = ts.context_from(data[body:body + secret_len])
        except (ValueError, RuntimeError, TypeError):
            raise IntegrityError("the CKKS secret context cannot be read") from None
        if not ctx.is_private():
            raise InputError("this context holds no secret key; it cannot decrypt")
        client = cls.__new__(cls)
        client.params, client._ctx, client._public = params, ctx, public
        client.fingerprint, client.rows = expected, rows
        return client

    def public_context(self) -> bytes:
        """The context to send to the server: public, relinearization (and Galois) keys only."""
        return self._public

    def check_model(self, model: object, *, relu_bound: float | None = None) -> PlainModel:
        """Refuse, before anything is encrypted, a model deeper than these parameters allow."""
        plain = plain_model(model, relu_bound=relu_bound)
        _check_depth(plain, self.params)
        return plain

    def encrypt(self, matrix: Any, *, layout: str = "columns") -> bytes:
        """Encrypt a (samples, features) matrix; returns the envelope bytes for the server."""
        x = _matrix(matrix, self.params)
        if layout not in _LAYOUTS:
            raise InputError(f"layout must be one of {list(_LAYOUTS)}, got {layout!r}")
        if layout == "rows" and not self.rows:
            raise InputError("the rows layout needs Galois keys: create Client(..., rows=True)")
        slots = self.params.slots
        if layout == "columns":
            blobs = [ts.ckks_vector(self._ctx, x[start:start + slots, j]).serialize()
                     for start in range(0, x.shape[0], slots) for j in range(x.shape[1])]
        else:
            blobs = [ts.ckks_vector(self._ctx, row[start:start + slots]).serialize()
                     for row in x for start in range(0, x.shape[1], slots)]
        return EncryptedBatch("batch", layout, self.fingerprint, self.params, x.shape[0],
                              x.shape[1], tuple(blobs)).to_bytes()

    def decrypt_scores(self, scores: bytes) -> np.ndarray:
        """The (samples, classes) logits; refuses scores made under any other context."""
        batch = EncryptedBatch.from_bytes(scores, kind="scores")
        if batch.fingerprint != self.fingerprint:
            raise InputError("these scores were computed under another CKKS context; only the "
                             "client whose public context the server used can decrypt them")
        try:
            vectors = [ts.ckks_vector_from(self._ctx, blob) for blob in batch.blobs]
            values = [np.asarray(v.decrypt(), dtype=np.float64) for v in vectors]
        except (ValueError, RuntimeError, TypeError):
            raise IntegrityError("the encrypted scores cannot be decrypted") from None
        out = _assemble(batch, values)
        # Overflowed or foreign ciphertexts decrypt to huge values; never hand them out.
        limit = 2.0 ** (self.params.headroom_bits - 1)
        if not np.isfinite(out).all() or np.abs(out).max() >= limit:
            raise IntegrityError("the encrypted scores decrypt outside the valid range")
        return out

    def probabilities(self, scores: bytes) -> np.ndarray:
        """Exact softmax over the decrypted logits (sigmoid when the model has one output)."""
        return softmax(self.decrypt_scores(scores))


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64, shifted so large logits cannot overflow."""
    if logits.shape[1] == 1:
        return 1.0 / (1.0 + np.exp(-logits))
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


class Server:
    """Evaluates models on a client's ciphertexts; it never holds a secret key."""

    def __init__(self, public_context: bytes) -> None:
        try:
            self._ctx = ts.context_from(bytes(public_context))
        except (ValueError, RuntimeError, TypeError):
            raise InputError("not a serialized TenSEAL context") from None
        if self._ctx.is_private():
            raise InputError("this context holds the secret key; send the server "
                             "Client.public_context() instead")
        self.fingerprint = fingerprint(bytes(public_context))

    def evaluate(self, batch: bytes, model: object, *, relu_bound: float | None = None) -> bytes:
        """Encrypted logits of ``model`` on ``batch``, as scores envelope bytes."""
        enc = EncryptedBatch.from_bytes(batch, kind="batch")
        if enc.fingerprint != self.fingerprint:
            raise InputError("the batch was encrypted under another CKKS context than the one "
                             "this server holds")
        plain = plain_model(model, relu_bound=relu_bound)
        _check_depth(plain, enc.params)
        if enc.layout == "rows" and plain.activation is not None:
            # TenSEAL's chained vector-matrix products read the rotation garbage left in the
            # unused slots (logit errors of 1e-2 measured): refuse rather than be wrong.
            raise InputError("the rows layout evaluates linear models only; encrypt with "
                             "layout='columns' for an MLP")
        if plain.inputs != enc.width:
            raise InputError(f"the model takes {plain.inputs} features, the batch has "
                             f"{enc.width}")
        try:
            vectors = [ts.ckks_vector_from(self._ctx, blob) for blob in enc.blobs]
        except (ValueError, RuntimeError, TypeError):
            raise IntegrityError("the encrypted batch cannot be read under this context") from None
        try:
            if enc.layout == "columns":
                out = [ct for chunk in _chunks(vectors, enc.width)
                       for ct in _columns(chunk, plain)]
            else:
                out = [_row(chunk, plain, enc.params.slots)
                       for chunk in _chunks(vectors, enc.width_chunks)]
        except ValueError as exc:  # "scale out of bounds", "end of modulus switching chain"
            raise InputError(f"the parameters ran out of depth ({exc}); the model needs depth "
                             f"{plain.depth}: use Params.for_depth({plain.depth})") from None
        return EncryptedBatch("scores", enc.layout, enc.fingerprint, enc.params, enc.rows,
                              plain.classes, tuple(ct.serialize() for ct in out)).to_bytes()


def evaluate(public_context: bytes, batch: bytes, model: object, *,
             relu_bound: float | None = None) -> bytes:
    """One-shot :meth:`Server.evaluate` (parses the context every call)."""
    return Server(public_context).evaluate(batch, model, relu_bound=relu_bound)


def _check_depth(plain: PlainModel, params: Params) -> None:
    if plain.depth > params.depth:
        raise InputError(f"the model needs multiplicative depth {plain.depth} but these CKKS "
                         f"parameters allow {params.depth} (coeff_mod_bit_sizes "
                         f"{list(params.coeff_mod_bit_sizes)}); use "
                         f"Params.for_depth({plain.depth}) or Client(depth={plain.depth})")


def _matrix(matrix: Any, params: Params) -> np.ndarray:
    try:
        x = np.asarray(matrix, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError("features must be a numeric (samples, features) matrix") from None
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise InputError(f"features must be a non-empty 2-D matrix, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise InputError("features contain NaN or infinity")
    if np.abs(x).max() >= 2.0 ** (params.headroom_bits - 1):
        raise InputError(f"features must be below 2**{params.headroom_bits - 1} in magnitude; "
                         "scale them first")
    return x


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _combine(cts: list[ts.CKKSVector], weights: np.ndarray, bias: float) -> ts.CKKSVector:
    """``sum_j weights[j] * cts[j] + bias``: one plaintext-scalar multiplication deep."""
    acc = cts[0] * float(weights[0])
    for ct, w in zip(cts[1:], weights[1:], strict=True):
        acc += ct * float(w)
    return acc + float(bias)


def _columns(cts: list[ts.CKKSVector], plain: PlainModel) -> list[ts.CKKSVector]:
    """Logits per class for one chunk of samples, SIMD across the samples in each slot."""
    hidden = [_combine(cts, plain.w1[k], plain.b1[k]) for k in range(plain.w1.shape[0])]
    if plain.activation is None:
        return hidden
    c0, c1, c2 = plain.activation
    w2, b2 = plain.w2, plain.b2
    assert w2 is not None and b2 is not None
    squares = [h.square() for h in hidden] if c2 != 0.0 else []
    out = []
    for o in range(w2.shape[0]):
        bias = b2[o] + c0 * w2[o].sum()
        acc = _combine(hidden, c1 * w2[o], bias) if c1 != 0.0 else None
        if squares:
            quad = _combine(squares, c2 * w2[o], 0.0 if acc is not None else bias)
            acc = quad if acc is None else quad + acc
        out.append(acc)
    return out


def _row(chunks: list[ts.CKKSVector], plain: PlainModel, slots: int) -> ts.CKKSVector:
    """Logits of one sample whose features span ``chunks`` ciphertexts (needs Galois keys)."""
    z = chunks[0].matmul(plain.w1[:, :slots].T.tolist())
    for k, ct in enumerate(chunks[1:], start=1):
        z += ct.matmul(plain.w1[:, k * slots:(k + 1) * slots].T.tolist())
    return z + plain.b1.tolist()


def _assemble(batch: EncryptedBatch, values: list[np.ndarray]) -> np.ndarray:
    if batch.layout == "rows":
        if any(v.shape[0] < batch.width for v in values):
            raise IntegrityError("the encrypted scores have the wrong shape")
        return np.stack([v[:batch.width] for v in values])
    cols: list[np.ndarray] = []
    for c in range(batch.row_chunks):
        group = values[c * batch.width:(c + 1) * batch.width]
        cols.append(np.stack(group, axis=1))
    out = np.concatenate(cols, axis=0)
    if out.shape != (batch.rows, batch.width):
        raise IntegrityError("the encrypted scores have the wrong shape")
    return out

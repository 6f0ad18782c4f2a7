"""Log in with a Schnorr proof: single-use, expiring nonces so a recorded proof cannot be replayed.

Flow::

    server: nonce = verifier.challenge()                      # send to the client
    client: proof = schnorr.prove(x, context=login_context(audience, nonce))
    server: verifier.verify(public_key, proof, nonce)         # consumes the nonce

The proof's Fiat-Shamir challenge hashes ``login_context(audience, nonce)``, so it is valid for
this verifier (``audience``) and this nonce only. The verifier accepts a nonce once: it is
removed on the first verification attempt, success or failure (a failed attempt must not leave
the nonce open for another guess), and it expires after ``ttl`` seconds. Outstanding nonces are
capped; past the cap the oldest is dropped, so a flood of challenge requests costs memory
bounded by ``max_outstanding`` and at worst makes slow clients ask again.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from veil.errors import InputError
from veil.zk import schnorr
from veil.zk._errors import fail
from veil.zk.group import Point

__all__ = ["NONCE_SIZE", "LoginVerifier", "login_context"]

NONCE_SIZE = 32
"""Random bytes in a login nonce (256 bits: never repeats in practice)."""

_LOGIN = b"veil.zk/login/v1"


def login_context(audience: str, nonce: bytes) -> bytes:
    """The context a login proof binds: a tag, the verifier's name and its nonce, length-prefixed.

    ``audience`` names the verifier (a service URL or id), so a proof made to log in to one
    service is useless at another even if both issued the same nonce.
    """
    if not isinstance(audience, str) or not audience:
        raise InputError("audience must be a non-empty string naming the verifier")
    if not isinstance(nonce, bytes | bytearray) or len(nonce) != NONCE_SIZE:
        raise InputError(f"a login nonce is {NONCE_SIZE} bytes from LoginVerifier.challenge()")
    name = audience.encode()
    return _LOGIN + len(name).to_bytes(4, "big") + name + bytes(nonce)


class LoginVerifier:
    """Issues single-use login nonces and verifies Schnorr proofs against them (thread-safe)."""

    def __init__(self, audience: str, *, ttl: float = 120.0, max_outstanding: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        login_context(audience, bytes(NONCE_SIZE))  # validates audience
        if not ttl > 0:
            raise InputError(f"ttl must be a positive number of seconds, got {ttl!r}")
        if not isinstance(max_outstanding, int) or max_outstanding < 1:
            raise InputError(f"max_outstanding must be a positive int, got {max_outstanding!r}")
        self.audience = audience
        self._ttl = float(ttl)
        self._max = max_outstanding
        self._clock = clock
        self._issued: OrderedDict[bytes, float] = OrderedDict()  # nonce -> expiry, oldest first
        self._lock = threading.Lock()

    def challenge(self) -> bytes:
        """A fresh nonce for one login attempt; it expires after ``ttl`` seconds."""
        nonce = secrets.token_bytes(NONCE_SIZE)
        with self._lock:
            now = self._clock()
            self._expire(now)
            while len(self._issued) >= self._max:
                self._issued.popitem(last=False)
            self._issued[nonce] = now + self._ttl
        return nonce

    def context(self, nonce: bytes) -> bytes:
        """What the client must pass as ``context`` to :func:`veil.zk.schnorr.prove`."""
        return login_context(self.audience, nonce)

    def verify(self, public: Point | bytes, proof: schnorr.SchnorrProof | bytes,
               nonce: bytes) -> None:
        """Consume ``nonce`` and verify ``proof`` for ``public`` bound to it.

        Raises :class:`~veil.zk.ProofError` for an unknown, used or expired nonce and for a
        proof that does not verify; :class:`~veil.errors.InputError` for malformed input.
        """
        context = self.context(nonce)
        with self._lock:
            expiry = self._issued.pop(bytes(nonce), None)
            now = self._clock()
        if expiry is None or now > expiry:
            raise fail()
        schnorr.verify(public, proof, context=context)

    def outstanding(self) -> int:
        """How many issued nonces are still unused and unexpired."""
        with self._lock:
            self._expire(self._clock())
            return len(self._issued)

    def _expire(self, now: float) -> None:
        while self._issued:
            nonce, expiry = next(iter(self._issued.items()))
            if expiry >= now:
                break
            del self._issued[nonce]

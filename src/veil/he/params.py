"""CKKS parameter sets that are 128-bit secure by construction, and the depth each allows.

The bounds are the HomomorphicEncryption.org standard's table (classical attacks, ternary
secret, 128-bit security): the total bits of the coefficient modulus, special prime included,
may not exceed ``MAX_COEFF_BITS_128[N]``. Anything outside the table is refused, never
"probably fine".
"""

from __future__ import annotations

from dataclasses import dataclass

from veil.errors import InputError

__all__ = ["MAX_COEFF_BITS_128", "MIN_SCALE_BITS", "Params"]

# HE standard (Albrecht et al. 2018), table 1, 128-bit classical security, ternary secrets.
MAX_COEFF_BITS_128: dict[int, int] = {
    1024: 27, 2048: 54, 4096: 109, 8192: 218, 16384: 438, 32768: 881,
}
# A 21-bit scale gave wrong dot products at N=8192; 30 bits worked (shared/design.md).
MIN_SCALE_BITS = 30
_OUTER_BITS = 60  # first prime (keeps the decrypted value's integer part) and special prime


@dataclass(frozen=True)
class Params:
    """A CKKS parameter set: ring degree, coefficient modulus primes and the scale.

    ``coeff_mod_bit_sizes`` lists the primes as SEAL wants them: the first keeps the result
    after every rescale, the middle ones are consumed one per multiplication (so they equal
    the scale), the last is the special prime for key switching.
    """

    poly_modulus_degree: int
    coeff_mod_bit_sizes: tuple[int, ...]
    scale_bits: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "coeff_mod_bit_sizes", tuple(self.coeff_mod_bit_sizes))
        self.check()

    @property
    def slots(self) -> int:
        """Values one ciphertext holds (CKKS packs N/2 complex slots; veil uses them real)."""
        return self.poly_modulus_degree // 2

    @property
    def depth(self) -> int:
        """Multiplications in sequence the modulus chain allows (one rescale each)."""
        return len(self.coeff_mod_bit_sizes) - 2

    @property
    def headroom_bits(self) -> int:
        """Bits left for a decrypted value's integer part: |value| must stay below 2**this."""
        return self.coeff_mod_bit_sizes[0] - self.scale_bits - 1

    def check(self) -> None:
        """Refuse a set that is not 128-bit secure or cannot compute correctly."""
        n, bits = self.poly_modulus_degree, self.coeff_mod_bit_sizes
        if n not in MAX_COEFF_BITS_128:
            raise InputError(f"poly_modulus_degree must be one of {sorted(MAX_COEFF_BITS_128)}, "
                             f"got {n}")
        if len(bits) < 3:
            raise InputError("coeff_mod_bit_sizes needs at least 3 primes (first, one per "
                             f"multiplication, special), got {list(bits)}")
        total = sum(bits)
        if total > MAX_COEFF_BITS_128[n]:
            raise InputError(f"{total} coefficient-modulus bits at N={n} is below 128-bit security "
                             f"(the HE standard allows at most {MAX_COEFF_BITS_128[n]}); use a "
                             "larger poly_modulus_degree or fewer primes")
        if any(not 20 <= b <= _OUTER_BITS for b in bits):
            raise InputError(f"each prime must have 20 to 60 bits, got {list(bits)}")
        if self.scale_bits < MIN_SCALE_BITS:
            raise InputError(f"scale_bits {self.scale_bits} is below {MIN_SCALE_BITS}: smaller "
                             "scales gave wrong dot products")
        if any(b != self.scale_bits for b in bits[1:-1]):
            raise InputError(f"the middle primes must equal scale_bits ({self.scale_bits}) so "
                             f"each rescale keeps the scale, got {list(bits)}")
        if bits[0] - self.scale_bits < 10 or bits[-1] < bits[0]:
            raise InputError("the first prime needs at least 10 bits above the scale and the "
                             f"special prime at least as many bits as the first, got {list(bits)}")

    @classmethod
    def for_depth(cls, depth: int, *, scale_bits: int = 40) -> Params:
        """The smallest 128-bit-secure ring that fits ``depth`` multiplications."""
        if depth < 1:
            raise InputError(f"depth must be at least 1, got {depth}")
        bits = (_OUTER_BITS, *([scale_bits] * depth), _OUTER_BITS)
        for n, limit in sorted(MAX_COEFF_BITS_128.items()):
            if sum(bits) <= limit and n >= 8192:  # smaller rings hold too few slots to pay off
                return cls(n, bits, scale_bits)
        raise InputError(f"no 128-bit-secure ring fits depth {depth} at a {scale_bits}-bit scale")

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Params:
        try:
            return cls(int(data["poly_modulus_degree"]),  # type: ignore[call-overload]
                       tuple(int(b) for b in data["coeff_mod_bit_sizes"]),  # type: ignore[attr-defined]
                       int(data["scale_bits"]))  # type: ignore[call-overload]
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"malformed CKKS parameters: {exc}") from None

    def to_dict(self) -> dict[str, object]:
        return {"poly_modulus_degree": self.poly_modulus_degree,
                "coeff_mod_bit_sizes": list(self.coeff_mod_bit_sizes),
                "scale_bits": self.scale_bits}


"""Homomorphic encryption recipes: encrypted inference (CKKS) and encrypted sums (Paillier).

Encrypted inference (``veil.he.ckks``, TenSEAL)::

    client = Client(depth=model_depth)            # secret key stays here; 128-bit Params
    server = Server(client.public_context())      # public + relinearization keys only
    scores = server.evaluate(client.encrypt(x), model)   # x: (samples, features)
    probs = client.probabilities(scores)          # exact softmax/sigmoid after decryption

* ``Params(poly_modulus_degree, coeff_mod_bit_sizes, scale_bits)``: refused unless within the
  HE standard's 128-bit bounds (N=8192: 218 bits, 16384: 438, 32768: 881) with a scale of at
  least 30 bits; ``Params.for_depth(d)`` picks the smallest fitting ring.
* ``Client.encrypt(matrix, layout="columns")``: one ciphertext per feature holding up to N/2
  samples (SIMD), chunked over more samples; ``layout="rows"`` (``Client(rows=True)``) puts
  one sample per ciphertext, chunking features wider than N/2 (linear models only).
* ``Server.evaluate(batch, model)`` / ``evaluate(public_context, batch, model)``: logits of
  an ``nn.Linear``, a ``Sequential(Linear, PolyActivation, Linear)`` or a registered veil
  ``Model`` (``plain_model`` turns them into weights; ReLU is refused unless
  ``relu_bound=`` opts in to a quadratic stand-in). A model deeper than the parameters'
  modulus chain is refused with the depth it needs.
* ``Client.decrypt_scores(scores)`` gives logits; ``Client.probabilities(scores)`` applies the
  exact softmax, so a probability is as accurate as its logit on every row, whatever its size.

Envelopes carry the SHA-256 fingerprint of the public context and a digest of the ciphertexts:
batches for another context, scores for another client, truncated or altered bytes are
refused (``InputError`` / ``IntegrityError``), never decrypted into garbage. HE hides the
data from the server; it does not prove the server computed honestly.

Encrypted aggregation (``veil.he.paillier``, phe + gmpy2): ``generate_keypair(3072)``,
``encrypt_vector(public, values)``, ``aggregate(vectors)`` (or ``a + b``),
``decrypt_vector(private, total)``, ``mean(private, total)``; JSON for public keys
(``public_key_to_json``/``public_key_from_json``) and vectors (``EncryptedVector.to_json`` /
``from_json``). Vectors carry their key's fingerprint, so mixing keys is refused.
"""

from veil.he.ckks import Client, Server, evaluate, softmax
from veil.he.envelope import EncryptedBatch, fingerprint
from veil.he.params import MAX_COEFF_BITS_128, Params
from veil.he.weights import PlainModel, PolyActivation, plain_model, relu_polynomial

__all__ = ["MAX_COEFF_BITS_128", "Client", "EncryptedBatch", "Params", "PlainModel",
           "PolyActivation", "Server", "evaluate", "fingerprint", "plain_model",
           "relu_polynomial", "softmax"]

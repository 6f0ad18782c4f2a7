"""veil.he: encrypted inference matches plaintext on every row, misuse is refused loudly."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from veil.errors import InputError, IntegrityError
from veil.he import Client, Params, PolyActivation, Server, evaluate, plain_model, softmax
from veil.he import paillier as pa
from veil.he.envelope import EncryptedBatch
from veil.train.model import build

BOUND = 1e-3


def _logreg(inputs: int = 12, classes: int = 2, gain: float = 30.0) -> nn.Module:
    torch.manual_seed(0)
    model = build("logreg", inputs, classes)
    with torch.no_grad():
        model.weight.mul_(gain)  # pushes logits far outside |logit| <= 5
    return model


def _torch_probs(model: nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        logits = model(torch.from_numpy(x)).double()
    return torch.softmax(logits, dim=1).numpy()


@pytest.fixture(scope="module")
def client() -> Client:
    return Client()


@pytest.fixture(scope="module")
def deep_client() -> Client:
    return Client(depth=3)


def test_logistic_matches_plaintext_on_every_row_including_extreme_logits(client: Client) -> None:
    x = np.random.default_rng(1).uniform(-1, 1, (300, 12)).astype(np.float32)
    model = _logreg()
    scores = Server(client.public_context()).evaluate(client.encrypt(x), model)
    logits = client.decrypt_scores(scores)
    reference = plain_model(model).logits(x.astype(np.float64))
    assert np.abs(reference).max() > 20  # the wide range a polynomial sigmoid cannot cover
    assert np.abs(logits - reference).max() <= BOUND
    assert np.abs(client.probabilities(scores) - _torch_probs(model, x)).max() <= BOUND


def test_mlp_with_polynomial_activation_matches_plaintext(deep_client: Client) -> None:
    torch.manual_seed(2)
    model = nn.Sequential(nn.Linear(10, 8), PolyActivation((0.1, 0.5, 0.25)), nn.Linear(8, 3))
    x = np.random.default_rng(2).uniform(-2, 2, (200, 10)).astype(np.float32)
    probs = deep_client.probabilities(evaluate(deep_client.public_context(),
                                               deep_client.encrypt(x), model))
    assert np.abs(probs - _torch_probs(model, x)).max() <= BOUND


def test_batch_larger_than_slots_is_chunked(client: Client) -> None:
    rows = client.params.slots + 37
    x = np.random.default_rng(3).uniform(0, 1, (rows, 3))
    model = _logreg(3, 2, gain=1.0)
    batch = client.encrypt(x)
    assert EncryptedBatch.from_bytes(batch, kind="batch").row_chunks == 2
    logits = client.decrypt_scores(Server(client.public_context()).evaluate(batch, model))
    assert logits.shape == (rows, 2)
    assert np.abs(logits - plain_model(model).logits(x)).max() <= BOUND


@pytest.mark.slow  # Galois key generation takes 5-30 s on 2 busy cores
def test_rows_layout_chunks_features_wider_than_slots() -> None:
    # 4096 slots at N=8192; 4100 features span two ciphertexts per sample.
    rows_client = Client(rows=True)
    x = np.random.default_rng(4).uniform(0, 0.1, (1, rows_client.params.slots + 4))
    model = _logreg(x.shape[1], 2, gain=1.0)
    logits = rows_client.decrypt_scores(
        Server(rows_client.public_context()).evaluate(rows_client.encrypt(x, layout="rows"),
                                                      model))
    assert np.abs(logits - plain_model(model).logits(x)).max() <= BOUND


def test_too_shallow_parameters_are_refused_naming_the_depth(client: Client) -> None:
    mlp = nn.Sequential(nn.Linear(4, 3), PolyActivation(), nn.Linear(3, 2))
    with pytest.raises(InputError, match="depth 3"):
        client.check_model(mlp)
    with pytest.raises(InputError, match="depth 3"):
        Server(client.public_context()).evaluate(client.encrypt(np.zeros((2, 4))), mlp)


def test_relu_mlp_is_refused_unless_approximation_is_opted_in() -> None:
    mlp = build("mlp", 4, 2, hidden=3)
    with pytest.raises(InputError, match="ReLU"):
        plain_model(mlp)
    assert plain_model(mlp, relu_bound=4.0).activation is not None


def test_parameters_beyond_128_bit_bounds_are_refused() -> None:
    with pytest.raises(InputError, match="128-bit"):
        Params(8192, (60, 40, 40, 40, 60), 40)  # 240 > 218
    with pytest.raises(InputError, match="poly_modulus_degree"):
        Params(12288, (60, 40, 60), 40)
    with pytest.raises(InputError, match="scale"):
        Params(8192, (40, 21, 40), 21)
    assert Params.for_depth(3).poly_modulus_degree == 16384
    for depth in range(1, 8):
        params = Params.for_depth(depth)
        assert sum(params.coeff_mod_bit_sizes) <= {8192: 218, 16384: 438, 32768: 881}[
            params.poly_modulus_degree]


def test_batch_for_another_context_is_refused(client: Client) -> None:
    other = Client()
    batch = other.encrypt(np.ones((2, 12)))
    with pytest.raises(InputError, match="another CKKS context"):
        Server(client.public_context()).evaluate(batch, _logreg())


def test_scores_decrypted_with_the_wrong_key_are_refused(client: Client) -> None:
    other = Client()
    scores = Server(other.public_context()).evaluate(other.encrypt(np.ones((2, 12))), _logreg())
    with pytest.raises(InputError, match="another CKKS context"):
        client.decrypt_scores(scores)


def test_forged_fingerprint_still_never_yields_garbage(client: Client) -> None:
    # Scores from another key relabelled with this client's fingerprint decrypt to huge values.
    other = Client()
    scores = Server(other.public_context()).evaluate(other.encrypt(np.ones((2, 12))), _logreg())
    parsed = EncryptedBatch.from_bytes(scores, kind="scores")
    forged = EncryptedBatch("scores", parsed.layout, client.fingerprint, parsed.params,
                            parsed.rows, parsed.width, parsed.blobs).to_bytes()
    with pytest.raises(IntegrityError):
        client.decrypt_scores(forged)


def test_tampered_truncated_and_malformed_bytes_are_refused(client: Client) -> None:
    server = Server(client.public_context())
    batch = bytearray(client.encrypt(np.ones((3, 12))))
    batch[-100] ^= 0x01
    with pytest.raises(IntegrityError):
        server.evaluate(bytes(batch), _logreg())
    with pytest.raises(IntegrityError):
        server.evaluate(client.encrypt(np.ones((3, 12)))[:-10], _logreg())
    with pytest.raises(InputError, match="bad magic"):
        server.evaluate(b"not a batch", _logreg())
    with pytest.raises(InputError, match="expected an encrypted scores"):
        client.decrypt_scores(client.encrypt(np.ones((1, 12))))
    with pytest.raises(InputError, match="12 features"):
        server.evaluate(client.encrypt(np.ones((1, 5))), _logreg())
    for bad in (np.ones(3), np.array([[np.nan]]), [["a"]], np.ones((0, 2))):
        with pytest.raises(InputError):
            client.encrypt(bad)


def test_server_refuses_a_context_with_the_secret_key(client: Client) -> None:
    with pytest.raises(InputError, match="secret key"):
        Server(client._ctx.serialize(save_secret_key=True))
    with pytest.raises(InputError):
        Server(b"junk")


def test_softmax_is_exact_for_extreme_logits() -> None:
    probs = softmax(np.array([[1000.0, -1000.0], [0.0, 0.0]]))
    assert np.allclose(probs, [[1.0, 0.0], [0.5, 0.5]])


@pytest.fixture(scope="module")
def keys() -> pa.Keypair:
    return pa.generate_keypair(2048)


def test_paillier_sum_and_mean_across_three_parties(keys: pa.Keypair) -> None:
    public = pa.public_key_from_json(pa.public_key_to_json(keys.public))
    parties = [[1.5, -2.25, 1e6, 0.1], [3.0, 0.125, -7.0, 0.2], [-0.5, 4.0, 2.5e-6, 0.3]]
    wire = [pa.encrypt_vector(public, p).to_json() for p in parties]  # each party, over JSON
    total = pa.aggregate([pa.EncryptedVector.from_json(keys.public, w) for w in wire])
    plain = np.array(parties)
    assert total.count == 3
    assert np.allclose(pa.decrypt_vector(keys.private, total), plain.sum(0), rtol=0,
                       atol=3 * pa.PRECISION)
    assert np.allclose(pa.mean(keys.private, total), plain.mean(0), rtol=0,
                       atol=3 * pa.PRECISION)


def test_paillier_refuses_mismatched_keys_and_bad_input(keys: pa.Keypair) -> None:
    other = pa.generate_keypair(2048)
    mine = pa.encrypt_vector(keys.public, [1.0, 2.0])
    theirs = pa.encrypt_vector(other.public, [1.0, 2.0])
    with pytest.raises(InputError, match="different Paillier keys"):
        _ = mine + theirs
    with pytest.raises(InputError, match="does not belong"):
        pa.decrypt_vector(other.private, mine)
    with pytest.raises(InputError, match="another Paillier key"):
        pa.EncryptedVector.from_json(other.public, mine.to_json())
    with pytest.raises(InputError, match="lengths"):
        pa.aggregate([mine, pa.encrypt_vector(keys.public, [1.0])])
    tampered = json.loads(mine.to_json())
    tampered["ciphertexts"][0] = "0"
    with pytest.raises(InputError, match="out of range"):
        pa.EncryptedVector.from_json(keys.public, json.dumps(tampered))
    with pytest.raises(InputError, match="too weak"):
        pa.generate_keypair(1024)
    with pytest.raises(InputError):
        pa.encrypt_vector(keys.public, [float("nan")])
    assert pa.DEFAULT_BITS == 3072

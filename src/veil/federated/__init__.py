"""Federated learning across sites on Flower: secure aggregation (SecAgg+), central or local
differential privacy per site, simulation and real deployment with TLS.

Sites never send rows: each trains on its own workspace and sends weights; with SecAgg+ the
server learns only their sum. See :mod:`veil.federated.config` for the definition,
:mod:`veil.federated.privacy` for the guarantee and :mod:`veil.federated.run` to train.
"""

from veil.federated.config import Federation, Privacy, SecureAggregation, Site, load
from veil.federated.run import FederationResult, federate

__all__ = ["Federation", "FederationResult", "Privacy", "SecureAggregation", "Site",
           "federate", "load"]

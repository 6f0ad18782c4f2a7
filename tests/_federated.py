"""Stand-ins for Flower's server plumbing, so strategies run without a simulation."""

from __future__ import annotations

import numpy as np
from flwr.common import Code, FitRes, Status, ndarrays_to_parameters


class Proxy:
    def __init__(self, node_id: int) -> None:
        self.node_id = node_id


class NoClients:
    """A client manager with nobody connected (``configure_fit`` returns no instructions)."""

    def num_available(self) -> int:
        return 0

    def sample(self, *args, **kwargs) -> list:
        return []


def fit(arrays: list[np.ndarray], rows: int = 100) -> FitRes:
    return FitRes(Status(Code.OK, ""), ndarrays_to_parameters(arrays), 1, {"rows": rows})

"""The apps a Flower deployment loads by name (``veil.federated.flower_app:server`` and
``:client``): they read the federation from the run config and the site from the node config."""

from veil.federated.apps import client_app, server_app

server = server_app()
client = client_app()

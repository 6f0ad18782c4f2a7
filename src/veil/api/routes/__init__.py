"""The service's routes, one ``APIRouter`` per area; :data:`ROUTERS` is what the app mounts."""

from veil.api.routes import (
    access,
    audit,
    crypto,
    datasets,
    dp,
    federated,
    govern,
    jobs,
    models,
    releases,
    reports,
    scan,
)

ROUTERS = [datasets.router, scan.router, releases.router, dp.router, models.router,
           federated.router, crypto.router, audit.router, access.router, govern.router,
           reports.router, jobs.router]

__all__ = ["ROUTERS"]

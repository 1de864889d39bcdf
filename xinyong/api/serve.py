"""`xinyong api`: prepare the API's grants, then serve it with uvicorn as the API's role."""

from __future__ import annotations

import os

from xinyong.api import clients, service
from xinyong.publication import roles
from xinyong.runtime import config, secrets

# The URL the API connects with (its role's); by default the warehouse URL with the role
# and, on the embedded server, its password.
API_URL_VARIABLE = "XINYONG_API_WAREHOUSE_URL"


def app_for(warehouse_url: str, settings: config.Settings | None = None):
    settings = settings or config.load()
    role = clients.prepare(warehouse_url)
    url = os.environ.get(API_URL_VARIABLE) or roles.reader_url(role, warehouse_url, settings=settings)
    return service.create_app(url, secrets.person_key(settings))


def serve(warehouse_url: str, host: str, port: int) -> None:
    import uvicorn

    uvicorn.run(app_for(warehouse_url), host=host, port=port, log_level="info", access_log=False)

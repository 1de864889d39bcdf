"""Point Metabase at the published warehouse, once: the `metabase-setup` service of docker-compose.yml.

Uses Metabase's REST API: on a fresh Metabase, `/api/setup` creates the admin and the
warehouse connection in one call; on a set-up one, it logs in and adds the connection if
it is missing. The connection uses the read-only role `bi_reader` and shows only schema
`publish`. Standard library only, so it runs from the project image unchanged.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request

DATABASE_NAME = "Xinyong 公共信用 (publish)"


def _call(method: str, path: str, body: dict | None = None, session: str | None = None) -> dict:
    request = urllib.request.Request(
        os.environ["MB_URL"].rstrip("/") + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json", **({"X-Metabase-Session": session} if session else {})},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        text = response.read().decode()
    return json.loads(text) if text else {}


def warehouse_details() -> dict:
    return {
        "host": os.environ.get("WAREHOUSE_HOST", "postgres"),
        "port": int(os.environ.get("WAREHOUSE_PORT", "5432")),
        "dbname": os.environ.get("WAREHOUSE_DB", "xinyong"),
        "user": "bi_reader",
        "password": os.environ["BI_READER_PASSWORD"],
        "schema-filters-type": "inclusion",
        "schema-filters-patterns": "publish",
        "ssl": False,
    }


def wait_until_healthy(timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if _call("GET", "/api/health").get("status") == "ok":
                return
        except (urllib.error.URLError, ConnectionError, json.JSONDecodeError):
            pass
        if time.monotonic() > deadline:
            sys.exit(f"metabase-setup: Metabase at {os.environ['MB_URL']} not healthy after {timeout:.0f}s")
        time.sleep(5)


def main() -> int:
    wait_until_healthy()
    admin = {"email": os.environ["MB_ADMIN_EMAIL"], "password": os.environ["MB_ADMIN_PASSWORD"]}
    database = {"engine": "postgres", "name": DATABASE_NAME, "details": warehouse_details()}
    token = _call("GET", "/api/session/properties").get("setup-token")
    if token:
        _call(
            "POST",
            "/api/setup",
            {
                "token": token,
                "user": {**admin, "first_name": "Xinyong", "last_name": "Admin", "site_name": "Xinyong"},
                "prefs": {"site_name": "Xinyong 信用", "site_locale": "zh", "allow_tracking": False},
                "database": database,
            },
        )
        print(f"metabase-setup: Metabase set up with {DATABASE_NAME} (bi_reader, schema publish)")
        return 0
    session = _call("POST", "/api/session", {"username": admin["email"], "password": admin["password"]})["id"]
    existing = _call("GET", "/api/database", session=session)
    names = {d["name"] for d in (existing.get("data", existing) if isinstance(existing, dict) else existing)}
    if DATABASE_NAME in names:
        print(f"metabase-setup: {DATABASE_NAME} already connected")
        return 0
    _call("POST", "/api/database", database, session=session)
    print(f"metabase-setup: connected {DATABASE_NAME} (bi_reader, schema publish)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

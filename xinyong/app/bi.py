"""The BI tool: Apache Superset over the live publication, with dashboards provisioned as code.

Superset runs from its own venv (`.venv-bi`, pinned in deploy/superset/requirements.txt;
its pins clash with the core's) and is driven from here through its command line and its
REST API. It reads the warehouse as the consumer `bi_dashboards` of exposures.yml (role
`bi_reader`), so it sees exactly what that consumer is granted. The dashboards are those of
deploy/superset/dashboards.yml; `provision` makes them, or brings existing ones back to the
declaration, and is what the compose file's `superset-setup` service runs too.

Locally Superset's metadata is sqlite under `<home>/superset/`, its secret key and the
admin's password are generated into `<home>/secrets/` (superset_secret_key,
superset_admin).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import requests
import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from xinyong.publication import consumers, roles, schemas
from xinyong.runtime import config, secrets
from xinyong.runtime.config import PROJECT_ROOT

SUPERSET_DIR = PROJECT_ROOT / "deploy" / "superset"
DASHBOARDS_FILE = SUPERSET_DIR / "dashboards.yml"
BI_VENV = PROJECT_ROOT / ".venv-bi"
CONSUMER = "bi_dashboards"
DATABASE_NAME = "Xinyong 公共信用 (publish)"
ADMIN_USER = "admin"
DEFAULT_PORT = 8088
GRID_COLUMNS = 12


# ---------------------------------------------------------------- the declaration


class Chart(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    table: str
    kind: Literal["bar", "pie", "number", "table"]
    x: str | None = None
    series: str | None = None
    groupby: str | list[str] | None = None
    columns: list[str] | None = None
    order_by: list[str] = Field(default_factory=list)
    metrics: dict[str, str] = Field(default_factory=dict)
    metric: dict[str, str] | None = None
    where: str | None = None
    width: int = Field(6, ge=1, le=GRID_COLUMNS)

    @model_validator(mode="after")
    def _complete(self) -> Chart:
        need = {
            "bar": self.x and self.metrics,
            "pie": isinstance(self.groupby, str) and self.metric and len(self.metric) == 1,
            "number": self.metric and len(self.metric) == 1,
            "table": bool(self.columns) != bool(self.groupby and self.metrics),
        }[self.kind]
        if not need:
            raise ValueError(f"chart {self.name!r}: a {self.kind} chart needs " + _NEEDS[self.kind])
        return self

    @property
    def all_metrics(self) -> dict[str, str]:
        return self.metric or self.metrics

    @property
    def dimensions(self) -> list[str]:
        """The columns the chart's query groups by (or lists, for a table of rows)."""
        if self.kind == "bar":
            return [self.x, *([self.series] if self.series else [])]
        if self.kind == "number":
            return []
        if self.columns:
            return list(self.columns)
        return [self.groupby] if isinstance(self.groupby, str) else list(self.groupby)


_NEEDS = {
    "bar": "x and metrics",
    "pie": "groupby (one column) and one metric",
    "number": "one metric",
    "table": "either columns or groupby + metrics",
}


class Dashboard(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    slug: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    title: str
    charts: list[Chart] = Field(min_length=1)


class Declaration(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    dashboards: list[Dashboard]

    @model_validator(mode="after")
    def _unique(self) -> Declaration:
        for what, names in (
            ("slug", [d.slug for d in self.dashboards]),
            ("chart name", [c.name for d in self.dashboards for c in d.charts]),
        ):
            if dupes := sorted({n for n in names if names.count(n) > 1}):
                raise ValueError(f"{what} declared twice: {', '.join(dupes)}")
        return self


def load(path: Path = DASHBOARDS_FILE) -> Declaration:
    """The dashboards as declared; every chart's table must be one the BI consumer reads."""
    declaration = Declaration.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    readable = set(reader().tables)
    unread = sorted({c.table for d in declaration.dashboards for c in d.charts} - readable)
    if unread:
        raise ValueError(
            f"{path.name}: {', '.join(unread)} not among the tables of consumer {CONSUMER} "
            "(dbt_project/models/exposures.yml): add them to its depends_on"
        )
    return declaration


def reader() -> consumers.Consumer:
    """The consumer Superset reads as (its role and tables), from exposures.yml."""
    return next(c for c in consumers.load() if c.name == CONSUMER)


# ---------------------------------------------------------------- charts as Superset sees them


def _adhoc(label: str, sql: str) -> dict:
    return {"expressionType": "SQL", "sqlExpression": sql, "label": label, "optionName": f"metric_{label}"}


def form_data(chart: Chart, dataset_id: int) -> dict:
    """The chart's `params` (what Superset's chart editor would save)."""
    metrics = [_adhoc(label, sql) for label, sql in chart.all_metrics.items()]
    common = {
        "datasource": f"{dataset_id}__table",
        "adhoc_filters": (
            [{"expressionType": "SQL", "clause": "WHERE", "sqlExpression": chart.where}]
            if chart.where
            else []
        ),
        "row_limit": 10000,
    }
    if chart.kind == "bar":
        return {
            **common,
            "viz_type": "echarts_timeseries_bar",
            "x_axis": chart.x,
            "metrics": metrics,
            "groupby": [chart.series] if chart.series else [],
            "stack": "Stack" if chart.series else None,
            "show_legend": True,
            "x_axis_sort_asc": True,
            "rich_tooltip": True,
        }
    if chart.kind == "pie":
        return {
            **common,
            "viz_type": "pie",
            "groupby": [chart.groupby],
            "metric": metrics[0],
            "show_labels": True,
            "label_type": "key_value",
            "show_legend": True,
        }
    if chart.kind == "number":
        return {**common, "viz_type": "big_number_total", "metric": metrics[0], "header_font_size": 0.3}
    if chart.columns:
        return {
            **common,
            "viz_type": "table",
            "query_mode": "raw",
            "all_columns": chart.columns,
            "order_by_cols": [json.dumps([c, True]) for c in chart.order_by],
        }
    return {
        **common,
        "viz_type": "table",
        "query_mode": "aggregate",
        "groupby": chart.dimensions,
        "metrics": metrics,
    }


def query_context(chart: Chart, dataset_id: int) -> dict:
    """What the chart data API runs for the chart (saved with it, so /api/v1/chart/<id>/data works)."""
    params = form_data(chart, dataset_id)
    raw = chart.kind == "table" and chart.columns
    return {
        "datasource": {"id": dataset_id, "type": "table"},
        "force": False,
        "queries": [
            {
                "columns": chart.dimensions,
                "metrics": [] if raw else [_adhoc(label, sql) for label, sql in chart.all_metrics.items()],
                "orderby": [[c, True] for c in chart.order_by] if raw else [],
                "filters": [],
                "extras": {"where": chart.where or ""},
                "row_limit": params["row_limit"],
            }
        ],
        "form_data": params,
        "result_format": "json",
        "result_type": "full",
    }


def position(title: str, chart_ids: list[tuple[int, str, int]]) -> dict:
    """The dashboard layout: charts in rows of the 12-column grid, in declared order."""
    layout: dict = {
        "DASHBOARD_VERSION_KEY": "v2",
        "ROOT_ID": {"type": "ROOT", "id": "ROOT_ID", "children": ["GRID_ID"]},
        "GRID_ID": {"type": "GRID", "id": "GRID_ID", "children": [], "parents": ["ROOT_ID"]},
        "HEADER_ID": {"id": "HEADER_ID", "type": "HEADER", "meta": {"text": title}},
    }
    rows: list[list[tuple[int, str, int]]] = []
    for item in chart_ids:
        if not rows or sum(w for _, _, w in rows[-1]) + item[2] > GRID_COLUMNS:
            rows.append([])
        rows[-1].append(item)
    for r, row in enumerate(rows, 1):
        row_id = f"ROW-{r}"
        layout["GRID_ID"]["children"].append(row_id)
        layout[row_id] = {
            "type": "ROW",
            "id": row_id,
            "children": [f"CHART-{cid}" for cid, _, _ in row],
            "parents": ["ROOT_ID", "GRID_ID"],
            "meta": {"background": "BACKGROUND_TRANSPARENT"},
        }
        for cid, name, width in row:
            layout[f"CHART-{cid}"] = {
                "type": "CHART",
                "id": f"CHART-{cid}",
                "children": [],
                "parents": ["ROOT_ID", "GRID_ID", row_id],
                "meta": {"width": width, "height": 50, "chartId": cid, "sliceName": name},
            }
    return layout


# ---------------------------------------------------------------- Superset's REST API


def _rison(value) -> str:
    """Rison, the query-string encoding of Superset's list endpoints (the part we need)."""
    if isinstance(value, dict):
        return "(" + ",".join(f"{k}:{_rison(v)}" for k, v in value.items()) + ")"
    if isinstance(value, list):
        return "!(" + ",".join(_rison(v) for v in value) + ")"
    if isinstance(value, bool):
        return "!t" if value else "!f"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("!", "!!").replace("'", "!'") + "'"


class Superset:
    """A logged-in session against Superset's REST API (JWT plus the CSRF token it asks for)."""

    def __init__(self, base_url: str, username: str, password: str):
        self.base = base_url.rstrip("/")
        self.http = requests.Session()
        token = self._call(
            "POST",
            "/api/v1/security/login",
            json={"username": username, "password": password, "provider": "db", "refresh": False},
        )["access_token"]
        self.http.headers["Authorization"] = f"Bearer {token}"
        self.http.headers["X-CSRFToken"] = self._call("GET", "/api/v1/security/csrf_token/")["result"]
        self.http.headers["Referer"] = self.base

    def _call(self, method: str, path: str, **kwargs) -> dict:
        response = self.http.request(method, self.base + path, timeout=120, **kwargs)
        if response.status_code >= 400:
            raise RuntimeError(f"Superset {method} {path}: {response.status_code} {response.text[:500]}")
        return response.json() if response.content else {}

    def find(self, resource: str, column: str, value) -> dict | None:
        q = _rison({"filters": [{"col": column, "opr": "eq", "value": value}], "page_size": 100})
        found = [
            r for r in self._call("GET", f"/api/v1/{resource}/?q={q}")["result"] if r.get(column) == value
        ]
        return found[0] if found else None

    def upsert(self, resource: str, column: str, body: dict) -> int:
        existing = self.find(resource, column, body[column])
        if existing:
            self._call("PUT", f"/api/v1/{resource}/{existing['id']}", json=body)
            return existing["id"]
        return self._call("POST", f"/api/v1/{resource}/", json=body)["id"]

    def get(self, path: str, **query) -> dict:
        return self._call("GET", path, params={k: _rison(v) for k, v in query.items()})

    def post(self, path: str, body: dict) -> dict:
        return self._call("POST", path, json=body)


@dataclass
class Provisioned:
    dashboards: dict[str, int]  # slug -> id
    charts: dict[str, int]  # chart name -> id
    left_out: list[str]  # charts whose table is not published yet


def provision(
    api: Superset, reader_sqlalchemy_uri: str, declaration: Declaration | None = None
) -> Provisioned:
    """Make (or bring back to the declaration) the database connection, the datasets, the charts
    and the dashboards of deploy/superset/dashboards.yml."""
    declaration = declaration or load()
    database_id = api.upsert(
        "database",
        "database_name",
        {
            "database_name": DATABASE_NAME,
            "sqlalchemy_uri": reader_sqlalchemy_uri,
            "expose_in_sqllab": True,
            "allow_run_async": False,
            "allow_dml": False,
        },
    )
    published = {
        t["value"]
        for t in api.get(
            f"/api/v1/database/{database_id}/tables/", q={"schema_name": schemas.LIVE, "force": True}
        )["result"]
    }
    datasets: dict[str, int] = {}
    result = Provisioned({}, {}, [])
    for dashboard in declaration.dashboards:
        placed: list[tuple[int, str, int]] = []
        for chart in dashboard.charts:
            if chart.table not in published:
                result.left_out.append(
                    f"{dashboard.slug}: {chart.name} ({schemas.LIVE}.{chart.table} not published)"
                )
                continue
            if chart.table not in datasets:
                datasets[chart.table] = _dataset(api, database_id, chart.table)
            dataset_id = datasets[chart.table]
            chart_id = api.upsert(
                "chart",
                "slice_name",
                {
                    "slice_name": chart.name,
                    "viz_type": form_data(chart, dataset_id)["viz_type"],
                    "datasource_id": dataset_id,
                    "datasource_type": "table",
                    "params": json.dumps(form_data(chart, dataset_id), ensure_ascii=False),
                    "query_context": json.dumps(query_context(chart, dataset_id), ensure_ascii=False),
                },
            )
            placed.append((chart_id, chart.name, chart.width))
            result.charts[chart.name] = chart_id
        dashboard_id = api.upsert(
            "dashboard",
            "slug",
            {"slug": dashboard.slug, "dashboard_title": dashboard.title, "published": True},
        )
        api._call(
            "PUT",
            f"/api/v1/dashboard/{dashboard_id}",
            json={
                "position_json": json.dumps(position(dashboard.title, placed), ensure_ascii=False),
                "json_metadata": json.dumps({"color_scheme": "supersetColors", "refresh_frequency": 0}),
            },
        )
        for chart_id, _, _ in placed:
            api._call("PUT", f"/api/v1/chart/{chart_id}", json={"dashboards": [dashboard_id]})
        result.dashboards[dashboard.slug] = dashboard_id
    return result


def _dataset(api: Superset, database_id: int, table: str) -> int:
    """The dataset of a published table, its columns read afresh (a publication may change them)."""
    filters = [
        {"col": "table_name", "opr": "eq", "value": table},
        {"col": "schema", "opr": "eq", "value": schemas.LIVE},
    ]
    found = api.get("/api/v1/dataset/", q={"filters": filters})["result"]
    if found:
        api._call("PUT", f"/api/v1/dataset/{found[0]['id']}/refresh")
        return found[0]["id"]
    return api.post(
        "/api/v1/dataset/", {"database": database_id, "schema": schemas.LIVE, "table_name": table}
    )["id"]


# ---------------------------------------------------------------- running Superset locally


def superset_bin() -> Path:
    return BI_VENV / "bin" / "superset"


def admin_password(settings: config.Settings) -> str:
    return secrets.generated(settings.secrets_dir, "superset_admin")


def superset_env(settings: config.Settings) -> dict[str, str]:
    """Superset's environment: our config file, a generated secret key, sqlite metadata in <home>."""
    folder = settings.home / "superset"
    folder.mkdir(parents=True, exist_ok=True)
    return {
        **os.environ,
        "SUPERSET_CONFIG_PATH": str(SUPERSET_DIR / "superset_config.py"),
        "SUPERSET_SECRET_KEY": secrets.generated(settings.secrets_dir, "superset_secret_key"),
        "SUPERSET_METADATA_DB_URI": f"sqlite:///{folder / 'superset.db'}",
        "SUPERSET_HOME": str(folder),
        "FLASK_APP": "superset",
        "PYTHONPATH": "",
    }


def prepare(settings: config.Settings, log) -> None:
    """Superset's metadata database migrated, its roles and the admin made (idempotent)."""
    if not superset_bin().exists():
        raise FileNotFoundError(f"{superset_bin()} is missing: run `make bi-install` first")
    env = superset_env(settings)
    steps = [
        ["db", "upgrade"],
        [
            "fab",
            "create-admin",
            "--username",
            ADMIN_USER,
            "--firstname",
            "Xinyong",
            "--lastname",
            "Admin",
            "--email",
            "admin@xinyong.invalid",
            "--password",
            admin_password(settings),
        ],  # fmt: skip
        ["init"],
    ]
    for step in steps:
        subprocess.run(
            [str(superset_bin()), *step], env=env, check=True, stdout=log, stderr=subprocess.STDOUT
        )


def start(settings: config.Settings, port: int, log) -> subprocess.Popen:
    """Superset's web server on 127.0.0.1:<port> (gunicorn, from the BI venv); returns once healthy."""
    process = subprocess.Popen(
        [
            str(BI_VENV / "bin" / "gunicorn"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--threads",
            "8",
            "--timeout",
            "120",
            "superset.app:create_app()",
        ],
        env=superset_env(settings),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 180
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(
                    f"Superset exited with {process.returncode} (port {port} taken?); see {log.name}"
                )
            try:
                if requests.get(f"http://127.0.0.1:{port}/health", timeout=5).ok:
                    return process
            except requests.RequestException:  # not listening yet, or still loading the app
                pass
            time.sleep(1)
        raise RuntimeError(f"Superset did not answer on port {port} within 180 s; see {log.name}")
    except BaseException:
        stop(process)
        raise


def stop(process: subprocess.Popen) -> None:
    """Superset's gunicorn and its worker (their own process group)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def reader_uri(settings: config.Settings, password: str | None = None) -> str:
    """The warehouse as the BI consumer's role reads it: on the embedded server with its generated
    password, elsewhere with the operator's (`password`, e.g. BI_READER_PASSWORD in the compose file)."""
    return roles.reader_url(reader().role, password=password, settings=settings)


def run(settings: config.Settings, port: int = DEFAULT_PORT, say=print, serve: bool = True) -> int:
    """`xinyong bi`: Superset over the live publication, dashboards provisioned; serves until Ctrl-C."""
    log_path = settings.home / "logs" / "superset.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    # `kill` as well as Ctrl-C stops Superset with us (its gunicorn runs in its own process group)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with open(log_path, "a") as log:
        say(f"Superset: preparing its metadata (sqlite in {settings.home / 'superset'}); log: {log_path}")
        prepare(settings, log)
        process = start(settings, port, log)
        try:
            base = f"http://127.0.0.1:{port}"
            done = provision(Superset(base, ADMIN_USER, admin_password(settings)), reader_uri(settings))
            for note in done.left_out:
                say(f"  left out, not published yet: {note}")
            say(
                f"Superset is at {base}/ (log in as {ADMIN_USER}, password in {settings.secrets_dir / 'superset_admin'})"
            )
            for slug in done.dashboards:
                say(f"  {base}/superset/dashboard/{slug}/")
            if not serve:
                return 0
            say("Ctrl-C stops it.")
            process.wait()
            return process.returncode or 0
        except KeyboardInterrupt:
            return 0
        finally:
            stop(process)

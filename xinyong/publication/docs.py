"""Browsable documentation of the live publication, written after it went live.

`dbt docs generate --static` makes one self-contained HTML file of the project (models,
columns with their Chinese descriptions, lineage, the catalog of the live schema); an index
page links it with GX's Data Docs and the publication reports. Everything lands in
`<home>/docs/`. This is off the publication's critical path: the credit_warehouse DAG runs
it as a task after the swap, and a failure here is logged, never a failed publication.

The same descriptions reach the database: `persist_docs` (dbt_project.yml, marts) writes
them as table and column comments, which move with the schema swap and which BI tools show.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import jinja2

from xinyong.publication import build, gates, schemas
from xinyong.runtime import config

INDEX = jinja2.Template(
    """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>Xinyong 文档</title>
<style>body{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;color:#222}
h1{font-size:1.5rem}li{margin:.3rem 0}.note{color:#666;font-size:.9rem}</style></head>
<body><h1>Xinyong 公共信用数据仓库 · 文档</h1>
<p class="note">publication {{ publication_id }} · 评价基准日 {{ evaluation_date }} · written {{ written }}</p>
<ul>
<li><a href="{{ dbt_docs }}">dbt 文档</a>: models, columns and lineage of the warehouse (schema <code>{{ live }}</code>)</li>
{% if data_docs %}<li><a href="{{ data_docs }}">Great Expectations Data Docs</a>: the quality gates and their results</li>
{% else %}<li>Great Expectations Data Docs: not built yet</li>{% endif %}
</ul>
<h2>Publication reports</h2>
<ul>{% for name, href in reports %}<li><a href="{{ href }}">{{ name }}</a></li>{% else %}<li>none yet</li>{% endfor %}</ul>
</body></html>
""",
    autoescape=True,
)


def docs_dir(settings: config.Settings) -> Path:
    return settings.home / "docs"


def _reports(settings: config.Settings) -> list[Path]:
    """Publication reports, newest first."""
    folder = settings.reports / "publications"
    paths = folder.glob("publication_*.html") if folder.is_dir() else []
    return sorted(paths, key=lambda p: int(p.stem.removeprefix("publication_")), reverse=True)


def write(warehouse_url: str, settings: config.Settings, publication_id: int, evaluation_date) -> Path:
    """dbt's static docs of the live publication and the index page; returns the index."""
    out = docs_dir(settings)
    out.mkdir(parents=True, exist_ok=True)
    target = settings.home / "dbt" / "docs"
    result = build.run_dbt(
        [
            "docs",
            "generate",
            "--static",
            "--vars",
            f"{{publish_schema: {schemas.LIVE}}}",
        ],
        warehouse_url,
        settings,
        target,
        evaluation_date=str(evaluation_date),
    )
    static = target / "static_index.html"
    if not result.success or not static.is_file():
        raise RuntimeError(f"dbt docs generate failed: {result.exception or 'no static_index.html'}")
    shutil.copyfile(static, out / "dbt.html")
    data_docs = gates.data_docs_dir(settings.home) / "index.html"
    index = out / "index.html"
    index.write_text(
        INDEX.render(
            publication_id=publication_id,
            evaluation_date=evaluation_date,
            written=dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
            live=schemas.LIVE,
            dbt_docs="dbt.html",
            # relative links: the folder can be moved or served as it is
            data_docs=os.path.relpath(data_docs, out) if data_docs.is_file() else None,
            reports=[(p.stem.replace("_", " "), os.path.relpath(p, out)) for p in _reports(settings)],
        ),
        encoding="utf-8",
    )
    return index

"""The DAG folder loads cleanly and every DAG is owned, tagged and documented."""

import json
import os
import re
import subprocess
import sys

from xinyong.app.orchestrate import DAGS_FOLDER
from xinyong.ingest import contracts

ALLOWED_TAGS = {"xinyong", "ingest", "warehouse", "publish"}

PROBE = """
import json, warnings
from airflow.dag_processing.dagbag import DagBag
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    bag = DagBag(dag_folder=%r)
print(json.dumps({
    "import_errors": {k: str(v) for k, v in bag.import_errors.items()},
    "dags": {d.dag_id: {"owner": d.owner, "tags": sorted(d.tags), "doc": d.doc_md or "",
                        "tasks": [t.task_id for t in d.tasks],
                        "outlets": sorted(o.uri for t in d.tasks for o in t.outlets),
                        "schedule_assets": sorted(a.uri for a in
                                                  getattr(getattr(d.timetable, "asset_condition", None), "objects", []))}
             for d in bag.dags.values()},
    "warnings": [f"{w.category.__name__}: {w.message}" for w in caught],
}))
"""


def load_dagbag(tmp_path) -> dict:
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path}/airflow.db",
    }
    out = subprocess.run(
        [sys.executable, "-c", PROBE % str(DAGS_FOLDER)], env=env, capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_dag_folder_has_no_import_errors_and_dags_are_owned_tagged_documented(tmp_path):
    bag = load_dagbag(tmp_path)
    assert bag["import_errors"] == {}
    expected = {f"ingest_{feed}" for feed in contracts.load_all()} | {"credit_warehouse"}
    assert set(bag["dags"]) == expected
    for dag_id, dag in bag["dags"].items():
        assert dag["owner"] and dag["owner"] != "airflow", dag_id
        assert dag["tags"] and set(dag["tags"]) <= ALLOWED_TAGS, dag_id
        assert len(dag["doc"]) > 100, dag_id
    assert bag["dags"]["credit_warehouse"]["tasks"] == [
        "build_candidate",
        "audit_candidate",
        "publish_candidate",
        "notify_departments",
        "document_publication",
    ]


def test_assets_are_tables_named_as_the_postgres_provider_names_them(tmp_path):
    """`postgres://host:port/database/schema/table`: Airflow's postgres provider takes the URI
    as it is (its handler would rewrite or refuse another form) and warns about none."""
    from airflow.sdk import Asset

    bag = load_dagbag(tmp_path)
    feeds = sorted(contracts.load_all())
    outlets = {uri for dag in bag["dags"].values() for uri in dag["outlets"]}
    warehouse = bag["dags"]["credit_warehouse"]
    # the feeds' raw tables, and the case table (a decided case publishes at once)
    cases = [uri for uri in warehouse["schedule_assets"] if uri.endswith("/audit/cases")]
    assert len(cases) == 1 and re.fullmatch(r"postgres://[^/]+:\d+/\w+/audit/cases", cases[0])
    assert sorted(set(warehouse["schedule_assets"]) - set(cases)) == sorted(
        uri for uri in outlets if re.fullmatch(rf"postgres://[^/]+:\d+/\w+/raw/({'|'.join(feeds)})", uri)
    )
    assert len(warehouse["schedule_assets"]) == len(feeds) + 1
    published = {uri.rsplit("/", 1)[1] for uri in warehouse["outlets"]}
    assert {"entity_credit_profile", "red_list", "black_list"} <= published
    for uri in outlets:
        assert re.fullmatch(r"postgres://[^/]+:\d+/\w+/(raw|publish)/\w+", uri), uri
        assert Asset(uri).uri == uri  # the provider's handler leaves it as it is
    assert [w for w in bag["warnings"] if "asset" in w.lower() or "uri" in w.lower()] == []


def test_dag_files_stay_thin():
    for path in DAGS_FOLDER.glob("*.py"):
        assert len(path.read_text(encoding="utf-8").splitlines()) < 100, path.name


def _imports(path) -> set[str]:
    """Every module a file imports, `from a.b import c` counted as `a.b.c`."""
    import ast

    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def test_dag_files_import_the_facade_and_nothing_else_of_xinyong():
    for path in DAGS_FOLDER.glob("*.py"):
        ours = {name for name in _imports(path) if name.split(".")[0] in ("xinyong", "synthetic", "dags")}
        assert ours == {"xinyong.app.pipeline"}, f"{path.name} imports {sorted(ours)}"

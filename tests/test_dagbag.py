"""The DAG folder loads cleanly and every DAG is owned, tagged and documented."""

import json
import os
import subprocess
import sys

from xinyong.app.orchestrate import DAGS_FOLDER
from xinyong.ingest import contracts

ALLOWED_TAGS = {"xinyong", "ingest", "warehouse", "publish"}

PROBE = """
import json
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=%r)
print(json.dumps({
    "import_errors": {k: str(v) for k, v in bag.import_errors.items()},
    "dags": {d.dag_id: {"owner": d.owner, "tags": sorted(d.tags), "doc": d.doc_md or "",
                        "tasks": [t.task_id for t in d.tasks]} for d in bag.dags.values()},
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
        "document_publication",
    ]


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

"""docker-compose.yml is a valid Compose file and runs what the distributed test runs.

No Docker engine is needed: the file is validated against the Compose Specification's
JSON schema (tests/data/compose-spec.json), and its Airflow services are compared with
deploy/topology.yml, from which xinyong/app/services.py builds the processes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from xinyong.app import services as cluster
from xinyong.runtime.config import PROJECT_ROOT

COMPOSE_FILE = PROJECT_ROOT / "docker-compose.yml"
SCHEMA_FILE = Path(__file__).resolve().parents[1] / "data" / "compose-spec.json"
ENV_EXAMPLE = PROJECT_ROOT / ".env.example"
REQUIRED_VARIABLE = re.compile(r"\$\{(\w+):\?")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def topology() -> dict:
    return cluster.load_topology()


def test_compose_file_is_valid_against_the_compose_specification(compose):
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    jsonschema.validate(compose, schema, cls=jsonschema.Draft7Validator)


def test_schema_rejects_what_compose_would_reject(compose):
    broken = json.loads(json.dumps(compose))
    broken["services"]["airflow-scheduler"]["restart_policy"] = "always"  # not a service key
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema, cls=jsonschema.Draft7Validator)


def test_airflow_services_run_the_topology_commands(compose, topology):
    services = compose["services"]
    for name, command in {**topology["services"], **topology["migrate"]}.items():
        assert name in services, f"{name} is in deploy/topology.yml but not in docker-compose.yml"
        assert services[name]["command"] == command, name


def test_airflow_services_share_the_topology_environment(compose, topology):
    for name in {**topology["services"], **topology["migrate"]}:
        env = compose["services"][name]["environment"]
        for key, value in topology["airflow_env"].items():
            assert env.get(key) == value, f"{name}: {key}={env.get(key)!r}, topology says {value!r}"
        missing = set(topology["airflow_site_env"]) - set(env)
        assert not missing, f"{name} lacks {sorted(missing)}"


def test_every_service_is_restarted_or_one_shot_and_long_running_ones_are_health_checked(compose):
    for name, service in compose["services"].items():
        assert "restart" in service, name
        if service["restart"] != "no" and "sftp" not in service.get("profiles", []):
            assert "healthcheck" in service, f"{name} has no health check"


def test_project_services_are_built_from_the_dockerfile(compose, topology):
    assert (PROJECT_ROOT / "Dockerfile").is_file()
    for name in {**topology["services"], **topology["migrate"]}:
        assert compose["services"][name]["build"]["dockerfile"] == "Dockerfile", name


def test_every_secret_comes_from_env_and_is_listed_in_env_example(compose):
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    secret_key = re.compile(r"(PASSWORD|PASS|SECRET|_KEY)$")
    url_password = re.compile(r"://[^:/@]*:([^@]*)@")
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            value = str(value)
            if secret_key.search(key):
                assert value.startswith("${"), f"{name}: {key} is written into the file"
            for password in url_password.findall(value):
                assert password.startswith("${"), f"{name}: {key} has a literal password"
    required = set(REQUIRED_VARIABLE.findall(text))
    example = {
        line.split("=", 1)[0]
        for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {"XINYONG_DB_PASSWORD", "BI_READER_PASSWORD", "XINYONG_PERSON_KEY"} <= required
    assert required <= example, f"missing from .env.example: {sorted(required - example)}"


def test_superset_is_provisioned_as_make_bi_does(compose):
    """The same Superset build (deploy/superset/requirements.txt) and the same provisioning
    (`xinyong bi provision`, which connects as the BI consumer's role) as `make bi`."""
    superset, setup = compose["services"]["superset"], compose["services"]["superset-setup"]
    assert superset["build"]["dockerfile"] == "deploy/superset/Dockerfile"
    dockerfile = (PROJECT_ROOT / "deploy" / "superset" / "Dockerfile").read_text(encoding="utf-8")
    assert "deploy/superset/requirements.txt" in dockerfile and "superset_config.py" in dockerfile
    assert setup["command"][:3] == ["xinyong", "bi", "provision"]
    assert "BI_READER_PASSWORD" in setup["environment"]
    init = (PROJECT_ROOT / "deploy" / "postgres" / "init-databases.sh").read_text(encoding="utf-8")
    assert "create role bi_reader login" in init and "create database airflow" in init


def test_expand_follows_compose_interpolation():
    assert cluster.expand("${A:-x}@%h", {}) == "x@%h"
    assert cluster.expand("${A:-x}@%h", {"A": "worker-a"}) == "worker-a@%h"
    with pytest.raises(KeyError):
        cluster.expand("${B}", {})

"""Fixtures shared by the publication tests: the samples loaded, a dbt project to build.

The dbt project is copied into a temp folder, so a test can change a policy seed without
touching the repository.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import EVALUATION_DATE, drop_samples
from xinyong import ingest
from xinyong.app import pipeline
from xinyong.ingest import contracts
from xinyong.publication import build
from xinyong.runtime import config

REPO = Path(__file__).resolve().parents[2]


def export_dbt_project(target: Path) -> Path:
    shutil.copytree(
        REPO / "dbt_project",
        target / "dbt_project",
        ignore=shutil.ignore_patterns("target", "logs", "dbt_packages", ".user.yml"),
    )
    return target / "dbt_project"


@pytest.fixture
def dbt_project(tmp_path, monkeypatch):
    project = export_dbt_project(tmp_path)
    monkeypatch.setattr(build, "DBT_PROJECT", project)
    monkeypatch.setenv("XINYONG_TEST_DBT_PROJECT", str(project))
    return project


@pytest.fixture
def loaded(settings, warehouse_url, dbt_project, monkeypatch):
    """The shared samples ingested into a fresh warehouse that the pipeline functions use."""
    monkeypatch.setenv("XINYONG_WAREHOUSE_URL", warehouse_url)
    monkeypatch.setenv("XINYONG_EVALUATION_DATE", "2026-11-22")
    drop_samples(settings.landing)
    for contract in contracts.load_all().values():
        ingest.ingest_feed(contract, settings, warehouse_url)
    return warehouse_url


def publish_once() -> dict:
    return pipeline.publish_candidate(pipeline.audit_candidate(pipeline.build_candidate(EVALUATION_DATE)))


def settings() -> config.Settings:
    return config.load()

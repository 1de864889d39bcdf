"""Superset over a live publication: provisioned from deploy/superset/dashboards.yml, every chart
returns data through Superset's chart data API and every dashboard renders in headless Chromium.

Superset lives in its own venv; when `.venv-bi` is missing, the fixture builds it with
`make bi-install` (CI does this once). The screenshots go to docs/img/ for the README.
"""

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import free_port, role_url
from tests.e2e.cdp import CHROMIUM, Browser
from tests.e2e.test_publication_report import png_pixels
from tests.integration.publication_fixtures import publish_once
from xinyong.app import bi
from xinyong.runtime import config
from xinyong.runtime.config import PROJECT_ROOT

pytestmark = pytest.mark.e2e
SCREENSHOTS = PROJECT_ROOT / "docs" / "img"
# Every chart of a dashboard has drawn: ECharts a canvas, a table its rows, a big number its figure.
ALL_CHARTS_DRAWN = """(() => {
  const charts = [...document.querySelectorAll('[data-test="chart-grid-component"]')];
  const drawn = charts.filter(c => c.querySelector('canvas, table tbody tr, .header-line'));
  const empty = charts.filter(c => /No results|没有结果|暂无数据|Error|错误/.test(c.innerText));
  return charts.length && drawn.length === charts.length && !empty.length ? charts.length : 0;
})()"""


@pytest.fixture(scope="module")
def bi_venv() -> Path:
    if not (bi.BI_VENV / ".installed").exists():
        started = time.monotonic()
        subprocess.run(["make", "bi-install", f"PYTHON={sys.executable}"], cwd=PROJECT_ROOT, check=True)
        print(f"\nmake bi-install took {time.monotonic() - started:.0f} s")
    return bi.BI_VENV


@pytest.fixture
def superset(bi_venv, loaded, settings, tmp_path):
    publish_once()
    settings = config.load()
    port = free_port()
    with open(tmp_path / "superset.log", "w") as log:
        bi.prepare(settings, log)
        process = bi.start(settings, port, log)
        try:
            yield f"http://127.0.0.1:{port}", settings, role_url(loaded, bi.reader().role)
        finally:
            bi.stop(process)


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed: run scripts/install_chromium.sh")
def test_dashboards_render_with_data(superset, tmp_path):
    base, settings, reader_uri = superset
    api = bi.Superset(base, bi.ADMIN_USER, bi.admin_password(settings))
    declaration = bi.load()
    done = bi.provision(api, reader_uri, declaration)
    assert done.left_out == [] and set(done.dashboards) == {d.slug for d in declaration.dashboards}
    # provisioning again brings the same objects back to the declaration, nothing doubled
    again = bi.provision(api, reader_uri, declaration)
    assert again.dashboards == done.dashboards and again.charts == done.charts

    # every chart's saved query returns rows, read by Superset as bi_reader
    for name, chart_id in done.charts.items():
        result = api.get(f"/api/v1/chart/{chart_id}/data/")["result"][0]
        assert result["rowcount"] > 0 and not result.get("error"), (name, result.get("error"))

    # the column descriptions of dbt (persist_docs -> PostgreSQL comments) are Superset's too
    filters = [{"col": "table_name", "opr": "eq", "value": "entity_credit_profile"}]
    (dataset,) = api.get("/api/v1/dataset/", q={"filters": filters})["result"]
    columns = {c["column_name"]: c for c in api.get(f"/api/v1/dataset/{dataset['id']}")["result"]["columns"]}
    assert columns["tier"]["description"].startswith("信用等级 A/B/C/D")

    # a person's login (the form, then the session cookie in Chromium)
    http = requests.Session()
    token = re.search(r'id="csrf_token"\s+value="([^"]+)"', http.get(f"{base}/login/").text).group(1)
    login = http.post(
        f"{base}/login/",
        data={"username": bi.ADMIN_USER, "password": bi.admin_password(settings), "csrf_token": token},
        allow_redirects=False,
    )
    assert login.status_code == 302 and "session" in http.cookies
    browser = Browser(tmp_path / "chromium-profile")
    try:
        browser.cookie(base, "session", http.cookies["session"])
        for dashboard in declaration.dashboards:
            browser.open(f"{base}/superset/dashboard/{dashboard.slug}/?standalone=1")
            drawn = browser.wait_for(ALL_CHARTS_DRAWN, timeout=120)
            assert drawn == len(dashboard.charts), (dashboard.slug, drawn)
            time.sleep(2)  # ECharts' entry animation
            shot = browser.screenshot(SCREENSHOTS / f"superset_{dashboard.slug}.png")
            width, height, raw = png_pixels(shot)
            assert (width, height) == (1400, 1000) and len(set(raw)) > 64, f"{shot} looks blank"
            titles = browser.evaluate(
                "[...document.querySelectorAll('[data-test=\"chart-grid-component\"]')].map(c => c.innerText)"
            )
            assert all(any(t.startswith(c.name) for t in titles) for c in dashboard.charts), titles
    finally:
        browser.close()

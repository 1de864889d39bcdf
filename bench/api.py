"""The credit query API at district scale: 1,000 single-entity queries against the district's
publication, through `xinyong api` (uvicorn, one process) as the API's role, from four
concurrent keep-alive clients on the same machine (so the load generator shares the cores:
at saturation a query's latency is mostly its wait behind the other three); before that,
200 queries from one client alone give the latency without queueing.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import secrets
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench import Context, derived, measurement

EVALUATION_DATE = "2026-11-22"
QUERIES = 1000
CONCURRENCY = 4
SEQUENTIAL = 200  # queries asked first by one client alone
REPO = Path(__file__).resolve().parent.parent


def _publish_district(ctx: Context) -> int:
    """Ingest every data file of the district and publish it (build, gates, swap)."""
    from bench.warehouse import _files, _ingest
    from xinyong.app import pipeline

    base, delta = _files(ctx)
    _ingest(ctx, base + [delta])
    result = pipeline.publish_candidate(pipeline.audit_candidate(pipeline.build_candidate(EVALUATION_DATE)))
    return result["publication_id"]


def _api_role_url(ctx: Context) -> str:
    """The API role's URL, with a password set here (the bench's server keeps none for it)."""
    from xinyong.api import clients
    from xinyong.publication import roles
    from xinyong.runtime import warehouse
    from xinyong.runtime.secrets import scram_verifier

    role = clients.prepare(ctx.warehouse_url)
    password = secrets.token_hex(16)
    with warehouse.transaction(ctx.warehouse_url) as conn, conn.cursor() as cur:
        cur.execute(f'alter role "{role}" password %s', (scram_verifier(password),))
    return roles.reader_url(role, ctx.warehouse_url, password=password)


def _wait_for(base: str, server: subprocess.Popen, log: Path) -> None:
    import httpx

    for _ in range(600):
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if server.poll() is not None:
            raise RuntimeError(f"the API stopped:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)
    raise RuntimeError("the API did not come up within a minute")


@measurement("api_queries", "credit query API: 1,000 single-entity queries, district publication")
def api_queries(ctx: Context) -> dict:
    import httpx

    from xinyong.api import clients
    from xinyong.runtime import warehouse

    os.environ.update(
        XINYONG_WAREHOUSE_URL=ctx.warehouse_url,
        XINYONG_HOME=str(ctx.scratch / "home"),
        XINYONG_LANDING=str(ctx.scratch / "landing"),
        XINYONG_EVALUATION_DATE=EVALUATION_DATE,
    )
    publication_id = _publish_district(ctx)
    api_url = _api_role_url(ctx)
    _, key = clients.add_client(ctx.warehouse_url, "bench bank", "91500000202869177Y", "1000000/minute")
    with warehouse.transaction(ctx.warehouse_url) as conn, conn.cursor() as cur:
        cur.execute("select uscc, entity_type from publish.entity_credit_profile")
        entities = cur.fetchall()
    picked = random.Random(1).sample(entities, QUERIES)
    port = int(os.environ.get("XINYONG_BENCH_API_PORT") or 0) or _free_port()
    log = ctx.scratch / "api.log"
    base = f"http://127.0.0.1:{port}"
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "xinyong.app.cli", "api", "--port", str(port)],
            env={**os.environ, "PYTHONPATH": str(REPO), "XINYONG_API_WAREHOUSE_URL": api_url},
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )
    try:
        _wait_for(base, server, log)
        headers = {"X-API-Key": key}
        today = dt.date.today()
        with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
            # an 个体工商户 is answered under an authorisation: register those first (not timed)
            for n, (uscc, _) in enumerate(e for e in picked if e[1] == "个体工商户"):
                http.post(
                    "/v1/authorisations",
                    json={
                        "authorisation_no": f"BENCH-{n}",
                        "subject_uscc": uscc,
                        "purpose": "贷前审核",
                        "valid_from": str(today),
                        "valid_to": str(today + dt.timedelta(days=1)),
                    },
                ).raise_for_status()
            http.get(f"/v1/entities/{picked[0][0]}").raise_for_status()  # the key's argon2 check, once

        def ask(chunk: list[tuple[str, str]]) -> list[float]:
            took = []
            with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
                for uscc, _ in chunk:
                    started = time.perf_counter()
                    response = http.get(f"/v1/entities/{uscc}")
                    took.append(time.perf_counter() - started)
                    if response.status_code != 200 or response.json()["publication_id"] != publication_id:
                        raise RuntimeError(f"{uscc}: {response.status_code} {response.text[:200]}")
            return took

        alone = sorted(ask(picked[:SEQUENTIAL]))  # one client at a time: latency without queueing
        chunks = [picked[i::CONCURRENCY] for i in range(CONCURRENCY)]
        started = time.perf_counter()
        with ThreadPoolExecutor(CONCURRENCY) as pool:
            latencies = sorted(t for part in pool.map(ask, chunks) for t in part)
        wall = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=30)
    quantiles = statistics.quantiles(latencies, n=100)
    return {
        "rows": QUERIES,
        "seconds": wall,
        "entities_published": len(entities),
        "concurrency": CONCURRENCY,
        "p50_ms": round(quantiles[49] * 1000, 2),
        "p95_ms": round(quantiles[94] * 1000, 2),
        "max_ms": round(latencies[-1] * 1000, 2),
        "one_client_p50_ms": round(statistics.quantiles(alone, n=100)[49] * 1000, 2),
        "one_client_p95_ms": round(statistics.quantiles(alone, n=100)[94] * 1000, 2),
        "queries_per_second": round(QUERIES / wall, 1),
    }


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@derived("api_p95_ms", "credit query API: p95 latency of one entity, ms (1,000 queries, 4 clients)", "< 50")
def api_p95_ms(results: dict[str, dict]) -> float | None:
    r = results.get("api_queries")
    return r["p95_ms"] if r else None


@derived("api_queries_per_second", "credit query API: single-entity queries per second", "")
def api_queries_per_second(results: dict[str, dict]) -> float | None:
    r = results.get("api_queries")
    return r["queries_per_second"] if r else None

"""The Great Expectations gate on the candidate publication (the "audit" of WAP).

Suites, validation definitions and the checkpoint are files in `expectations/gx/`;
the datasource reads its connection string from XINYONG_GX_WAREHOUSE_URL, so nothing
machine-specific is committed. Validation runs inside PostgreSQL (SQL datasource).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from xinyong.config import PROJECT_ROOT

GX_ROOT = PROJECT_ROOT / "expectations"
CHECKPOINT = "publish_candidate_gate"


@dataclass
class GateResult:
    success: bool
    checked: int = 0
    failures: list[dict] = field(default_factory=list)   # one per failed expectation
    data_docs: str | None = None

    def summary(self) -> str:
        if self.success:
            return f"GX gate passed ({self.checked} expectations)"
        lines = [f"GX gate failed: {len(self.failures)} of {self.checked} expectations"]
        for f in self.failures:
            lines.append(f"  - {f['asset']}: {f['expectation']}({f['kwargs']}) "
                         f"unexpected={f.get('unexpected_count')} e.g. {f.get('examples')}")
        if self.data_docs:
            lines.append(f"  Data Docs: {self.data_docs}")
        return "\n".join(lines)


def _sqlalchemy_url(warehouse_url: str) -> str:
    return warehouse_url.replace("postgresql://", "postgresql+psycopg2://", 1) \
        if warehouse_url.startswith("postgresql://") else warehouse_url


def run_gate(warehouse_url: str, checkpoint: str = CHECKPOINT) -> GateResult:
    import great_expectations as gx

    os.environ["XINYONG_GX_WAREHOUSE_URL"] = _sqlalchemy_url(warehouse_url)
    context = gx.get_context(mode="file", project_root_dir=str(GX_ROOT))
    result = context.checkpoints.get(checkpoint).run()
    gate = GateResult(success=bool(result.success))
    for run in result.run_results.values():
        asset_name = (run.meta.get("active_batch_definition") or {}).get("data_asset_name", "?")
        for r in run.results:
            gate.checked += 1
            if r.success:
                continue
            cfg = r.expectation_config
            details = r.result or {}
            gate.failures.append({
                "asset": asset_name,
                "expectation": cfg.type,
                "kwargs": {k: v for k, v in cfg.kwargs.items() if k not in ("batch_id",)},
                "unexpected_count": details.get("unexpected_count", details.get("observed_value")),
                "examples": (details.get("partial_unexpected_list") or [])[:5],
            })
    sites = context.get_docs_sites_urls()
    if sites:
        gate.data_docs = sites[0].get("site_url")
    return gate

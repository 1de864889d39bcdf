"""Settings from the environment, resolved once per process.

Every setting has a safe local default so that `make demo` works on a bare machine;
production overrides them through environment variables (see README, "Configuration").
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# A landing file written to within this many seconds is looked at again after as long; if
# its size or time changed it is still being written and waits for the next run.
LANDING_SETTLE_SECONDS = 5.0


def _landing_settle_seconds() -> float:
    return float(os.environ.get("XINYONG_LANDING_SETTLE_SECONDS", LANDING_SETTLE_SECONDS))


@dataclass(frozen=True)
class Settings:
    home: Path  # project-local state: embedded PostgreSQL, Airflow home, reports
    landing: Path  # departments drop files here, one folder per feed
    warehouse_url: str | None  # None means "use the embedded PostgreSQL"
    embedded_port: int
    evaluation_date: str | None  # YYYY-MM-DD; None means today in Asia/Shanghai
    bulk_ingest: bool = (
        True  # plain CSV rows by the bulk path (xinyong/ingest/bulk.py); off: all row by row in SQL
    )
    landing_settle_seconds: float = field(default_factory=_landing_settle_seconds)

    @property
    def embedded(self) -> bool:
        return self.warehouse_url is None

    @property
    def archive(self) -> Path:
        return self.home / "archive"

    @property
    def quarantine(self) -> Path:
        return self.home / "quarantine"

    @property
    def reports(self) -> Path:
        return self.home / "reports"

    @property
    def airflow_home(self) -> Path:
        return Path(os.environ.get("AIRFLOW_HOME") or self.home / "airflow")

    @property
    def secrets_dir(self) -> Path:
        return self.home / "secrets"


def load() -> Settings:
    home = Path(os.environ.get("XINYONG_HOME") or PROJECT_ROOT / ".xinyong").resolve()
    landing = Path(os.environ.get("XINYONG_LANDING") or "landing").resolve()
    return Settings(
        home=home,
        landing=landing,
        warehouse_url=os.environ.get("XINYONG_WAREHOUSE_URL") or None,
        embedded_port=int(os.environ.get("XINYONG_PG_PORT", "54329")),
        evaluation_date=os.environ.get("XINYONG_EVALUATION_DATE") or None,
        bulk_ingest=os.environ.get("XINYONG_BULK_INGEST", "on").lower() not in ("off", "0", "false", "no"),
    )

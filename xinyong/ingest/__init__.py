"""Ingest: a feed is its contract (`connectors/<feed>.yml`); files are read, every row
validated, good rows loaded into `raw.<feed>` and bad ones kept with a reason."""

from xinyong.ingest.loader import (
    FileOutcome,
    ingest_feed,
    ingest_file,
    pending_files,
    ready_files,
    record_landing_findings,
    sha256_of,
    unknown_landing_entries,
)

__all__ = [
    "FileOutcome",
    "ingest_feed",
    "ingest_file",
    "pending_files",
    "ready_files",
    "record_landing_findings",
    "sha256_of",
    "unknown_landing_entries",
]

"""`generate`: write a synthetic district's department files, every feed that has both a
contract and a generator module (see the package docstring)."""

from __future__ import annotations

import datetime
import json
import random
from pathlib import Path

from synthetic import daily_delta, feeds
from synthetic.manifest import MANIFEST_NAME, entities_by_type, rural_summary
from synthetic.run import Run
from synthetic.scales import SCALES
from synthetic.world import build_world
from synthetic.writers import Progress, ProgressCallback
from xinyong.ingest import contracts

__all__ = ["MANIFEST_NAME", "SCALES", "generate"]


def generate(
    scale: str,
    seed: int,
    out: Path,
    as_of: datetime.date = datetime.date(2026, 11, 20),
    progress: ProgressCallback | None = None,
    broken_header: bool = False,
) -> dict:
    """Write feed files under out/<feed>/<feed>_<YYYYMMDD>[_<seq>].<csv|xlsx>; return a summary dict.

    scale is a key of SCALES. The summary is also written to out/.generator_manifest.json:
    scale, seed, as_of, expected_entities (valid entity_register rows: the entities a
    warehouse should profile), entities_by_type (of those), a rural-credit summary, and
    per file: feed, file, kind (data / duplicate / partial / broken_header), encoding,
    line_end, rows, bad_rows, bad_reasons and quirks (counts), and at sample scale the row
    numbers too (bad_row_numbers, bad_rows_by_reason, quirk_row_numbers; header = row 1).
    Feeds with a contract but no generator module are listed as feeds_not_generated.
    progress(feed, done, total) is called every 50,000 rows of a file and at its end.
    broken_header also writes entity_register_<as_of>_2.csv, whose 统一社会信用代码 header
    is renamed 社会信用代码, so the platform quarantines it.
    At city scale (parking written one file a day) the files of as_of + 1 are the daily
    delta: written under out/.daily_delta/<feed>/ and listed under daily_delta, not files.
    """
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    contracted = contracts.load_all()
    orphans = [feed for feed in feeds.ORDER if feed not in contracted]
    if orphans:
        raise ValueError(
            f"generator modules without a contract in {contracts.CONTRACTS_DIR}: {', '.join(orphans)}"
        )
    generated = [feed for feed in feeds.ORDER if feed in contracted]
    cfg = SCALES[scale]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)

    # One generator for the shared world, one per feed (Run.rng): a feed's draws do not shift another's.
    world = build_world(cfg, random.Random(seed), as_of)
    run = Run(cfg, seed, as_of, out, world, Progress(progress), broken_header)
    reports = [report for feed in generated for report in feeds.generator(feed).write(run)]
    delta: list = []
    if cfg.get("parking_daily_files"):  # the city: the next day's files are its daily delta
        reports, delta = daily_delta.split_off(reports, out, as_of)

    by_type = entities_by_type(world)
    summary: dict[str, object] = {
        "scale": scale,
        "seed": seed,
        "as_of": as_of.isoformat(),
        "row_numbering": "header = row 1; a record holding a quoted line break is one row",
        "expected_entities": sum(by_type.values()),
        "entities_by_type": by_type,
    }
    if "credit_household" in generated:
        summary["rural_credit"] = rural_summary(world)
    summary["files"] = [r.manifest(with_row_numbers=scale == "sample") for r in reports]
    if delta:
        summary["daily_delta"] = {
            "day": (as_of + datetime.timedelta(days=1)).isoformat(),
            "folder": daily_delta.DELTA_FOLDER,  # files under <folder>/<feed>/
            "files": [r.manifest(with_row_numbers=False) for r in delta],
        }
    not_generated = sorted(set(contracted) - set(generated))
    if not_generated:
        summary["feeds_not_generated"] = not_generated
    (out / MANIFEST_NAME).write_text(
        json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    return summary

"""entity_register (市场主体登记): every entity of the world, one register export of the day.

UTF-8 with BOM, CRLF. Quirks: names and codes padded with spaces, registered capital with
thousands separators; bad: a few USCCs with a mistyped check character. With
``broken_header`` also a second file of the day whose key header a clerk renamed.
"""

from __future__ import annotations

from synthetic.codes import USCC_ALPHABET, draw_uscc
from synthetic.district import DISTRICT, DISTRICT_REGION, ROADS
from synthetic.manifest import FileReport
from synthetic.names import BRAND_WORDS, ENTERPRISE_TRADES, person_name
from synthetic.quirks import PADDED_SHARE, THOUSANDS_SHARE, amount, pad, pick, share
from synthetic.run import Run
from synthetic.world import Entity
from synthetic.writers import Layout, file_name, write_csv, write_csv_parts
from xinyong.ingest import contracts
from xinyong.ingest.contracts import normalise_header

FEED = "entity_register"
ENCODING = "utf-8-sig"


def _row(entity: Entity) -> dict[str, str]:
    return {
        "uscc": entity.uscc,
        "entity_name": entity.name,
        "entity_type": entity.kind,
        "legal_representative": entity.legal_rep,
        "established_on": entity.established.isoformat(),
        "registration_status": entity.status,
        "registered_capital_wan": "" if entity.capital_wan is None else amount(entity.capital_wan),
        "industry_section": entity.section,
        "address": entity.address,
        "town": entity.town,
    }


def write(run: Run) -> list[FileReport]:
    reports = _write_register(run)
    if run.broken_header:
        reports.append(_write_broken_header(run))
    return reports


def _write_register(run: Run) -> list[FileReport]:
    """The register's file, streamed: the deviations are drawn first (index -> changed
    columns), the rows made as they are written (a city has 3.5 million)."""
    rng, entities = run.rng(FEED), run.world.entities
    name = file_name(FEED, run.as_of, None, "csv")
    report = FileReport(FEED, name, "data", ENCODING, "CRLF")
    changed: dict[int, dict[str, str]] = {}
    for index, entity in enumerate(entities):
        if entity.mistyped:
            right = entity.uscc[17]
            changed[index] = {"uscc": entity.uscc[:17] + rng.choice([c for c in USCC_ALPHABET if c != right])}
            report.mark_bad(index, "uscc_check_character")
    fine = [i for i, e in enumerate(entities) if not e.mistyped]
    for index in pick(rng, fine, share(len(entities), PADDED_SHARE)):
        column = rng.choice(("uscc", "entity_name"))
        changed.setdefault(index, {})[column] = pad(rng, _row(entities[index])[column])
        report.mark_quirk(index, "padded_whitespace")
    large = [i for i, e in enumerate(entities) if (e.capital_wan or 0) >= 1000]
    for index in pick(rng, large, share(len(entities), THOUSANDS_SHARE)):
        changed.setdefault(index, {})["registered_capital_wan"] = f"{entities[index].capital_wan:,.0f}"
        report.mark_quirk(index, "thousands_separator")
    rows = ({**_row(e), **changed.get(i, {})} for i, e in enumerate(entities))
    on_row = run.progress.counter(FEED, len(entities))
    return report.split(
        write_csv_parts(run.folder(FEED), FEED, run.as_of, Layout(FEED), rows, ENCODING, on_row=on_row)
    )


def _renamed_key_header() -> str:
    """统一社会信用代码 as a clerk shortened it, 社会信用代码: a header the contract must not accept."""
    column = contracts.load(FEED).column("uscc")
    renamed = column.header.removeprefix("统一")
    if normalise_header(renamed) in {normalise_header(h) for h in (column.header, *column.aliases)}:
        raise ValueError(
            f"{FEED}: {renamed!r} is an accepted header of uscc; the broken-header file would load"
        )
    return renamed


def _write_broken_header(run: Run) -> FileReport:
    """A second register file of the day whose key header a clerk renamed: all rows are lost."""
    rng, as_of = run.rng("broken_header"), run.as_of
    name = file_name(FEED, as_of, 2, "csv")
    report = FileReport(FEED, name, "broken_header", ENCODING, "CRLF")
    rows = []
    for _ in range(5):
        trade, section = rng.choice(ENTERPRISE_TRADES)
        rows.append(
            {
                "uscc": draw_uscc(rng, "91" + DISTRICT_REGION, as_of),
                "entity_name": f"重庆{rng.choice(BRAND_WORDS)}{trade}有限公司",
                "entity_type": "企业",
                "legal_representative": person_name(rng),
                "established_on": as_of.isoformat(),
                "registration_status": "存续",
                "registered_capital_wan": "100",
                "industry_section": section,
                "address": f"{DISTRICT}凤城街道{rng.choice(ROADS)}{rng.randint(1, 399)}号",
                "town": "凤城街道",
            }
        )
    broken = Layout(FEED, headers={"uscc": _renamed_key_header()})
    report.rows = write_csv(run.folder(FEED) / name, broken, rows, ENCODING)
    for index in range(report.rows):
        report.mark_bad(index, "missing_required_column")
    return report

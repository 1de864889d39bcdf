"""The generator's manifest: per written file, which rows are deliberately bad and which
carry a quirk the platform must absorb; and what the world holds."""

from __future__ import annotations

from dataclasses import dataclass, field

from synthetic.world import World
from xinyong.ingest import contracts

# Hidden: the generator writes into a landing root, where anything visible that no feed
# takes up is reported as a finding; hidden entries are not data.
MANIFEST_NAME = ".generator_manifest.json"


@dataclass
class FileReport:
    """What the manifest says about one written file."""

    feed: str
    file: str
    kind: str  # data | duplicate | partial | broken_header
    encoding: str
    line_end: str
    rows: int = 0
    bad: dict[int, str] = field(default_factory=dict)  # file row -> reason
    quirks: dict[str, list[int]] = field(default_factory=dict)  # quirk -> file rows
    extra: dict[str, object] = field(default_factory=dict)

    def mark_bad(self, index: int, reason: str) -> None:
        self.bad[index + 2] = reason  # index 0 = first data record = row 2

    def mark_quirk(self, index: int, quirk: str) -> None:
        self.quirks.setdefault(quirk, []).append(index + 2)

    def split(self, parts: list[tuple[str, int]]) -> list[FileReport]:
        """One report per part file (name, rows) of what this one describes as one export, its
        row numbers counted within the part."""
        reports, first = [], 0
        for name, rows in parts:
            part = FileReport(
                self.feed, name, self.kind, self.encoding, self.line_end, rows=rows, extra=dict(self.extra)
            )
            part.bad = {n - first: why for n, why in self.bad.items() if first + 2 <= n < first + 2 + rows}
            part.quirks = {
                quirk: [n - first for n in numbers if first + 2 <= n < first + 2 + rows]
                for quirk, numbers in self.quirks.items()
            }
            part.quirks = {quirk: numbers for quirk, numbers in part.quirks.items() if numbers}
            if len(parts) > 1:
                part.extra["part_of"] = parts[0][0]
            reports.append(part)
            first += rows
        return reports

    def manifest(self, with_row_numbers: bool) -> dict:
        reasons: dict[str, int] = {}
        for reason in self.bad.values():
            reasons[reason] = reasons.get(reason, 0) + 1
        entry: dict[str, object] = {
            "feed": self.feed,
            "file": self.file,
            "kind": self.kind,
            "encoding": self.encoding,
            "line_end": self.line_end,
            "rows": self.rows,
            "bad_rows": len(self.bad),
            "bad_reasons": dict(sorted(reasons.items())),
            "quirks": {name: len(rows) for name, rows in sorted(self.quirks.items())},
        }
        if with_row_numbers:
            entry["bad_row_numbers"] = sorted(self.bad)
            entry["bad_rows_by_reason"] = {
                reason: sorted(r for r, why in self.bad.items() if why == reason)
                for reason in sorted(reasons)
            }
            entry["quirk_row_numbers"] = {name: sorted(rows) for name, rows in sorted(self.quirks.items())}
        entry.update(self.extra)
        return entry


def entities_by_type(world: World) -> dict[str, int]:
    """Valid entity_register rows by 主体类型: the entities a warehouse should profile."""
    by_type: dict[str, int] = {}
    for entity in world.valid_entities:
        by_type[entity.kind] = by_type.get(entity.kind, 0) + 1
    return dict(sorted(by_type.items()))


def rural_summary(world: World) -> dict[str, object]:
    """Credit villages and towns as the households were planned (the rule in the contract's words)."""
    household = contracts.load("credit_household")
    villages: dict[tuple[str, str], list[int]] = {}
    for h in world.households:
        tally = villages.setdefault((h.town, h.village), [0, 0])
        tally[0] += 1
        tally[1] += h.good
    credit_villages = {key for key, (total, good) in villages.items() if good >= 0.7 * total}
    towns = sorted({town for town, _ in villages})
    credit_towns = [
        t
        for t in towns
        if 2 * sum(1 for (town, _) in credit_villages if town == t)
        >= sum(1 for (town, _) in villages if town == t)
    ]
    return {
        "good_household_rule": f"{household.column('village_rating').header} 优 or 良 and "
        f"{household.column('loan_overdue_count').header} = 0",
        "towns": len(towns),
        "villages": len(villages),
        "villages_with_70pct_good_households": len(credit_villages),
        "towns_with_half_such_villages": len(credit_towns),
    }

"""How big a district to generate: counts of entities, people and records per scale."""

from __future__ import annotations

SCALES: dict[str, dict[str, int]] = {
    "sample": {
        "enterprises": 100,
        "individual_businesses": 150,
        "cooperatives": 40,
        "social_organizations": 5,
        "public_institutions": 5,
        "household_towns": 4,
        "villages_per_town": 3,
        "households": 400,
        "other_residents": 300,
        "car_owners": 250,
        "unit_vehicles": 40,
        "parking_records": 3_000,
        "parking_days": 30,
        "parking_berths": 1_000,
        "parking_updates": 3,
        "penalties": 80,
        "repairs": 10,
        "commitments": 80,
        "commitment_updates": 5,
        "court_cases": 40,
        "court_government_cases": 1,
        "exchange_entries": 8,
        "loan_applications": 60,
        "loan_updates": 3,
    },
    "district": {
        "enterprises": 24_000,
        "individual_businesses": 48_900,
        "cooperatives": 1_500,
        "social_organizations": 400,
        "public_institutions": 200,
        "household_towns": 12,
        "villages_per_town": 14,
        "households": 100_000,
        "other_residents": 60_000,
        "car_owners": 50_000,
        "unit_vehicles": 6_000,
        "parking_records": 1_000_000,
        "parking_days": 180,
        "parking_berths": 9_000,
        "parking_updates": 200,
        "penalties": 20_000,
        "repairs": 500,
        "commitments": 8_200,
        "commitment_updates": 300,  # 武隆 holds 8,200 commitments
        "court_cases": 300,  # the low hundreds
        "court_government_cases": 3,
        "exchange_entries": 60,
        "loan_applications": 1_600,  # 长寿 counts 1,080 loans (56.74 亿元)
        "loan_updates": 60,
    },
}


# 重庆 as a whole: about 3.5 million registered market entities. Every count of the district
# grows by the same factor (so the city's feeds keep the district's proportions), except
# the ones the district's geography and name lists bound: the rated towns and villages,
# and the societies and public institutions (every name the lists hold). Parking is
# a daily delta here: one file per day of a million rows (the day's new records and the
# payment updates of earlier ones), the first load holding thirty of them.
CITY_ENTITIES = 3_500_000  # valid ones, as the district's 74,850
_MISTYPED_SHARE = 0.002  # synthetic.world.BAD_REGISTER_SHARE
_FIXED = {
    "household_towns": 12,
    "villages_per_town": 40,
    "social_organizations": 520,
    "public_institutions": 248,
    "parking_days": 30,
    "parking_records": 30_000_000,
}
_SCALED_KINDS = ("enterprises", "individual_businesses", "cooperatives")


def _scaled(entities: int) -> dict[str, int]:
    """The district grown to `entities` valid registered entities."""
    district = SCALES["district"]
    fixed = _FIXED["social_organizations"] + _FIXED["public_institutions"]
    factor = (entities / (1 - _MISTYPED_SHARE) - fixed) / sum(district[k] for k in _SCALED_KINDS)
    cfg = {key: max(1, round(value * factor)) for key, value in district.items()}
    cfg.update(_FIXED)
    cfg["parking_records"] = round(_FIXED["parking_records"] * entities / CITY_ENTITIES)
    cfg["parking_daily_files"] = 1  # one file per day, each a delta (new records + updates)
    cfg["parking_updates"] = cfg["parking_records"] // cfg["parking_days"] // 20  # per day: 5%
    # Names of 个体工商户 repeat in a city (the district's name parts hold ~280,000): after
    # a few draws a name gets a branch number instead of being drawn again.
    cfg["name_draws"] = 3
    return cfg


SCALES["city"] = _scaled(CITY_ENTITIES)

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

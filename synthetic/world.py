"""The district's world, drawn once per run and shared by every feed: registered entities
(enterprises, 个体工商户, cooperatives, societies, public units), rural households and the
residents who park, get fined or head a household."""

from __future__ import annotations

import random
import sys
from collections.abc import Callable
from dataclasses import dataclass

from synthetic.codes import Uniques, draw_ric, draw_uscc
from synthetic.dates import DAY, Date, skewed_date
from synthetic.district import (
    DISTRICT,
    DISTRICT_INSTITUTIONS,
    DISTRICT_REGION,
    OTHER_REGIONS,
    ROADS,
    RURAL_TOWNS,
    TOWN_INSTITUTIONS,
    TOWN_WEIGHTS,
    VILLAGE_NAMES,
    short_town,
)
from synthetic.names import (
    BRAND_WORDS,
    ENTERPRISE_TRADES,
    FARM_PRODUCTS,
    INDIVIDUAL_TRADES,
    PRIVATE_NONPROFIT_KINDS,
    SOCIETY_KINDS,
    SOCIETY_TOPICS,
    SURNAMES,
    person_name,
)

ENTERPRISE_CAPITALS_WAN = (10, 30, 50, 100, 100, 200, 300, 500, 1000, 2000, 3000, 5000, 12000)
# Businesses registered with a mistyped check character: entity_register marks them bad,
# and no other feed knows them.
BAD_REGISTER_SHARE = 0.002


@dataclass(slots=True)
class Person:
    name: str
    ric: str  # 居民身份证号码


@dataclass(slots=True)
class Entity:
    uscc: str
    name: str
    kind: str  # 主体类型
    legal_rep: str
    established: Date
    status: str
    capital_wan: float | None
    section: str
    address: str
    town: str
    village: str = ""
    product: tuple[str, str, str] | None = None
    mistyped: bool = False  # registered with a wrong check character: not a valid entity

    @property
    def numeric_code(self) -> bool:
        return self.uscc.isdigit()


@dataclass(slots=True)
class Household:
    head: Person
    town: str
    village: str
    good: bool  # 优/良 and no overdue loan: what a credit household looks like


@dataclass
class World:
    entities: list[Entity]
    households: list[Household]
    persons: list[Person]

    @property
    def valid_entities(self) -> list[Entity]:
        return [e for e in self.entities if not e.mistyped]


def split(rng: random.Random, total: int, parts: int) -> list[int]:
    """total split into parts of similar (±30%) random size."""
    weights = [rng.uniform(0.7, 1.3) for _ in range(parts)]
    scale = total / sum(weights)
    sizes = [int(w * scale) for w in weights]
    for i in range(total - sum(sizes)):
        sizes[i % parts] += 1
    return sizes


def build_world(cfg: dict[str, int], rng: random.Random, as_of: Date) -> World:
    rural_towns = list(RURAL_TOWNS)
    villages = {town: rng.sample(VILLAGE_NAMES, cfg["villages_per_town"]) for town in rural_towns}
    rics = Uniques()
    households = _build_households(cfg, rng, rural_towns, villages, rics)
    others = [
        Person(
            person_name(rng),
            rics.draw(
                lambda: draw_ric(
                    rng, DISTRICT_REGION if rng.random() < 0.75 else rng.choice(OTHER_REGIONS), 1950, 2005
                )
            ),
        )
        for _ in range(cfg["other_residents"])
    ]
    entities = _build_entities(cfg, rng, as_of, villages)
    return World(entities, households, [h.head for h in households] + others)


def _build_households(
    cfg: dict[str, int],
    rng: random.Random,
    rural_towns: list[str],
    villages: dict[str, list[str]],
    rics: Uniques,
) -> list[Household]:
    """Households of the rated villages, with a planned share of good households per village.

    Towns are spread from "every village a credit village" (>= 70% good households) to
    "none", so a town-level rating (>= 50% credit villages) has both outcomes too. Shares
    keep clear of 70% so rounding cannot move a village across the line.
    """
    towns = rng.sample(rural_towns, cfg["household_towns"])
    per_town = cfg["villages_per_town"]
    rated = [(town, village) for town in towns for village in villages[town]]
    sizes = split(rng, cfg["households"], len(rated))
    households: list[Household] = []
    for town_index, town in enumerate(towns):
        spread = (len(towns) - 1 - town_index) / max(1, len(towns) - 1)
        credit_villages = round(per_town * spread)
        for village_index, village in enumerate(villages[town]):
            size = sizes[town_index * per_town + village_index]
            good_share = (
                rng.uniform(0.76, 0.95) if village_index < credit_villages else rng.uniform(0.40, 0.64)
            )
            good_count = round(size * good_share)
            flags = [True] * good_count + [False] * (size - good_count)
            rng.shuffle(flags)
            for good in flags:
                region = DISTRICT_REGION if rng.random() < 0.97 else rng.choice(OTHER_REGIONS)
                head = Person(person_name(rng), rics.draw(lambda: draw_ric(rng, region, 1950, 1998)))
                households.append(Household(head, town, village, good))
    return households


def _build_entities(
    cfg: dict[str, int], rng: random.Random, as_of: Date, villages: dict[str, list[str]]
) -> list[Entity]:
    codes, names = Uniques(), Uniques(cfg.get("name_draws", 0))
    towns, town_weights = list(TOWN_WEIGHTS), list(TOWN_WEIGHTS.values())
    yesterday = as_of - DAY

    def place() -> tuple[str, str]:
        """A town and an address in it; interned: a city's millions of addresses repeat."""
        town = rng.choices(towns, town_weights)[0]
        if town in villages and rng.random() < 0.5:
            return town, sys.intern(f"{DISTRICT}{town}{rng.choice(villages[town])}{rng.randint(1, 12)}组")
        return town, sys.intern(f"{DISTRICT}{town}{rng.choice(ROADS)}{rng.randint(1, 399)}号")

    def status(weights: tuple[int, int, int, int, int]) -> str:
        return rng.choices(("存续", "在业", "吊销", "注销", "迁出"), weights)[0]

    entities: list[Entity] = []
    for _ in range(cfg["enterprises"]):
        trade, section = rng.choice(ENTERPRISE_TRADES)
        suffix = rng.choices(("有限公司", "有限责任公司", "股份有限公司"), (85, 12, 3))[0]
        name = names.draw(
            lambda: rng.choice(("重庆", "重庆", "重庆长寿", DISTRICT))
            + "".join(rng.sample(BRAND_WORDS, rng.choice((1, 2))))
            + trade
            + suffix
        )
        region = DISTRICT_REGION if rng.random() < 0.97 else "500000"  # a few registered by the city
        established = skewed_date(rng, Date(1998, 1, 1), yesterday, 0.7)
        town, address = place()
        entities.append(
            Entity(
                codes.draw(lambda: draw_uscc(rng, "91" + region, established)),
                name,
                "企业",
                person_name(rng),
                established,
                status((86, 5, 3, 5, 1)),
                rng.choice(ENTERPRISE_CAPITALS_WAN),
                section,
                address,
                town,
            )
        )
    for _ in range(cfg["individual_businesses"]):
        trade, section = rng.choice(INDIVIDUAL_TRADES)
        town, address = place()

        def individual_name() -> str:
            style = rng.random()
            brand = (
                rng.choice(BRAND_WORDS)
                if style < 0.5
                else rng.choice(SURNAMES) + rng.choice(("记", "氏", "家"))
                if style < 0.8
                else "老" + rng.choice(SURNAMES)
            )
            return "长寿区" + (short_town(town) if rng.random() < 0.5 else "") + brand + trade

        established = skewed_date(rng, Date(2003, 1, 1), yesterday, 0.5)
        entities.append(
            Entity(
                codes.draw(lambda: draw_uscc(rng, "92" + DISTRICT_REGION, established)),
                names.draw(individual_name),
                "个体工商户",
                person_name(rng),
                established,
                status((30, 60, 4, 6, 0)),
                rng.choice((1, 2, 3, 5, 10, 20, 50)) if rng.random() < 0.6 else None,
                section,
                address,
                town,
            )
        )
    cooperatives = []
    for _ in range(cfg["cooperatives"]):
        town = rng.choice(list(villages))
        village = rng.choice(villages[town])
        product = rng.choice(FARM_PRODUCTS)
        name = names.draw(
            lambda: DISTRICT
            + (town + village if rng.random() < 0.5 else "".join(rng.sample(BRAND_WORDS, rng.choice((1, 2)))))
            + product[2]
            + "专业合作社"
        )
        established = skewed_date(rng, Date(2008, 1, 1), yesterday, 0.9)
        cooperatives.append(
            Entity(
                codes.draw(lambda: draw_uscc(rng, "93" + DISTRICT_REGION, established)),
                name,
                "农民专业合作社",
                person_name(rng),
                established,
                status((85, 5, 5, 5, 0)),
                rng.choice((10, 30, 50, 100, 200, 500, 1000)),
                "A",
                f"{DISTRICT}{town}{village}{rng.randint(1, 12)}组",
                town,
                village,
                product,
            )
        )
    # The oldest active cooperatives kept the code agriculture (N) gave them.
    active = sorted((c for c in cooperatives if c.status in ("存续", "在业")), key=lambda c: c.established)
    for cooperative in active[: max(1, round(len(cooperatives) * 0.1))]:
        cooperative.uscc = codes.draw(lambda: draw_uscc(rng, "N2" + DISTRICT_REGION, cooperative.established))
    entities += cooperatives
    entities += _non_profits(cfg, rng, codes, yesterday, place)
    rng.shuffle(entities)  # a register export is not grouped by type
    businesses = [e for e in entities if e.kind in ("企业", "个体工商户")]
    for entity in rng.sample(businesses, max(1, round(len(entities) * BAD_REGISTER_SHARE))):
        entity.mistyped = True
    return entities


def _non_profits(
    cfg: dict[str, int],
    rng: random.Random,
    codes: Uniques,
    yesterday: Date,
    place: Callable[[], tuple[str, str]],
) -> list[Entity]:
    societies = [(DISTRICT + topic + kind, "51") for topic in SOCIETY_TOPICS for kind in SOCIETY_KINDS]
    societies += [
        ("长寿区" + brand + kind, "52") for brand in BRAND_WORDS for kind in PRIVATE_NONPROFIT_KINDS
    ]
    institutions = [
        (DISTRICT + town + unit, section, town)
        for town in TOWN_WEIGHTS
        for unit, section in TOWN_INSTITUTIONS
    ]
    institutions += [(DISTRICT + unit, section, "") for unit, section in DISTRICT_INSTITUTIONS]
    result = []
    for name, prefix in rng.sample(societies, cfg["social_organizations"]):
        town, address = place()
        established = skewed_date(rng, Date(1995, 1, 1), yesterday, 1.0)
        result.append(
            Entity(
                codes.draw(lambda: draw_uscc(rng, prefix + DISTRICT_REGION, established)),
                name,
                "社会组织",
                person_name(rng),
                established,
                rng.choices(("存续", "注销"), (97, 3))[0],
                rng.choice((3, 5, 10, 30, 50)),
                "P" if prefix == "52" else "S",
                address,
                town,
            )
        )
    for name, section, home in rng.sample(institutions, cfg["public_institutions"]):
        town, address = place()
        if home:
            town, address = home, f"{DISTRICT}{home}{rng.choice(ROADS)}{rng.randint(1, 399)}号"
        established = skewed_date(rng, Date(1990, 1, 1), yesterday, 1.0)
        result.append(
            Entity(
                codes.draw(lambda: draw_uscc(rng, "12" + DISTRICT_REGION, established)),
                name,
                "事业单位",
                person_name(rng),
                established,
                "存续",
                rng.choice((10, 50, 100, 500, 1000)),
                section,
                address,
                town,
            )
        )
    return result

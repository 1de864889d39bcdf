"""One module per feed: `synthetic.feeds.<feed>.write(run)` writes the feed's files and
returns their manifest entries. Rows are dicts keyed by the column names of the feed's
contract (`connectors/<feed>.yml`); the writers take the headers from the contract.

ORDER is the order feeds are generated in, and so the order of the manifest's files:
penalty comes before credit_repair, which repairs the penalties it published, and before
commitment, whose subjects it penalises.
"""

from __future__ import annotations

import importlib
from types import ModuleType

ORDER = (
    "entity_register",
    "tax_credit",
    "penalty",
    "credit_repair",
    "parking",
    "rural_cooperative",
    "credit_household",
    "commitment",
    "domain_rating",
    "court_dishonest",
    "list_exchange",
    "loan_outcome",
)


def generator(feed: str) -> ModuleType:
    return importlib.import_module(f"{__name__}.{feed}")

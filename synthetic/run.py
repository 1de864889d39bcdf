"""What every feed generator receives: the run's settings, the shared world, and what one
feed hands another (the published penalties, which credit_repair repairs)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from synthetic.dates import Date
from synthetic.world import World
from synthetic.writers import Progress

if TYPE_CHECKING:
    from synthetic.feeds.penalty import Penalty


@dataclass
class Run:
    cfg: dict[str, int]
    seed: int
    as_of: Date
    out: Path
    world: World
    progress: Progress
    broken_header: bool = False
    penalties: list[Penalty] = field(default_factory=list)

    def folder(self, feed: str) -> Path:
        folder = self.out / feed
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def rng(self, stream: str) -> random.Random:
        """One generator per feed (and per quirk file): a feed's draws do not shift another's."""
        return random.Random(f"{self.seed}/{stream}")

"""HTML pages from Jinja2 templates: each package keeps its templates in `templates/`.

Autoescaping is on for every .html template; pages are written beside their target and
renamed over it, so a reader (or a killed writer) never leaves half a page.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

DISTRICT = ZoneInfo("Asia/Shanghai")


@cache
def environment(package: str) -> Environment:
    env = Environment(
        loader=PackageLoader(package, "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["thousands"] = lambda n: f"{n:,}" if isinstance(n, int) else ("-" if n is None else n)
    env.filters["signed"] = lambda n: f"{n:+,}"
    # Times as the district reads its clocks.
    env.filters["local"] = lambda t: t.astimezone(DISTRICT).strftime("%Y-%m-%d %H:%M") if t else "-"
    return env


def render(package: str, template: str, **context) -> str:
    return environment(package).get_template(template).render(**context)


def write_atomically(target: Path, text: str, encoding: str = "utf-8") -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob(f".{target.name}.tmp-*"):  # left by a killed writer
        stale.unlink(missing_ok=True)
    partial = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    partial.write_text(text, encoding=encoding)
    os.replace(partial, target)
    return target

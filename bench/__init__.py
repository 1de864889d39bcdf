"""Benchmarks (not tests): `make bench` runs every registered measurement.

A measurement is a function registered with `@measurement(name, title)`. It receives a
`Context` (the generated district, a fresh database of its own, a scratch folder) and
returns a dict of figures; it must put the number of rows it handled in `rows` and the
seconds of the part it times in `seconds`. The runner (`bench.run`) calls each one in a
child process of its own, so that the peak memory it reports belongs to that
measurement alone. Figures computed from several measurements (the ingest-to-COPY ratio)
are registered with `@derived`.

A measurement runs at the scales it names (`scales=`, sample and district by default);
the city's phases (`bench/city.py`) share one database kept between runs instead.

To add a measurement (e.g. the warehouse build), write a module `bench/<area>.py` with
decorated functions and add it to `bench.run.MODULES`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Context:
    district: Path  # output of `xinyong generate` (with generator_manifest.json)
    warehouse_url: str  # a fresh, bootstrapped database for this measurement alone
    scratch: Path  # an empty folder for this measurement alone


DISTRICT_SCALES = ("sample", "district")


@dataclass(frozen=True)
class Measurement:
    name: str
    title: str
    run: Callable[[Context], dict]
    scales: tuple[str, ...] = DISTRICT_SCALES  # the scales it runs at (`--scale`)


@dataclass(frozen=True)
class Derived:
    name: str
    title: str
    target: str  # e.g. "≥ 0.5", for the table
    compute: Callable[[dict[str, dict]], float | None]
    scales: tuple[str, ...] = DISTRICT_SCALES


MEASUREMENTS: dict[str, Measurement] = {}
DERIVED: dict[str, Derived] = {}


def measurement(name: str, title: str, scales: tuple[str, ...] = DISTRICT_SCALES):
    def register(func: Callable[[Context], dict]) -> Callable[[Context], dict]:
        MEASUREMENTS[name] = Measurement(name, title, func, scales)
        return func

    return register


def derived(name: str, title: str, target: str = "", scales: tuple[str, ...] = DISTRICT_SCALES):
    def register(func: Callable[[dict[str, dict]], float | None]):
        DERIVED[name] = Derived(name, title, target, func, scales)
        return func

    return register

"""The city bench refuses a first load the disk cannot hold, before it loads anything, and
lands the cached files without copying them."""

import shutil

from bench import city

GIB = 2**30


def test_the_first_city_load_of_2026_12_03_would_not_have_fit_beside_ci():
    # 5.9 GiB of files made a 58 GB database; 20 GiB free is nowhere near
    message = city.disk_shortfall(int(5.9 * GIB), 20 * GIB)
    assert message is not None
    assert "needs about 69 GiB free and 20 GiB are" in message and "XINYONG_HOME" in message


def test_a_load_that_fits_goes_ahead():
    assert city.disk_shortfall(int(5.9 * GIB), 80 * GIB) is None
    assert city.disk_shortfall(GIB, 21 * GIB) is None


def test_a_landed_file_is_the_cached_one_and_the_cache_keeps_it_when_the_ingest_moves_it(tmp_path):
    cached = tmp_path / "cache" / "parking_20261120.csv"
    cached.parent.mkdir()
    cached.write_text("停车记录编号\n", encoding="utf-8")
    landed = tmp_path / "landing" / "parking" / cached.name
    city.land(cached, landed)
    city.land(cached, landed)  # again, as a rerun would: replaced, not refused
    assert landed.stat().st_ino == cached.stat().st_ino  # no second copy on disk
    archived = tmp_path / "archive" / cached.name
    archived.parent.mkdir()
    shutil.move(str(landed), archived)  # what the ingest does with a loaded file
    assert cached.read_text(encoding="utf-8") == "停车记录编号\n" and not landed.exists()

"""The city bench refuses a phase the disk cannot hold, before it loads anything, and
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


def test_a_report_says_which_phase_failed_and_counts_only_the_phases_own_memory():
    from bench import run

    first_load = {
        "title": "city: first load",
        "rows": 45_143_965,
        "seconds": 3427.2,
        "rows_per_second": 13_172.4,
        # the child inherits the parent's high-water mark (the generator's world) at fork
        "peak_rss_mib": 4051.9,
        "baseline_rss_mib": 4051.9,
        "peak_rss_any_process_mib": 3778.1,
        "peak_rss_server_sum_mib": 17_458.3,
        "database_mib": 56_111.2,
    }
    report = {
        "started_at": "2026-12-04T18:07:00+00:00",
        "environment": {
            "scale": "city",
            "seed": 1,
            "postgresql": "18.6",
            "python": "3.11.7",
            "machine": "Linux x86_64, 2 CPUs",
            "commit": "3e44653",
            "load_average": "1.0 1.0 1.0",
            "failed": "city_daily_run (2026-12-04 19:29): No space left on device",
        },
        "measurements": {"city_first_load": first_load},
        "derived": {},
    }
    markdown = run.render_markdown(report)
    assert "**Failed**" in markdown and "city_daily_run (2026-12-04 19:29): No space left" in markdown
    [phase_row] = [line for line in markdown.splitlines() if line.startswith("| city_first_load |")]
    assert "| 3,778 |" in phase_row and "4,052" not in phase_row
    assert city.peak_rss(report["measurements"]) == 3778.1 / 1024  # the < 4 GiB figure too
    first_load["peak_rss_mib"] = 4200.0  # the phase raised it: that counts
    assert "| 4,200 |" in run.render_markdown(report)
    first_load["resumed_after_ingest"] = True  # its seconds: the ingest and the resumed run only
    assert "| city_first_load (resumed after its ingest) |" in run.render_markdown(report)


def test_clearing_outboxes_removes_earlier_publications_folders_only(tmp_path, monkeypatch):
    from xinyong.runtime import config

    monkeypatch.delenv("XINYONG_OUTBOX", raising=False)
    settings = config.Settings(tmp_path, tmp_path / "landing", "", 0, None)
    extract = tmp_path / "outbox" / "bi_analysts" / "publication_1" / "entity_credit_profile.csv"
    extract.parent.mkdir(parents=True)
    extract.write_bytes(b"x" * 2**20)
    kept = tmp_path / "outbox" / "bi_analysts" / "README.txt"
    kept.write_text("not a publication's folder")
    assert city.clear_outboxes(settings) == 1.0
    assert not extract.parent.exists() and kept.exists()


def test_a_daily_run_the_disk_cannot_hold_is_refused_before_it_lands_anything():
    # the daily run of 2026-12-06 grew a 57 GiB database by 6 GiB, sorts spilling beside it
    message = city.phase_disk_shortfall("city_daily_run", 57 * GIB, 8 * GIB)
    assert message is not None
    assert message.startswith(
        "city_daily_run needs about 11 GiB free beside the 57 GiB database and 8 GiB are"
    )
    assert "XINYONG_HOME" in message
    assert city.phase_disk_shortfall("city_daily_run", 57 * GIB, 18 * GIB) is None


def test_a_full_rebuild_goes_ahead_with_the_room_it_had_on_2026_12_06():
    assert city.phase_disk_shortfall("city_full_rebuild", 63 * GIB, 9 * GIB) is None
    assert city.phase_disk_shortfall("city_full_rebuild", 63 * GIB, 5 * GIB) is not None

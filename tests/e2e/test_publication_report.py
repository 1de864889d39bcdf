"""The publication report opened in headless Chromium: the charts are laid out and visible."""

import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from tests.conftest import query
from tests.integration.publication_fixtures import publish_once
from xinyong.publication import publish

pytestmark = pytest.mark.e2e
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / f"chromium-profile-{len(list(tmp_path.iterdir()))}"
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--virtual-time-budget=5000",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )


def png_pixels(path: Path) -> tuple[int, int, bytes]:
    """Width, height and the raw (filtered) scanlines of a PNG, enough to tell blank from drawn."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        chunk = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", chunk[:8])
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    return width, height, zlib.decompress(idat)


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed: run scripts/install_chromium.sh")
def test_report_charts_render_in_headless_chromium(loaded, settings, tmp_path):
    first = publish_once()
    # a second publication so the report has a previous one to compare with
    publish_once()
    status = subprocess.run(
        [str(Path(__import__("sys").executable).parent / "xinyong"), "status"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = Path(publish.current(loaded)["artifacts"]["report"])
    assert report.is_file() and f"publication report: {report}" in status.stdout
    page = report.read_text(encoding="utf-8")
    assert (
        "http://" not in page.replace("http://www.w3.org", "") and "https://" not in page
    )  # nothing fetched
    assert f"xinyong publication {first['publication_id']}" in page and "candidate_tier_shift" in page

    dom = chromium(tmp_path, "--dump-dom", report.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    rendered = dict(re.findall(r'id="(tier-chart|feed-chart)"[^>]*data-rendered="([^"]+)"', dom.stdout))
    tiers = re.fullmatch(r"(\d+)x(\d+):(\d+)bars", rendered["tier-chart"])
    feeds = re.fullmatch(r"(\d+)x(\d+):(\d+)bars", rendered["feed-chart"])
    assert int(tiers[1]) >= 400 and int(tiers[2]) >= 200
    nonzero_tiers = len(query(loaded, "select distinct tier from publish.entity_credit_profile"))
    assert int(tiers[3]) >= 2 * nonzero_tiers > 0  # previous and current bar for each tier present
    assert int(feeds[3]) >= 5  # a loaded bar for every feed with rows

    shot = tmp_path / "report.png"
    result = chromium(tmp_path, "--window-size=1200,900", f"--screenshot={shot}", report.as_uri())
    assert result.returncode == 0 and shot.is_file(), result.stderr[-2000:]
    width, height, raw = png_pixels(shot)
    assert (width, height) == (1200, 900)
    # a blank page compresses to a handful of byte values; a drawn one has many colours
    assert len(set(raw)) > 64

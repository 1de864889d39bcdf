"""The fast paths of the SQL conversions accept exactly what the general (regular expression) forms accept."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.integration


def both(cur, fast: str, general: str, text: str):
    cur.execute(f"select {fast}(%s), {general}(%s)", (text, text))
    return cur.fetchone()


digits = st.text(alphabet="0123456789", min_size=1, max_size=4)
# Near-valid shapes: the cases a shape test or an input check could get wrong.
dates = st.builds(
    lambda y, m, d: f"{y}-{m}-{d}",
    st.sampled_from(["1799", "1800", "2024", "2026", "2200", "2201", "0800", "2a24"]),
    st.sampled_from(["00", "01", "02", "12", "13", "1a"]),
    st.sampled_from(["00", "01", "28", "29", "30", "31", "32"]),
)
times = st.builds(
    lambda d, h, m, s: f"{d} {h}:{m}:{s}",
    dates,
    st.sampled_from(["00", "07", "23", "24", "25"]),
    st.sampled_from(["00", "59", "60"]),
    st.sampled_from(["00", "59", "60", "61"]),
)
amounts = st.one_of(
    st.from_regex(r"\A-?[0-9]{0,17}(\.[0-9]{0,8})?\Z"),
    st.sampled_from(["NaN", "1e5", "1_000", ".5", "5.", "-", "."]),
)

SETTINGS = settings(max_examples=400, suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(text=st.one_of(dates, digits))
def test_to_date_fast_path_agrees(cur, text):
    fast, general = both(cur, "xy.to_date", "xy.to_date_any", text)
    assert fast == general


@SETTINGS
@given(text=times)
def test_to_timestamp_fast_path_agrees(cur, text):
    fast, general = both(cur, "xy.to_timestamp", "xy.to_timestamp_any", text)
    assert fast == general


@SETTINGS
@given(text=amounts)
def test_to_amount_fast_path_agrees(cur, text):
    fast, general = both(cur, "xy.to_amount", "xy.to_amount_any", text)
    assert fast == general


@SETTINGS
@given(
    text=st.one_of(
        st.from_regex(r"\A-?[0-9]{0,17}\Z"),
        st.text(
            alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=5
        ),
    )
)
def test_to_int_fast_path_agrees(cur, text):
    fast, general = both(cur, "xy.to_int", "xy.to_int_any", text)
    assert fast == general


@SETTINGS
@given(text=st.text(alphabet=" \u3000\u00a0\tAa１Ｚ，.渝", max_size=8))
def test_fold_fast_paths_agree_with_translate(cur, text):
    cur.execute("""select xy.fold(%s), translate(xy.clean(%s), '１Ｚ，　', '1Z, ')""", (text, text))
    fast, full = cur.fetchone()
    assert fast == full

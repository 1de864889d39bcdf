"""The SQL check-character functions against independent reference implementations."""

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.integration

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
RIC_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def uscc_check(body17: str) -> str:
    """GB 32100-2015, as written in the contract: ISO 7064 MOD 31-3."""
    total = sum(ALPHABET.index(c) * pow(3, i, 31) for i, c in enumerate(body17))
    return ALPHABET[(31 - total % 31) % 31]


def ric_check(body17: str) -> str:
    return "10X98765432"[sum(int(c) * w for c, w in zip(body17, RIC_WEIGHTS, strict=False)) % 11]


def sql(cur, expr: str, *args):
    cur.execute(f"select {expr}", args)
    return cur.fetchone()[0]


uscc_bodies = st.text(alphabet=ALPHABET, min_size=17, max_size=17)


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=uscc_bodies)
def test_uscc_valid_codes_pass_including_letter_led(cur, body):
    assert sql(cur, "xy.uscc_ok(%s)", body + uscc_check(body)) is True


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=uscc_bodies, wrong=st.sampled_from(ALPHABET))
def test_uscc_any_other_check_character_fails(cur, body, wrong):
    if wrong != uscc_check(body):
        assert sql(cur, "xy.uscc_ok(%s)", body + wrong) is False


@pytest.mark.parametrize(
    "code", ["9.15001E+17", "915001152909934000", "91500115EGC964D31", "91500115EGC964D31I"]
)
def test_uscc_excel_mangled_or_malformed_codes_fail(cur, code):
    assert sql(cur, "xy.uscc_ok(%s)", code) is False


def test_uscc_agrees_with_python_stdnum_on_digit_led_codes(cur):
    from stdnum.cn import uscc

    code = "91500115EGC964D31Y"
    assert uscc.is_valid(code) and sql(cur, "xy.uscc_ok(%s)", code)


birth_dates = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2025, 12, 31))
regions = st.sampled_from(["500115", "500101", "110101", "440305", "510107"])


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(region=regions, born=birth_dates, seq=st.integers(0, 999))
def test_ric_valid_numbers_pass_regardless_of_region_age(cur, region, born, seq):
    body = f"{region}{born:%Y%m%d}{seq:03d}"
    assert sql(cur, "xy.ric_ok(%s)", body + ric_check(body)) is True


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(region=regions, born=birth_dates, seq=st.integers(0, 999), wrong=st.sampled_from("0123456789X"))
def test_ric_wrong_check_character_fails(cur, region, born, seq, wrong):
    body = f"{region}{born:%Y%m%d}{seq:03d}"
    if wrong != ric_check(body):
        assert sql(cur, "xy.ric_ok(%s)", body + wrong) is False


@pytest.mark.parametrize("birth", ["19990230", "20231301", "21000101"])
def test_ric_impossible_or_future_birth_date_fails(cur, birth):
    body = f"500115{birth}123"
    assert sql(cur, "xy.ric_ok(%s)", body + ric_check(body)) is False


@pytest.mark.parametrize(
    "text,expected",
    [
        ("2024-03-05", dt.date(2024, 3, 5)),
        ("2024/3/5", dt.date(2024, 3, 5)),
        ("20240305", dt.date(2024, 3, 5)),
        ("2024年3月5日", dt.date(2024, 3, 5)),
        ("2024-02-30", None),
        ("05/03/2024", None),
        ("2024.3.5", None),
    ],
)
def test_the_four_date_forms(cur, text, expected):
    assert sql(cur, "xy.to_date(%s)", text) == expected


@pytest.mark.parametrize(
    "text,expected",
    [
        ("2026-11-19 07:40", dt.datetime(2026, 11, 19, 7, 40)),
        ("2026/11/19 07:40:30", dt.datetime(2026, 11, 19, 7, 40, 30)),
        ("2026-11-19 25:00", None),
    ],
)
def test_datetimes(cur, text, expected):
    assert sql(cur, "xy.to_timestamp(%s)", text) == expected


@pytest.mark.parametrize(
    "text,expected",
    [
        ("１２,３４５.６０", "12345.60"),
        ("1,520.5", "1520.5"),
        ("0.2", "0.2"),
        ("12.3.4", None),
        ("", None),
    ],
)
def test_amounts_with_separators_and_full_width_digits(cur, text, expected):
    value = sql(cur, "xy.to_amount(xy.fold(%s))", text)
    assert (str(value) if value is not None else None) == expected


def test_clean_trims_ascii_and_full_width_spaces(cur):
    assert sql(cur, "xy.clean(%s)", "\u3000 重庆德润 \u3000") == "重庆德润"
    assert sql(cur, "xy.clean(%s)", " \u3000 ") is None


def test_masking(cur):
    assert sql(cur, "xy.mask(%s, 'id')", "500115195211075354") == "500115********5354"
    assert sql(cur, "xy.mask(%s, 'name')", "吕霞博") == "吕**"


def test_id_digests_are_hmac_sha256_in_hex():
    from xinyong.runtime.secrets import id_digests

    # RFC 4231, test case 2: the digest is HMAC-SHA256 by its definition, not only by the module's
    assert list(id_digests(b"Jefe", ["what do ya want for nothing?"])) == [
        ("what do ya want for nothing?", "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    ]


def test_no_function_of_the_warehouse_takes_key_material(cur):
    """The keyed hash is made in Python; a warehouse bootstrapped when SQL made it from the
    HMAC pads (bytea parameters a statement log records) loses that function."""
    from xinyong.runtime import warehouse

    cur.execute("""create or replace function xy.keyed_hash(value text, ipad bytea, opad bytea) returns text
                   language sql immutable as $$ select encode(sha256(opad || sha256(ipad || convert_to(value, 'UTF8'))), 'hex') $$""")
    warehouse.bootstrap(cur.connection)
    cur.execute("""select p.oid::regprocedure::text from pg_proc p
                   where p.pronamespace = 'xy'::regnamespace and 'bytea'::regtype = any(p.proargtypes::regtype[])""")
    assert cur.fetchall() == []

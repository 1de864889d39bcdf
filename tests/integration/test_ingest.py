"""Ingest of the shared department samples and of deliberately broken files, on a real database."""

import shutil

import pytest

from tests.conftest import SAMPLES, drop_samples, query
from xinyong import ingest
from xinyong.ingest import contracts

pytestmark = pytest.mark.integration


def ingest_all(settings, url):
    return [o for c in contracts.load_all().values() for o in ingest.ingest_feed(c, settings, url)]


def test_samples_every_row_accounted_for_and_bad_rows_named(settings, warehouse_url):
    drop_samples(settings.landing)
    outcomes = ingest_all(settings, warehouse_url)
    assert len(outcomes) == 15
    files = query(
        warehouse_url, "select file_name, status, rows_read, rows_loaded, rows_rejected from audit.feed_files"
    )
    for name, _status, read, loaded, rejected in files:
        assert read == loaded + rejected, name
    by_name = {f[0]: f for f in files}
    assert by_name["tax_credit_20261120.csv"][1:] == ("loaded_with_rejects", 21, 20, 1)
    assert by_name["penalty_20261120.csv"][1:] == ("loaded_with_rejects", 12, 11, 1)
    assert by_name["entity_register_20261120.csv"][1:] == ("loaded", 30, 30, 0)
    assert by_name["credit_household_20261120.xlsx"][1:] == ("loaded", 24, 24, 0)
    rejected = query(
        warehouse_url, "select file_name, row_number, column_name, value from audit.rejected_rows order by 1"
    )
    assert rejected == [
        ("commitment_20261120.csv", 15, "履约期限", "2026-10-10"),  # before its 承诺日期 2026-10-20
        ("domain_rating_20261120.xlsx", 13, "统一社会信用代码", "9150011591BH143190"),  # check character
        ("domain_rating_20261120.xlsx", 26, "监管领域", "城市管理"),  # not one of the 16 domains
        ("loan_outcome_20261120.csv", 10, "放款金额（万元）", "80"),  # more than the 50 granted
        ("penalty_20261120.csv", 13, "证件号码", "500115********2911"),  # masked: personal
        ("tax_credit_20261120.csv", 22, "统一社会信用代码", "915001152909934000"),
    ]
    # the landing folder keeps only what is not processed; the files are archived
    assert ingest.pending_files(settings.landing, "penalty") == []
    assert (settings.archive / "penalty" / "penalty_20261120.csv").exists()


def test_sample_quirks_are_loaded_correctly(settings, warehouse_url):
    drop_samples(settings.landing)
    ingest_all(settings, warehouse_url)
    fine, decided, facts = (
        query(
            warehouse_url,
            """select fine_wan, decision_date, violation_facts from raw.penalty
                                                   where decision_no = '渝长交通罚〔2025〕102号'""",
        )[0][0],
        None,
        None,
    )
    assert str(fine) == "12.00"  # full-width digits
    decided, facts = query(
        warehouse_url,
        """select decision_date::text, violation_facts from raw.penalty
                                              where subject_category = '自然人'""",
    )[0]
    assert decided == "2026-03-05" and "\n" in facts  # 2026年3月5日, quoted line break
    assert query(warehouse_url, "select count(*) from raw.entity_register where uscc like 'N%%'")[0][0] == 1
    years = query(warehouse_url, "select distinct rating_year from raw.credit_household")
    assert years == [(2025,)]  # number cell in a non-code column
    lineage = query(
        warehouse_url,
        "select _source_file, _source_row, _as_of::text from raw.tax_credit order by _source_row limit 1",
    )
    assert lineage == [("tax_credit_20261120.csv", 2, "2026-11-20")]


def test_same_bytes_again_is_a_duplicate_and_loads_nothing(settings, warehouse_url):
    drop_samples(settings.landing, ["tax_credit_20261120.csv"])
    ingest_all(settings, warehouse_url)
    shutil.copy(
        SAMPLES / "tax_credit_20261120.csv", settings.landing / "tax_credit" / "tax_credit_20261120_2.csv"
    )
    [again] = ingest_all(settings, warehouse_url)
    assert again.status == "duplicate" and again.rows_loaded == 0
    assert query(warehouse_url, "select count(*) from raw.tax_credit")[0][0] == 20


def test_rerun_changes_nothing(settings, warehouse_url):
    drop_samples(settings.landing)
    ingest_all(settings, warehouse_url)
    before = query(warehouse_url, "select count(*) from raw.parking")
    assert ingest_all(settings, warehouse_url) == []
    assert query(warehouse_url, "select count(*) from raw.parking") == before


def test_part_tmp_and_hidden_files_are_left_alone(settings, warehouse_url):
    folder = settings.landing / "parking"
    folder.mkdir()
    for name in ["parking_20261122.csv.part", "parking_20261122.csv.tmp", ".parking_20261122.csv"]:
        shutil.copy(SAMPLES / "parking_20261120.csv", folder / name)
    assert ingest_all(settings, warehouse_url) == []
    assert len(list(folder.iterdir())) == 3
    (folder / "parking_20261122.csv.part").rename(folder / "parking_20261122.csv")
    [outcome] = ingest_all(settings, warehouse_url)
    assert outcome.status == "loaded" and outcome.rows_loaded == 30


def test_file_over_the_reject_threshold_is_quarantined_whole(settings, warehouse_url):
    lines = (SAMPLES / "parking_20261120.csv").read_text(encoding="utf-8").splitlines()
    broken = [lines[0]] + [
        line.replace(",2026-11-19 ", ",2026-13-19 ", 1) if i % 5 == 0 else line
        for i, line in enumerate(lines[1:])
    ]
    (settings.landing / "parking").mkdir()
    (settings.landing / "parking" / "parking_20261122.csv").write_text("\n".join(broken), encoding="utf-8")
    [outcome] = ingest_all(settings, warehouse_url)
    assert outcome.status == "quarantined"
    assert (outcome.rows_read, outcome.rows_loaded, outcome.rows_rejected) == (30, 0, 30)
    assert query(warehouse_url, "select count(*) from raw.parking")[0][0] == 0
    reasons = query(warehouse_url, "select distinct column_name from audit.rejected_rows")
    assert reasons == [("入场时间",)]
    assert (settings.quarantine / "parking" / "parking_20261122.csv").exists()
    # in the outbox folder of parking's sender (departments.csv: urban), under the feed's name
    report = settings.reports / "departments" / "urban" / "parking" / "parking_20261122.csv.html"
    assert outcome.report_path == str(report)
    assert "整个文件被退回" in report.read_text(encoding="utf-8")
    assert report.with_suffix(".csv").read_bytes().startswith(b"\xef\xbb\xbf")  # opens in Excel


def test_renamed_required_header_rejects_the_whole_file(settings, warehouse_url):
    text = (SAMPLES / "entity_register_20261120.csv").read_text(encoding="utf-8-sig")
    (settings.landing / "entity_register").mkdir()
    (settings.landing / "entity_register" / "entity_register_20261121.csv").write_text(
        text.replace("统一社会信用代码", "社会信用代码", 1), encoding="utf-8"
    )
    [outcome] = ingest_all(settings, warehouse_url)
    # refused on its header alone: no data row is read
    assert (outcome.status, outcome.rows_read, outcome.rows_loaded, outcome.rows_rejected) == (
        "quarantined",
        0,
        0,
        0,
    )
    assert "缺少必填列：统一社会信用代码" in outcome.message and "数据行未读取" in outcome.message
    assert query(warehouse_url, "select row_number, column_name from audit.rejected_rows") == [
        (1, "统一社会信用代码")
    ]


def test_cross_field_rules(settings, warehouse_url):
    header = (SAMPLES / "parking_20261120.csv").read_text(encoding="utf-8").splitlines()[0]
    good = (
        "BSP1,渝A63603,个人,500115195111093141,CS-1,2026-11-19 08:51:00,2026-11-19 11:29:00,7.90,7.90,已缴,0,"
    )
    rows = [good.replace("BSP1", f"BSP{i}") for i in range(20)]
    rows.append(
        "BSPX,渝A63603,个人,500115195111093141,CS-1,2026-11-19 08:51:00,2026-11-19 07:29:00,7.90,7.90,已缴,0,"
    )
    (settings.landing / "parking").mkdir()
    (settings.landing / "parking" / "parking_20261122.csv").write_text(
        "\n".join([header, *rows]), encoding="utf-8"
    )
    [outcome] = ingest_all(settings, warehouse_url)
    assert outcome.status == "loaded_with_rejects" and outcome.rows_rejected == 1
    assert query(warehouse_url, "select row_number, column_name, reason from audit.rejected_rows") == [
        (22, "离场时间", "离场时间早于入场时间")
    ]


def test_unreadable_file_is_recorded_and_set_apart(settings, warehouse_url):
    (settings.landing / "tax_credit").mkdir()
    (settings.landing / "tax_credit" / "tax_credit_20261122.xlsx").write_bytes(b"not a workbook")
    [outcome] = ingest_all(settings, warehouse_url)
    assert outcome.status == "unreadable" and "Excel" in outcome.message
    assert (settings.quarantine / "tax_credit" / "tax_credit_20261122.xlsx").exists()


def test_personal_ids_get_a_stable_keyed_hash(settings, warehouse_url):
    drop_samples(settings.landing, ["credit_household_20261120.xlsx", "parking_20261120.csv"])
    ingest_all(settings, warehouse_url)
    rows = query(
        warehouse_url,
        """select h.id_number, d.digest from raw.credit_household h
                                   left join raw.personal_id_digests d on d.id_value = h.id_number""",
    )
    assert len(rows) == 24 and all(h is not None and len(h) == 64 and h != i for i, h in rows)
    # one digest per distinct number, whichever feed (and path: the CSV went in bulk) brought it
    owners = query(warehouse_url, "select count(distinct owner_id) from raw.parking")[0][0]
    digests = query(warehouse_url, "select count(*) from raw.personal_id_digests")[0][0]
    assert digests == owners + len({i for i, _ in rows})
    key_file = settings.secrets_dir / "person_key"
    assert key_file.exists() and oct(key_file.stat().st_mode & 0o777) == "0o600"
    import hashlib
    import hmac

    key = bytes.fromhex(key_file.read_text())
    assert all(hmac.new(key, i.encode(), hashlib.sha256).hexdigest() == h for i, h in rows)
    digests = query(warehouse_url, "select id_value, digest from raw.personal_id_digests")
    assert all(hmac.new(key, i.encode(), hashlib.sha256).hexdigest() == h for i, h in digests)


def test_bootstrap_moves_per_row_hashes_of_an_older_warehouse_into_the_digests(warehouse_url):
    """Warehouses from before raw.personal_id_digests kept a hash on every raw row."""
    from xinyong.ingest import schema
    from xinyong.runtime import warehouse

    query(
        warehouse_url,
        """alter table raw.credit_household add column id_number_hash text;
                            insert into raw.credit_household (id_number, rating_year, id_number_hash, _file_id,
                                                              _source_file, _source_row, _as_of)
                            values ('500115195211075354', 2025, 'd1', 1, 'f.csv', 2, '2026-11-20'),
                                   ('500115195211075354', 2024, 'd1', 1, 'f.csv', 3, '2026-11-20');
                            create schema staging_old;
                            create view staging_old.households as select id_number_hash from raw.credit_household""",
    )
    for _ in range(2):  # and again: nothing left to move
        with warehouse.transaction(warehouse_url) as conn:
            schema.ensure(conn)
    assert query(warehouse_url, "select id_value, digest from raw.personal_id_digests") == [
        ("500115195211075354", "d1")
    ]
    assert query(
        warehouse_url,
        """select count(*) from information_schema.columns
                                   where table_schema = 'raw' and column_name like '%%\\_hash'""",
    ) == [(0,)]
    assert query(
        warehouse_url, "select count(*) from information_schema.views where table_schema = 'staging_old'"
    ) == [(0,)]

"""The dashboard declaration (deploy/superset/dashboards.yml) and what is derived from it."""

import pytest
import yaml
from pydantic import ValidationError

from xinyong.app import bi


def test_every_chart_reads_a_table_the_bi_consumer_is_granted():
    declaration = bi.load()
    granted = set(bi.reader().tables)
    assert bi.reader().role == "bi_reader"
    assert {c.table for d in declaration.dashboards for c in d.charts} <= granted
    assert {d.slug for d in declaration.dashboards} >= {"tiers", "penalties", "lists", "rural", "inspection"}


def test_a_chart_on_a_table_the_consumer_does_not_read_is_refused(tmp_path):
    path = tmp_path / "dashboards.yml"
    chart = {"name": "x", "table": "audit_secrets", "kind": "number", "metric": {"n": "count(*)"}}
    path.write_text(yaml.safe_dump({"dashboards": [{"slug": "x", "title": "X", "charts": [chart]}]}))
    with pytest.raises(ValueError, match="audit_secrets not among the tables of consumer bi_dashboards"):
        bi.load(path)


@pytest.mark.parametrize(
    "chart",
    [
        {"name": "a", "table": "t", "kind": "bar", "metrics": {"n": "count(*)"}},  # no x
        {"name": "a", "table": "t", "kind": "pie", "groupby": "g", "metric": {"n": "1", "m": "2"}},
        {
            "name": "a",
            "table": "t",
            "kind": "table",
            "columns": ["c"],
            "groupby": ["g"],
            "metrics": {"n": "1"},
        },
        {"name": "a", "table": "t", "kind": "number", "metric": {"n": "1"}, "colour": "red"},
    ],
)
def test_incomplete_or_misspelt_charts_are_refused(chart):
    with pytest.raises(ValidationError):
        bi.Chart.model_validate(chart)


def test_query_and_layout_follow_the_declaration():
    bar = bi.Chart(
        name="b", table="t", kind="bar", x="town", series="tier", metrics={"n": "count(*)"}, width=8
    )
    params = bi.form_data(bar, 7)
    assert params["viz_type"] == "echarts_timeseries_bar" and params["x_axis"] == "town"
    assert params["groupby"] == ["tier"] and params["datasource"] == "7__table"
    query = bi.query_context(bar, 7)["queries"][0]
    assert query["columns"] == ["town", "tier"] and query["metrics"][0]["sqlExpression"] == "count(*)"
    rows = bi.Chart(name="r", table="t", kind="table", columns=["a", "b"], order_by=["a"])
    assert bi.query_context(rows, 7)["queries"][0] == {
        "columns": ["a", "b"],
        "metrics": [],
        "orderby": [["a", True]],
        "filters": [],
        "extras": {"where": ""},
        "row_limit": 10000,
    }
    layout = bi.position("T", [(1, "a", 8), (2, "b", 6), (3, "c", 6), (4, "d", 12)])
    rows_ = [layout[r]["children"] for r in layout["GRID_ID"]["children"]]
    assert rows_ == [["CHART-1"], ["CHART-2", "CHART-3"], ["CHART-4"]]
    assert layout["CHART-3"]["meta"]["chartId"] == 3


def test_rison_quotes_what_needs_quoting():
    assert bi._rison({"filters": [{"col": "slice_name", "value": "it's 50%!"}], "page_size": 100}) == (
        "(filters:!((col:'slice_name',value:'it!'s 50%!!')),page_size:100)"
    )

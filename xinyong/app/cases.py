"""Objections (异议) and repair applications (信用修复): open, forward, extend, decide, list.

The service the CLI (`xinyong case ...`) calls, and the API can call later. A case is about
one record of the live publication, named as its published table keys it (seed
`case_record_kinds`); it lives in `audit.cases` with every transition in
`audit.case_events` (who, when, from which day it counts), never in `publish`.

State machine: received → forwarded (to the source department: the acknowledgement) →
upheld / rejected (objection) or granted / refused (repair). Deadlines are working days
from the seed `case_deadlines`, counted with the working-day calendar and fixed on the
case when it is opened (the decision deadline moves once, on an extension).

Who decides (seed `case_record_kinds.decided_by`): the credit office decides the records it
owns, and an upheld objection or granted repair becomes a correction the warehouse applies
(models/intermediate/cases/); a record another authority owns is forwarded, its answer is
recorded, and the record changes only when that authority's feed says so. Repair
eligibility is the seed `repair_eligibility_rules`; a refused application names the rule.
"""

from __future__ import annotations

import calendar as month_calendar
import csv
import datetime as dt
import getpass
import logging
import os
from dataclasses import dataclass

from psycopg2 import sql

from xinyong.publication import build, schemas
from xinyong.runtime import calendar, config, warehouse

log = logging.getLogger(__name__)

CREDIT_OFFICE = "credit_office"
OPEN_STATES = ("received", "forwarded")
OUTCOMES = {"objection": ("upheld", "rejected"), "repair": ("granted", "refused")}


class CaseError(ValueError):
    """A case command that cannot be done, in one sentence."""


def _seed(name: str) -> list[dict]:
    with (build.DBT_PROJECT / "seeds" / f"{name}.csv").open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@dataclass(frozen=True)
class RecordKind:
    record_kind: str
    published_table: str
    key_column: str
    subject_column: str
    since_column: str
    decided_by: str
    repairable: bool


def record_kinds() -> dict[str, RecordKind]:
    return {
        row["record_kind"]: RecordKind(**{**row, "repairable": row["repairable"] == "true"})
        for row in ({k: v for k, v in r.items() if k != "description"} for r in _seed("case_record_kinds"))
    }


def deadlines(case_kind: str) -> dict[str, int]:
    row = next(r for r in _seed("case_deadlines") if r["case_kind"] == case_kind)
    return {k: int(v) for k, v in row.items() if k not in ("case_kind", "description")}


def today() -> dt.date:
    """The day a case command counts for: XINYONG_EVALUATION_DATE when set (as `xinyong run`),
    else today in Asia/Shanghai."""
    from xinyong.app import pipeline

    return dt.date.fromisoformat(pipeline.resolve_evaluation_date(config.load().evaluation_date))


def who(by: str | None) -> str:
    return by or os.environ.get("XINYONG_APPROVER") or getpass.getuser()


# ---------------------------------------------------------------- commands


def open_case(
    url: str,
    case_kind: str,
    record_kind: str,
    record_key: str,
    applicant: str,
    grounds: str,
    attachments: list[str] | None = None,
    by: str | None = None,
    on: dt.date | None = None,
) -> dict:
    """Receive an objection or a repair application about one published record."""
    kinds = record_kinds()
    if case_kind not in OUTCOMES:
        raise CaseError(f"case kind {case_kind!r} is neither objection nor repair")
    if record_kind not in kinds:
        raise CaseError(
            f"record kind {record_kind!r} is not in the seed case_record_kinds ({', '.join(kinds)})"
        )
    kind = kinds[record_kind]
    if not kind.published_table:
        raise CaseError(f"{record_kind} records are not published yet: no case can be opened about one")
    if case_kind == "repair" and not kind.repairable:
        raise CaseError(
            f"{record_kind} records cannot be repaired here (seed case_record_kinds); object instead"
        )
    on = on or today()
    terms = deadlines(case_kind)
    with warehouse.transaction(url) as conn, conn.cursor() as cur:
        cur.execute(
            sql.SQL("select entity_key, {subject} from {table} where {key} = %s").format(
                subject=sql.Identifier(kind.subject_column),
                table=sql.Identifier(schemas.LIVE, kind.published_table),
                key=sql.Identifier(kind.key_column),
            ),
            (record_key,),
        )
        found = cur.fetchall()
        if not found:
            raise CaseError(
                f"no {record_kind} record {record_key!r} in the live publication ({kind.published_table})"
            )
        entity_key, subject = found[0]
        cur.execute(
            """insert into audit.cases (case_kind, record_kind, record_key, entity_key, subject_name,
                                        applicant, grounds, attachments, decided_by, opened_on,
                                        acknowledge_by, decide_by)
               values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) returning case_id""",
            (
                case_kind,
                record_kind,
                record_key,
                entity_key,
                subject,
                applicant,
                grounds,
                list(attachments or []),
                kind.decided_by,
                on,
                calendar.add_working_days(on, terms["acknowledge_working_days"]),
                calendar.add_working_days(on, terms["decide_working_days"]),
            ),
        )
        case_id = cur.fetchone()[0]
        _event(cur, case_id, None, "received", on, who(by), grounds)
    return show(url, case_id)


def forward(url: str, case_id: int, by: str | None = None, on: dt.date | None = None, note: str = "") -> dict:
    """received → forwarded: sent to the source department to check (the acknowledgement)."""
    case = show(url, case_id)
    if case["state"] != "received":
        raise CaseError(f"case {case_id} is {case['state']}, only a received case is forwarded")
    with warehouse.transaction(url) as conn, conn.cursor() as cur:
        cur.execute("update audit.cases set state = 'forwarded' where case_id = %s", (case_id,))
        _event(cur, case_id, "received", "forwarded", on or today(), who(by), note or None)
    return show(url, case_id)


def extend(url: str, case_id: int, reason: str, by: str | None = None, on: dt.date | None = None) -> dict:
    """Move the decision deadline once (seed case_deadlines), with the reason."""
    case = show(url, case_id)
    terms = deadlines(case["case_kind"])
    if case["state"] not in OPEN_STATES:
        raise CaseError(f"case {case_id} is already decided ({case['state']})")
    if case["extended"] or terms["max_extensions"] < 1:
        raise CaseError(
            f"case {case_id}: the decision deadline may be extended {terms['max_extensions']} time(s)"
        )
    new = calendar.add_working_days(case["decide_by"], terms["extension_working_days"])
    with warehouse.transaction(url) as conn, conn.cursor() as cur:
        cur.execute(
            "update audit.cases set decide_by = %s, extended = true where case_id = %s", (new, case_id)
        )
        _event(cur, case_id, case["state"], case["state"], on or today(), who(by), f"延期至 {new}：{reason}")
    return show(url, case_id)


def decide(
    url: str,
    case_id: int,
    outcome: str,
    note: str,
    by: str | None = None,
    on: dt.date | None = None,
    source_answer: str | None = None,
) -> dict:
    """Decide an open case. A repair to be granted is checked against the eligibility rules
    first: a failing rule turns it into `refused`, naming the rule. A record another authority
    owns is decided only once forwarded, with that authority's answer."""
    case = show(url, case_id)
    if case["state"] not in OPEN_STATES:
        raise CaseError(f"case {case_id} is already decided ({case['state']})")
    if outcome not in OUTCOMES[case["case_kind"]]:
        raise CaseError(
            f"an {case['case_kind']} is decided {' or '.join(OUTCOMES[case['case_kind']])}, not {outcome!r}"
        )
    if case["decided_by"] != CREDIT_OFFICE and (case["state"] != "forwarded" or not source_answer):
        raise CaseError(
            f"case {case_id}: {case['record_kind']} records are the {case['decided_by']} department's; "
            "forward the case and record its answer (--source-answer)"
        )
    on = on or today()
    failed_rule = None
    if outcome == "granted":
        failed = failed_rules(url, case, on)
        if failed:
            outcome, failed_rule = "refused", failed[0]["rule_id"]
            note = f"不予修复：{failed[0]['rule_id']} {failed[0]['description']}（{failed[0]['detail']}）；{note}"
    with warehouse.transaction(url) as conn, conn.cursor() as cur:
        cur.execute(
            """update audit.cases set state = %s, failed_rule = %s, source_answer = %s, decided_on = %s
               where case_id = %s""",
            (outcome, failed_rule, source_answer, on, case_id),
        )
        _event(cur, case_id, case["state"], outcome, on, who(by), note)
    return show(url, case_id)


def _event(cur, case_id, from_state, to_state, on, by, note) -> None:
    cur.execute(
        """insert into audit.case_events (case_id, from_state, to_state, effective_on, recorded_by, note)
           values (%s, %s, %s, %s, %s, %s)""",
        (case_id, from_state, to_state, on, by, note),
    )


# ---------------------------------------------------------------- reading


CASE_COLUMNS = """case_id, case_kind, record_kind, record_key, entity_key, subject_name, applicant, grounds,
                  attachments, decided_by, opened_on, acknowledge_by, decide_by, extended, state,
                  failed_rule, source_answer, decided_on"""


def show(url: str, case_id: int) -> dict:
    with warehouse.transaction(url) as conn, conn.cursor() as cur:
        cur.execute(f"select {CASE_COLUMNS} from audit.cases where case_id = %s", (case_id,))
        row = cur.fetchone()
        if row is None:
            raise CaseError(f"no case {case_id}")
        case = dict(zip([d[0] for d in cur.description], row, strict=True))
        cur.execute(
            """select from_state, to_state, effective_on, recorded_at, recorded_by, note
               from audit.case_events where case_id = %s order by event_id""",
            (case_id,),
        )
        case["events"] = [dict(zip([d[0] for d in cur.description], r, strict=True)) for r in cur.fetchall()]
    return case


def list_cases(url: str, state: str | None = None, on: dt.date | None = None) -> list[dict]:
    """Cases, newest first, each with `overdue` (the deadline passed on `on`) set."""
    on = on or today()
    late = {c["case_id"]: c for c in overdue(url, on)}
    with warehouse.transaction(url) as conn, conn.cursor() as cur:
        cur.execute(
            f"""select {CASE_COLUMNS} from audit.cases
                where %(state)s is null or state = %(state)s or (%(state)s = 'open' and state in %(open)s)
                order by case_id desc""",
            {"state": state, "open": OPEN_STATES},
        )
        cases = [dict(zip([d[0] for d in cur.description], r, strict=True)) for r in cur.fetchall()]
    for case in cases:
        case["overdue"] = late.get(case["case_id"], {}).get("deadline_kind")
    return cases


def overdue(url: str, on: dt.date) -> list[dict]:
    """Open cases whose deadline (forwarding or decision) passed before `on`
    (`audit.overdue_cases`, which the publication report reads too)."""
    with warehouse.transaction(url) as conn, conn.cursor() as cur:
        cur.execute("select * from audit.overdue_cases(%s)", (on,))
        return [dict(zip([d[0] for d in cur.description], r, strict=True)) for r in cur.fetchall()]


def warn_office_of_overdue(url: str, on: dt.date) -> list[dict]:
    """The hook for the warning to the credit office about overdue cases: today it logs them;
    the warnings component (mailer) sends them from here once merged. Returns the cases."""
    late = overdue(url, on)
    for case in late:
        log.warning(
            "case %s (%s, %s %s) overdue: %s deadline %s",
            case["case_id"],
            case["case_kind"],
            case["record_kind"],
            case["record_key"],
            case["deadline_kind"],
            case["deadline"],
        )
    return late


# ---------------------------------------------------------------- repair eligibility


def failed_rules(url: str, case: dict, on: dt.date) -> list[dict]:
    """The seed's rules for the case's record kind that the live publication shows unmet on
    `on`, each with a detail; empty: eligible."""
    kind = record_kinds()[case["record_kind"]]
    failed = []
    with warehouse.transaction(url) as conn, conn.cursor() as cur:
        cur.execute(
            sql.SQL("select * from {table} where {key} = %s").format(
                table=sql.Identifier(schemas.LIVE, kind.published_table), key=sql.Identifier(kind.key_column)
            ),
            (case["record_key"],),
        )
        row = cur.fetchone()
        if row is None:
            return [
                {"rule_id": "RECORD_PUBLISHED", "description": "记录仍在公示", "detail": "发布表中已无此记录"}
            ]
        record = dict(zip([d[0] for d in cur.description], row, strict=True))
        for rule in _seed("repair_eligibility_rules"):
            if rule["record_kind"] == case["record_kind"]:
                detail = CHECKS[rule["check_name"]](cur, record, kind, on)
                if detail:
                    failed.append({**rule, "detail": detail})
    return failed


def _minimum_publicity_served(cur, record, kind, on) -> str | None:
    months = next(
        int(r["min_months"])
        for r in _seed("publicity_periods")
        if r["dishonesty_level"] == record["dishonesty_level"]
    )
    served_on = _add_months(record["decision_date"], months)
    return None if on >= served_on else f"最短公示期至 {served_on - dt.timedelta(days=1)}"


def _repair_commitment_signed(cur, record, kind, on) -> str | None:
    since = record[kind.since_column]
    cur.execute(
        f"""select 1 from {schemas.LIVE}.commitment_status
            where uscc = %s and commitment_type = '信用修复型' and committed_on >= %s and committed_on <= %s""",
        (record["uscc"], since, on),
    )
    return None if cur.fetchone() else f"{since} 之后无信用修复型承诺"


def _no_later_penalty(cur, record, kind, on) -> str | None:
    since = record[kind.since_column]
    cur.execute(
        f"""select decision_no from {schemas.LIVE}.penalty_disclosure
            where uscc = %s and decision_date > %s and decision_no <> %s order by decision_date limit 1""",
        (record["uscc"], since, record.get("decision_no") or ""),
    )
    later = cur.fetchone()
    return f"{since} 之后有公示中的行政处罚 {later[0]}" if later else None


def _arrears_paid(cur, record, kind, on) -> str | None:
    return None if not record["arrears_amount_yuan"] else f"尚欠停车费 {record['arrears_amount_yuan']} 元"


def _add_months(day: dt.date, months: int) -> dt.date:
    # As PostgreSQL's `date + n * interval '1 month'` (the windows in int_penalties_windowed).
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return dt.date(year, month, min(day.day, month_calendar.monthrange(year, month)[1]))


CHECKS = {
    "minimum_publicity_served": _minimum_publicity_served,
    "repair_commitment_signed": _repair_commitment_signed,
    "no_later_penalty": _no_later_penalty,
    "arrears_paid": _arrears_paid,
}


# ---------------------------------------------------------------- taking effect


def publish_now(evaluation_date: dt.date | None = None) -> dict:
    """Build, gate and publish now, in-process: the three task bodies of `credit_warehouse`
    (xinyong.app.pipeline), which see the new case event as a reason to build."""
    from xinyong.app import pipeline

    day = (evaluation_date or today()).isoformat()
    if pipeline.build_reason(day) is None:
        return {"publication_id": None, "reason": "nothing new since the last attempt"}
    return pipeline.publish_candidate(pipeline.audit_candidate(pipeline.build_candidate(day)))

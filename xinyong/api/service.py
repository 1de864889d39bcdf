"""The credit query API (FastAPI): one entity, a lender's watched borrowers and what changed
for them, the loan candidates page by page, authorisations, 批量授信 household look-ups.

It runs as the role the consumer declaration gives the API (`credit_api`) and reads the live
publication; every answer names the publication it was read from. The first statement of
every request reads a live table together with the schema's publication id, so the request
holds that publication until it ends (a swap waits for it; see `publish`). Every query by a
client, answered or refused, is one row in audit.api_queries, in the request's transaction.

Rate limits are per client and per process (the `limits` library, in memory): run one
process per host, or divide the limit by the processes.

(No `from __future__ import annotations`: FastAPI reads the routes' annotations at run time,
and `Client` is defined inside `create_app`.)
"""

import datetime as dt
import hashlib
import hmac
import threading
import time
from contextlib import contextmanager
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

import psycopg2.pool
from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import APIKeyHeader
from limits import parse, storage, strategies
from pydantic import BaseModel, Field, model_validator
from stdnum.cn import ric
from stdnum.cn import uscc as uscc_number

from xinyong.api import clients
from xinyong.publication import credit_report, history
from xinyong.publication.schemas import LIVE
from xinyong.runtime import warehouse

# A client's watched borrowers: the subjects it registered under a valid authorisation, and its
# borrowers with an open loan or an application in review in the live loan_outcome feed.
WATCHED = f"""(select client_id, uscc from api.watched_borrowers
              union
              select c.client_id, b.uscc from {LIVE}.loan_borrowers b
              join api.clients c on c.institution_uscc = b.lender_uscc
              where b.is_watched and b.uscc is not null)"""

Purpose = Literal["贷前审核", "贷中跟踪", "贷后管理"]
NEEDS_AUTHORISATION = ("个体工商户",)  # a business run by a natural person; households always
VERIFIED_KEY_SECONDS = 60  # a verified key is trusted this long before argon2 checks it again
PAGE_SIZE_MAX = 500
ZONE = ZoneInfo(history.TIMEZONE)

# One statement: the live publication's id and every section of one entity's answer. Naming the
# tables locks them before the snapshot is taken, so all of it is one publication.
ENTITY_DOCUMENT = f"""
select obj_description('{LIVE}'::regnamespace, 'pg_namespace'),
       (select to_jsonb(p) from {LIVE}.entity_credit_profile p where p.uscc = %(uscc)s),
       (select coalesce(jsonb_agg(to_jsonb(x) - 'entity_key' order by x.rule_id, x.source_file, x.source_row), '[]')
        from {LIVE}.credit_score_explanation x
        -- the entity's key first (uscc is unique there), then its rows by that key: one plan,
        -- whatever the planner thinks of a just-swapped table it has no statistics for yet
        where x.entity_key = (select p.entity_key from {LIVE}.entity_credit_profile p where p.uscc = %(uscc)s)),
       jsonb_build_object(
         'black_list', (select coalesce(jsonb_agg(to_jsonb(l) - 'entity_key'), '[]') from {LIVE}.black_list l where l.uscc = %(uscc)s),
         'red_list', (select coalesce(jsonb_agg(to_jsonb(l) - 'entity_key'), '[]') from {LIVE}.red_list l where l.uscc = %(uscc)s),
         'commitment_red_list', (select coalesce(jsonb_agg(to_jsonb(l) - 'entity_key'), '[]') from {LIVE}.commitment_red_list l where l.uscc = %(uscc)s),
         'commitment_grey_list', (select coalesce(jsonb_agg(to_jsonb(l) - 'entity_key'), '[]') from {LIVE}.commitment_grey_list l where l.uscc = %(uscc)s)),
       (select coalesce(jsonb_agg(to_jsonb(d) - 'entity_key' order by d.decision_date desc), '[]')
        from {LIVE}.penalty_disclosure d where d.uscc = %(uscc)s),
       (select coalesce(jsonb_agg(to_jsonb(c) - 'entity_key' order by c.committed_on desc), '[]')
        from {LIVE}.commitment_status c where c.uscc = %(uscc)s),
       -- domain tiers once the domains work publishes them and declares the API reads them
       coalesce(has_table_privilege(to_regclass('{LIVE}.domain_supervision'), 'select'), false)
"""
LIVE_ID = f"""select obj_description('{LIVE}'::regnamespace, 'pg_namespace'),
                     exists (select from {LIVE}.entity_credit_profile)"""
# A person's key as the warehouse derives it from the keyed hash (dbt macro `person_key`).
PERSON_KEY = "translate(md5('person:' || %s), '0123456789', 'ghijklmnop')"


def valid_id_number(value: str) -> bool:
    """身份证号码 as ingest checks it: MOD 11-2 and a real birth date (python-stdnum's pieces; its
    own `is_valid` also wants a region code it knows, and districts made since are missing)."""
    number = ric.compact(value)
    try:
        ric.get_birth_date(number)
    except Exception:  # stdnum raises its own ValidationError subclasses or ValueError
        return False
    return len(number) == 18 and number[:-1].isdigit() and ric.calc_check_digit(number) == number[-1]


class Authorisation(BaseModel):
    authorisation_no: str = Field(min_length=1, max_length=100, description="授权书编号")
    subject_uscc: str | None = Field(None, description="the market entity's 统一社会信用代码")
    id_number: str | None = Field(
        None, description="a natural person's 身份证号码; kept only as its keyed hash, never stored"
    )
    purpose: Purpose
    valid_from: dt.date
    valid_to: dt.date

    @model_validator(mode="after")
    def _one_subject(self) -> "Authorisation":
        if (self.subject_uscc is None) == (self.id_number is None):
            raise ValueError("name exactly one subject: subject_uscc or id_number")
        if self.subject_uscc is not None and not uscc_number.is_valid(self.subject_uscc.strip().upper()):
            raise ValueError("subject_uscc is not a valid 统一社会信用代码")
        if self.id_number is not None and not valid_id_number(self.id_number):
            raise ValueError("id_number is not a valid 身份证号码")
        if self.valid_to < self.valid_from:
            raise ValueError("valid_to is before valid_from")
        return self


class HouseholdQuestion(BaseModel):
    id_number: str = Field(description="the householder's 身份证号码 the lender holds")
    purpose: Purpose = "贷前审核"

    @model_validator(mode="after")
    def _valid(self) -> "HouseholdQuestion":
        if not valid_id_number(self.id_number):
            raise ValueError("id_number is not a valid 身份证号码")
        return self


class Service:
    """What the routes share: the pool (as the API's role), the person key, limits, keys seen."""

    def __init__(self, warehouse_url: str, person_key: bytes, pool_size: int = 8):
        self.pool = psycopg2.pool.ThreadedConnectionPool(
            1, pool_size, **warehouse.connection_parameters(warehouse_url)
        )
        self.free = threading.BoundedSemaphore(pool_size)
        self.person_key = person_key
        self.limiter = strategies.MovingWindowRateLimiter(storage.MemoryStorage())
        self.verified: dict[bytes, tuple[float, dict]] = {}

    @contextmanager
    def cursor(self):
        """One transaction on a pooled connection: committed on success, rolled back otherwise."""
        with self.free:
            conn = self.pool.getconn()
            try:
                with conn, conn.cursor() as cur:
                    yield cur
            finally:
                self.pool.putconn(conn, close=conn.closed != 0)

    def client(self, key: str) -> dict | None:
        seen = hashlib.sha256(key.encode()).digest()  # a dict key for keys argon2 already accepted
        cached = self.verified.get(seen)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        parts = clients.split_key(key)
        if parts is None:
            return None
        with self.cursor() as cur:
            cur.execute(
                """select client_id, name, institution_uscc, rate_limit, key_hash from api.clients
                           where key_id = %s and revoked_at is null""",
                (parts[0],),
            )
            row = cur.fetchone()
        if row is None or not clients.verify(row[4], key):
            return None
        found = dict(zip(("client_id", "name", "institution_uscc", "rate_limit"), row[:4], strict=True))
        self.verified[seen] = (time.monotonic() + VERIFIED_KEY_SECONDS, found)
        return found

    def id_digest(self, id_number: str) -> str:
        return hmac.digest(self.person_key, id_number.strip().upper().encode(), "sha256").hex()


def _publication_id(comment: str | None) -> int | None:
    if comment and comment.startswith("xinyong publication "):
        return int(comment.rsplit(" ", 1)[1])
    return None


def audit(
    cur, client: dict, endpoint: str, status: int, publication_id: int | None = None, **subject
) -> None:
    cur.execute(
        """insert into audit.api_queries (client_id, endpoint, subject_uscc, subject_key, purpose,
                                                   authorisation_id, publication_id, status)
                   values (%s, %s, %s, %s, %s, %s, %s, %s)""",
        (
            client["client_id"],
            endpoint,
            subject.get("subject_uscc"),
            subject.get("subject_key"),
            subject.get("purpose"),
            subject.get("authorisation_id"),
            publication_id,
            status,
        ),
    )


def parse_as_of(value: str) -> dt.date | dt.datetime:
    """A day (YYYY-MM-DD) or a moment (ISO 8601; without an offset, the district's clocks)."""
    try:
        if len(value) == 10:
            return dt.date.fromisoformat(value)
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise HTTPException(422, "as_of is a date (YYYY-MM-DD) or a timestamp (ISO 8601)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=ZONE)


def create_app(warehouse_url: str, person_key: bytes, pool_size: int = 8) -> FastAPI:
    """The API over the warehouse at `warehouse_url` (the API role's URL)."""
    app = FastAPI(
        title="Xinyong credit query API",
        version="1",
        description="信用查询 API for 信易贷 lenders: every answer names the publication it was read from; "
        "every query is audited. Authenticate with the header `X-API-Key`.",
    )
    service = Service(warehouse_url, person_key, pool_size)
    app.state.service = service
    key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="the client's key")

    def authenticated(request: Request, key: Annotated[str | None, Depends(key_header)]) -> dict:
        client = service.client(key) if key else None
        if client is None:
            raise HTTPException(
                401, "a valid X-API-Key is required", headers={"WWW-Authenticate": "X-API-Key"}
            )
        if not service.limiter.hit(parse(client["rate_limit"]), str(client["client_id"])):
            with service.cursor() as cur:
                audit(cur, client, request.url.path, 429)
            raise HTTPException(429, f"over the rate limit of {client['rate_limit']}")
        return client

    Client = Annotated[dict, Depends(authenticated)]

    def refuse(cur, client, endpoint, status, reason, publication_id=None, **subject):
        audit(cur, client, endpoint, status, publication_id, **subject)
        return JSONResponse({"detail": reason, "publication_id": publication_id}, status_code=status)

    def authorisation_for(cur, client_id: int, purpose: str | None, uscc=None, person_key=None):
        cur.execute(
            """select authorisation_id, purpose from api.authorisations
                       where client_id = %s and (subject_uscc = %s or subject_person_key = %s)
                         and current_date between valid_from and valid_to
                         and (%s::text is null or purpose = %s)
                       order by valid_to desc limit 1""",
            (client_id, uscc, person_key, purpose, purpose),
        )
        return cur.fetchone()

    def admit(cur, client, endpoint, uscc, profile, purpose, publication_id):
        """Whether the client may be answered about `uscc`: (refusal, None, purpose) with 404 when
        nothing is published about it or 403 for an 个体工商户 without the client's valid
        authorisation; else (None, authorisation_id or None, purpose)."""
        if profile is None:
            refusal = refuse(
                cur,
                client,
                endpoint,
                404,
                "no published profile for this 统一社会信用代码",
                publication_id,
                subject_uscc=uscc,
                purpose=purpose,
            )
            return refusal, None, purpose
        if profile.get("entity_type") not in NEEDS_AUTHORISATION:
            return None, None, purpose
        granted = authorisation_for(cur, client["client_id"], purpose, uscc=uscc)
        if granted is None:
            refusal = refuse(
                cur,
                client,
                endpoint,
                403,
                f"{uscc} is an 个体工商户 (run by a natural person): register an authorisation "
                f"(POST /v1/authorisations) valid today{' for ' + purpose if purpose else ''} first",
                publication_id,
                subject_uscc=uscc,
                purpose=purpose,
            )
            return refusal, None, purpose
        return None, *granted

    @app.get("/health", tags=["service"])
    def health():
        with service.cursor() as cur:
            try:
                cur.execute(LIVE_ID)
                publication_id = _publication_id(cur.fetchone()[0])
            except psycopg2.Error:
                publication_id = None
        status = 200 if publication_id else 503
        return JSONResponse(
            {"status": "ok" if publication_id else "no live publication", "publication_id": publication_id},
            status_code=status,
        )

    @app.get("/v1/entities/{uscc}", tags=["entities"])
    def entity(
        client: Client,
        uscc: Annotated[str, Path(description="统一社会信用代码")],
        as_of: Annotated[
            str | None, Query(description="YYYY-MM-DD (the last publication live that day) or a timestamp")
        ] = None,
        purpose: Purpose | None = None,
    ):
        """One market entity: profile, score explanation, lists, penalties inside their publicity
        window, commitments, domain tiers when published. With `as_of`, the profile and score
        explanation that publication showed (history keeps those two)."""
        endpoint, uscc = "entity", uscc.strip().upper()
        with service.cursor() as cur:
            cur.execute(ENTITY_DOCUMENT, {"uscc": uscc})
            comment, profile, explanation, lists, penalties, commitments, has_domains = cur.fetchone()
            live_id = _publication_id(comment)
            answer = {"publication_id": live_id, "uscc": uscc}
            if as_of is not None:
                moment = parse_as_of(as_of)
                then = history.publication_at(cur, moment)
                past = history.entity_at(cur, uscc, then) if then else None
                if then is None:
                    return refuse(
                        cur,
                        client,
                        endpoint,
                        404,
                        f"no publication was live at {as_of}",
                        subject_uscc=uscc,
                        purpose=purpose,
                    )
                profile, explanation = (past or {}).get("profile"), (past or {}).get("explanation")
                answer = {
                    "publication_id": then,
                    "live_publication_id": live_id,
                    "uscc": uscc,
                    "as_of": as_of,
                    "history_covers": ["profile", "score_explanation"],
                }
            refusal, authorisation_id, purpose = admit(
                cur, client, endpoint, uscc, profile, purpose, answer["publication_id"]
            )
            if refusal is not None:
                return refusal
            answer.update(profile=profile, score_explanation=explanation, authorisation_id=authorisation_id)
            if as_of is None:
                answer.update(lists=lists, penalties_in_window=penalties, commitments=commitments)
                if has_domains:
                    cur.execute(
                        f"select coalesce(jsonb_agg(to_jsonb(d) - 'entity_key'), '[]') "
                        f"from {LIVE}.domain_supervision d where d.uscc = %s",
                        (uscc,),
                    )
                    answer["domain_tiers"] = cur.fetchone()[0]
            audit(
                cur,
                client,
                endpoint,
                200,
                answer["publication_id"],
                subject_uscc=uscc,
                purpose=purpose or "贷前审核",
                authorisation_id=authorisation_id,
            )
        return answer

    @app.get("/v1/entities/{uscc}/report", tags=["entities"], response_class=HTMLResponse)
    def entity_report(client: Client, uscc: str, purpose: Purpose | None = None):
        """The one-entity credit report (信用报告) as printable HTML."""
        uscc = uscc.strip().upper()
        with service.cursor() as cur:
            cur.execute(ENTITY_DOCUMENT, {"uscc": uscc})
            comment, profile, *_ = cur.fetchone()
            live_id = _publication_id(comment)
            refusal, authorisation_id, purpose = admit(cur, client, "report", uscc, profile, purpose, live_id)
            if refusal is not None:
                return refusal
            html = credit_report.render_html(cur.connection, uscc, live_id)
            audit(
                cur,
                client,
                "report",
                200,
                live_id,
                subject_uscc=uscc,
                purpose=purpose or "贷前审核",
                authorisation_id=authorisation_id,
            )
        return HTMLResponse(html, headers={"X-Publication-Id": str(live_id)})

    def own(client: dict, client_id: int, cur, endpoint: str):
        if client_id != client["client_id"]:
            return refuse(cur, client, endpoint, 403, "a client reads only its own watched borrowers")
        return None

    @app.get("/v1/clients/{client_id}/watched", tags=["watched borrowers"])
    def watched(client: Client, client_id: int):
        """The client's watched borrowers: subjects it registered under a valid authorisation."""
        with service.cursor() as cur:
            cur.execute(LIVE_ID)
            live_id = _publication_id(cur.fetchone()[0])
            if (refused := own(client, client_id, cur, "watched")) is not None:
                return refused
            cur.execute(
                f"""select w.uscc, p.entity_name, p.tier, p.score from {WATCHED} w
                            left join {LIVE}.entity_credit_profile p using (uscc)
                            where w.client_id = %s order by w.uscc""",
                (client_id,),
            )
            rows = [
                dict(zip(("uscc", "entity_name", "tier", "score"), r, strict=True)) for r in cur.fetchall()
            ]
            audit(cur, client, "watched", 200, live_id, purpose="贷中跟踪")
        return {"publication_id": live_id, "client_id": client_id, "borrowers": rows}

    @app.get("/v1/clients/{client_id}/watched/changes", tags=["watched borrowers"])
    def watched_changes(
        client: Client,
        client_id: int,
        since: Annotated[int, Query(description="a publication id the client has seen")],
    ):
        """What changed for the client's watched borrowers between publication `since` and the live one."""
        with service.cursor() as cur:
            cur.execute(LIVE_ID)
            live_id = _publication_id(cur.fetchone()[0])
            if (refused := own(client, client_id, cur, "watched_changes")) is not None:
                return refused
            cur.execute(
                f"""with watched as (select uscc from {WATCHED} w where client_id = %(client)s),
                        versions as (
                            select v.*, v.publication_id <= %(since)s as at_since
                            from history.entity_profile_versions v join watched using (uscc)
                            where v.publication_id <= greatest(%(since)s, %(live)s)),
                        before as (select distinct on (uscc) * from versions where at_since
                                   order by uscc, publication_id desc),
                        after as (select distinct on (uscc) * from versions where publication_id <= %(live)s
                                  order by uscc, publication_id desc)
                   select w.uscc, b.tier, b.score, b.profile is not null, a.tier, a.score, a.profile is not null,
                          a.publication_id
                   from watched w left join before b using (uscc) left join after a using (uscc)
                   where b.publication_id is distinct from a.publication_id order by w.uscc""",
                {"client": client_id, "since": since, "live": live_id},
            )
            changes = [
                {
                    "uscc": u,
                    "before": {"tier": bt, "score": bs, "published": bp},
                    "after": {"tier": at, "score": as_, "published": ap},
                    "changed_in_publication": ap_id,
                }
                for u, bt, bs, bp, at, as_, ap, ap_id in cur.fetchall()
            ]
            audit(cur, client, "watched_changes", 200, live_id, purpose="贷中跟踪")
        return {"publication_id": live_id, "since": since, "changes": changes}

    @app.get("/v1/loan-candidates", tags=["loan candidates"])
    def loan_candidates(
        client: Client,
        page: Annotated[int, Query(ge=1)] = 1,
        page_size: Annotated[int, Query(ge=1, le=PAGE_SIZE_MAX)] = 100,
    ):
        """The 信易贷 candidates of the live publication (market entities), page by page."""
        with service.cursor() as cur:
            cur.execute(LIVE_ID)
            live_id = _publication_id(cur.fetchone()[0])
            cur.execute(
                f"""select to_jsonb(c) - 'entity_key' from {LIVE}.loan_candidates c
                            where c.uscc is not null order by c.uscc limit %s offset %s""",
                (page_size + 1, (page - 1) * page_size),
            )
            rows = [r for (r,) in cur.fetchall()]
            audit(cur, client, "loan_candidates", 200, live_id, purpose="贷前审核")
        more = len(rows) > page_size
        return {
            "publication_id": live_id,
            "page": page,
            "page_size": page_size,
            "next_page": page + 1 if more else None,
            "candidates": rows[:page_size],
        }

    @app.post("/v1/authorisations", tags=["authorisations"], status_code=201)
    def register(client: Client, body: Authorisation):
        """Record an authorisation (授权书) the client holds from a subject, before asking about it."""
        with service.cursor() as cur:
            cur.execute(LIVE_ID)
            live_id = _publication_id(cur.fetchone()[0])
            person_key = None
            if body.id_number is not None:
                cur.execute(f"select {PERSON_KEY}", (service.id_digest(body.id_number),))
                person_key = cur.fetchone()[0]
            uscc = body.subject_uscc.strip().upper() if body.subject_uscc else None
            cur.execute("savepoint registering")
            try:
                cur.execute(
                    """insert into api.authorisations (client_id, authorisation_no, subject_uscc,
                                   subject_person_key, purpose, valid_from, valid_to)
                               values (%s, %s, %s, %s, %s, %s, %s) returning authorisation_id""",
                    (
                        client["client_id"],
                        body.authorisation_no,
                        uscc,
                        person_key,
                        body.purpose,
                        body.valid_from,
                        body.valid_to,
                    ),
                )
            except psycopg2.errors.UniqueViolation:
                cur.execute("rollback to savepoint registering")
                return refuse(
                    cur,
                    client,
                    "authorisations",
                    409,
                    f"authorisation {body.authorisation_no} is already registered",
                    live_id,
                    subject_uscc=uscc,
                    subject_key=person_key,
                    purpose=body.purpose,
                )
            authorisation_id = cur.fetchone()[0]
            audit(
                cur,
                client,
                "authorisations",
                201,
                live_id,
                subject_uscc=uscc,
                subject_key=person_key,
                purpose=body.purpose,
                authorisation_id=authorisation_id,
            )
        return {"publication_id": live_id, "authorisation_id": authorisation_id}

    @app.post("/v1/households/lookup", tags=["批量授信"])
    def household(client: Client, body: HouseholdQuestion):
        """A rated 信用户 household, asked by the ID number the lender holds (sent in the body, matched
        through the keyed hash): its rating and its village's and town's standing. Only under an
        authorisation for that household or a batch agreement (批量授信) with its town."""
        with service.cursor() as cur:
            cur.execute(
                f"""select obj_description('{LIVE}'::regnamespace, 'pg_namespace'), k.person_key, to_jsonb(h),
                           to_jsonb(v), to_jsonb(t)
                    from (select {PERSON_KEY} as person_key) k
                    left join {LIVE}.rural_credit_household h on h.entity_key = k.person_key
                    left join {LIVE}.rural_credit_village v on v.town = h.town and v.village = h.village
                    left join {LIVE}.rural_credit_town t on t.town = h.town""",
                (service.id_digest(body.id_number),),
            )
            comment, person_key, found, village, town = cur.fetchone()
            live_id = _publication_id(comment)
            granted = authorisation_for(cur, client["client_id"], body.purpose, person_key=person_key)
            authorisation_id = granted[0] if granted else None
            agreement = None
            if granted is None and found is not None:
                cur.execute(
                    """select agreement_id, agreement_no from api.batch_agreements
                               where client_id = %s and town = %s and current_date between valid_from and valid_to
                               order by valid_to desc limit 1""",
                    (client["client_id"], found["town"]),
                )
                agreement = cur.fetchone()
            subject = {
                "subject_key": person_key,
                "purpose": body.purpose,
                "authorisation_id": authorisation_id,
            }
            if granted is None and agreement is None:
                return refuse(
                    cur,
                    client,
                    "household",
                    403,
                    "no authorisation for this household and no batch agreement (批量授信) with its town",
                    live_id,
                    **subject,
                )
            if found is None:
                return refuse(
                    cur,
                    client,
                    "household",
                    404,
                    "no rated household with this ID number",
                    live_id,
                    **subject,
                )
            audit(cur, client, "household", 200, live_id, **subject)
        keep = (
            "householder_name",
            "id_number_masked",
            "town",
            "village",
            "rating_year",
            "rating",
            "is_credit_household",
            "village_rating",
        )
        return {
            "publication_id": live_id,
            "authorisation_id": authorisation_id,
            "batch_agreement_no": agreement[1] if agreement else None,
            "household": {k: found[k] for k in keep},
            "village": {
                k: village[k]
                for k in (
                    "is_credit_village",
                    "credit_households",
                    "rated_households",
                    "credit_household_share",
                )
            }
            if village
            else None,
            "town": {
                k: town[k]
                for k in ("is_credit_town", "credit_villages", "rated_villages", "credit_village_share")
            }
            if town
            else None,
        }

    return app

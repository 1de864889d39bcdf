"""Who reads what, derived from the consumer declaration (`consumers`): roles, grants,
column privileges and row-level security on the live publication.

For every consumer that receives `grants`: its role, `USAGE` on `publish`, and `SELECT` on
exactly the tables it declares: on the whole table, or on its visible columns only when it
has hidden columns (so `select *` is refused and a hidden column is unreadable). A table
that some consumer reads with a row filter gets row-level security with one policy per
reading role (`using (<filter>)`, `true` for those without one); the owner (the platform)
is not subject to it. Nothing else: a role reads no other table, no `raw`, `audit`,
`staging`, `intermediate`, `policy`, and no schema that is not live.

Grants sit on schema and table objects, which move with a schema rename, and the candidate
is built fresh each time; so `apply()` runs inside the swap transaction, on the schema that
has just become `publish`, first taking away whatever any role held there, and `revoke()`
takes the grants off the schemas that stopped being live.

Passwords: on the embedded server the platform creates each role WITH LOGIN and a password
generated into `<home>/secrets/role_<role>` (sent to the server as a SCRAM verifier, so no
log holds it); on a server of your own it creates roles WITH LOGIN and no password, and the
operator sets one (`ALTER ROLE ... PASSWORD`, or a certificate). A role that exists already
is never altered, so passwords set by an operator stay as they are.
"""

from __future__ import annotations

from collections.abc import Callable

from psycopg2 import sql

from xinyong.publication import consumers as declaration
from xinyong.runtime import config, embedded, secrets, warehouse


def _ident(*names: str) -> sql.Composable:
    return sql.Identifier(*names)


def managed_password(settings: config.Settings | None = None) -> Callable[[str], str] | None:
    """A role's password when the platform keeps it (the embedded server), else None."""
    settings = settings or config.load()
    if not settings.embedded:
        return None
    return lambda role: embedded.role_password(settings.home, role)


def ensure_roles(cur, roles: list[str] | None = None, password: Callable[[str], str] | None = None) -> None:
    """Create the declared roles once per server (roles are server-wide; concurrent creators tolerated).
    `password(role)` gives a new role its password; without it (a server of your own) the
    operator sets one. The default is `managed_password()`."""
    password = password or managed_password()
    for role in declaration.roles(declaration.load()) if roles is None else roles:
        cur.execute("select 1 from pg_roles where rolname = %s", (role,))
        if cur.fetchone() is not None:
            continue
        secret = (
            sql.SQL(" password {}").format(sql.Literal(secrets.scram_verifier(password(role))))
            if password
            else sql.SQL("")
        )
        cur.execute(
            sql.SQL("""do $$ begin
            create role {role} login{secret};
        exception when duplicate_object or unique_violation then null;
        end $$""").format(role=_ident(role), secret=secret)
        )


def reader_url(
    role: str,
    warehouse_url: str | None = None,
    password: str | None = None,
    settings: config.Settings | None = None,
) -> str:
    """The warehouse URL as a consumer's role would use it: the platform's database, the role's
    name and, on the embedded server, its password (elsewhere the operator's, given as `password`
    or left to libpq: PGPASSWORD, ~/.pgpass)."""
    settings = settings or config.load()
    if password is None and (managed := managed_password(settings)):
        password = managed(role)
    params = warehouse.connection_parameters(warehouse_url or warehouse.url(settings))
    query = {k: v for k, v in params.items() if k not in ("host", "port", "user", "password", "dbname")}
    return warehouse.url_from_parts(
        host=params.get("host"),
        port=params.get("port"),
        user=role,
        password=password,
        dbname=params.get("dbname"),
        query=query,
    )


def _tables(cur, schema: str) -> list[str]:
    cur.execute(
        """select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
                   where n.nspname = %s and c.relkind in ('r', 'p', 'v', 'm') order by 1""",
        (schema,),
    )
    return [t for (t,) in cur.fetchall()]


def _columns(cur, schema: str, table: str) -> list[str]:
    cur.execute(
        """select column_name from information_schema.columns
                   where table_schema = %s and table_name = %s order by ordinal_position""",
        (schema, table),
    )
    return [c for (c,) in cur.fetchall()]


def holders(cur, schema: str) -> list[str]:
    """Every role that holds a privilege on the schema or on a table or column in it (owner
    aside; `PUBLIC` for a grant to everyone)."""
    cur.execute(
        """
        with acl as (
            select (aclexplode(nspacl)).grantee, nspowner as owner from pg_namespace where nspname = %(s)s
            union all
            select (aclexplode(c.relacl)).grantee, c.relowner from pg_class c
            join pg_namespace n on n.oid = c.relnamespace where n.nspname = %(s)s
            union all
            select (aclexplode(a.attacl)).grantee, c.relowner from pg_attribute a
            join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
            where n.nspname = %(s)s and a.attacl is not null
        )
        select distinct coalesce(r.rolname, 'PUBLIC') from acl left join pg_roles r on r.oid = acl.grantee
        where acl.grantee <> acl.owner order by 1""",
        {"s": schema},
    )
    return [r for (r,) in cur.fetchall()]


def _strip(cur, schema: str) -> None:
    """Take every privilege and policy off the schema's tables (the owner keeps its own)."""
    for role in holders(cur, schema):
        grantee = sql.SQL("public") if role == "PUBLIC" else _ident(role)
        cur.execute(sql.SQL("revoke all on all tables in schema {} from {}").format(_ident(schema), grantee))
        cur.execute(sql.SQL("revoke all on schema {} from {}").format(_ident(schema), grantee))
    cur.execute("""select tablename, policyname from pg_policies where schemaname = %s""", (schema,))
    for table, policy in cur.fetchall():
        cur.execute(sql.SQL("drop policy {} on {}").format(_ident(policy), _ident(schema, table)))
    cur.execute(
        """select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
                   where n.nspname = %s and c.relrowsecurity""",
        (schema,),
    )
    for (table,) in cur.fetchall():
        cur.execute(sql.SQL("alter table {} disable row level security").format(_ident(schema, table)))


def revoke(cur, schema: str) -> None:
    """No downstream role reads a schema that is not live (previous, held, rolled back)."""
    cur.execute("select 1 from pg_namespace where nspname = %s", (schema,))
    if cur.fetchone() is None:
        return
    _strip(cur, schema)


def apply(cur, schema: str = "publish") -> dict[str, list[str]]:
    """Grant every declared role its share of the live schema; returns what each role may read."""
    readers = [c for c in declaration.load() if c.grants]
    ensure_roles(cur, [c.role for c in readers])
    _strip(cur, schema)
    present = set(_tables(cur, schema))
    granted: dict[str, list[str]] = {}
    for consumer in readers:
        cur.execute(sql.SQL("grant usage on schema {} to {}").format(_ident(schema), _ident(consumer.role)))
        granted[consumer.role] = []
        for table, access in consumer.tables.items():
            if table not in present:  # a model the warehouse does not build (yet)
                continue
            target = _ident(schema, table)
            if access.hidden_columns:
                visible = [c for c in _columns(cur, schema, table) if c not in access.hidden_columns]
                cur.execute(
                    sql.SQL("grant select ({}) on {} to {}").format(
                        sql.SQL(", ").join(map(_ident, visible)), target, _ident(consumer.role)
                    )
                )
            else:
                cur.execute(sql.SQL("grant select on {} to {}").format(target, _ident(consumer.role)))
            granted[consumer.role].append(table)
    filtered = {t for c in readers for t, a in c.tables.items() if a.rows != declaration.ALL_ROWS} & present
    cur.execute(
        """select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
                   where n.nspname = %s and c.relkind = 'v' and c.relname = any(%s) order by 1""",
        (schema, sorted(filtered)),
    )
    views = [name for (name,) in cur.fetchall()]
    if views:
        raise ValueError(
            f"row filters need a table, and {', '.join(views)} is published as a view over the kept "
            "rows (dbt_project/macros/published_rows.sql): drop the consumer's `rows`, or build the "
            "mart as a table"
        )
    for table in sorted(filtered):
        target = _ident(schema, table)
        cur.execute(sql.SQL("alter table {} enable row level security").format(target))
        for consumer in readers:
            if table in consumer.tables:
                cur.execute(
                    sql.SQL("create policy {} on {} for select to {} using ({})").format(
                        _ident(f"{consumer.name}_reads"),
                        target,
                        _ident(consumer.role),
                        sql.SQL(consumer.tables[table].rows),
                    )
                )
    return granted


def undeclared_readers(cur, schema: str = "publish") -> list[tuple[str, str]]:
    """(role, table) for every role that can read some column of a table of the schema although
    no consumer declares that it reads the table (superusers, the owner and pg_* roles aside)."""
    declared = {(c.role, t) for c in declaration.load() if c.grants for t in c.tables}
    cur.execute(
        """select r.rolname, c.relname from pg_class c
                   join pg_namespace n on n.oid = c.relnamespace
                   cross join pg_roles r
                   where n.nspname = %s and c.relkind in ('r', 'p', 'v', 'm')
                     and not r.rolsuper and r.oid <> c.relowner and r.rolname not like 'pg\\_%%'
                     and has_any_column_privilege(r.oid, c.oid, 'select')
                   order by 1, 2""",
        (schema,),
    )
    return [(role, table) for role, table in cur.fetchall() if (role, table) not in declared]


def api_role(consumers: tuple | None = None) -> str:
    """The database role of the credit query API: the role of the consumer that receives `api`."""
    serving = [c for c in (declaration.load() if consumers is None else consumers) if c.api]
    if len(serving) != 1 or not serving[0].role:
        raise declaration.DeclarationError(
            f"exactly one consumer with a role must receive `api` (found {len(serving)})"
        )
    return serving[0].role


# What the API keeps outside the publication, and what its role may do there: read its
# clients and agreements (the platform writes them), register authorisations, read the
# history, and append to its audit table (no UPDATE, DELETE or TRUNCATE: append-only).
API_PRIVILEGES = {
    "select": [
        "api.clients",
        "api.batch_agreements",
        "api.watched_borrowers",
        "history.live_periods",
        "history.entity_profile_versions",
        "history.tier_history",
    ],
    "select, insert": ["api.authorisations", "audit.api_queries"],
    # the credit report names the day its publication judged and when it went live
    "select (publication_id, evaluation_date, finished_at)": ["audit.publications"],
    "usage": ["api.authorisations_authorisation_id_seq", "audit.api_queries_query_id_seq"],
}


def apply_api(cur) -> str:
    """Grant the API's role its share of the schemas that are never swapped (once is enough:
    these objects keep their grants); returns the role."""
    role = api_role()
    ensure_roles(cur, [role])
    for schema in ("api", "history", "audit"):
        cur.execute(sql.SQL("grant usage on schema {} to {}").format(_ident(schema), _ident(role)))
    for privilege, objects in API_PRIVILEGES.items():
        for name in objects:
            kind = sql.SQL("sequence ") if privilege == "usage" else sql.SQL("")
            cur.execute(
                sql.SQL("grant {} on {}{} to {}").format(
                    sql.SQL(privilege), kind, _ident(*name.split(".")), _ident(role)
                )
            )
    return role

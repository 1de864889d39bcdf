"""Who reads what: the downstream roles and their grants on the live publication.

- `bi_reader`: read-only on every table of `publish`.
- `loan_platform`: `loan_candidates` (when the warehouse builds it) and the organisation
  rows of `entity_credit_profile` (row-level security), nothing else; no `raw`, no `audit`.

Grants sit on schema and table objects, which move with a schema rename, and the candidate
is built fresh each time; so `apply()` runs inside the swap transaction, on the schema that
has just become `publish`, and takes the grants off the schemas that stopped being live.
Roles are created with LOGIN and no password: a deployment sets passwords or
certificates; the embedded server trusts 127.0.0.1.
"""
from __future__ import annotations

BI_READER, LOAN_PLATFORM = "bi_reader", "loan_platform"
ROLES = (BI_READER, LOAN_PLATFORM)

# Organisations only: an 个体工商户 is a natural person trading under a name, which a
# loan platform must not read from the published profile.
LOAN_PLATFORM_ROW_FILTER = "entity_type is distinct from '个体工商户'"
LOAN_PLATFORM_TABLES = ("entity_credit_profile", "loan_candidates")


def ensure_roles(cur) -> None:
    """Create the roles once per server (roles are server-wide; concurrent creators tolerated)."""
    for role in ROLES:
        cur.execute(f"""do $$ begin
            if not exists (select 1 from pg_roles where rolname = '{role}') then
                create role {role} login;
            end if;
        exception when duplicate_object or unique_violation then null;
        end $$""")


def _tables(cur, schema: str) -> list[str]:
    cur.execute("""select table_name from information_schema.tables
                   where table_schema = %s order by 1""", (schema,))
    return [t for (t,) in cur.fetchall()]


def revoke(cur, schema: str) -> None:
    """No downstream role reads a schema that is not live (previous, held, rolled back)."""
    cur.execute("select 1 from pg_namespace where nspname = %s", (schema,))
    if cur.fetchone() is None:
        return
    ensure_roles(cur)  # a first-ever attempt may be held before any publication created them
    for role in ROLES:
        cur.execute(f'revoke all on all tables in schema "{schema}" from {role}')
        cur.execute(f'revoke all on schema "{schema}" from {role}')


def apply(cur, schema: str = "publish") -> dict[str, list[str]]:
    """Grant the roles their share of the live schema; returns what each role may read."""
    ensure_roles(cur)
    tables = _tables(cur, schema)
    granted = {BI_READER: list(tables), LOAN_PLATFORM: []}
    for role in ROLES:
        cur.execute(f'revoke all on all tables in schema "{schema}" from {role}')
        cur.execute(f'grant usage on schema "{schema}" to {role}')
    if tables:
        cur.execute(f'grant select on all tables in schema "{schema}" to {BI_READER}')
    for table in LOAN_PLATFORM_TABLES:
        if table in tables:
            cur.execute(f'grant select on "{schema}"."{table}" to {LOAN_PLATFORM}')
            granted[LOAN_PLATFORM].append(table)
    if "entity_credit_profile" in tables:
        profile = f'"{schema}".entity_credit_profile'
        # Row-level security: the table owner (the platform) and bi_reader see every row,
        # loan_platform the organisations only.
        cur.execute(f"alter table {profile} enable row level security")
        cur.execute(f"drop policy if exists all_rows_bi_reader on {profile}")
        cur.execute(f"create policy all_rows_bi_reader on {profile} for select to {BI_READER} using (true)")
        cur.execute(f"drop policy if exists organisations_loan_platform on {profile}")
        cur.execute(f"create policy organisations_loan_platform on {profile} for select to {LOAN_PLATFORM} "
                    f"using ({LOAN_PLATFORM_ROW_FILTER})")
    return granted

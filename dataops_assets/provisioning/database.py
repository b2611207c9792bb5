"""The PostgreSQL part of an environment's desired state: the database, the warehouse's and hot
store's schemas, the API's read-only role and its grants, and the hot store's catalog table.

Apply's record of what it made (`public.dataops_applied`) lives in the database too, so drift is
judged against the same server the plan reads.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

from dataops_assets.environments.model import Environment, PostgresHotStore, PostgresWarehouse
from dataops_assets.provisioning.changes import Change, Part, PlanError, settle
from dataops_assets.resources import postgres
from dataops_assets.resources.hot_catalog import PG_CATALOG_TABLES

WAREHOUSE_SCHEMAS = ("raw", "staging", "intermediate", "marts")  # raw loads, then dbt's layers
STATE_TABLE = "public.dataops_applied"
WRITE_PRIVILEGES = "INSERT, UPDATE, DELETE, TRUNCATE"


@dataclass
class Desired:
    schemas: list[str]
    hot: PostgresHotStore | None


def _execute(dsn: str, *statements: sql.Composable | str, autocommit: bool = False) -> None:
    with postgres.connect(dsn, autocommit=autocommit) as con:
        for statement in statements:
            con.execute(statement)


def inspect(env: Environment) -> Part | None:
    desired: dict[str, Desired] = {}
    for spec, schemas in ((env.warehouse, WAREHOUSE_SCHEMAS), (env.hot_store, ())):
        if isinstance(spec, PostgresWarehouse | PostgresHotStore):
            entry = desired.setdefault(spec.dsn.resolve(), Desired([], None))
            entry.schemas += [s for s in schemas if s not in entry.schemas]
            if isinstance(spec, PostgresHotStore):
                entry.schemas.append(spec.schema_name)
                entry.hot = spec
    if not desired:
        return None
    part = Part(", ".join(f"PostgreSQL {postgres.redact_dsn(dsn)}" for dsn in desired), [])
    state_dsn = next(iter(desired))
    for dsn, want in desired.items():
        try:
            _inspect_database(dsn, want, part, record_state=dsn == state_dsn)
        except psycopg.OperationalError as error:
            reason = postgres.redact_text(str(error).strip().splitlines()[0], dsn)
            raise PlanError(f"cannot reach PostgreSQL at {postgres.redact_dsn(dsn)}: {reason}") from None
    return part


def _inspect_database(dsn: str, want: Desired, part: Part, record_state: bool) -> None:
    database = postgres.database_of(dsn)
    with postgres.connect(postgres.with_database(dsn, "postgres")) as con:
        exists = (
            con.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone() is not None
        )
    create_db = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database))
    part.changes.append(
        settle(
            f"postgres database {database}",
            exists,
            set(),
            lambda: _execute(postgres.with_database(dsn, "postgres"), create_db, autocommit=True),
        )
    )
    if not exists:  # everything inside it is to be created
        part.changes += [Change("create", a, fix=f) for a, f in _fixes(dsn, want)]
        if record_state:
            part.record = lambda addresses: _record(dsn, addresses)
        return

    with postgres.connect(dsn) as con:
        if record_state:
            part.applied = _applied(con)
            part.record = lambda addresses: _record(dsn, addresses)
        present = {r[0] for r in con.execute("SELECT nspname FROM pg_namespace")}
        fixes = dict(_fixes(dsn, want))
        for schema in want.schemas:
            address = f"postgres schema {schema}"
            part.changes.append(settle(address, schema in present, part.applied, fixes[address]))
        if want.hot is not None:
            part.changes += _inspect_hot(con, want.hot, present, part.applied, fixes)


def _inspect_hot(con, hot: PostgresHotStore, present: set[str], applied: set[str], fixes) -> list[Change]:
    role, schema = hot.readonly_role, hot.schema_name
    changes = []
    role_address = f"postgres role {role} (read-only API)"
    attributes = con.execute(
        "SELECT rolsuper OR rolcreatedb OR rolcreaterole OR rolbypassrls FROM pg_roles WHERE rolname = %s",
        [role],
    ).fetchone()
    if attributes and attributes[0]:
        changes.append(
            Change("update", role_address, "has superuser/createdb/createrole/bypassrls", fixes[role_address])
        )
    else:
        changes.append(settle(role_address, attributes is not None, applied, fixes[role_address]))

    for table in PG_CATALOG_TABLES:
        address = f"postgres table {schema}.{table}"
        exists = con.execute("SELECT to_regclass(%s)", [f'"{schema}"."{table}"']).fetchone()[0] is not None
        changes.append(settle(address, exists, applied, fixes[address]))

    grants_address = f"postgres grants {role}: USAGE, SELECT on {schema} (and future tables), nothing more"
    if attributes is None or schema not in present:
        changes.append(settle(grants_address, False, applied, fixes[grants_address]))
        return changes
    problems = _grant_problems(con, role, schema)
    if problems:
        action = "drift" if grants_address in applied else "update"
        changes.append(Change(action, grants_address, "; ".join(problems), fixes[grants_address]))
    else:
        changes.append(Change("noop", grants_address))
    return changes


def _grant_problems(con, role: str, schema: str) -> list[str]:
    problems = []
    usage, create = con.execute(
        "SELECT has_schema_privilege(%s, %s, 'USAGE'), has_schema_privilege(%s, %s, 'CREATE')",
        [role, schema, role, schema],
    ).fetchone()
    if not usage:
        problems.append(f"no USAGE on {schema}")
    if create:
        problems.append(f"can CREATE in {schema}")
    tables = con.execute(
        "SELECT n.nspname, c.relname, has_table_privilege(%s, c.oid, 'SELECT'), "
        f"has_table_privilege(%s, c.oid, '{WRITE_PRIVILEGES}') FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p', 'v', 'm') "
        "AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%%'",
        [role, role],
    ).fetchall()
    unreadable = sorted(t for ns, t, select, _ in tables if ns == schema and not select)
    # Read-only means read-only everywhere in the database, not only in the hot schema.
    writable = sorted(f"{ns}.{t}" for ns, t, _, write in tables if write)
    if unreadable:
        problems.append(f"cannot SELECT {', '.join(unreadable)}")
    if writable:
        problems.append(f"can write {', '.join(writable)}")
    default = con.execute(
        "SELECT 1 FROM pg_default_acl d JOIN pg_namespace n ON n.oid = d.defaclnamespace, "
        "aclexplode(d.defaclacl) a WHERE n.nspname = %s AND d.defaclobjtype = 'r' "
        "AND d.defaclrole = (SELECT oid FROM pg_roles WHERE rolname = current_user) "
        "AND a.grantee = (SELECT oid FROM pg_roles WHERE rolname = %s) AND a.privilege_type = 'SELECT'",
        [schema, role],
    ).fetchone()
    if default is None:
        problems.append("no default SELECT on future tables")
    return problems


def _fixes(dsn: str, want: Desired):
    """(address, fix) for everything inside the database, in the order apply must run them."""
    for schema in want.schemas:
        statement = sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema))
        yield f"postgres schema {schema}", lambda s=statement: _execute(dsn, s)
    hot = want.hot
    if hot is None:
        return
    role, schema = sql.Identifier(hot.readonly_role), sql.Identifier(hot.schema_name)
    yield (
        f"postgres role {hot.readonly_role} (read-only API)",
        lambda: _ensure_role(dsn, hot.readonly_role),
    )
    for table, columns in PG_CATALOG_TABLES.items():
        statement = sql.SQL("CREATE TABLE IF NOT EXISTS {}.{} (" + columns + ")").format(
            schema, sql.Identifier(table)
        )
        yield f"postgres table {hot.schema_name}.{table}", lambda s=statement: _execute(dsn, s)
    yield (
        f"postgres grants {hot.readonly_role}: USAGE, SELECT on {hot.schema_name} (and future tables), nothing more",
        lambda: _execute(
            dsn,
            sql.SQL("GRANT USAGE ON SCHEMA {s} TO {r}").format(s=schema, r=role),
            sql.SQL("REVOKE CREATE ON SCHEMA {s} FROM {r}").format(s=schema, r=role),
            sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {s} TO {r}").format(s=schema, r=role),
            sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT SELECT ON TABLES TO {r}").format(
                s=schema, r=role
            ),
            # No write privilege on any table of the database, whoever granted it.
            sql.SQL(
                "DO $$ DECLARE s text; BEGIN FOR s IN SELECT nspname FROM pg_namespace "
                "WHERE nspname NOT IN ('information_schema') AND nspname NOT LIKE 'pg\\_%' LOOP "
                "EXECUTE format('REVOKE "
                + WRITE_PRIVILEGES
                + " ON ALL TABLES IN SCHEMA %I FROM %I', s, {name}); "
                "END LOOP; END $$"
            ).format(name=sql.Literal(hot.readonly_role)),
        ),
    )


def _ensure_role(dsn: str, name: str) -> None:
    """A login role with no password in Git (set it out of band) and no power beyond its grants."""
    role = sql.Identifier(name)
    with postgres.connect(dsn) as con:
        if con.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name]).fetchone() is None:
            con.execute(sql.SQL("CREATE ROLE {} LOGIN").format(role))
        con.execute(sql.SQL("ALTER ROLE {} NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS").format(role))


def _applied(con) -> set[str]:
    if con.execute("SELECT to_regclass(%s)", [STATE_TABLE]).fetchone()[0] is None:
        return set()
    return {r[0] for r in con.execute(f"SELECT address FROM {STATE_TABLE}")}


def _record(dsn: str, addresses: list[str]) -> None:
    with postgres.connect(dsn) as con:
        con.execute(
            f"CREATE TABLE IF NOT EXISTS {STATE_TABLE} (address text PRIMARY KEY, applied_at timestamptz)"
        )
        with con.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {STATE_TABLE} VALUES (%s, now()) ON CONFLICT (address) DO UPDATE SET applied_at = now()",
                [[a] for a in addresses],
            )

"""Where a PostGIS store is and how geoplan talks to it: URLs, connections, errors, catalog look-ups.

A location is a URL::

    postgresql://user@host:5432/database?schema=kz

The password never appears in the URL geoplan prints: give it in ``PGPASSWORD`` or in
``~/.pgpass`` (libpq reads both); one written into the URL is used but masked as ``***`` in
every message. Other libpq parameters can be added as query parameters (``sslmode=require``,
``connect_timeout=10``); ``schema`` defaults to ``public``.

Every database error becomes a :class:`~geoplan.StoreError` that names the server, the table and
the rule involved, never the password (:func:`db_error`).
"""

from __future__ import annotations

import dataclasses
import getpass
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from geoplan._errors import StoreError
from geoplan._io import first_line

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "CONNECT_TIMEOUT_S",
    "PgLocation",
    "is_postgres_url",
    "redact_url",
    "parse_url",
    "connect",
]

#: Seconds to wait for a database server to answer before giving up (libpq ``connect_timeout``).
CONNECT_TIMEOUT_S = 5
#: A plain SQL identifier (a schema or table name geoplan accepts without quoting doubts).
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_SCHEMES = ("postgresql://", "postgres://")


def is_postgres_url(value: object) -> bool:
    """Whether ``value`` is a ``postgresql://`` (or ``postgres://``) URL string."""
    return isinstance(value, str) and value.strip().lower().startswith(_SCHEMES)


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***``.

    Examples
    --------
    >>> redact_url("postgresql://ana:secret@db.example:5432/gis?schema=kz")
    'postgresql://ana:***@db.example:5432/gis?schema=kz'
    """
    return re.sub(r"(?i)^(postgres(?:ql)?://[^:@/?#]*):[^@/?#]*@", r"\1:***@", url.strip())


@dataclasses.dataclass(frozen=True)
class PgLocation:
    """A parsed ``postgresql://`` URL.

    Attributes
    ----------
    host, port, user, dbname
        Where to connect (``None``: libpq's default, e.g. from ``PGHOST``).
    schema
        The schema named by ``?schema=``, or ``None``.
    params
        Further libpq parameters from the query string.
    password
        A password written into the URL (discouraged), else ``None``.
    display
        The URL with the password masked, for messages.
    """

    host: str | None
    port: int | None
    user: str | None
    dbname: str | None
    schema: str | None
    params: tuple[tuple[str, str], ...]
    password: str | None
    display: str

    @property
    def where(self) -> str:
        """``host:port`` as libpq will use it."""
        host = self.host or os.environ.get("PGHOST", "localhost")
        port = self.port or int(os.environ.get("PGPORT", "5432") or 5432)
        return f"{host}:{port}"

    def with_schema(self, schema: str) -> PgLocation:
        """Return the same location with another schema."""
        base = self.display.split("?", 1)[0]
        query = [(k, v) for k, v in self.params] + [("schema", schema)]
        display = base + "?" + "&".join(f"{k}={quote(v, safe='')}" for k, v in query)
        return dataclasses.replace(self, schema=schema, display=display)


def parse_url(url: str) -> PgLocation:
    """Parse a ``postgresql://user@host:port/db?schema=name`` URL.

    Raises
    ------
    StoreError
        For a malformed URL or schema name (the message shows the URL without password).
    """
    shown = redact_url(url)
    if not is_postgres_url(url):
        raise StoreError(f"{shown}: not a postgresql:// URL", fix="write it as postgresql://user@host:port/db?schema=kz")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise StoreError(f"{shown}: malformed URL ({exc})",
                         fix="write it as postgresql://user@host:port/db?schema=kz") from None
    dbname = unquote(parts.path.lstrip("/")) or None
    params: list[tuple[str, str]] = []
    schema = None
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key == "schema":
            schema = value
        elif key == "password":
            raise StoreError(f"{shown}: a password in the URL's query would be printed",
                             fix="set PGPASSWORD or use ~/.pgpass instead")
        else:
            params.append((key, value))
    if schema is not None and not IDENTIFIER.fullmatch(schema):
        raise StoreError(f"{shown}: schema name {schema!r} is not a plain identifier",
                         fix="use letters, digits and _ only, starting with a letter (e.g. ?schema=kz)")
    password = unquote(parts.password) if parts.password is not None else None
    if password is not None:
        shown = redact_url(url)
    return PgLocation(unquote(parts.hostname) if parts.hostname else None, port,
                      unquote(parts.username) if parts.username else None, dbname, schema, tuple(params),
                      password, shown)


def _mask(text: str, loc: PgLocation) -> str:
    return text.replace(loc.password, "***") if loc.password else text


def connect(url: str | PgLocation, *, autocommit: bool = False) -> psycopg.Connection[Any]:
    """Open a connection, failing within :data:`CONNECT_TIMEOUT_S` seconds with a clear message.

    Parameters
    ----------
    url
        A ``postgresql://`` URL or a parsed :class:`PgLocation`.
    autocommit
        Open the connection in autocommit mode.

    Raises
    ------
    StoreError
        When the server does not answer, refuses the connection or the password, or the
        database does not exist. The message names host and port, never the password.
    """
    import psycopg

    loc = url if isinstance(url, PgLocation) else parse_url(url)
    kwargs: dict[str, Any] = {"application_name": "geoplan", "connect_timeout": str(CONNECT_TIMEOUT_S)}
    kwargs.update(dict(loc.params))
    for key, value in (("host", loc.host), ("port", loc.port), ("user", loc.user), ("dbname", loc.dbname),
                       ("password", loc.password)):
        if value is not None:
            kwargs[key] = str(value)
    try:
        conn = psycopg.connect(autocommit=autocommit, **kwargs)
    except psycopg.OperationalError as exc:
        raise _connect_error(exc, loc, kwargs["connect_timeout"]) from None
    except psycopg.ProgrammingError as exc:  # a libpq parameter it does not know
        raise StoreError(f"{loc.display}: {_mask(first_line(exc), loc)}",
                         fix="remove or correct the URL's query parameters (only schema= and libpq's are known)"
                         ) from None
    return conn


def _connect_error(exc: Exception, loc: PgLocation, timeout: str) -> StoreError:
    text = _mask(str(exc), loc)
    low = text.lower()
    where = loc.where
    check = (f"check host and port in {loc.display} and that the server runs there "
             f"(pg_isready -h {where.rsplit(':', 1)[0]} -p {where.rsplit(':', 1)[1]})")
    if "timeout expired" in low:
        return StoreError(f"{where}: no answer from a database server within {timeout} s ({loc.display})",
                          fix=check + "; a firewall may be dropping the connection")
    if "connection refused" in low:
        return StoreError(f"{where}: connection refused: no PostgreSQL server listens there ({loc.display})",
                          fix=check)
    if "could not translate host name" in low or "name or service not known" in low:
        return StoreError(f"{where}: unknown host ({loc.display})", fix="correct the host name in the URL")
    if "password authentication failed" in low or "no password supplied" in low or "password is required" in low:
        user = loc.user or getpass.getuser()
        return StoreError(
            f"{where}: password authentication failed for user '{user}' ({loc.display})",
            fix=f"set the password of '{user}' in the environment variable PGPASSWORD, or add the line "
                f"'{where.replace(':', ':', 1)}:{loc.dbname or '*'}:{user}:PASSWORD' to ~/.pgpass (chmod 600)")
    if "does not exist" in low and "database" in low:
        return StoreError(f"{where}: database '{loc.dbname}' does not exist ({loc.display})",
                          fix=f"correct the database name in the URL, or create it (createdb -h ... {loc.dbname})")
    return StoreError(f"{where}: cannot connect ({first_line(Exception(text))}) ({loc.display})", fix=check)


@contextmanager
def session(loc: PgLocation, what: str, *, autocommit: bool = False) -> Iterator[psycopg.Connection[Any]]:
    """Connect; a database error inside the block becomes a :class:`StoreError` about ``what``."""
    import psycopg

    with connect(loc, autocommit=autocommit) as conn:
        try:
            yield conn
        except psycopg.Error as exc:
            raise db_error(exc, loc, what) from None


def quote_ident(name: str) -> str:
    """``name`` quoted as an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """``value`` quoted as an SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def need_postgis(conn: psycopg.Connection[Any], loc: PgLocation) -> None:
    """Fail with a clear :class:`StoreError` when the database has no PostGIS extension."""
    row = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'postgis'").fetchone()
    if row is None:
        raise StoreError(
            f"{loc.display}: database '{loc.dbname}' has no PostGIS extension",
            fix=f"ask its administrator to run CREATE EXTENSION postgis; in database '{loc.dbname}' (on Debian the "
                "package postgresql-NN-postgis-3 provides it); geoplan does not create extensions itself")


def list_tables(conn: psycopg.Connection[Any], schema: str) -> list[str]:
    """Return the names of the user's tables and views in ``schema``, sorted."""
    # Relations an extension owns (PostGIS's spatial_ref_sys and geometry_columns in public) are not the user's.
    rows = conn.execute("SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT EXISTS ("
                        "SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid "
                        "AND d.deptype = 'e') ORDER BY 1", (schema,)).fetchall()
    return [str(r[0]) for r in rows]


def schema_exists(conn: psycopg.Connection[Any], schema: str) -> bool:
    """Whether the database has a schema called ``schema``."""
    return conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone() is not None


def db_error(exc: Exception, loc: PgLocation, what: str) -> StoreError:
    """Turn a database error during ``what`` into a StoreError naming the table and rule."""
    import psycopg

    diag = getattr(exc, "diag", None)
    table = getattr(diag, "table_name", None) if diag is not None else None
    constraint = getattr(diag, "constraint_name", None) if diag is not None else None
    detail = getattr(diag, "message_detail", None) if diag is not None else None
    msg = _mask(first_line(exc), loc)
    if isinstance(exc, psycopg.errors.IntegrityError) and constraint:
        text = f"{loc.display}: cannot {what}: table {table}: {constraint}"
        if detail:
            text += f" ({_mask(detail, loc)[:300]})"
        return StoreError(text, fix="correct the feature named (geoplan layers check shows all problems); "
                                    "the database was left as it was")
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return StoreError(f"{loc.display}: cannot {what}: {msg}",
                          fix=f"ask the database administrator to grant your user the rights on schema "
                              f"'{loc.schema or 'public'}' (CREATE, and SELECT/INSERT/DELETE on its tables)")
    if isinstance(exc, psycopg.OperationalError):
        return StoreError(f"{loc.where}: the connection failed while trying to {what}: {msg} ({loc.display})",
                          fix="retry; nothing was changed (the transaction was rolled back)")
    return StoreError(f"{loc.display}: cannot {what}: {msg}", fix="the database was left as it was; "
                      "see the message for the table and rule involved")


def table_comment(conn: psycopg.Connection[Any], schema: str, table: str) -> str:
    """Return the comment of an existing table (``""`` when it has none)."""
    row = conn.execute("SELECT obj_description(to_regclass(%s), 'pg_class')",
                       (f"{quote_ident(schema)}.{quote_ident(table)}",)).fetchone()
    return str(row[0]) if row and row[0] is not None else ""


def table_columns(conn: psycopg.Connection[Any], schema: str, table: str) -> dict[str, str]:
    """Column name -> type (``format_type``) of an existing table, in column order."""
    rows = conn.execute(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
        "WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        (f"{quote_ident(schema)}.{quote_ident(table)}",)).fetchall()
    return {str(n): str(t) for n, t in rows}


@contextmanager
def read_transaction(conn: psycopg.Connection[Any], marker: str) -> Iterator[None]:
    """Open a read-only REPEATABLE READ transaction that first locks ``marker`` (ACCESS SHARE).

    The lock comes before any query, so the snapshot is taken after it: a writer that replaces a
    set takes the same table first (ACCESS EXCLUSIVE), so a reader sees the set before or after
    the replacement, never a mix.
    """
    if conn.info.transaction_status != 0:  # not idle: end the catalog look-ups' transaction first
        conn.commit()
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        conn.execute(f"LOCK TABLE {marker} IN ACCESS SHARE MODE")
        yield

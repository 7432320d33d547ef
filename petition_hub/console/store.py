"""The console's database: its URL from the settings, the engine, sessions, and the migrations.

``HUB_CONSOLE_DATABASE_URL`` (any SQLAlchemy URL: ``sqlite:///path``,
``postgresql://user:pass@host/db``); unset, an SQLite file ``console.db`` in ``HUB_DATA_DIR``
(what ``petition-hub dev`` uses). SQLite runs in WAL mode (readers never wait for the projector's
writes) with a busy timeout (several processes may share the file). ``postgresql://`` URLs use
psycopg 3 (``postgresql+psycopg``), the driver the ``console`` extra installs.

:func:`migrate` brings a database to the newest schema (Alembic, ``upgrade head``): every
command that opens the console's database calls it first, so a new release's migrations apply
themselves.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from petition_hub.service.settings import Settings

#: The SQLite file's name in HUB_DATA_DIR when no URL is given.
DEFAULT_SQLITE_FILE: Final = "console.db"

#: Where the migrations are (package data: ``env.py``, ``script.py.mako``, ``versions/``).
MIGRATIONS: Final = Path(__file__).with_name("migrations")

#: How long an SQLite connection waits for another's write lock before it fails (milliseconds).
SQLITE_BUSY_MS: Final = 30_000


def database_url(settings: Settings) -> str:
    """The console database's SQLAlchemy URL (psycopg 3 for ``postgresql://``)."""
    if settings.console_database_url:
        return database_url_of(settings.console_database_url.get_secret_value())
    path = (settings.data_dir / DEFAULT_SQLITE_FILE).resolve()
    return f"sqlite:///{path}"


def database_url_of(url: str) -> str:
    """``url`` with psycopg 3 as the driver of a plain ``postgresql://`` (or ``postgres://``)."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.partition("://")[2]
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL: readers (the web pages) never wait for the projector's writes; NORMAL sync is safe
    # in WAL mode (a crash loses at most the last transactions, never consistency)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    # pysqlite starts transactions lazily (BEGIN DEFERRED at the first write); a transaction that
    # read first and then writes can then fail at once with "database is locked" when another
    # process wrote meanwhile. BEGIN IMMEDIATE takes the write lock up front (waiting up to the
    # busy timeout), so two projectors on one file take turns instead.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str, **options: Any) -> Engine:
    """An engine for ``url``, with the console's SQLite settings where it is SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False}, **options)
        dbapi_engine = engine

        @event.listens_for(dbapi_engine, "connect")
        def _connect(dbapi_connection: Any, record: Any) -> None:
            dbapi_connection.isolation_level = None  # our own BEGIN (see _sqlite_begin)
            _sqlite_pragmas(dbapi_connection, record)

        event.listen(dbapi_engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True, **options)


def engine_for(settings: Settings) -> Engine:
    """The engine of the settings' console database."""
    return make_engine(database_url(settings))


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions on ``engine`` (objects stay readable after commit)."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session in one transaction: committed when the block ends, rolled back on an error."""
    with factory() as session, session.begin():
        yield session


def alembic_config(engine: Engine) -> Any:
    """Alembic's configuration for the console's migrations on ``engine`` (no alembic.ini)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # env.py uses this engine rather than a URL (a URL would carry the password into the config)
    config.attributes["engine"] = engine
    return config


def migrate(engine: Engine) -> None:
    """Bring the database to the newest schema (``alembic upgrade head``)."""
    from alembic import command

    command.upgrade(alembic_config(engine), "head")

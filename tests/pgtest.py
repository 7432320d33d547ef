"""PostgreSQL for the console's tests: a throwaway cluster of the tests' own, or the server named
by ``HUB_TEST_POSTGRES_URL``.

The cluster: Debian's ``initdb`` / ``pg_ctl`` (``/usr/lib/postgresql/<version>/bin``, the newest)
in a temporary folder, listening on a free loopback port only (no Unix socket), with durability
off (a test's data need not survive a power cut: fsync, full-page writes and synchronous commit
off). PostgreSQL refuses to run as root: as root (CI), the folder is given to the ``postgres``
user the Debian package creates, and the programs run as that user (``runuser``).

Without PostgreSQL the tests that need it are skipped, unless ``HUB_REQUIRE_TOOLS`` is set (CI),
where they fail: ``.ci/run`` installs Debian's ``postgresql``.

Use: ``from pgtest import postgres_server, postgres_url  # noqa: F401`` in a test module, then a
``postgres_url`` argument: a fresh, empty database for the test (dropped after it).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from petition_hub.broker.embedded import free_port

#: The user the cluster runs as when the tests run as root (Debian's postgresql package makes it).
PG_USER = "postgres"
#: The cluster's superuser (trust authentication on loopback: a throwaway cluster).
PG_ROLE = "hub"


def _bin_dir() -> Path | None:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3])
    )
    return Path(found[-1]).parent if found else None


def _unavailable(why: str) -> None:
    if os.environ.get("HUB_REQUIRE_TOOLS"):
        pytest.fail(f"PostgreSQL is required (HUB_REQUIRE_TOOLS=1): {why}")
    pytest.skip(f"no PostgreSQL: {why}")


def _run_as(owner: str | None, *args: str) -> subprocess.CompletedProcess[str]:
    command = ["runuser", "-u", owner, "--", *args] if owner else list(args)
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


class Cluster:
    """A PostgreSQL cluster in a temporary folder, on a free loopback port."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.owner = PG_USER if os.geteuid() == 0 else None
        # not under pytest's tmp folders: those are private to root, and the cluster runs as
        # another user when the tests run as root
        self.root = Path(tempfile.mkdtemp(prefix="hub-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        if self.owner is not None:
            entry = pwd.getpwnam(self.owner)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://{PG_ROLE}@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        init = _run_as(
            self.owner,
            str(self.bin_dir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            PG_ROLE,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        if init.returncode != 0:
            raise RuntimeError(f"initdb failed: {init.stderr[-2000:]}")
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' "
            "-c fsync=off -c full_page_writes=off -c synchronous_commit=off "
            "-c max_connections=50"
        )
        started = _run_as(
            self.owner,
            str(self.bin_dir / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.root / "postgres.log"),
            "-w",
            "-t",
            "60",
            "start",
        )
        if started.returncode != 0:
            log = (self.root / "postgres.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"pg_ctl start failed: {started.stderr[-1000:]}\n{log}")

    def stop(self) -> None:
        if self.data.exists():
            _run_as(
                self.owner,
                str(self.bin_dir / "pg_ctl"),
                "-D",
                str(self.data),
                "-m",
                "immediate",
                "-w",
                "stop",
            )
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server's URL (its ``postgres`` database): ``HUB_TEST_POSTGRES_URL``, or a
    cluster of this test process's own."""
    given = os.environ.get("HUB_TEST_POSTGRES_URL")
    if given:
        yield given
        return
    bin_dir = _bin_dir()
    if bin_dir is None:
        _unavailable("no /usr/lib/postgresql/*/bin/initdb (Debian: apt-get install postgresql)")
        return
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(PG_USER)
        except KeyError:
            _unavailable(f"running as root and there is no {PG_USER!r} user to run it as")
            return
    cluster = Cluster(bin_dir)
    try:
        cluster.start()
    except RuntimeError as exc:
        cluster.stop()
        _unavailable(str(exc))
        return
    try:
        yield cluster.url
    finally:
        cluster.stop()


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh database on :func:`postgres_server` for one test (dropped after it)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from petition_hub.console.store import database_url_of

    server = make_url(database_url_of(postgres_server))
    name = f"console_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield server.set(database=name).render_as_string(hide_password=False)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()

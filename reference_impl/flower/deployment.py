"""A Flower deployment on this machine: one SuperLink and one SuperNode per client, started, watched and torn down.

The processes are stock Flower 1.42 (``flower-superlink``, ``flower-supernode``, and the
``flower-superexec``, ``flwr-serverapp`` and ``flwr-clientapp`` processes they start), on

``network="local"``
    loopback: the SuperLink and every SuperNode's own Runtime API on free ports of 127.0.0.1;
``network="emulated"``
    the SuperLink in the server's network namespace and every SuperNode in its own, joined by veth
    pairs shaped with tbf to the client's uplink and downlink rates
    (:func:`reference_impl.network.lab.emulated_network`; root). The server's link is unshaped.

Flower 1.42 serves its Fleet, Control and Runtime APIs as protobuf over HTTP/1.1 on one port of
the SuperLink (8000 here); a SuperNode asks it for work every 3 s while idle.

Every Flower process gets telemetry and update checks off (``FLWR_TELEMETRY_ENABLED=0``,
``FLWR_DISABLE_UPDATE_CHECK=1``), its own ``FLWR_HOME`` inside the run's folder (nothing goes to
``~/.flwr``), this interpreter's ``bin`` first on ``PATH`` (the SuperLink and SuperNodes start the
other Flower programs by name) and the environment tag ``ASTRAEA_FLOWER_RUN=<run folder>``, which
every process they start inherits.

Watching (:meth:`Deployment.submit` and :meth:`Deployment.wait`): the ServerApp's result or its
one-line error; a SuperNode that ends (the client is named within a poll, 0.1 s, long before Flower's
own heartbeat notices); while it waits, once a second, how many runnable processes on the host are
not the run's (:attr:`Deployment.background_running`) and how many other sessions have a runnable
task (:attr:`Deployment.background_groups`, :func:`busy_groups`: with Linux's autogroups, the
scheduler shares the cores between sessions, and every process of the run but the ServerApp is in
the launcher's session);
the SuperLink ending; the ServerApp ending without a result; or no progress for too long.

Tearing down (:meth:`Deployment.close`, always): SIGTERM to the SuperNodes (they unregister) and the
SuperLink, SIGKILL after a grace, the lab's namespaces deleted (and every process still inside
them), and finally SIGKILL to every process that still carries the run's tag (the SuperLink starts
its SuperExec in a session of its own, so process groups do not catch it).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from costmodel.errors import InputError
from reference_impl.flower.job import FlowerJob, FlowerRunError
from reference_impl.network.lab import Lab, emulated_network
from reference_impl.network.links import LinkSpec

__all__ = ["FLOWER_PROGRAMS", "NETLAB_PREFIX", "RUN_TAG", "Deployment", "busy_groups", "flower_bin", "tagged_processes"]

#: Namespace prefix of the labs of Flower runs (``aflwr-<pid>-<n>-...``).
NETLAB_PREFIX = "aflwr"
#: The environment variable every process of a deployment carries (its value: the run's folder).
RUN_TAG = "ASTRAEA_FLOWER_RUN"
#: The Flower programs a deployment starts by name.
FLOWER_PROGRAMS = ("flower-superlink", "flower-supernode", "flower-superexec", "flwr", "flwr-serverapp",
                   "flwr-clientapp")
_LAB_PORT = 8000     # inside the lab's private server namespace nothing else listens
_POLL_S = 0.1
_GRACE_S = 5.0


def flower_bin() -> Path:
    """The folder of this interpreter's Flower programs; one sentence naming the missing one otherwise."""
    folder = Path(sys.executable).parent
    for program in FLOWER_PROGRAMS:
        if not (folder / program).exists():
            raise InputError(f"'engine' flower needs Flower installed next to {sys.executable} "
                             f"(pip install 'astraea-cost[flower]') (got no {program} in {folder}).")
    return folder


def tagged_processes(tag: str) -> list[int]:
    """Every process (but this one) whose environment has ``ASTRAEA_FLOWER_RUN=<tag>``."""
    needle = f"{RUN_TAG}={tag}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                if needle in handle.read().split(b"\0"):
                    found.append(int(entry))
        except OSError:
            continue
    return found


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def running_processes() -> int:
    """Runnable processes on the machine now (``procs_running`` of ``/proc/stat``)."""
    try:
        with open("/proc/stat", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("procs_running"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _autogroups_enabled() -> bool:
    try:
        with open("/proc/sys/kernel/sched_autogroup_enabled", encoding="ascii") as handle:
            return handle.read().strip() == "1"
    except OSError:
        return False


def _group_of(pid: int, autogroups: bool) -> str:
    """What Linux shares the cores between for ``pid``: its autogroup (its session) when autogrouping is
    on, else the process itself."""
    if autogroups:
        try:
            with open(f"/proc/{pid}/autogroup", encoding="ascii") as handle:
                return handle.read().split()[0]
        except (OSError, IndexError):
            pass
    return f"pid-{pid}"


def _has_running_task(pid: str) -> bool:
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return False
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat", encoding="ascii", errors="replace") as handle:
                if handle.read().rsplit(")", 1)[1].split()[0] == "R":
                    return True
        except (OSError, IndexError):
            continue
    return False


def busy_groups(ours: set[int]) -> int:
    """Scheduling groups other than this process's own that have a runnable task now, leaving out the
    processes ``ours``: with Linux's autogroups on (``kernel.sched_autogroup_enabled``) the scheduler
    shares the cores fairly between sessions, not processes, so these are the other sessions wanting
    the cores; with it off, the other runnable processes."""
    autogroups = _autogroups_enabled()
    mine = _group_of(os.getpid(), autogroups) if autogroups else None
    groups = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in ours or int(entry) == os.getpid():
            continue
        if _has_running_task(entry):
            group = _group_of(int(entry), autogroups)
            if group != mine:
                groups.add(group)
    return len(groups)


def _is_running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] == "R"
    except (OSError, IndexError):
        return False


def _program(pid: int) -> str:
    """The program a process runs, e.g. ``flower-superexec`` (the script behind ``python``)."""
    words = _cmdline(pid).split()
    scripts = [w for w in words[:3] if Path(w).name.startswith(("flower-", "flwr"))]
    return Path(scripts[0] if scripts else (words[0] if words else "?")).name


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _describe_exit(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-code).name}"
        return f"was killed by signal {-code}"
    return f"exited with status {code}"


@dataclass(frozen=True)
class _Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: BinaryIO


class Deployment:
    """A SuperLink and ``clients`` SuperNodes for one run (module docstring); use it as a context manager.

    Parameters
    ----------
    clients : SuperNodes to start, client ``k`` with ``--node-config 'partition-id=k'``.
    network : ``"local"`` or ``"emulated"``.
    link : every client's link (emulated only).
    folder : the run's folder: logs, ``FLWR_HOME`` of every process, the ServerApp's result.
    threads : torch threads of every app process (``OMP_NUM_THREADS``).
    """

    def __init__(self, clients: int, *, network: str, link: LinkSpec | None, folder: Path, threads: int = 1) -> None:
        self.clients = clients
        self.network = network
        self.link = link
        self.folder = Path(folder)
        self.threads = threads
        self.bin = flower_bin()
        self.supernodes: dict[int, _Process] = {}
        self.superlink: _Process | None = None
        self.lab: Lab | None = None
        self._stack = contextlib.ExitStack()
        #: The programs teardown found still running after the grace and killed (module docstring).
        self.left_behind: list[str] = []
        #: Samples, once a second while the run waits, of the runnable processes that are not the run's
        #: (other work on the host competing for its cores).
        self.background_running: list[int] = []
        #: Samples, at the same moments, of the other scheduling groups with a runnable task
        #: (:func:`busy_groups`: the other sessions wanting the cores, which Linux shares between sessions).
        self.background_groups: list[int] = []

    # -- processes -----------------------------------------------------------------------------------
    def env(self, role: str) -> dict[str, str]:
        """The environment of a Flower process of this run (module docstring)."""
        home = self.folder / "flwr-home" / role
        home.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONHOME")}
        root = str(Path(__file__).resolve().parents[2])
        env.update(PATH=f"{self.bin}{os.pathsep}{env.get('PATH', '')}", FLWR_HOME=str(home),
                   FLWR_TELEMETRY_ENABLED="0", FLWR_DISABLE_UPDATE_CHECK="1", PYTHONUNBUFFERED="1",
                   OMP_NUM_THREADS=str(self.threads), **{RUN_TAG: str(self.folder)},
                   PYTHONPATH=root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else ""))
        return env

    def _start(self, name: str, host: str | int | None, command: list[str]) -> _Process:
        log = open(self.folder / "logs" / f"{name}.log", "wb")  # noqa: SIM115 - closed in close()
        kwargs = dict(env=self.env(name), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        if self.lab is not None and host is not None:
            popen = self.lab.popen(host, *command, **kwargs)
        else:
            popen = subprocess.Popen(command, **kwargs)  # noqa: S603 - our own programs
        return _Process(name, popen, log)

    def _in_server(self, command: list[str]) -> list[str]:
        return self.lab.exec_args("server", *command) if self.lab is not None else command

    def __enter__(self) -> Deployment:
        try:
            self._open()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _open(self) -> None:
        (self.folder / "logs").mkdir(parents=True, exist_ok=True)
        if self.network == "emulated":
            self.lab = self._stack.enter_context(emulated_network(self.clients, [self.link], prefix=NETLAB_PREFIX))
            bind, port = "0.0.0.0", _LAB_PORT
            self.address = f"{self.lab.server.address}:{port}"
            self.control_address = f"127.0.0.1:{port}"
            node_ports = [9094] * self.clients
        else:
            bind, port = "127.0.0.1", _free_port()
            self.address = self.control_address = f"127.0.0.1:{port}"
            node_ports = [_free_port() for _ in range(self.clients)]
        self.superlink = self._start("superlink", "server", [
            str(self.bin / "flower-superlink"), "--insecure", "--host", bind, "--port", str(port),
            "--disable-runtime-dependency-installation"])
        self._wait_for_port(port)
        for k in range(self.clients):
            self.supernodes[k] = self._start(f"supernode-{k}", k, [
                str(self.bin / "flower-supernode"), "--insecure", "--superlink", self.address,
                "--node-config", f"partition-id={k} num-partitions={self.clients}",
                "--host", "127.0.0.1", "--port", str(node_ports[k])])

    def _wait_for_port(self, port: int, timeout_s: float = 60.0) -> None:
        code = ("import socket, sys, time\n"
                f"deadline = time.monotonic() + {timeout_s}\n"
                "while time.monotonic() < deadline:\n"
                "    try:\n"
                f"        socket.create_connection(('127.0.0.1', {port}), 0.5).close(); sys.exit(0)\n"
                "    except OSError:\n"
                "        time.sleep(0.1)\n"
                "sys.exit(1)\n")
        waiter = subprocess.Popen(self._in_server([sys.executable, "-c", code]))  # noqa: S603
        while waiter.poll() is None:
            if self.superlink is not None and self.superlink.popen.poll() is not None:
                waiter.kill()
                waiter.wait()
                raise FlowerRunError(f"the SuperLink {_describe_exit(self.superlink.popen.returncode)} while "
                                     f"starting (log: {self.folder / 'logs' / 'superlink.log'})")
            time.sleep(0.05)
        if waiter.returncode != 0:
            raise FlowerRunError(f"the SuperLink did not listen on port {port} within {timeout_s:.0f} s")

    # -- the run -------------------------------------------------------------------------------------
    def submit(self, app: Path, *, timeout_s: float = 300.0) -> str:
        """``flwr run APP`` against this deployment's SuperLink; return Flower's run id. The processes are
        watched meanwhile (a SuperNode that dies is named at once, not when the submission ends)."""
        env = self.env("cli")
        Path(env["FLWR_HOME"], "config.toml").write_text(
            f'[superlink]\ndefault = "lab"\n\n[superlink.lab]\naddress = "{self.control_address}"\ninsecure = true\n',
            encoding="utf-8")
        command = self._in_server([str(self.bin / "flwr"), "run", str(app), "lab", "--format", "json"])
        log = self.folder / "logs" / "flwr-run.log"
        with open(log, "wb") as output, open(self.folder / "logs" / "flwr-run.err", "wb") as errors:
            submitter = subprocess.Popen(command, env=env, stdout=output, stderr=errors,  # noqa: S603
                                         stdin=subprocess.DEVNULL)
            deadline = time.monotonic() + timeout_s
            try:
                while submitter.poll() is None:
                    self._check_processes()
                    if time.monotonic() > deadline:
                        raise FlowerRunError(f"flwr run did not submit the app within {timeout_s:.0f} s")
                    time.sleep(_POLL_S)
            finally:
                if submitter.poll() is None:
                    submitter.kill()
                    submitter.wait()
        stdout = log.read_text(encoding="utf-8", errors="replace")
        stderr = (self.folder / "logs" / "flwr-run.err").read_text(encoding="utf-8", errors="replace")
        try:
            answer = json.loads(stdout)
        except json.JSONDecodeError:
            answer = {}
        if submitter.returncode != 0 or not answer.get("success", False):
            lines = (answer.get("error") or stderr or stdout or f"exit status {submitter.returncode}").strip()
            raise FlowerRunError(f"flwr run failed: {lines.splitlines()[-1] if lines else 'no output'}")
        return str(answer.get("run-id", ""))

    def wait(self, job: FlowerJob, *, silence_s: float,
             on_progress: Callable[[int], None] | None = None) -> None:
        """Until the ServerApp has written its result; a :class:`FlowerRunError` naming the cause otherwise."""
        last_change, done, server_app_seen = time.monotonic(), 0, False
        next_scan = time.monotonic()
        while not job.result_path.exists():
            if job.error_path.exists():
                time.sleep(0.2)      # a dead node is the cause of the error it led to: prefer naming it
                self._check_processes()
                raise FlowerRunError(job.error_path.read_text(encoding="utf-8").strip())
            self._check_processes()
            with contextlib.suppress(OSError, ValueError):
                rounds = int(job.progress_path.read_text(encoding="utf-8").strip() or 0)
                if rounds > done:
                    done, last_change = rounds, time.monotonic()
                    if on_progress is not None:
                        on_progress(rounds)
            now = time.monotonic()
            if now >= next_scan:     # is the ServerApp still there? what else runs on the host?
                next_scan = now + 1.0
                ours = tagged_processes(str(self.folder))
                busy = running_processes()
                self.background_running.append(max(0, busy - 1 - sum(_is_running(pid) for pid in ours)))
                self.background_groups.append(busy_groups(set(ours)))
                running = any("flwr-serverapp" in _cmdline(pid) for pid in ours)
                if running:
                    server_app_seen = True
                elif server_app_seen and not job.result_path.exists() and not job.error_path.exists():
                    time.sleep(0.5)
                    if not job.result_path.exists() and not job.error_path.exists():
                        raise FlowerRunError(f"the ServerApp ended without a result (log: "
                                             f"{self.folder / 'logs' / 'superlink.log'})")
            if now - last_change > silence_s:
                raise FlowerRunError(f"the ServerApp showed no progress for {silence_s:.0f} s (logs in "
                                     f"{self.folder / 'logs'})")
            time.sleep(_POLL_S)

    def _check_processes(self) -> None:
        for k, process in self.supernodes.items():
            code = process.popen.poll()
            if code is not None:
                raise FlowerRunError(f"client {k}: its SuperNode (pid {process.popen.pid}) {_describe_exit(code)}")
        if self.superlink is not None and (code := self.superlink.popen.poll()) is not None:
            raise FlowerRunError(f"the SuperLink (pid {self.superlink.popen.pid}) {_describe_exit(code)}")

    # -- teardown ------------------------------------------------------------------------------------
    def close(self) -> None:
        """End every process of the run and delete its lab (module docstring). Idempotent."""
        groups = [list(self.supernodes.values()), [self.superlink] if self.superlink is not None else []]
        for group in groups:
            for process in group:
                if process.popen.poll() is None:
                    with contextlib.suppress(ProcessLookupError):
                        process.popen.terminate()
            deadline = time.monotonic() + _GRACE_S
            for process in group:
                try:
                    process.popen.wait(timeout=max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        process.popen.kill()
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        process.popen.wait(timeout=5.0)
        try:
            self._stack.close()      # the lab: its namespaces, veths and whatever still runs inside
        finally:
            left = tagged_processes(str(self.folder))
            self.left_behind += [_program(pid) for pid in left]
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            for pid in left:         # reap our own children among them; others are init's
                with contextlib.suppress(ChildProcessError, OSError):
                    os.waitpid(pid, 0)
            for group in groups:
                for process in group:
                    process.log.close()
            self.supernodes, self.superlink = {}, None

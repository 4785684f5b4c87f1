"""The ``ip netns`` and ``tc`` commands behind an emulated network, whether labs can be built here, and stale labs.

Every lab (:mod:`reference_impl.network.lab`) is a set of Linux network namespaces named
``<prefix>-<pid>-<n>-...`` after the process that made it. This module runs the commands (each with a
deadline, failures as :class:`NetlabError` naming the command), lists and deletes namespaces (and the
processes left inside them), probes whether a lab can be built (:func:`netlab_available`), and
removes the namespaces of labs whose creating process is gone (:func:`remove_stale`), also from the
command line: ``python -m reference_impl.network.namespaces remove-stale [PREFIX]``.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence

from costmodel.errors import InputError, must

__all__ = [
    "COMMAND_TIMEOUT_S",
    "DEFAULT_PREFIX",
    "NetlabError",
    "check_prefix",
    "delete_namespaces",
    "main",
    "netlab_available",
    "pid_alive",
    "remove_stale",
    "run_batch",
    "run_command",
]

#: Leading part of every namespace name of a lab, unless another prefix is given.
DEFAULT_PREFIX = "ac"
#: The longest any one ``ip``/``tc`` command may take.
COMMAND_TIMEOUT_S = 30.0
_PREFIX_PATTERN = re.compile(r"^[a-z][a-z0-9]{0,7}$")
_NAME_PATTERN = re.compile(r"^(?P<prefix>[a-z][a-z0-9]*)-(?P<pid>\d+)-(?P<run>\d+|probe)-")


class NetlabError(RuntimeError):
    """A lab could not be built or torn down (the message names the command and its complaint)."""


def check_prefix(prefix: object) -> str:
    """``prefix`` if it is 1-8 lowercase letters or digits starting with a letter, else an ``InputError``."""
    if not isinstance(prefix, str) or not _PREFIX_PATTERN.match(prefix):
        raise must("prefix", "be 1-8 lowercase letters or digits starting with a letter", prefix)
    return prefix


def run_command(args: Sequence[str], *, stdin: str | None = None, check: bool = True,
                timeout_s: float = COMMAND_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
    """Run one command with a deadline; a failure (``check``), a missing tool or a timeout is a ``NetlabError``."""
    try:
        done = subprocess.run(list(args), input=stdin, capture_output=True, text=True, timeout=timeout_s,
                              check=False)
    except FileNotFoundError:
        raise NetlabError(f"'{args[0]}' is not installed (needed for {' '.join(args[:3])}).") from None
    except subprocess.TimeoutExpired:
        raise NetlabError(f"'{' '.join(args)}' did not finish within {timeout_s:g} s.") from None
    if check and done.returncode != 0:
        complaint = (done.stderr or done.stdout).strip().splitlines()
        detail = complaint[-1] if complaint else f"exit status {done.returncode}"
        raise NetlabError(f"'{' '.join(args)}' failed: {detail}")
    return done


def run_batch(prefix_args: Sequence[str], lines: Sequence[str]) -> None:
    """Run many ``ip``/``tc`` commands in one process (``-batch -``)."""
    if lines:
        run_command([*prefix_args, "-batch", "-"], stdin="\n".join(lines) + "\n")


def _list_namespaces() -> list[str]:
    done = run_command(["ip", "netns", "list"], check=False)
    return [line.split()[0] for line in done.stdout.splitlines() if line.strip()]


def _namespace_pids(namespace: str) -> list[int]:
    done = run_command(["ip", "netns", "pids", namespace], check=False)
    return [int(token) for token in done.stdout.split() if token.isdigit()]


def _kill_namespace_processes(namespace: str) -> None:
    """SIGKILL what is left inside a namespace this module made (only its own processes live there)."""
    for pid in _namespace_pids(namespace):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def delete_namespaces(namespaces: Sequence[str]) -> list[str]:
    """Delete namespaces (and so their veths); return those that still exist afterwards."""
    present = set(_list_namespaces())
    doomed = [name for name in namespaces if name in present]
    for name in doomed:
        _kill_namespace_processes(name)
    if doomed:
        run_command(["ip", "-force", "-batch", "-"], stdin="".join(f"netns del {n}\n" for n in doomed),
                    check=False)
    remaining = set(_list_namespaces())
    return [name for name in namespaces if name in remaining]


@functools.lru_cache(maxsize=1)
def netlab_available() -> tuple[bool, str]:
    """Whether labs can be built here, and if not, why (one line, for skip messages and the CLI).

    Checks Linux, root, the ``ip`` and ``tc`` tools, and then builds a throw-away namespace with a
    veth pair shaped by tbf, which is what a lab needs, and deletes it.
    """
    if not sys.platform.startswith("linux"):
        return False, f"network namespaces need Linux (this is {sys.platform})"
    if os.geteuid() != 0:
        return False, f"needs root for network namespaces and tc (running as uid {os.geteuid()})"
    for tool in ("ip", "tc"):
        if shutil.which(tool) is None:
            return False, f"'{tool}' (iproute2) is not installed"
    probe = f"{DEFAULT_PREFIX}-{os.getpid()}-probe-{threading.get_ident() % 100000}"
    try:
        run_command(["ip", "netns", "add", probe])
        run_command(["ip", "-n", probe, "link", "add", "p0", "type", "veth", "peer", "name", "p1"])
        run_command(["tc", "-n", probe, "qdisc", "add", "dev", "p0", "root", "tbf", "rate", "8mbit",
                     "burst", "4000", "limit", "100000"])
    except NetlabError as exc:
        return False, f"cannot build a shaped veth in a namespace: {exc}"
    finally:
        delete_namespaces([probe])
    return True, "root, ip netns, veth and tc tbf are available"


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (``kill(pid, 0)``; one owned by another user counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale(prefix: str = DEFAULT_PREFIX) -> tuple[str, ...]:
    """Delete namespaces left by labs whose creating process is gone; return their names.

    A lab's namespaces are named ``<prefix>-<pid>-<n>-...``. Those whose ``pid`` no longer runs
    (a run killed with SIGKILL, a crashed CI job) are deleted with any process still inside them.
    Labs of live processes, this one's included, are left alone.
    """
    check_prefix(prefix)
    stale = []
    for name in _list_namespaces():
        match = _NAME_PATTERN.match(name)
        if match is None or match["prefix"] != prefix:
            continue
        if not pid_alive(int(match["pid"])):
            stale.append(name)
    left = delete_namespaces(stale)
    if left:
        raise NetlabError(f"could not delete stale namespaces {', '.join(left)}.")
    return tuple(stale)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m reference_impl.network.namespaces remove-stale [PREFIX]``: clean up after killed runs."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] != "remove-stale" or len(args) > 2:
        print("usage: python -m reference_impl.network.namespaces remove-stale [PREFIX]", file=sys.stderr)
        return 2
    try:
        removed = remove_stale(*args[1:])
    except (InputError, NetlabError) as exc:
        print(f"netlab: error: {exc}", file=sys.stderr)
        return 2
    print(f"removed {len(removed)} stale namespaces" + (f": {', '.join(removed)}" if removed else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

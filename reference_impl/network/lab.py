"""Emulated links on one machine: network namespaces, veth pairs, a bridge and token-bucket shaping.

The cost model prices every transfer of Astraea (Duan et al., ICCD 2019; TPDS 32(1), 2021) and of
FedAvg with the alpha-beta link model ``latency_s + 8*(W + message_overhead_bytes)/(link_efficiency*b)``.
Its coefficients must come from transfers over real links of known rate, and a 2-core machine has
none, so this module builds them: every host is a Linux network namespace with its own TCP/IP stack,
and every link is a veth pair shaped by the kernel's token-bucket filter (``tc qdisc ... tbf``;
``netem`` is not available in this kernel, so there is no emulated propagation delay).

Topology (our choice: a star around a bridge, so every host can reach every other one)::

        server ns "<run>-srv"          hub ns "<run>-hub"              client ns "<run>-c<i>"
       eth0 10.231.0.1 ----veth---- srv [br0] c<i> ----veth---- eth0 10.231.0.<i+2>
       (tbf: server uplink)      (tbf: server downlink)  (tbf: client downlink)  (tbf: client uplink)

* One namespace for the server, one per client host, and one "hub" namespace holding the bridge
  ``br0``. Each host is joined to the hub by one veth pair and sits in one subnet
  (``10.231.0.0/16`` by default): the server is the first address, client ``i`` the ``i+2``-th.
  Interfaces are created directly inside their namespaces, so nothing of a lab ever exists in the
  machine's own namespace, and no address of a lab is reachable from it or from any other host.
* A client's *uplink* is shaped on the egress of its own ``eth0``; its *downlink* on the egress of
  its bridge port in the hub (the bridge forwarding towards the client). The server's link can be
  shaped the same way (``server_link``), which models ``server_bits_per_s``, the server's link that
  concurrent transfers share. Unshaped by default: the server is then never the bottleneck.
* A bridge rather than point-to-point /30 links: every host is one hop from every other one and all
  interfaces are called ``eth0``, so a ``torch.distributed`` gloo process group (which connects every
  rank to every other rank) starts inside the namespaces unchanged: :meth:`Lab.gloo_env` gives
  ``MASTER_ADDR``, ``MASTER_PORT``, ``RANK``, ``WORLD_SIZE`` and ``GLOO_SOCKET_IFNAME=eth0``. Traffic
  between two clients crosses the sender's uplink and the receiver's downlink, as through a server.
* IPv6 address generation is off on every lab interface (``addrgenmode none``), so no duplicate
  address detection, router solicitation or MLD chatter shares the shaped links with a measurement.

Token-bucket parameters (``tc qdisc add dev X root tbf rate R burst B limit L``):

``burst``
    ``max(2 * 1514, ceil(rate_bytes_per_s * 0.002))`` bytes unless given. It must hold a full
    Ethernet frame (1514 bytes at MTU 1500) or tbf drops the packet; it must hold the tokens that
    accrue while the qdisc waits for its timer (tbf sleeps on a high-resolution timer, so 2 ms of
    tokens cover the wake-up latency of a busy 2-core VM; the old ``rate/HZ`` rule is that bound
    for a 100-1000 Hz tick), or the link runs below its rate. Any more is a gift: a full bucket lets
    the head of a message pass at memory speed and shortens it by ``burst/rate``, which is why a
    "generous" burst skews measured rates at small messages. Back-to-back messages on a persistent
    connection find the bucket nearly empty (it refills only during the acknowledgement gap), so
    this gift stays below ``burst`` bytes per message.
``limit``
    ``ceil(rate_bytes_per_s * queue_latency_s) + burst`` bytes (what tc's ``latency`` option
    computes): the queue that a sender may build before tbf drops. 1 s by default: measured here, a
    2 Mbit/s link with 0.4 s dropped about 40% of the packets of a 1 MB message (TCP recovered, but a
    tail loss costs a retransmission timeout and shows as a +15% outlier), 0.7 s about 1%, 1 s none.
    TCP runs with the host's congestion control (namespaces inherit it; here BBR).

Cleanup: :func:`emulated_network` deletes every namespace it made (and with them every veth) on
normal exit, on an exception and on ``KeyboardInterrupt``; ``atexit`` and SIGTERM/SIGHUP handlers
are the last resort; :func:`remove_stale` removes what a killed (SIGKILL) run left behind.
Namespace names carry the creating process id (``ac-<pid>-<n>-srv``), which is how stale ones are
told from live ones.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import ipaddress
import itertools
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from costmodel.errors import InputError, check_int, check_number, must

__all__ = [
    "DEFAULT_PREFIX",
    "DEFAULT_SUBNET",
    "ETHERNET_FRAME_BYTES",
    "INTERFACE",
    "Host",
    "Lab",
    "LinkSpec",
    "NetlabError",
    "emulated_network",
    "netlab_available",
    "remove_stale",
    "tbf_burst_bytes",
    "tbf_limit_bytes",
]

DEFAULT_PREFIX = "ac"
DEFAULT_SUBNET = "10.231.0.0/16"
#: Every host's interface towards the hub, in its own namespace.
INTERFACE = "eth0"
BRIDGE = "br0"
#: Largest Ethernet frame tbf sees at MTU 1500: 1500 + 14 bytes of Ethernet header.
ETHERNET_FRAME_BYTES = 1514
#: Seconds of tokens a default bucket holds (covers timer wake-up latency, see the module notes).
BURST_TIMER_S = 0.002
_COMMAND_TIMEOUT_S = 30.0
_PREFIX_PATTERN = re.compile(r"^[a-z][a-z0-9]{0,7}$")


class NetlabError(RuntimeError):
    """A lab could not be built or torn down (the message names the command and its complaint)."""


def tbf_burst_bytes(rate_bits_per_s: float) -> int:
    """Default token-bucket depth for a rate: ``max(2*1514, ceil(rate/8 * 0.002))`` bytes."""
    return max(2 * ETHERNET_FRAME_BYTES, math.ceil(rate_bits_per_s / 8.0 * BURST_TIMER_S))


def tbf_limit_bytes(rate_bits_per_s: float, burst_bytes: int, queue_latency_s: float) -> int:
    """Queue limit: ``ceil(rate/8 * queue_latency_s) + burst_bytes`` bytes (tc's ``latency``)."""
    return math.ceil(rate_bits_per_s / 8.0 * queue_latency_s) + burst_bytes


@dataclass(frozen=True, kw_only=True)
class LinkSpec:
    """One host's access link: its two directions, each a token bucket.

    Parameters
    ----------
    uplink_bits_per_s, downlink_bits_per_s
        Nominal rates, bits per second (> 0). ``math.inf`` leaves that direction unshaped.
    burst_bytes
        Token-bucket depth; ``None`` picks :func:`tbf_burst_bytes` for each direction's rate.
    queue_latency_s
        How long a full queue takes to drain at the rate; sets tbf's ``limit``.
    """

    uplink_bits_per_s: float
    downlink_bits_per_s: float
    burst_bytes: int | None = None
    queue_latency_s: float = 1.0

    def __post_init__(self) -> None:
        for name in ("uplink_bits_per_s", "downlink_bits_per_s"):
            value = getattr(self, name)
            if value == math.inf:
                continue
            check_number(name, value, exclusive_minimum=0.0)
            if value < 8_000:
                raise must(name, "be >= 8000 (tc cannot shape slower links sensibly)", value)
        if self.burst_bytes is not None:
            check_int("burst_bytes", self.burst_bytes, minimum=ETHERNET_FRAME_BYTES)
        check_number("queue_latency_s", self.queue_latency_s, exclusive_minimum=0.0, maximum=60.0)

    def tbf_args(self, direction: str) -> list[str] | None:
        """The ``tbf ...`` arguments for ``direction`` ('uplink' or 'downlink'), None if unshaped."""
        rate = self.rate_bits_per_s(direction)
        if rate == math.inf:
            return None
        burst = self.burst_bytes if self.burst_bytes is not None else tbf_burst_bytes(rate)
        limit = tbf_limit_bytes(rate, burst, self.queue_latency_s)
        return ["tbf", "rate", f"{round(rate)}bit", "burst", str(burst), "limit", str(limit)]

    def rate_bits_per_s(self, direction: str) -> float:
        """The nominal rate of 'uplink' or 'downlink'."""
        if direction == "uplink":
            return self.uplink_bits_per_s
        if direction == "downlink":
            return self.downlink_bits_per_s
        raise must("direction", "be 'uplink' or 'downlink'", direction)


@dataclass(frozen=True, kw_only=True)
class Host:
    """One emulated machine: ``name`` is ``server`` or ``client:<index>``."""

    name: str
    index: int | None
    namespace: str
    address: str
    interface: str
    link: LinkSpec | None


# --------------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------------

def _command(args: Sequence[str], *, stdin: str | None = None, check: bool = True,
             timeout_s: float = _COMMAND_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
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


def _batch(prefix_args: Sequence[str], lines: Sequence[str]) -> None:
    """Run many ``ip``/``tc`` commands in one process (``-batch -``)."""
    if lines:
        _command([*prefix_args, "-batch", "-"], stdin="\n".join(lines) + "\n")


def _list_namespaces() -> list[str]:
    done = _command(["ip", "netns", "list"], check=False)
    return [line.split()[0] for line in done.stdout.splitlines() if line.strip()]


def _namespace_pids(namespace: str) -> list[int]:
    done = _command(["ip", "netns", "pids", namespace], check=False)
    return [int(token) for token in done.stdout.split() if token.isdigit()]


def _kill_namespace_processes(namespace: str) -> None:
    """SIGKILL what is left inside a namespace this module made (only its own processes live there)."""
    for pid in _namespace_pids(namespace):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def _delete_namespaces(namespaces: Sequence[str]) -> list[str]:
    """Delete namespaces (and so their veths); return those that still exist afterwards."""
    present = set(_list_namespaces())
    doomed = [name for name in namespaces if name in present]
    for name in doomed:
        _kill_namespace_processes(name)
    if doomed:
        _command(["ip", "-force", "-batch", "-"], stdin="".join(f"netns del {n}\n" for n in doomed),
                 check=False)
    remaining = set(_list_namespaces())
    return [name for name in namespaces if name in remaining]


# --------------------------------------------------------------------------------------------
# Availability and stale labs
# --------------------------------------------------------------------------------------------

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
        _command(["ip", "netns", "add", probe])
        _command(["ip", "-n", probe, "link", "add", "p0", "type", "veth", "peer", "name", "p1"])
        _command(["tc", "-n", probe, "qdisc", "add", "dev", "p0", "root", "tbf", "rate", "8mbit",
                  "burst", "4000", "limit", "100000"])
    except NetlabError as exc:
        return False, f"cannot build a shaped veth in a namespace: {exc}"
    finally:
        _delete_namespaces([probe])
    return True, "root, ip netns, veth and tc tbf are available"


_NAME_PATTERN = re.compile(r"^(?P<prefix>[a-z][a-z0-9]*)-(?P<pid>\d+)-(?P<run>\d+|probe)-")


def _pid_alive(pid: int) -> bool:
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
    if not isinstance(prefix, str) or not _PREFIX_PATTERN.match(prefix):
        raise must("prefix", "be 1-8 lowercase letters or digits starting with a letter", prefix)
    stale = []
    for name in _list_namespaces():
        match = _NAME_PATTERN.match(name)
        if match is None or match["prefix"] != prefix:
            continue
        if not _pid_alive(int(match["pid"])):
            stale.append(name)
    left = _delete_namespaces(stale)
    if left:
        raise NetlabError(f"could not delete stale namespaces {', '.join(left)}.")
    return tuple(stale)


# --------------------------------------------------------------------------------------------
# Last-resort cleanup
# --------------------------------------------------------------------------------------------

_LIVE: dict[int, Lab] = {}
_LIVE_LOCK = threading.RLock()
_RUN_COUNTER = itertools.count()
_PREVIOUS_HANDLERS: dict[int, object] = {}
_LAST_RESORT_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def _teardown_all() -> None:
    with _LIVE_LOCK:
        labs = list(_LIVE.values())
    for lab in labs:
        with contextlib.suppress(Exception):
            lab.teardown()


def _on_signal(signum: int, frame: object) -> None:
    _teardown_all()
    previous = _PREVIOUS_HANDLERS.pop(signum, signal.SIG_DFL)
    signal.signal(signum, previous)  # type: ignore[arg-type]
    if callable(previous):
        previous(signum, frame)
    else:
        os.kill(os.getpid(), signum)


def _install_last_resort() -> None:
    if threading.current_thread() is not threading.main_thread():
        return  # signal handlers can only be set from the main thread; atexit still applies
    for signum in _LAST_RESORT_SIGNALS:
        if signum in _PREVIOUS_HANDLERS:
            continue
        current = signal.getsignal(signum)
        if current in (signal.SIG_IGN, None):
            continue
        _PREVIOUS_HANDLERS[signum] = current
        signal.signal(signum, _on_signal)


def _uninstall_last_resort() -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in list(_PREVIOUS_HANDLERS):
        if signal.getsignal(signum) is _on_signal:
            signal.signal(signum, _PREVIOUS_HANDLERS.pop(signum))  # type: ignore[arg-type]


atexit.register(_teardown_all)


# --------------------------------------------------------------------------------------------
# The lab
# --------------------------------------------------------------------------------------------

class Lab:
    """A running emulated network. Build it with :func:`emulated_network`, not directly.

    Attributes
    ----------
    run_name
        The unique name shared by the lab's namespaces (``<prefix>-<pid>-<n>``).
    server, clients, hosts
        The :class:`Host` records; ``hosts`` is the server followed by the clients.
    hub_namespace
        The namespace holding the bridge.
    """

    def __init__(self, *, run_name: str, server: Host, clients: tuple[Host, ...], hub_namespace: str,
                 subnet: ipaddress.IPv4Network) -> None:
        self.run_name = run_name
        self.server = server
        self.clients = clients
        self.hosts = (server, *clients)
        self.hub_namespace = hub_namespace
        self.subnet = subnet
        self._processes: list[subprocess.Popen[bytes]] = []
        self._lock = threading.RLock()
        self._closed = False

    def __repr__(self) -> str:
        state = "torn down" if self._closed else "up"
        return f"Lab({self.run_name!r}, clients={len(self.clients)}, {state})"

    @property
    def namespaces(self) -> tuple[str, ...]:
        """Every namespace of the lab: hub, server, clients."""
        return (self.hub_namespace, *(host.namespace for host in self.hosts))

    @property
    def closed(self) -> bool:
        return self._closed

    def host(self, key: Host | int | str) -> Host:
        """A host by record, client index, or name (``'server'``, ``'client:3'``)."""
        if isinstance(key, Host):
            if key not in self.hosts:
                raise must("host", f"be a host of lab {self.run_name}", key.name)
            return key
        if isinstance(key, bool):
            raise must("host", "be a Host, a client index or a host name", key)
        if isinstance(key, int):
            if not 0 <= key < len(self.clients):
                raise must("host", f"be a client index in 0..{len(self.clients) - 1}", key)
            return self.clients[key]
        for host in self.hosts:
            if host.name == key:
                return host
        raise must("host", "be a Host, a client index or a host name", key)

    def exec_args(self, host: Host | int | str, *command: str) -> list[str]:
        """The argument list that runs ``command`` inside the host's namespace."""
        if not command:
            raise must("command", "name a program to run", command)
        return ["ip", "netns", "exec", self.host(host).namespace, *command]

    def popen(self, host: Host | int | str, *command: str, **popen_kwargs: object) -> subprocess.Popen[bytes]:
        """Start ``command`` inside the host's namespace; :meth:`teardown` ends it if still running.

        ``ip netns exec`` execs the command in place, so the returned process *is* the command
        (its pid is the command's pid, and signals reach it directly).
        """
        self._check_open()
        process = subprocess.Popen(self.exec_args(host, *command), **popen_kwargs)  # type: ignore[call-overload]
        with self._lock:
            self._processes.append(process)
        return process

    def run(self, host: Host | int | str, *command: str, timeout_s: float = _COMMAND_TIMEOUT_S,
            check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``command`` inside the host's namespace to completion (text output captured).

        Raises :class:`NetlabError` if it fails (``check``) or outlives ``timeout_s``.
        """
        self._check_open()
        return _command(self.exec_args(host, *command), check=check, timeout_s=timeout_s)

    def gloo_env(self, host: Host | int | str, *, rank: int, world_size: int, port: int) -> dict[str, str]:
        """Environment for a ``torch.distributed`` (gloo, ``init_method='env://'``) rank on ``host``.

        The rendezvous store listens on the server's address; every rank binds its ``eth0``.
        """
        check_int("rank", rank, minimum=0, maximum=world_size - 1)
        check_int("port", port, minimum=1, maximum=65535)
        self.host(host)
        return {
            "MASTER_ADDR": self.server.address,
            "MASTER_PORT": str(port),
            "RANK": str(rank),
            "WORLD_SIZE": str(world_size),
            "GLOO_SOCKET_IFNAME": INTERFACE,
        }

    def teardown(self) -> None:
        """End the lab's processes and delete its namespaces (and so its veths). Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            processes, self._processes = self._processes, []
        try:
            for process in processes:
                if process.poll() is None:
                    with contextlib.suppress(ProcessLookupError):
                        process.terminate()
            for process in processes:
                try:
                    process.wait(timeout=2.0)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        process.kill()
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        process.wait(timeout=2.0)
            left = _delete_namespaces(self.namespaces)
        finally:
            with _LIVE_LOCK:
                _LIVE.pop(id(self), None)
                if not _LIVE:
                    _uninstall_last_resort()
        if left:
            raise NetlabError(f"could not delete namespaces {', '.join(left)}; "
                              f"run remove_stale({self.run_name.split('-')[0]!r}) to retry.")

    def _check_open(self) -> None:
        if self._closed:
            raise NetlabError(f"lab {self.run_name} is torn down.")


def _build(lab: Lab, server_link: LinkSpec | None) -> None:
    hub = lab.hub_namespace
    _batch(["ip"], [f"netns add {ns}" for ns in lab.namespaces])
    # veths are born inside their namespaces: nothing ever appears in the machine's own namespace.
    ports = {}
    veth_lines = []
    for host in lab.hosts:
        port = "srv" if host.index is None else f"c{host.index}"
        ports[host.name] = port
        veth_lines.append(f"link add {INTERFACE} netns {host.namespace} type veth peer name {port} netns {hub}")
    _batch(["ip"], veth_lines)
    hub_lines = [f"link add {BRIDGE} type bridge", f"link set {BRIDGE} addrgenmode none",
                 f"link set {BRIDGE} up", "link set lo up"]
    for port in ports.values():
        hub_lines += [f"link set {port} master {BRIDGE}", f"link set {port} addrgenmode none",
                      f"link set {port} up"]
    _batch(["ip", "-n", hub], hub_lines)
    prefix_length = lab.subnet.prefixlen
    hub_tc = []
    for host in lab.hosts:
        _batch(["ip", "-n", host.namespace], [
            "link set lo up",
            f"link set {INTERFACE} addrgenmode none",
            f"addr add {host.address}/{prefix_length} dev {INTERFACE}",
            f"link set {INTERFACE} up",
        ])
        link = host.link if host.index is not None else server_link
        if link is None:
            continue
        up = link.tbf_args("uplink")
        if up is not None:
            _batch(["tc", "-n", host.namespace], [f"qdisc add dev {INTERFACE} root {' '.join(up)}"])
        down = link.tbf_args("downlink")
        if down is not None:
            hub_tc.append(f"qdisc add dev {ports[host.name]} root {' '.join(down)}")
    _batch(["tc", "-n", hub], hub_tc)
    _wait_until_up(lab, list(ports.values()))


def _wait_until_up(lab: Lab, hub_ports: Sequence[str], timeout_s: float = 10.0) -> None:
    """Wait until every lab interface is operationally up (carrier changes settle asynchronously)."""
    deadline = time.monotonic() + timeout_s
    pending = [(host.namespace, INTERFACE) for host in lab.hosts]
    pending += [(lab.hub_namespace, port) for port in hub_ports]
    while pending:
        pending = [(ns, dev) for ns, dev in pending
                   if "state UP" not in _command(["ip", "-n", ns, "-o", "link", "show", "dev", dev],
                                                 check=False).stdout]
        if not pending:
            return
        if time.monotonic() > deadline:
            names = ", ".join(f"{ns}/{dev}" for ns, dev in pending[:4])
            raise NetlabError(f"interfaces did not come up within {timeout_s:g} s: {names}.")
        time.sleep(0.05)


@contextlib.contextmanager
def emulated_network(num_hosts: int, links: Sequence[LinkSpec], *, server_link: LinkSpec | None = None,
                     prefix: str = DEFAULT_PREFIX, subnet: str = DEFAULT_SUBNET) -> Iterator[Lab]:
    """Build a lab of one server and ``num_hosts`` client hosts; delete all of it on exit.

    Parameters
    ----------
    num_hosts
        Client hosts (>= 1).
    links
        One :class:`LinkSpec` per client host, or a single one shared by all.
    server_link
        The server's own access link; ``None`` leaves it unshaped.
    prefix
        Leading part of every namespace name (``<prefix>-<pid>-<n>-...``), 1-8 lowercase letters or
        digits; :func:`remove_stale` takes the same prefix.
    subnet
        IPv4 subnet of the lab (private to its namespaces); it must hold ``num_hosts + 1`` hosts.

    Yields
    ------
    Lab
        The running lab. Needs root; check :func:`netlab_available` first.
    """
    num_hosts = check_int("num_hosts", num_hosts, minimum=1, maximum=4000)
    if isinstance(links, LinkSpec):
        links = [links]
    links = list(links)
    if len(links) == 1:
        links = links * num_hosts
    if len(links) != num_hosts:
        raise must("links", f"hold 1 or num_hosts={num_hosts} LinkSpecs", f"{len(links)} LinkSpecs")
    for position, link in enumerate(links):
        if not isinstance(link, LinkSpec):
            raise must(f"links[{position}]", "be a LinkSpec", link)
    if server_link is not None and not isinstance(server_link, LinkSpec):
        raise must("server_link", "be a LinkSpec or None", server_link)
    if not isinstance(prefix, str) or not _PREFIX_PATTERN.match(prefix):
        raise must("prefix", "be 1-8 lowercase letters or digits starting with a letter", prefix)
    try:
        network = ipaddress.IPv4Network(subnet)
    except (ValueError, TypeError):
        raise must("subnet", "be an IPv4 subnet such as '10.231.0.0/16'", subnet) from None
    if network.num_addresses - 2 < num_hosts + 1:
        raise must("subnet", f"hold {num_hosts + 1} host addresses", subnet)
    ok, reason = netlab_available()
    if not ok:
        raise NetlabError(f"cannot build an emulated network: {reason}.")

    run_name = f"{prefix}-{os.getpid()}-{next(_RUN_COUNTER)}"
    base = network.network_address
    server = Host(name="server", index=None, namespace=f"{run_name}-srv", address=str(base + 1),
                  interface=INTERFACE, link=server_link)
    clients = tuple(
        Host(name=f"client:{i}", index=i, namespace=f"{run_name}-c{i}", address=str(base + 2 + i),
             interface=INTERFACE, link=links[i])
        for i in range(num_hosts)
    )
    lab = Lab(run_name=run_name, server=server, clients=clients, hub_namespace=f"{run_name}-hub",
              subnet=network)
    with _LIVE_LOCK:
        _LIVE[id(lab)] = lab
        _install_last_resort()
    try:
        _build(lab, server_link)
        yield lab
    finally:
        lab.teardown()


def _main(argv: Sequence[str] | None = None) -> int:
    """``python -m reference_impl.netlab remove-stale [PREFIX]``: clean up after killed runs."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] != "remove-stale" or len(args) > 2:
        print("usage: python -m reference_impl.netlab remove-stale [PREFIX]", file=sys.stderr)
        return 2
    try:
        removed = remove_stale(*args[1:])
    except (InputError, NetlabError) as exc:
        print(f"netlab: error: {exc}", file=sys.stderr)
        return 2
    print(f"removed {len(removed)} stale namespaces" + (f": {', '.join(removed)}" if removed else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())

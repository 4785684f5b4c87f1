"""An emulated network on one machine: network namespaces, veth pairs, a bridge and shaped links.

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

How each link is shaped (tbf's rate, burst and queue limit) is :mod:`reference_impl.network.links`.

Cleanup: :func:`emulated_network` deletes every namespace it made (and with them every veth) on
normal exit, on an exception and on ``KeyboardInterrupt``; ``atexit`` and SIGTERM/SIGHUP handlers
are the last resort; :func:`~reference_impl.network.namespaces.remove_stale` removes what a killed
(SIGKILL) run left behind. Namespace names carry the creating process id (``ac-<pid>-<n>-srv``),
which is how stale ones are told from live ones.
"""

from __future__ import annotations

import atexit
import contextlib
import ipaddress
import itertools
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from costmodel.errors import check_int, must
from reference_impl.network.links import LinkSpec
from reference_impl.network.namespaces import (
    COMMAND_TIMEOUT_S,
    DEFAULT_PREFIX,
    NetlabError,
    check_prefix,
    delete_namespaces,
    netlab_available,
    run_batch,
    run_command,
)

__all__ = ["BRIDGE", "DEFAULT_SUBNET", "INTERFACE", "Host", "Lab", "emulated_network"]

DEFAULT_SUBNET = "10.231.0.0/16"
#: Every host's interface towards the hub, in its own namespace.
INTERFACE = "eth0"
BRIDGE = "br0"


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

    def run(self, host: Host | int | str, *command: str, timeout_s: float = COMMAND_TIMEOUT_S,
            check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``command`` inside the host's namespace to completion (text output captured).

        Raises :class:`NetlabError` if it fails (``check``) or outlives ``timeout_s``.
        """
        self._check_open()
        return run_command(self.exec_args(host, *command), check=check, timeout_s=timeout_s)

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
            left = delete_namespaces(self.namespaces)
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
    run_batch(["ip"], [f"netns add {ns}" for ns in lab.namespaces])
    # veths are born inside their namespaces: nothing ever appears in the machine's own namespace.
    ports = {}
    veth_lines = []
    for host in lab.hosts:
        port = "srv" if host.index is None else f"c{host.index}"
        ports[host.name] = port
        veth_lines.append(f"link add {INTERFACE} netns {host.namespace} type veth peer name {port} netns {hub}")
    run_batch(["ip"], veth_lines)
    hub_lines = [f"link add {BRIDGE} type bridge", f"link set {BRIDGE} addrgenmode none",
                 f"link set {BRIDGE} up", "link set lo up"]
    for port in ports.values():
        hub_lines += [f"link set {port} master {BRIDGE}", f"link set {port} addrgenmode none",
                      f"link set {port} up"]
    run_batch(["ip", "-n", hub], hub_lines)
    prefix_length = lab.subnet.prefixlen
    hub_tc = []
    for host in lab.hosts:
        run_batch(["ip", "-n", host.namespace], [
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
            run_batch(["tc", "-n", host.namespace], [f"qdisc add dev {INTERFACE} root {' '.join(up)}"])
        down = link.tbf_args("downlink")
        if down is not None:
            hub_tc.append(f"qdisc add dev {ports[host.name]} root {' '.join(down)}")
    run_batch(["tc", "-n", hub], hub_tc)
    _wait_until_up(lab, list(ports.values()))


def _wait_until_up(lab: Lab, hub_ports: Sequence[str], timeout_s: float = 10.0) -> None:
    """Wait until every lab interface is operationally up (carrier changes settle asynchronously)."""
    deadline = time.monotonic() + timeout_s
    pending = [(host.namespace, INTERFACE) for host in lab.hosts]
    pending += [(lab.hub_namespace, port) for port in hub_ports]
    while pending:
        pending = [(ns, dev) for ns, dev in pending
                   if "state UP" not in run_command(["ip", "-n", ns, "-o", "link", "show", "dev", dev],
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
    check_prefix(prefix)
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

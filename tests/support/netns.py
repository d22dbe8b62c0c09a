"""Separate hosts on one machine for multi-node tests: each node in its own network namespace, joined to
the test's host namespace by a veth pair on a private bridge; PostgreSQL listens on the bridge address.

A node then reaches the database only over its veth (as over a LAN), its API only on its own address, and
its loopback is its own. Needs root and `ip` (iproute2); `Hosts.create` raises `Unavailable` with the
reason when either is missing, and the tests fall back to plain processes on 127.0.0.1.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from tests.support import postgres
from tests.support.server import LambdaliteProcess


class Unavailable(Exception):
    """Network namespaces cannot be made here (not root, no iproute2, no kernel support)."""


def _ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise Unavailable(f"ip {' '.join(args)}: {done.stderr.strip()}")


class Hosts:
    """A bridge `llt<k>` at 10.199.<k>.1/24 and up to 200 namespaces `llt<k>-<i>` at 10.199.<k>.<10+i>."""

    def __init__(self) -> None:
        self.k = os.getpid() % 200 + 1  # one subnet per test process (xdist workers run side by side)
        self.bridge = f"llt{self.k}"
        self.gateway = f"10.199.{self.k}.1"
        self.names: list[str] = []

    @classmethod
    def create(cls) -> Hosts:
        if os.geteuid() != 0:
            raise Unavailable("network namespaces need root")
        if shutil.which("ip") is None:
            raise Unavailable("iproute2 (`ip`) is not installed")
        hosts = cls()
        hosts._cleanup_leftovers()
        try:
            _ip("link", "add", hosts.bridge, "type", "bridge")
            _ip("addr", "add", f"{hosts.gateway}/24", "dev", hosts.bridge)
            _ip("link", "set", hosts.bridge, "up")
        except Unavailable:
            hosts.destroy()
            raise
        return hosts

    def add(self) -> str:
        """A new namespace (a host) on the bridge: its address."""
        i = len(self.names)
        name, veth, address = f"{self.bridge}-{i}", f"{self.bridge}h{i}", f"10.199.{self.k}.{10 + i}"
        self.names.append(name)
        _ip("netns", "add", name)
        _ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", name)
        _ip("link", "set", veth, "master", self.bridge, "up")
        _ip("-n", name, "addr", "add", f"{address}/24", "dev", "eth0")
        _ip("-n", name, "link", "set", "eth0", "up")
        _ip("-n", name, "link", "set", "lo", "up")
        return address

    def destroy(self) -> None:
        for name in self.names:
            subprocess.run(["ip", "netns", "del", name], capture_output=True)  # takes its veth end along
        self.names.clear()
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)

    def _cleanup_leftovers(self) -> None:
        """Namespaces and the bridge of a killed earlier run of this same pid number."""
        listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split()
        for name in listed:
            if name.startswith(f"{self.bridge}-"):
                subprocess.run(["ip", "netns", "del", name], capture_output=True)
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)


class BridgedPostgres(postgres.PrivateServer):
    """A private PostgreSQL that also listens on the bridge and trusts the namespaces' subnet."""

    def __init__(self, hosts: Hosts | None) -> None:
        super().__init__()
        self.host = hosts.gateway if hosts else "127.0.0.1"
        self.subnet = f"10.199.{hosts.k}.0/24" if hosts else "127.0.0.1/32"
        self._options = self._options.replace("listen_addresses=127.0.0.1", f"listen_addresses=127.0.0.1,{self.host}")

    def restart(self) -> None:
        hba = self.data / "pg_hba.conf"
        line = f"host all all {self.subnet} trust\n"
        if line not in hba.read_text():
            with open(hba, "a") as f:  # pg_hba.conf is the postgres user's; root appends
                f.write(line)
        super().restart()

    def url(self, database: str) -> str:
        return f"postgresql://{postgres.USER}@{self.host}:{self.port}/{database}"


def node(data_dir: Path, *, netns: str | None, address: str, **kwargs: Any) -> LambdaliteProcess:
    """A lambdalite process inside namespace `netns` (None: a plain process), serving on `address`."""
    prefix = ["ip", "netns", "exec", netns] if netns is not None else []
    return LambdaliteProcess(data_dir, host=address, prefix=prefix, **kwargs)

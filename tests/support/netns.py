"""Network namespaces for the multi-host tests: a hub and its hosts on one machine, real
TCP between them (CI runs as root; `ip` from iproute2).

The hub's namespace is the middle of a star: one veth pair to each host's namespace and
one to the test's own (where the local Discord listens), each its own /24, so no bridge
and no forwarding is needed. Names are unique per test; `close` removes them all.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
from dataclasses import dataclass, field


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


def netns_available() -> str:
    """Why namespaces cannot be made here ("" when they can)."""
    if shutil.which("ip") is None:
        return "`ip` (iproute2) is not installed"
    probe = f"vmh-probe-{secrets.token_hex(3)}"
    done = ip("netns", "add", probe, check=False)
    if done.returncode != 0:
        return f"cannot make a network namespace: {done.stderr.strip()}"
    ip("netns", "del", probe, check=False)
    return ""


@dataclass
class Star:
    """The hub's namespace and one per host; `address[name]` is how the hub reaches it."""

    tag: str = field(default_factory=lambda: secrets.token_hex(3))
    octet: int = field(default_factory=lambda: 100 + secrets.randbelow(150))
    namespaces: dict[str, str] = field(default_factory=dict)  # role -> netns name
    hub_side: dict[str, str] = field(default_factory=dict)  # role -> the hub's veth to it
    hub_address: dict[str, str] = field(default_factory=dict)  # role -> hub's IP there
    outside: str = ""  # the test's end of the link to the hub
    outside_address: str = ""

    def __post_init__(self) -> None:
        self.namespaces["hub"] = f"vmh-{self.tag}-hub"
        ip("netns", "add", self.namespaces["hub"])
        ip("-n", self.namespaces["hub"], "link", "set", "lo", "up")

    def add_host(self, role: str, index: int) -> None:
        netns = f"vmh-{self.tag}-{role}"
        ip("netns", "add", netns)
        self.namespaces[role] = netns
        ip("-n", netns, "link", "set", "lo", "up")
        hub_end, host_end = f"vh{self.tag}{index}h", f"vh{self.tag}{index}x"
        ip("link", "add", hub_end, "type", "veth", "peer", "name", host_end)
        ip("link", "set", hub_end, "netns", self.namespaces["hub"])
        ip("link", "set", host_end, "netns", netns)
        net = f"10.{self.octet}.{index}"
        ip("-n", self.namespaces["hub"], "addr", "add", f"{net}.1/24", "dev", hub_end)
        ip("-n", netns, "addr", "add", f"{net}.2/24", "dev", host_end)
        ip("-n", self.namespaces["hub"], "link", "set", hub_end, "up")
        ip("-n", netns, "link", "set", host_end, "up")
        self.hub_side[role] = hub_end
        self.hub_address[role] = f"{net}.1"

    def link_outside(self, index: int = 9) -> str:
        """A link from the test's namespace to the hub's; returns the test's address."""
        hub_end, here = f"vh{self.tag}{index}h", f"vh{self.tag}{index}x"
        ip("link", "add", hub_end, "type", "veth", "peer", "name", here)
        ip("link", "set", hub_end, "netns", self.namespaces["hub"])
        net = f"10.{self.octet}.{index}"
        ip("-n", self.namespaces["hub"], "addr", "add", f"{net}.1/24", "dev", hub_end)
        ip("addr", "add", f"{net}.2/24", "dev", here)
        ip("-n", self.namespaces["hub"], "link", "set", hub_end, "up")
        ip("link", "set", here, "up")
        self.outside, self.outside_address = here, f"{net}.2"
        self.hub_address["outside"] = f"{net}.1"
        return self.outside_address

    def set_link(self, role: str, up: bool) -> None:
        """Cut (or restore) the wire between the hub and `role`'s host."""
        ip("-n", self.namespaces["hub"], "link", "set", self.hub_side[role], "up" if up else "down")

    def prefix(self, role: str) -> list[str]:
        """The command prefix that runs a program in `role`'s namespace."""
        return ["ip", "netns", "exec", self.namespaces[role]]

    def close(self) -> None:
        if self.outside:
            ip("link", "del", self.outside, check=False)  # its peer goes with it
        for netns in self.namespaces.values():
            ip("netns", "del", netns, check=False)  # its veths go with it

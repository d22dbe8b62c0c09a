"""Who is on the other end of a loopback TCP connection: the owner uid of the peer's socket.

SO_PEERCRED exists only for Unix sockets, and AWS's runtime clients speak TCP to AWS_LAMBDA_RUNTIME_API.
The kernel's sock_diag netlink interface looks up one socket by its address pair in O(1) and reports the
uid that created it; a sandboxed environment runs as its own uid (sandbox.py), so the Runtime API can
refuse every connection that is not its own environment's. One lookup per accepted connection, none per
request (runtimes keep one connection alive).
"""

from __future__ import annotations

import socket
import struct

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST = 1
NO_COOKIE = 0xFFFFFFFF
ALL_STATES = 0xFFFFFFFF
NLMSG_HEADER = struct.Struct("=IHHII")  # length, type, flags, sequence, port id
# inet_diag_msg: family, state, timer, retrans, then the 48-byte socket id, expires, rqueue, wqueue, uid
UID_OFFSET = NLMSG_HEADER.size + 4 + 48 + 12


def _address(host: str) -> bytes:
    if ":" in host:
        return socket.inet_pton(socket.AF_INET6, host)
    return socket.inet_aton(host) + bytes(12)


def tcp_socket_uid(local: tuple[str, int], remote: tuple[str, int]) -> int | None:
    """The uid owning the TCP socket bound to `local` and connected to `remote` (None: not found)."""
    family = socket.AF_INET6 if ":" in local[0] else socket.AF_INET
    sock_id = (struct.pack("!HH", local[1], remote[1]) + _address(local[0]) + _address(remote[0])
               + struct.pack("=III", 0, NO_COOKIE, NO_COOKIE))
    request = struct.pack("=BBBBI", family, socket.IPPROTO_TCP, 0, 0, ALL_STATES) + sock_id
    message = NLMSG_HEADER.pack(NLMSG_HEADER.size + len(request), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST, 1, 0)
    try:
        with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_SOCK_DIAG) as link:
            link.send(message + request)
            answer = link.recv(4096)
    except OSError:
        return None
    if len(answer) < UID_OFFSET + 4 or NLMSG_HEADER.unpack_from(answer)[1] != SOCK_DIAG_BY_FAMILY:
        return None  # NLMSG_ERROR: no such socket (it already closed)
    uid: int = struct.unpack_from("=I", answer, UID_OFFSET)[0]
    return uid

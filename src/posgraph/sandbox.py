"""Run a command with outgoing network connections denied: ``python -m posgraph.sandbox -- COMMAND [ARG...]``.

A seccomp filter (built with pyseccomp over the system's libseccomp) makes ``connect()`` fail with EPERM, and
refuses the other ways a process can reach out without it (a datagram or raw packet sent to an address, TCP Fast
Open, io_uring); then the command replaces this process (same pid), inheriting the filter, which it cannot undo.
Listening on and answering accepted connections still work. The managed engines run this way, so a SPARQL
``SERVICE`` or ``LOAD`` that reaches an engine cannot read the other engine or anything else on the network.

Exit codes (before the command runs): 2 usage, 70 the filter could not be applied (the message says why).
"""

from __future__ import annotations

import errno
import os
import socket
import sys

__all__ = ["SandboxUnavailable", "check_available", "deny_egress", "command", "main", "DISABLE_HINT"]

DISABLE_HINT = "set POSGRAPH_ENGINE_SANDBOX=false to run the engines without it"
_EXIT_USAGE, _EXIT_UNAVAILABLE = 2, 70
_MSG_FASTOPEN = 0x20000000  # linux/socket.h; not exported by Python's socket module


class SandboxUnavailable(Exception):
    """The seccomp filter cannot be built or applied here (no libseccomp, or a kernel without seccomp)."""


def _seccomp():
    try:
        import pyseccomp
    except (ImportError, RuntimeError, OSError) as exc:  # pyseccomp raises RuntimeError when libseccomp is absent
        raise SandboxUnavailable(f"libseccomp is not available ({exc})") from None
    return pyseccomp


def _build_filter():
    seccomp = _seccomp()
    try:
        rules = seccomp.SyscallFilter(seccomp.ALLOW)
        deny = seccomp.ERRNO(errno.EPERM)
        rules.add_rule(deny, "connect")
        # A destination address on send* reaches out without connect(): a datagram, or TCP Fast Open.
        rules.add_rule(deny, "sendto", seccomp.Arg(4, seccomp.NE, 0))
        for call, flags in (("sendto", 3), ("sendmsg", 2), ("sendmmsg", 3)):
            rules.add_rule(deny, call, seccomp.Arg(flags, seccomp.MASKED_EQ, _MSG_FASTOPEN, _MSG_FASTOPEN))
        # Datagram, raw and packet sockets can address other hosts through sendmsg, whose address seccomp cannot
        # see: the engine needs none of them (it only listens on TCP).
        for kind in (socket.SOCK_DGRAM, socket.SOCK_RAW):
            rules.add_rule(deny, "socket", seccomp.Arg(1, seccomp.MASKED_EQ, 0xF, kind))
        rules.add_rule(deny, "socket", seccomp.Arg(0, seccomp.EQ, socket.AF_PACKET))
        # io_uring performs connect and send without the system calls above, out of seccomp's sight.
        rules.add_rule(deny, "io_uring_setup")
    except OSError as exc:
        raise SandboxUnavailable(f"the seccomp filter cannot be built ({exc})") from None
    return rules


def check_available() -> None:
    """Return None if the filter can be built here; raise SandboxUnavailable (with the reason) if not."""
    _build_filter()


def deny_egress() -> None:
    """Apply the filter to this process and every process it later starts or becomes (it cannot be removed).

    Raises SandboxUnavailable when libseccomp is missing or the kernel refuses the filter.
    """
    rules = _build_filter()
    try:
        rules.load()
    except OSError as exc:
        raise SandboxUnavailable(f"the kernel refused the seccomp filter ({exc})") from None


def command(argv: list[str]) -> list[str]:
    """Return the command line that runs ``argv`` inside the sandbox, with this Python."""
    return [sys.executable, "-m", "posgraph.sandbox", "--", *argv]


def main(argv: list[str] | None = None) -> int:
    """Apply the filter and exec the command after ``--``; return an exit code only if that cannot happen."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--"]:
        args = args[1:]
    if not args:
        print("usage: python -m posgraph.sandbox -- COMMAND [ARG...]", file=sys.stderr)
        return _EXIT_USAGE
    try:
        deny_egress()
    except SandboxUnavailable as exc:
        # Starts with "Error" so the supervisor quotes it when the engine does not come up.
        print(f"Error: the engine sandbox cannot be applied: {exc}; {DISABLE_HINT}", file=sys.stderr, flush=True)
        return _EXIT_UNAVAILABLE
    try:
        os.execv(args[0], args)
    except OSError as exc:
        print(f"Error: cannot run {args[0]}: {exc.strerror or exc}", file=sys.stderr, flush=True)
        return 127
    return 0  # not reached: execv replaced this process


if __name__ == "__main__":
    sys.exit(main())

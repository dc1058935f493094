"""Add a seccomp filter to this process, then replace it with the command in its arguments.

Usage, inside a sandbox: python3 -I -S confine.py COMMAND [ARGUMENT ...]

This file runs with the sandbox image's Python and the standard library only; the host
sends its text with ``python3 -c``. Docker's default seccomp profile stays in force, and
the filter added here is stacked on it, so it can only reject more calls. It rejects:

- sockets of any family but unix, IPv4, IPv6 and netlink. With ``network_mode=none`` an
  IP socket reaches only the container's own loopback, but a vsock socket reaches the
  hypervisor of a virtual machine whatever the container's network is.
- io_uring, whose operations do not pass through seccomp, so that it cannot open the
  sockets rejected above.

The filter is inherited by every child and cannot be removed. If it cannot be added,
the command does not run.
"""

import ctypes
import errno
import os
import sys

LIBRARY = "libseccomp.so.2"
ACTION_ALLOW = 0x7FFF0000
ACTION_ERRNO = 0x00050000
COMPARE_EQUAL = 4
COMPARE_AT_LEAST = 5
KEPT_FAMILIES = (1, 2, 10, 16)
"""AF_UNIX, AF_INET, AF_INET6 and AF_NETLINK."""
FIRST_REJECTED_FAMILY = 17
URING_CALLS = ("io_uring_setup", "io_uring_enter", "io_uring_register")
EXIT_NOT_CONFINED = 126


class ArgumentCheck(ctypes.Structure):
    """libseccomp's ``struct scmp_arg_cmp``."""

    _fields_ = [
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    ]


def load_library() -> ctypes.CDLL:
    library = ctypes.CDLL(LIBRARY)
    library.seccomp_init.restype = ctypes.c_void_p
    library.seccomp_init.argtypes = [ctypes.c_uint32]
    library.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    library.seccomp_rule_add_array.argtypes = [
        ctypes.c_void_p,
        ctypes.c_uint32,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.POINTER(ArgumentCheck),
    ]
    library.seccomp_load.argtypes = [ctypes.c_void_p]
    library.seccomp_release.argtypes = [ctypes.c_void_p]
    return library


def syscall_number(library: ctypes.CDLL, name: str) -> int:
    number = library.seccomp_syscall_resolve_name(name.encode())
    if number < 0:
        raise OSError(f"system call {name} not found in libseccomp's table for this machine")
    return number


def reject(library, context, number: int, code: int, checks: list[ArgumentCheck]) -> None:
    array = (ArgumentCheck * len(checks))(*checks)
    result = library.seccomp_rule_add_array(
        context, ACTION_ERRNO | code, number, len(checks), array
    )
    if result != 0:
        raise OSError(-result, f"seccomp_rule_add_array failed for system call {number}")


def add_filter() -> None:
    library = load_library()
    context = library.seccomp_init(ACTION_ALLOW)
    if not context:
        raise OSError("seccomp_init failed")
    try:
        socket_call = syscall_number(library, "socket")
        rejected = [f for f in range(FIRST_REJECTED_FAMILY) if f not in KEPT_FAMILIES]
        for family in rejected:
            check = ArgumentCheck(0, COMPARE_EQUAL, family, 0)
            reject(library, context, socket_call, errno.EAFNOSUPPORT, [check])
        # Any family number from 17 up, which also catches values with high bits set.
        check = ArgumentCheck(0, COMPARE_AT_LEAST, FIRST_REJECTED_FAMILY, 0)
        reject(library, context, socket_call, errno.EAFNOSUPPORT, [check])
        for name in URING_CALLS:
            reject(library, context, syscall_number(library, name), errno.ENOSYS, [])

        result = library.seccomp_load(context)
        if result != 0:
            raise OSError(-result, "seccomp_load failed")
    finally:
        library.seccomp_release(context)


def main() -> int:
    if len(sys.argv) < 2:
        print("usage: confine.py COMMAND [ARGUMENT ...]", file=sys.stderr)
        return EXIT_NOT_CONFINED
    try:
        add_filter()
    except OSError as error:
        print(f"evolarium: cannot add the sandbox's seccomp filter: {error}", file=sys.stderr)
        return EXIT_NOT_CONFINED
    try:
        os.execvp(sys.argv[1], sys.argv[1:])
    except OSError as error:
        print(f"evolarium: cannot run {sys.argv[1]}: {error}", file=sys.stderr)
        return 127 if error.errno == errno.ENOENT else EXIT_NOT_CONFINED


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Starts a lab host's daemon (libvirtd --daemon) under a reaper of its orphans.

libvirtd and the QEMUs it starts detach from their parents; orphans go to the nearest child
subreaper, else to PID 1. Where PID 1 reaps orphans only every few seconds (some container
inits do), an exited QEMU stays a zombie that long and libvirt waits for it on every destroy,
shutdown and finished migration; a host's service manager reaps at once. This process is that
service manager for the lab: a subreaper that reaps as soon as a child exits, and exits itself
when none is left. The caller gets the command's own exit status (libvirtd --daemon reports
whether the daemon started).

Usage: reaper.py COMMAND [ARG...]
"""
import ctypes
import os
import sys

PR_SET_CHILD_SUBREAPER = 36


def main() -> None:
    status_read, status_write = os.pipe()
    if os.fork():
        # The caller's side: exit with the command's status once the reaper reports it.
        os.close(status_write)
        status = os.read(status_read, 16)
        sys.exit(int(status) if status else 1)
    os.close(status_read)
    os.setsid()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        os.write(2, f"reaper: prctl failed: {os.strerror(ctypes.get_errno())}\n".encode())
        os.write(status_write, b"1")
        os._exit(1)
    command = os.fork()
    if command == 0:
        os.close(status_write)
        try:
            os.execvp(sys.argv[1], sys.argv[1:])
        except OSError as err:
            os.write(2, f"reaper: cannot run {sys.argv[1]}: {err}\n".encode())
            os._exit(127)
    _, raw = os.waitpid(command, 0)
    os.write(status_write, str(os.waitstatus_to_exitcode(raw)).encode())
    os.close(status_write)
    # From here on nobody reads our output: keep no pipe of the caller open.
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    while True:
        try:
            os.wait()
        except ChildProcessError:
            return
        except InterruptedError:
            continue


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.stderr.write(__doc__)
        sys.exit(2)
    main()

"""The sandbox's seccomp filter, compiled by libseccomp (through pyseccomp) and handed to
bwrap: a deny list of system calls that untrusted test code has no use for and that reach
the kernel's riskier or host-wide parts. Everything else is allowed (Python needs a wide
set; an allow list would break with each interpreter release).
"""

from __future__ import annotations

import errno
import functools
import os
import tempfile

DENIED = (
    # SysV IPC: objects outlive their creator and escape the address-space limit
    "shmget", "shmat", "msgget", "semget",
    # looking into or controlling other processes
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
    # namespaces, mounts, the file system root
    "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree", "fsopen",
    "fsmount", "fspick", "mount_setattr", "open_by_handle_at", "name_to_handle_at",
    # kernel surfaces with a history of exploits
    "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
    "keyctl", "add_key", "request_key", "fanotify_init",
    # host-wide state
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "reboot", "swapon",
    "swapoff", "acct", "syslog", "settimeofday", "clock_settime", "adjtimex", "quotactl", "iopl", "ioperm",
    "personality",
)


@functools.lru_cache(maxsize=1)
def seccomp_filter() -> bytes | None:
    """The compiled BPF program (None when pyseccomp or libseccomp is missing)."""
    try:
        import pyseccomp as sc

        f = sc.SyscallFilter(sc.ALLOW)
        for name in DENIED:
            try:
                f.add_rule(sc.ERRNO(errno.EPERM), name)
            except (OSError, ValueError, RuntimeError):  # a call this kernel/architecture does not have
                pass
        with tempfile.TemporaryFile() as t:
            f.export_bpf(t)
            t.seek(0)
            return t.read()
    except Exception:  # ImportError, or libseccomp.so missing or failing (pyseccomp raises plain errors)
        return None


def seccomp_fd() -> int | None:
    """A fresh readable fd holding the filter, for bwrap's --seccomp (it reads it once)."""
    bpf = seccomp_filter()
    if bpf is None:
        return None
    r, w = os.pipe()
    os.write(w, bpf)  # a few hundred bytes: fits the pipe buffer
    os.close(w)
    return r

"""Runs untrusted, model-written Python code against unit tests, in two bubblewrap
sandboxes: a candidate process that runs the code and answers calls, and a judge process
that runs the tests and calls into the candidate through a pipe, exchanging plain data
(see sandbox_child.py). The candidate never sees a test and cannot reach the judge, so its
only way to pass is to return the right values. See docs/reliability.md.

Each sandbox (bwrap): new user, PID, IPC, network, UTS and cgroup namespaces, no_new_privs,
a seccomp filter (sandbox_seccomp.py), only /usr (read-only) and size-capped tmpfs
(/work, /tmp, /dev/shm) in its file system, its own throwaway uid when the host is root,
CPU/memory/file-size/process/open-file limits, a wall-clock timeout and capped output.
Nothing it creates lives on the host's disk or in the host's IPC namespace: when the run
ends, its namespaces, tmpfs and processes are gone.
"""

from __future__ import annotations

import functools
import json
import os
import re
import resource
import secrets
import select
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from alignkit.errors import AlignkitError
from alignkit.sandbox_seccomp import seccomp_fd, seccomp_filter

UID_BASE, UID_SPAN = 200_000, 50_000  # throwaway uids (host is root): one per process, so limits are per run


@dataclass
class Limits:
    timeout: float = 5.0  # wall-clock seconds
    cpu_seconds: int = 5
    memory_mb: int = 512  # address space
    file_mb: int = 8  # largest file it may write (its stdout/stderr included)
    disk_mb: int = 16  # each of its tmpfs mounts (/work, /tmp, /dev/shm)
    processes: int = 16  # processes its uid may have at once (host is root)
    open_files: int = 64
    output_bytes: int = 16_384  # stdout/stderr kept


@dataclass
class Result:
    status: str  # "passed" (every test), "failed", "timeout", "error" (no verdict: crashed, killed, cheated)
    passed: int = 0
    total: int = 0
    returncode: int | None = None
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        """Fraction of tests passed (0 without a trustworthy verdict)."""
        return self.passed / self.total if self.total and self.status in ("passed", "failed") else 0.0


def bwrap() -> str | None:
    """The bubblewrap binary (ALIGNKIT_BWRAP, else `bwrap` on PATH), None when there is none."""
    return shutil.which(os.environ.get("ALIGNKIT_BWRAP", "bwrap"))


@functools.lru_cache(maxsize=8)
def _bwrap_works(path: str, uid: int | None) -> str:
    """'' when bwrap can create the sandbox's namespaces here, else its error."""
    try:
        p = subprocess.run([path, "--unshare-all", "--unshare-user", "--disable-userns", *_fs_args("/bin/true"),
                            "/bin/true"], capture_output=True, text=True, timeout=30,
                           user=uid, group=uid, extra_groups=[] if uid is not None else None)
    except (OSError, subprocess.SubprocessError) as e:
        return str(e)
    return "" if p.returncode == 0 else (p.stderr.strip() or f"exit status {p.returncode}")


def isolation() -> dict[str, bool]:
    """Which protections this host applies: namespaces (bwrap), a throwaway uid (root only)
    and a seccomp filter."""
    path = bwrap()
    ns = bool(path) and not _bwrap_works(path, UID_BASE if os.geteuid() == 0 else None)
    return {"namespaces": ns, "uid": os.geteuid() == 0, "seccomp": seccomp_filter() is not None}


def check_available() -> None:
    """Raise a clear error when the sandbox cannot run on this host."""
    path = bwrap()
    if not path:
        raise AlignkitError("bubblewrap (bwrap) is not installed; model-written code runs only inside it",
                            where="sandbox", fix="apt-get install bubblewrap (scripts/setup.sh does it as root), "
                            "or set ALIGNKIT_BWRAP to the bwrap binary")
    why = _bwrap_works(path, UID_BASE if os.geteuid() == 0 else None)
    if why:
        raise AlignkitError(f"bubblewrap cannot create the sandbox's namespaces here ({why})", where="sandbox",
                            fix="allow unprivileged user namespaces (sysctl user.max_user_namespaces > 0, "
                            "kernel.unprivileged_userns_clone=1, kernel.apparmor_restrict_unprivileged_userns=0) "
                            "or run in a container started with them allowed")


def _world_runnable(path: str) -> bool:
    """True when a user with no special rights can execute `path` (every directory on the way
    searchable, the file executable)."""
    p = Path(path).resolve()
    if not p.is_file() or not os.stat(p).st_mode & stat.S_IXOTH:
        return False
    return all(os.stat(d).st_mode & stat.S_IXOTH for d in p.parents)


def interpreter() -> str:
    """The Python the sandboxed code runs on: ALIGNKIT_SANDBOX_PYTHON, else this one when the
    throwaway user can run it (not under /root), else the system's."""
    if os.environ.get("ALIGNKIT_SANDBOX_PYTHON"):
        return os.environ["ALIGNKIT_SANDBOX_PYTHON"]
    # the base interpreter, not a virtualenv's link to it: a venv under /work would be hidden by the
    # sandbox's own /work tmpfs (the sandboxed code needs only the standard library)
    this = str(Path(getattr(sys, "_base_executable", "") or sys.executable).resolve())
    if os.geteuid() != 0:  # the sandbox runs as this user: whatever it may run
        return this
    for candidate in (this, "/usr/bin/python3", "/usr/local/bin/python3"):
        if _world_runnable(candidate):
            return candidate
    raise AlignkitError("no Python interpreter the sandbox user may run (this one lives under a private "
                        "directory)", where="sandbox", fix="install a system python3 or set "
                        "ALIGNKIT_SANDBOX_PYTHON to an interpreter outside /root")


def _fs_args(python: str) -> list[str]:
    """Read-only /usr (and the merged-/usr links), plus the interpreter's installation when it
    lives elsewhere; nothing else of the host's file system."""
    args = ["--ro-bind", "/usr", "/usr"]
    for d in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(d):
            args += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            args += ["--ro-bind", d, d]
    for p in {Path(python).parent.parent, Path(python).resolve().parent.parent}:
        if p != Path("/") and not str(p).startswith("/usr"):
            args += ["--ro-bind", str(p), str(p)]
    return args


@functools.lru_cache(maxsize=1)
def _child_source() -> str:
    return (Path(__file__).with_name("sandbox_child.py")).read_text()


def _command(python: str, main: str, fds: tuple[int, int], limits: Limits, seccomp_fd: int | None,
             info_fd: int) -> list[str]:
    size = str(limits.disk_mb * 2**20)
    return [bwrap(), "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent", "--new-session",
            "--info-fd", str(info_fd), "--clearenv", "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", "/work",
            "--setenv", "LANG", "C.UTF-8", "--setenv", "PYTHONDONTWRITEBYTECODE", "1", *_fs_args(python),
            "--proc", "/proc", "--dev", "/dev",
            *[a for d in ("/tmp", "/dev/shm", "/work") for a in ("--perms", "1777", "--size", size, "--tmpfs", d)],
            "--chdir", "/work", *(["--seccomp", str(seccomp_fd)] if seccomp_fd is not None else []),
            # the judge needs no site-packages (tests import the standard library): -S saves its startup
            python, "-I", *(["-S"] if main == "judge_main" else []), "-c", _child_source() + f"\n{main}()\n",
            str(fds[0]), str(fds[1])]


def _rlimits(limits: Limits, nproc: bool):
    def setup() -> None:
        for res, value in ((resource.RLIMIT_CPU, limits.cpu_seconds),
                           (resource.RLIMIT_AS, limits.memory_mb * 2**20),
                           (resource.RLIMIT_FSIZE, limits.file_mb * 2**20),
                           (resource.RLIMIT_NOFILE, limits.open_files),
                           (resource.RLIMIT_CORE, 0)):
            resource.setrlimit(res, (value, value))
        if nproc:  # counted per uid: only meaningful for a throwaway uid
            resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))

    return setup


class _Sandbox:
    """One bwrap process: started, then killed with everything in its PID namespace."""

    def __init__(self, python: str, main: str, fds: tuple[int, int], limits: Limits, stdout, stderr):
        root = os.geteuid() == 0
        uid = UID_BASE + secrets.randbelow(UID_SPAN) if root else None
        self.info_r, info_w = os.pipe()
        sfd = seccomp_fd()
        keep = (*fds, info_w, *([sfd] if sfd is not None else []))
        try:
            self.proc = subprocess.Popen(
                _command(python, main, fds, limits, sfd, info_w), stdin=subprocess.PIPE, stdout=stdout,
                stderr=stderr, pass_fds=keep, close_fds=True, start_new_session=True, env={"PATH": "/usr/bin:/bin"},
                user=uid, group=uid, extra_groups=[] if root else None, preexec_fn=_rlimits(limits, root))
        finally:
            os.close(info_w)
            if sfd is not None:
                os.close(sfd)
        self.init: int | None = None

    def watch(self) -> None:
        """Open a pidfd of the PID namespace's init (bwrap's first child) while it surely runs:
        bwrap reports its pid on the info fd before it starts the program, and the program then
        blocks on its stdin, which the host writes only after this call."""
        self.init = self._init_pidfd()

    def _init_pidfd(self) -> int | None:
        info = b""
        while not info.endswith(b"}\n"):
            chunk = os.read(self.info_r, 4096)  # bwrap writes it within milliseconds, or exits (EOF)
            if not chunk:
                break
            info += chunk
        os.close(self.info_r)
        self.info_r = -1
        m = re.search(rb'"child-pid"\s*:\s*(\d+)', info)
        try:
            return os.pidfd_open(int(m.group(1))) if m else None
        except (OSError, AttributeError):
            return None

    def kill(self) -> None:
        """SIGKILL the namespace's init: the kernel kills every process in the namespace, and
        the init's exit (which the pidfd reports) comes after theirs and after its mounts are
        gone. Then bwrap's process group."""
        if self.info_r >= 0:
            os.close(self.info_r)
            self.info_r = -1
        if self.init is not None:
            try:
                signal.pidfd_send_signal(self.init, signal.SIGKILL)
            except OSError:  # already gone
                pass
            poller = select.poll()
            poller.register(self.init, select.POLLIN)
            poller.poll(10_000)
            os.close(self.init)
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait()


def _feed(pipe, data: bytes) -> None:
    try:
        pipe.write(data)
        pipe.close()
    except (BrokenPipeError, OSError, ValueError):
        pass


def run_tests(code: str, tests: list[str], limits: Limits | None = None, *, prelude: str = "",
              entry_point: str | None = None) -> Result:
    """Run `prelude + code`, then each test snippet (e.g. "assert add(1, 2) == 3") against the
    names it defines. With `entry_point` set, that is the only name the tests get from the
    code. `prelude` (e.g. HumanEval's prompt) is trusted: the judge runs its own copy, so the
    tests use its helpers, not the code's."""
    check_available()
    limits = limits or Limits()
    python = interpreter()
    t0 = time.time()
    calls_r, calls_w = os.pipe()  # judge -> candidate
    replies_r, replies_w = os.pipe()  # candidate -> judge
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, tempfile.TemporaryFile() as jerr:
        try:
            cand = _Sandbox(python, "candidate_main", (calls_r, replies_w), limits, out, err)
            try:
                judge = _Sandbox(python, "judge_main", (replies_r, calls_w), limits, subprocess.PIPE, jerr)
            except BaseException:
                cand.kill()
                raise
        finally:
            for fd in (calls_r, calls_w, replies_r, replies_w):
                os.close(fd)
        cand.watch()
        judge.watch()
        # JSON with ASCII escapes: a lone surrogate in the code travels (and fails to compile inside)
        feeder = threading.Thread(target=_feed, args=(cand.proc.stdin, json.dumps(prelude + code).encode() + b"\n"),
                                  daemon=True)
        feeder.start()
        spec = json.dumps({"tests": tests, "prelude": prelude, "entry_point": entry_point}).encode() + b"\n"
        timed_out, verdict = False, b""
        try:
            verdict, _ = judge.proc.communicate(spec, timeout=max(0.0, limits.timeout - (time.time() - t0)))
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            cand.kill()
            judge.kill()
            if judge.proc.stdout:
                judge.proc.stdout.close()
        seconds = time.time() - t0
        result = Result("error", returncode=cand.proc.returncode, seconds=seconds,
                        stdout=_head(out, limits.output_bytes), stderr=_head(err, limits.output_bytes))
        judge_err = _head(jerr, 2000)

    if seccomp_filter() is None:
        result.notes.append("no seccomp filter (pyseccomp or libseccomp missing): namespaces and limits only")
    if timed_out:
        result.status = "timeout"
        return result
    try:
        v = json.loads(verdict[:4096])
        passed, total, lost = int(v["passed"]), int(v["total"]), bool(v["lost"])
    except (ValueError, KeyError, TypeError):
        result.notes.append("the judge gave no verdict" + (f": {judge_err.strip()[-500:]}" if judge_err else ""))
        return result
    if lost:  # the candidate exited, crashed or broke the protocol before the tests were done
        return result
    result.passed, result.total = passed, total
    result.status = "passed" if total and passed == total else "failed"
    return result


def _head(f, limit: int) -> str:
    f.seek(0)
    return f.read(limit).decode(errors="replace")

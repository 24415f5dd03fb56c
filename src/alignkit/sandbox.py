"""Runs untrusted, model-written Python code: a separate process under its own throwaway
user id, in its own empty temp directory, with no network, CPU/memory/file-size/process/
open-file limits, a wall-clock timeout and capped output. See docs/reliability.md for
what it does not protect against.

Verdicts come from a harness that runs each test after the candidate code and reports
through a line carrying a per-run random nonce, so a program that exits early with
status 0, prints "passed" or patches the test machinery does not pass.

Isolation needs root (to switch to the throwaway uid and unshare the network namespace);
without root the sandbox still applies the resource limits, timeout and temp directory,
and `isolation()` says what is missing.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

CLONE_NEWNET, CLONE_NEWNS = 0x40000000, 0x00020000
MS_NOSUID, MS_NODEV, MS_REC, MS_PRIVATE = 2, 4, 16384, 1 << 18
# world-writable places, covered inside the sandbox by an empty tmpfs it cannot write to
SHARED_WRITABLE = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")
UID_BASE, UID_SPAN = 200_000, 50_000  # throwaway uids: one per run, so limits and clean-up are per run

HARNESS = r'''
import json, os, sys
def _main(exec=exec, compile=compile, open=open, len=len, int=int, BaseException=BaseException,
          dumps=json.dumps, loads=json.loads, read=os.read, fdopen=os.fdopen, dup=os.dup, close=os.close):
    # every name the harness needs is bound before the code runs: patching builtins, json or
    # os from the code cannot change what the harness does or reports
    fd = int(sys.argv[1])
    report = fdopen(dup(fd), "w")  # our own copy: closing the inherited fd from the code does not blind us
    nonce = read(0, 64).decode().strip()
    code = open("solution.py").read()
    tests = loads(open("tests.json").read())
    close(fd)
    namespace = {"__name__": "__main__"}
    exec(compile(code, "solution.py", "exec"), namespace)
    passed = 0
    for test in tests:
        try:
            exec(compile(test, "test", "exec"), namespace)
            passed += 1
        except BaseException:
            pass
    report.write(nonce + " " + dumps({"passed": passed, "total": len(tests)}) + "\n")
    report.flush()
_main()
'''


@dataclass
class Limits:
    timeout: float = 5.0  # wall-clock seconds
    cpu_seconds: int = 5
    memory_mb: int = 512  # address space
    file_mb: int = 8  # largest file it may write (its stdout/stderr included)
    processes: int = 16  # processes its uid may have at once
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


def isolation() -> dict[str, bool]:
    """Which protections this host can apply: all need root (to drop to a throwaway uid and to
    create network and mount namespaces)."""
    root = os.geteuid() == 0
    return {"uid": root, "network": root, "filesystem": root}


def _world_runnable(path: str) -> bool:
    """True when a user with no special rights can execute `path` (every directory on the way
    searchable, the file executable)."""
    import stat

    p = Path(path).resolve()
    if not p.is_file() or not os.stat(p).st_mode & stat.S_IXOTH:
        return False
    return all(os.stat(d).st_mode & stat.S_IXOTH for d in p.parents)


def interpreter() -> str:
    """The Python the sandboxed code runs on: ALIGNKIT_SANDBOX_PYTHON, else this one when the
    throwaway user can run it (not under /root), else the system's."""
    if os.environ.get("ALIGNKIT_SANDBOX_PYTHON"):
        return os.environ["ALIGNKIT_SANDBOX_PYTHON"]
    if os.geteuid() != 0:
        return sys.executable
    for candidate in (sys.executable, "/usr/bin/python3", "/usr/local/bin/python3"):
        if _world_runnable(candidate):
            return candidate
    from alignkit.errors import AlignkitError

    raise AlignkitError("no Python interpreter the sandbox user may run (this one lives under a private "
                        "directory)", where="sandbox", fix="install a system python3 or set "
                        "ALIGNKIT_SANDBOX_PYTHON to an interpreter outside /root")


def _base_dir() -> str | None:
    """Sandbox directories live outside /tmp (which the sandbox covers); None: the default temp dir."""
    if os.geteuid() != 0:
        return None
    base = Path(os.environ.get("ALIGNKIT_SANDBOX_DIR", "/var/lib/alignkit-sandbox"))
    base.mkdir(parents=True, exist_ok=True)
    os.chmod(base, 0o711)  # enterable, not listable
    return str(base)


def _namespaces() -> None:
    """New network namespace (no interfaces up, loopback included) and mount namespace where
    every world-writable directory is an empty, root-owned tmpfs."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET | CLONE_NEWNS) != 0:
        os._exit(121)
    if libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        os._exit(122)
    for d in SHARED_WRITABLE:
        if os.path.isdir(d) and libc.mount(b"tmpfs", d.encode(), b"tmpfs", MS_NOSUID | MS_NODEV,
                                           b"size=64k,mode=0755") != 0:
            os._exit(123)


def _preexec(uid: int, limits: Limits, isolate: bool):
    def setup() -> None:
        os.setsid()  # its own process group, killed as one
        if isolate:
            _namespaces()
        for res, value in ((resource.RLIMIT_CPU, limits.cpu_seconds),
                           (resource.RLIMIT_AS, limits.memory_mb * 2**20),
                           (resource.RLIMIT_FSIZE, limits.file_mb * 2**20),
                           (resource.RLIMIT_NOFILE, limits.open_files),
                           (resource.RLIMIT_CORE, 0)):
            resource.setrlimit(res, (value, value))
        if os.geteuid() == 0:
            resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)  # from here on: no root, no access to other users' files, no signals to them

    return setup


def _kill_uid(uid: int) -> None:
    """Kill every process the throwaway uid owns (double-forked, setsid'd escapees included):
    a helper becomes that uid and sends SIGKILL to -1, which reaches exactly its processes."""
    if os.geteuid() != 0:
        return
    pid = os.fork()
    if pid == 0:
        try:
            os.setgid(uid)
            os.setuid(uid)
            for _ in range(10_000):  # a fork bomb forks while we kill: repeat until none is left
                try:
                    os.kill(-1, signal.SIGKILL)
                except ProcessLookupError:
                    break
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


def run_tests(code: str, tests: list[str], limits: Limits | None = None) -> Result:
    """Run `code`, then each test snippet (e.g. "assert add(1, 2) == 3") in its namespace."""
    limits = limits or Limits()
    root = Path(tempfile.mkdtemp(prefix="run-", dir=_base_dir()))
    work, private = root / "work", root / "private"
    work.mkdir()
    private.mkdir(mode=0o700)  # output files and the report pipe live where the code cannot look
    (work / "solution.py").write_text(code)
    (work / "tests.json").write_text(json.dumps(tests))
    (work / "harness.py").write_text(HARNESS)
    uid = UID_BASE + secrets.randbelow(UID_SPAN)
    iso = isolation()
    if iso["uid"]:
        os.chmod(root, 0o711)  # root-owned: it may pass through to work/, not write here or look in private/
        for p in [work, *work.iterdir()]:
            os.chown(p, uid, uid)
    nonce = secrets.token_hex(16)
    read_end, write_end = os.pipe()
    os.set_inheritable(write_end, True)
    out_path, err_path = private / "stdout", private / "stderr"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(work), "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}
    t0 = time.time()
    notes = [f"no {k} isolation on this host" for k, ok in iso.items() if not ok]
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen([interpreter(), "-I", "harness.py", str(write_end)], cwd=work, env=env,
                                stdin=subprocess.PIPE, stdout=out, stderr=err, pass_fds=(write_end,),
                                preexec_fn=_preexec(uid, limits, iso["network"]), close_fds=True)
    os.close(write_end)
    try:
        proc.stdin.write(nonce.encode() + b"\n")
        proc.stdin.close()
    except (BrokenPipeError, OSError):
        pass
    timed_out = False
    report = b""
    os.set_blocking(read_end, False)
    while True:
        try:
            chunk = os.read(read_end, 4096)
            report += chunk[: 4096 - len(report)]
        except BlockingIOError:
            pass
        if proc.poll() is not None:
            break
        if time.time() - t0 > limits.timeout:
            timed_out = True
            break
        time.sleep(0.01)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    _kill_uid(uid)  # and anything that left the process group
    proc.wait()
    try:
        report += os.read(read_end, 4096)
    except (BlockingIOError, OSError):
        pass
    os.close(read_end)
    seconds = time.time() - t0
    result = Result("error", returncode=proc.returncode, seconds=seconds, notes=notes,
                    stdout=_head(out_path, limits.output_bytes), stderr=_head(err_path, limits.output_bytes))
    shutil.rmtree(root, ignore_errors=True)
    if timed_out:
        result.status = "timeout"
        return result
    verdict = _verdict(report.decode(errors="replace"), nonce)
    if verdict is not None:
        result.passed, result.total = verdict
        result.status = "passed" if result.total and result.passed == result.total else "failed"
    return result


def _verdict(report: str, nonce: str) -> tuple[int, int] | None:
    lines = [ln for ln in report.splitlines() if ln.startswith(nonce + " ")]
    if len(lines) != 1:
        return None
    try:
        data = json.loads(lines[0][len(nonce) + 1 :])
        return int(data["passed"]), int(data["total"])
    except (ValueError, KeyError, TypeError):
        return None


def _head(path: Path, limit: int) -> str:
    with open(path, "rb") as f:
        return f.read(limit).decode(errors="replace")

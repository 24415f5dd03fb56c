"""The sandbox against hostile programs: each must be contained (the host survives, nothing
leaks or is written outside, no process outlives the run), its verdict must never be
"passed", and time limits must hold within a second."""

import os
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from alignkit.sandbox import UID_BASE, UID_SPAN, Limits, isolation, run_tests

ISOLATED = all(isolation().values())
needs_isolation = pytest.mark.skipif(not ISOLATED, reason="uid, network and mount isolation need root")
FAST = Limits(timeout=2.0, cpu_seconds=2)
SECRET = "alignkit-test-secret-4f1b"


def test_honest_code_passes_and_partial_credit_is_counted():
    r = run_tests("def add(a, b):\n    return a + b\n", ["assert add(1, 2) == 3", "assert add(2, 2) == 4"])
    assert (r.status, r.passed, r.total, r.score) == ("passed", 2, 2, 1.0)
    r = run_tests("def add(a, b):\n    return a - b\n", ["assert add(1, 0) == 1", "assert add(2, 2) == 4"])
    assert (r.status, r.score) == ("failed", 0.5)
    r = run_tests("def add(a, b) return a\n", ["assert add(1, 0) == 1"])
    assert r.status == "error" and r.score == 0.0 and "SyntaxError" in r.stderr


@pytest.fixture
def canary(tmp_path):
    """A loopback TCP server on the host that records any connection."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    srv.settimeout(0.2)
    hits = []
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                hits.append(srv.accept())
            except OSError:
                pass

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield srv.getsockname()[1], hits
    stop.set()
    t.join()
    srv.close()


HOST_FILES = ["/tmp/alignkit-pwned", "/var/tmp/alignkit-pwned", "/dev/shm/alignkit-pwned", "/run/lock/alignkit-pwned"]

# (name, code, extra check on the Result). The only test is "assert False": a run of the
# harness to its end says "failed", so any "passed" verdict was forged.
ATTACKS = [
    ("infinite loop", "while True:\n    pass\n", lambda r: r.status == "timeout"),
    ("sleep forever", "import time\ntime.sleep(1000)\n", lambda r: r.status == "timeout"),
    ("slow import", "import time\ntime.sleep(30)\nimport json\n", lambda r: r.status == "timeout"),
    ("fork bomb", "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n", None),
    ("thread bomb", "import threading, time\nfor _ in range(10000):\n    threading.Thread(target=time.sleep, "
     "args=(100,)).start()\n", None),
    ("memory bomb, one block", "x = bytearray(10**11)\n", lambda r: "MemoryError" in r.stderr),
    ("memory bomb, growing", "a = []\nwhile True:\n    a.append(' ' * 10**7)\n", None),
    ("huge output", "while True:\n    print('x' * 10000)\n", lambda r: len(r.stdout) <= FAST.output_bytes),
    ("huge stderr", "import sys\nwhile True:\n    sys.stderr.write('y' * 10000)\n",
     lambda r: len(r.stderr) <= FAST.output_bytes),
    ("huge file", "with open('big', 'wb') as f:\n    for _ in range(1000):\n        f.write(b'0' * 10**6)\n", None),
    ("write outside its directory", "".join(f"open({p!r}, 'w').write('x')\n" for p in HOST_FILES), None),
    ("write into the parent directory", "open('../escaped', 'w').write('x')\n", None),
    ("append to /etc/passwd", "open('/etc/passwd', 'a').write('evil::0:0::/:/bin/sh\\n')\n", None),
    ("read ~root/.ssh", "import os\nprint(os.listdir('/root'))\nprint(open('/root/.ssh/id_rsa').read())\n", None),
    ("read the environment", "import os\nprint(dict(os.environ))\n", None),
    ("read the parent's environment", "import os\nprint(open(f'/proc/{os.getppid()}/environ').read())\n", None),
    ("list other sandboxes", "import os\nprint(os.listdir('..'))\nprint(os.listdir('/var/lib/alignkit-sandbox'))\n",
     None),
    ("network to loopback", "import socket\ns = socket.create_connection(('127.0.0.1', PORT), timeout=1)\n", None),
    ("network outside", "import socket\ns = socket.create_connection(('8.8.8.8', 53), timeout=1)\n", None),
    ("spawn a shell", "import subprocess\nsubprocess.run(['sh', '-c', 'echo x > /tmp/alignkit-pwned'], check=True)\n",
     None),
    ("os.system", "import os\nassert os.system('touch /tmp/alignkit-pwned') == 0\n", None),
    ("ctypes segfault", "import ctypes\nctypes.string_at(0)\n", None),
    ("ctypes kill the parent", "import ctypes, os\nassert ctypes.CDLL(None).kill(os.getppid(), 9) == 0\n", None),
    ("signal the parent", "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n", None),
    ("kill everything it can", "import os, signal\nos.kill(-1, signal.SIGKILL)\n", None),
    ("become root", "import os\nos.setuid(0)\n", None),
    ("chmod a system file", "import os\nos.chmod('/etc/passwd', 0o777)\n", None),
    ("sys.exit(0)", "import sys\nsys.exit(0)\n", None),
    ("os._exit(0)", "import os\nos._exit(0)\n", None),
    ("atexit exit 0", "import atexit, os\natexit.register(lambda: os._exit(0))\nraise SystemExit(0)\n", None),
    ("print a fake verdict", "print('passed')\nprint('0' * 32 + ' {\"passed\": 1, \"total\": 1}')\n", None),
    ("forge on the report pipe", "import os\nfor fd in range(3, 20):\n    try:\n        os.write(fd, b'0' * 32 + "
     "b' {\"passed\": 1, \"total\": 1}\\n')\n    except OSError:\n        pass\n", None),
    ("close every descriptor", "import os\nos.closerange(0, 4096)\n", None),
    ("patch the harness's builtins", "import builtins, json\nbuiltins.exec = lambda *a, **k: None\n"
     "json.dumps = lambda *a, **k: '{\"passed\": 1, \"total\": 1}'\n", None),
    ("deep recursion", "def f(n):\n    return f(n + 1)\nf(0)\n", None),
    ("C stack overflow", "import sys\nsys.setrecursionlimit(10**9)\ndef f(n):\n    return f(n + 1)\nf(0)\n", None),
    ("descriptor exhaustion", "fs = [open('solution.py') for _ in range(100000)]\n", None),
    ("double fork and hide", "import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
     "        time.sleep(60)\n        open('late', 'w')\n    os._exit(0)\nos._exit(0)\n", None),
]


@needs_isolation
@pytest.mark.parametrize("name, code, check", ATTACKS, ids=[a[0] for a in ATTACKS])
def test_hostile_program_is_contained(name, code, check, canary, monkeypatch):
    port, hits = canary
    monkeypatch.setenv("ALIGNKIT_TEST_SECRET", SECRET)
    for p in HOST_FILES:
        Path(p).unlink(missing_ok=True)
    passwd = Path("/etc/passwd").read_bytes()
    t0 = time.time()
    r = run_tests(code.replace("PORT", str(port)), ["assert False"], FAST)
    assert r.status != "passed", (r.status, r.stdout[-300:], r.stderr[-300:])
    assert time.time() - t0 < FAST.timeout + 1.0  # the time limit holds within a second
    assert not hits, "a connection reached the host's loopback server"
    assert not any(Path(p).exists() for p in HOST_FILES)
    assert Path("/etc/passwd").read_bytes() == passwd and os.stat("/etc/passwd").st_mode & 0o777 == 0o644
    assert SECRET not in r.stdout + r.stderr
    if check is not None:
        assert check(r), (r.status, r.stdout[-300:], r.stderr[-300:])
    assert not _sandbox_processes(), "a sandbox process survived"


def _sandbox_processes() -> list[str]:
    """Live (not zombie: already dead, waiting to be reaped) processes of any sandbox uid."""
    rows = subprocess.run(["ps", "-eo", "uid=,stat="], capture_output=True, text=True).stdout.splitlines()
    return [r for r in rows if UID_BASE <= int(r.split()[0]) < UID_BASE + UID_SPAN and not r.split()[1].startswith("Z")]


def test_the_attack_suite_has_at_least_25_programs():
    assert len(ATTACKS) >= 25

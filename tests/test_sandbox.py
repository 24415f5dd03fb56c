"""The sandbox against hostile programs. Each attack defines (or pretends to define) `f`, and
the tests ask for a value drawn at random per run, so only a program that learns it can
pass a test: any test passed is a forged verdict. Each program must also be contained: the
host survives and raises nothing, nothing is written or left outside (files, SysV IPC
objects, processes), no connection or secret leaks, and the time limit holds."""

import os
import secrets
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from alignkit.errors import AlignkitError
from alignkit.sandbox import UID_BASE, UID_SPAN, Limits, isolation, run_tests
from alignkit.sandbox_child import decode, encode

ISO = isolation()
needs_sandbox = pytest.mark.skipif(not ISO["namespaces"], reason="bubblewrap cannot create namespaces here")
FAST = Limits(timeout=2.0, cpu_seconds=2)
SECRET = "alignkit-test-secret-4f1b"
HOST_FILES = ["/tmp/alignkit-pwned", "/var/tmp/alignkit-pwned", "/dev/shm/alignkit-pwned", "/run/lock/alignkit-pwned"]


def _tests(x: int) -> list[str]:
    """Tests only a program that knows x passes; they use the builtins programs try to shadow."""
    return [f"assert f(7) == {x}", f"assert repr(f(7)) == {repr(repr(x))}",
            f"assert isinstance(f(7), int) and f(7) == {x}", f"assert type(f(7)) is int and f(7) == {x}",
            f"assert str(f(7)) == '{x}'", f"assert not (f(7) != {x})", f"assert [f(7)] == [{x}]",
            f"assert {{'k': f(7)}} == {{'k': {x}}}"]


SCAN = ("import gc, re\n"
        "def f(*a):\n"
        "    for o in gc.get_objects():\n"
        "        for s in (o if isinstance(o, (list, tuple)) else [o]):\n"
        "            if isinstance(s, str):\n"
        "                m = re.search(r'== (\\d{6,})', s)\n"
        "                if m:\n"
        "                    return int(m.group(1))\n"
        "    return 0\n")
FRAMES = ("import sys\n"
          "def f(*a):\n"
          "    fr = sys._getframe(0)\n"
          "    while fr:\n"
          "        for v in list(fr.f_locals.values()) + list(fr.f_globals.values()):\n"
          "            if isinstance(v, list) and v and all(isinstance(t, str) for t in v):\n"
          "                v[:] = ['pass'] * len(v)\n"
          "            if isinstance(v, str) and len(v) == 32:\n"
          "                print(v + ' {\"passed\": 8, \"total\": 8}')\n"
          "        fr = fr.f_back\n"
          "    return 0\n")
ALWAYS = "class A:\n    def __eq__(self, o):\n        return True\n    def __ne__(self, o):\n        return False\n"
READ_FILES = ("import os\n"
              "def f(*a):\n"
              "    import re\n"
              "    for top in ('.', '/work', '/tmp', '/', '..', '/proc/1/cwd', '/proc/self/cwd'):\n"
              "        for d, _, fs in os.walk(top):\n"
              "            if d.startswith(('/proc', '/sys', '/usr')):\n"
              "                continue\n"
              "            for n in fs:\n"
              "                try:\n"
              "                    m = re.search(r'== (\\d{6,})', open(os.path.join(d, n)).read())\n"
              "                except Exception:\n"
              "                    continue\n"
              "                if m:\n"
              "                    return int(m.group(1))\n"
              "    return 0\n")
PROC_SCAN = ("import os, re\n"
             "def f(*a):\n"
             "    for pid in os.listdir('/proc'):\n"
             "        for part in ('cmdline', 'environ'):\n"
             "            try:\n"
             "                m = re.search(rb'== (\\d{6,})', open(f'/proc/{pid}/{part}', 'rb').read())\n"
             "            except Exception:\n"
             "                continue\n"
             "            if m:\n"
             "                return int(m.group(1))\n"
             "    return 0\n"
             "print([open(f'/proc/{p}/cmdline', 'rb').read() for p in os.listdir('/proc') if p.isdigit()])\n")
FD_FORGE = ("import os, json\n"
            "ok = json.dumps({'ok': 0}).encode() + b'\\n'\n"
            "for fd in range(3, 64):\n"
            "    for msg in (b'{\"passed\": 8, \"total\": 8, \"lost\": false}\\n', ok * 50):\n"
            "        try:\n"
            "            os.write(fd, msg)\n"
            "        except OSError:\n"
            "            pass\n"
            "def f(*a):\n    return 0\n")
PROC_FD = ("import os\n"
           "for pid in os.listdir('/proc'):\n"
           "    if pid.isdigit():\n"
           "        for fd in range(0, 64):\n"
           "            try:\n"
           "                with open(f'/proc/{pid}/fd/{fd}', 'w') as h:\n"
           "                    h.write('{\"passed\": 8, \"total\": 8, \"lost\": false}\\n')\n"
           "            except Exception:\n"
           "                pass\n"
           "def f(*a):\n    return 0\n")
SHM = ("import ctypes\n"
       "libc = ctypes.CDLL(None, use_errno=True)\n"
       "libc.shmat.restype = ctypes.c_void_p\n"
       "for i in range(3):\n"
       "    sid = libc.shmget(0x414b0000 + i, 256 << 20, 0o1666)\n"
       "    print('shmget', sid, ctypes.get_errno())\n"
       "    if sid >= 0:\n"
       "        p = libc.shmat(sid, None, 0)\n"
       "        if p not in (None, ctypes.c_void_p(-1).value):\n"
       "            ctypes.memset(p, 1, 256 << 20)\n"
       "            libc.shmdt(ctypes.c_void_p(p))\n"
       "print('msgget', libc.msgget(0x414b0100, 0o1666), 'semget', libc.semget(0x414b0100, 1, 0o1666))\n"
       "def f(*a):\n    return 0\n")
DEEP_TREE = ("import os\n"
             "for root in ('/work', '/tmp', '/dev/shm'):\n"
             "    os.chdir(root)\n"
             "    try:\n"
             "        for _ in range(3000):\n"
             "            os.mkdir('d')\n"
             "            os.chdir('d')\n"
             "    except OSError as e:\n"
             "        print(root, e)\n"
             "def f(*a):\n    return 0\n")
PRELUDE = "def poly(xs, x):\n    return sum(c * x ** i for i, c in enumerate(xs))\n\ndef root(xs):\n    pass\n"
POLY_TESTS = ["for xs in ([1, 2], [-6, 11, -6, 1], [1, 0, 0, 2]):\n    assert abs(poly(xs, root(xs))) < 1e-6"]

# (name, code, extra check on the Result)
ATTACKS = [
    # forged verdicts: reading the tests, reaching the judge, objects and shadowed builtins
    ("read the tests from the working directory", READ_FILES, None),
    ("read tests.json", "import json\ndef f(*a):\n    return int(json.load(open('tests.json'))[0].split('== ')[1])\n",
     None),
    ("replace the harness's test list through f_locals", "import sys\ndef f(*a):\n"
     "    sys._getframe(1).f_locals['tests'] = []\n    sys._getframe(1).f_locals.clear()\n    return 0\n"
     "sys._getframe(1).f_locals['tests'] = ['pass']\n", None),
    ("frame walk: rewrite every test list, print every nonce", FRAMES, None),
    ("generic gc scan for the expected value", SCAN, None),
    ("gc scan at import time", SCAN + "X = f()\ndef f(*a):\n    return X\n", None),
    ("__eq__ always True", ALWAYS + "def f(*a):\n    return A()\n", None),
    ("int subclass with __eq__ always True", "class E(int):\n    def __eq__(self, o):\n        return True\n"
     "    def __ne__(self, o):\n        return False\n    __hash__ = int.__hash__\n"
     "    def __repr__(self):\n        return 'x'\ndef f(*a):\n    return E(0)\n", None),
    ("str subclass with __eq__ always True", "class S(str):\n    def __eq__(self, o):\n        return True\n"
     "    __hash__ = str.__hash__\ndef f(*a):\n    return S('0')\n", None),
    ("list containing an always-equal object", ALWAYS + "def f(*a):\n    return [A()]\n", None),
    ("always-equal object behind shadowed type, isinstance, repr, str", ALWAYS + "def type(x):\n    return int\n"
     "def isinstance(x, t):\n    return True\ndef repr(x):\n    return A()\nstr = repr\ndef f(*a):\n    return A()\n",
     None),
    ("shadow repr", "def repr(x):\n    return repr.__defaults__\ndef f(*a):\n    return 0\n", None),
    ("shadow isinstance, type, str", "def isinstance(*a):\n    return True\nclass type:\n"
     "    def __init__(self, x):\n        pass\n    def __eq__(self, o):\n        return True\n"
     "str = lambda x: x\ndef f(*a):\n    return 0\n", None),
    ("shadow every builtin with an always-true", ALWAYS + "import builtins\n"
     "for n in dir(builtins):\n    if not n.startswith('_'):\n        globals()[n] = lambda *a, **k: A()\n"
     "def f(*a):\n    return A()\n", None),
    ("patch builtins module-wide", "import builtins\nbuiltins.isinstance = lambda *a: True\n"
     "builtins.repr = lambda x: 'x'\nbuiltins.AssertionError = type('Never', (Exception,), {})\n"
     "def f(*a):\n    return 0\n", None),
    ("define __builtins__", "__builtins__ = {}\ndef f(*a):\n    return 0\n", None),
    ("names that shadow the judge's helpers", "check = 1\nassertEqual = None\nAssertionError = None\n"
     "def f(*a):\n    return 0\n", None),
    ("return nan", "def f(*a):\n    return float('nan')\n", None),
    ("return a generator", "def f(*a):\n    yield 0\n", None),
    ("return a recursive list", "def f(*a):\n    x = []\n    x.append(x)\n    return x\n", None),
    ("return a huge int", "def f(*a):\n    return 10 ** 100000\n", None),
    ("return a lone surrogate", "def f(*a):\n    return '\\udc80'\n", None),
    ("return 50 MB", "def f(*a):\n    return 'x' * (50 << 20)\n", None),
    ("raise AssertionError's lookalike", "class AssertionError(Exception):\n    pass\ndef f(*a):\n"
     "    raise SystemExit(0)\n", None),
    ("sys.exit inside the call", "import sys\ndef f(*a):\n    sys.exit(0)\n", None),
    ("os._exit inside the call", "import os\ndef f(*a):\n    os._exit(0)\n", None),
    ("forge on every descriptor", FD_FORGE, None),
    ("forge through /proc/PID/fd", PROC_FD, None),
    ("pre-fill the reply channel with guesses", "import os\nfor fd in (3, 4, 5, 6):\n    try:\n"
     "        os.write(fd, b'{\"ok\": 1}\\n' * 1000)\n    except OSError:\n        pass\n"
     "def f(*a):\n    return 1\n", None),
    ("malformed reply", "import os\nfor fd in range(3, 8):\n    try:\n"
     "        os.write(fd, b'{\"ok\": {\"evil\": 1}}\\n')\n    except OSError:\n        pass\n"
     "def f(*a):\n    return 0\n", None),
    ("deeply nested raw reply", "import os\nfor fd in range(3, 8):\n    try:\n"
     "        os.write(fd, b'{\"names\": {\"f\": \"call\"}}\\n' + b'[' * 200000 + b'\\n')\n    except OSError:\n"
     "        pass\nos._exit(0)\n", None),
    ("endless reply line", "import os\ndef f(*a):\n    for fd in range(3, 8):\n        try:\n"
     "            os.write(fd, b'x' * (1 << 20))\n        except OSError:\n            pass\n    return 0\n", None),
    ("claim a module for f", "import os\nfor fd in range(3, 8):\n    try:\n        os.write(fd, "
     "b'{\"names\": {\"f\": {\"module\": \"builtins\"}, \"__builtins__\": {\"data\": {\"dict\": []}}}}\\n')\n"
     "    except OSError:\n        pass\nos._exit(0)\n", None),
    ("reply from a thread that races the real one", "import os, threading, time\n"
     "def spam():\n    while True:\n        for fd in range(3, 8):\n            try:\n"
     "                os.write(fd, b'{\"ok\": 0}\\n')\n            except OSError:\n                pass\n"
     "        time.sleep(0.001)\nthreading.Thread(target=spam, daemon=True).start()\n"
     "def f(*a):\n    return 0\n", None),
    ("read host processes' command lines", PROC_SCAN, lambda r: "pytest" not in r.stdout),
    ("a helper the tests call, defined to agree", "def isclose(*a, **k):\n    return True\ndef f(*a):\n    return 0\n",
     "helpers"),
    ("a standard module under another's name", "import unittest.mock as math\ndef f(*a):\n    return 0\n", "helpers"),
    ("redefine a trusted helper", "def poly(xs, x):\n    return 0\ndef root(xs):\n    return 0.0\n", "prelude"),
    ("remember the helper's input", "seen = []\ndef poly(xs, x):\n    seen.append(xs)\n    return 0\n"
     "def root(xs):\n    return 0.0\n", "prelude"),
    ("lone surrogate in the code", "x = '\udc80'\ndef f(*a):\n    return 0\n", lambda r: r.status == "error"),
    ("NUL byte in the code", "x = 1\x00\ndef f(*a):\n    return 0\n", lambda r: r.status == "error"),
    # the host: files, IPC, processes, resources
    ("3000-deep directory trees", DEEP_TREE, None),
    ("SysV shared memory, 3 x 256 MB", SHM, lambda r: "shmget -1" in r.stdout),
    ("fill /dev/shm and /tmp", "for d in ('/dev/shm', '/tmp', '/work'):\n    try:\n"
     "        with open(d + '/big', 'wb') as h:\n            for _ in range(200):\n"
     "                h.write(b'0' * (1 << 20))\n    except OSError as e:\n        print(d, e)\n", None),
    ("many small files", "import os\nfor i in range(100000):\n    try:\n        open(f'/work/{i}', 'w').close()\n"
     "    except OSError:\n        break\n", None),
    ("memfd beyond the memory limit", "import os\nfds = []\nfor _ in range(60):\n    try:\n"
     "        fd = os.memfd_create('x')\n        os.ftruncate(fd, 64 << 20)\n        fds.append(fd)\n"
     "    except OSError:\n        break\n", None),
    ("mount a file system", "import ctypes\nprint(ctypes.CDLL(None).mount(b'none', b'/work', b'tmpfs', 0, None))\n",
     None),
    ("new user namespace", "import os\nos.unshare(os.CLONE_NEWUSER)\nos.setuid(0)\n", None),
    ("ptrace the parent", "import ctypes\nassert ctypes.CDLL(None).ptrace(16, 1, 0, 0) == 0\n", None),
    ("connect to an abstract unix socket on the host", "import socket\ns = socket.socket(socket.AF_UNIX)\n"
     "s.connect(b'\\0ABSTRACT')\n", None),
    ("signal every pid", "import os, signal\nfor p in range(1, 100000):\n    try:\n"
     "        os.kill(p, signal.SIGKILL if p != os.getpid() else 0)\n    except OSError:\n        pass\n", None),
    ("stop everything", "import os, signal\nos.kill(-1, signal.SIGSTOP)\ndef f(*a):\n    return 0\n", None),
    ("ignore the end of the calls", "import threading\nthreading.Thread(target=lambda: [0 for _ in iter(int, 1)])"
     ".start()\ndef f(*a):\n    return 0\n", None),
    ("write to /usr", "open('/usr/lib/alignkit-pwned', 'w').write('x')\n", None),
    # the first round's attacks
    ("infinite loop", "while True:\n    pass\n", lambda r: r.status == "timeout"),
    ("infinite loop inside the call", "def f(*a):\n    while True:\n        pass\n", lambda r: r.status == "timeout"),
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
    ("print a fake verdict", "print('passed')\nprint('{\"passed\": 8, \"total\": 8, \"lost\": false}')\n", None),
    ("close every descriptor", "import os\nos.closerange(0, 4096)\n", None),
    ("patch the harness's builtins", "import builtins, json\nbuiltins.exec = lambda *a, **k: None\n"
     "json.dumps = lambda *a, **k: '{\"passed\": 1, \"total\": 1}'\n", None),
    ("deep recursion", "def f(n):\n    return f(n + 1)\nf(0)\n", None),
    ("C stack overflow", "import sys\nsys.setrecursionlimit(10**9)\ndef f(n):\n    return f(n + 1)\nf(0)\n", None),
    ("descriptor exhaustion", "fs = [open('/dev/null') for _ in range(100000)]\n", None),
    ("double fork and hide", "import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
     "        time.sleep(60)\n        open('late', 'w')\n    os._exit(0)\nos._exit(0)\n", None),
]


@pytest.fixture
def canary():
    """A loopback TCP server and an abstract unix socket on the host that record any connection."""
    servers = [socket.socket(), socket.socket(socket.AF_UNIX)]
    servers[0].bind(("127.0.0.1", 0))
    name = f"alignkit-canary-{secrets.token_hex(8)}"
    servers[1].bind(b"\0" + name.encode())
    hits, stop = [], threading.Event()

    def serve(srv):
        srv.listen()
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                hits.append(srv.accept())
            except OSError:
                pass

    threads = [threading.Thread(target=serve, args=(s,), daemon=True) for s in servers]
    for t in threads:
        t.start()
    yield servers[0].getsockname()[1], name, hits
    stop.set()
    for t in threads:
        t.join()
    for s in servers:
        s.close()


def _sysv() -> list[str]:
    return [ln for kind in ("shm", "msg", "sem") for ln in Path(f"/proc/sysvipc/{kind}").read_text().splitlines()[1:]]


@needs_sandbox
@pytest.mark.parametrize("name, code, check", ATTACKS, ids=[a[0] for a in ATTACKS])
def test_hostile_program_is_contained(name, code, check, canary, monkeypatch, tmp_path):
    port, abstract, hits = canary
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where the host keeps the run's files
    monkeypatch.setenv("ALIGNKIT_TEST_SECRET", SECRET)
    for p in HOST_FILES:
        Path(p).unlink(missing_ok=True)
    passwd, ipc = Path("/etc/passwd").read_bytes(), _sysv()
    x = 10**9 + secrets.randbelow(10**9)
    t0 = time.time()
    if check == "prelude":  # the tests use the task's trusted helper, which the program redefines
        r = run_tests(code, POLY_TESTS, FAST, prelude=PRELUDE, entry_point="root")
        check = None
    elif check == "helpers":  # tests that lean on a helper or module the code also defines
        tests = [f"assert isclose(f(7), {x})", f"assert math.isclose(f(7), {x})"] + _tests(x)
        r = run_tests(code, tests, FAST, entry_point="f" if "isclose" in code else None)
        check = None
    else:
        r = run_tests(code.replace("PORT", str(port)).replace("ABSTRACT", abstract), _tests(x), FAST)
    assert r.status != "passed" and r.passed == 0, (r.status, r.passed, r.stdout[-300:], r.stderr[-300:])
    assert time.time() - t0 < FAST.timeout + 1.0  # the time limit holds within a second
    assert not hits, "a connection reached the host's loopback server or abstract socket"
    assert not any(Path(p).exists() for p in HOST_FILES)
    assert Path("/etc/passwd").read_bytes() == passwd and os.stat("/etc/passwd").st_mode & 0o777 == 0o644
    assert SECRET not in r.stdout + r.stderr
    assert _sysv() == ipc, "a SysV IPC object outlived the run"
    assert not os.listdir(tmp_path), "a file was left in the host's temp directory"
    if check is not None:
        assert check(r), (r.status, r.stdout[-300:], r.stderr[-300:])
    assert not _sandbox_processes(), "a sandbox process survived"


def _sandbox_processes() -> list[str]:
    """Live (not zombie) processes of any sandbox uid."""
    rows = subprocess.run(["ps", "-eo", "uid=,stat="], capture_output=True, text=True).stdout.splitlines()
    return [r for r in rows if UID_BASE <= int(r.split()[0]) < UID_BASE + UID_SPAN and not r.split()[1].startswith("Z")]


def test_the_attack_suite_has_at_least_60_programs():
    assert len(ATTACKS) >= 60


@needs_sandbox
def test_honest_code_passes_and_partial_credit_is_counted():
    r = run_tests("def add(a, b):\n    return a + b\n", ["assert add(1, 2) == 3", "assert add(2, 2) == 4"])
    assert (r.status, r.passed, r.total, r.score) == ("passed", 2, 2, 1.0)
    r = run_tests("def add(a, b):\n    return a - b\n", ["assert add(1, 0) == 1", "assert add(2, 2) == 4"])
    assert (r.status, r.score) == ("failed", 0.5)
    r = run_tests("def add(a, b) return a\n", ["assert add(1, 0) == 1"])
    assert r.status == "error" and r.score == 0.0 and "SyntaxError" in r.stderr
    # values cross as data, types kept; exceptions keep their builtin type; output is kept
    r = run_tests("import math\nK = 3\nprint('hi')\ndef g(x, *, d):\n    if x < 0:\n        raise ValueError(x)\n"
                  "    return (x, [2.5, {K: frozenset({b'x'})}], None, math.nan, 10**40, d)\n",
                  ["x = g(1, d={'a': (1,)}); assert x[:3] == (1, [2.5, {3: frozenset({b'x'})}], None)",
                   "x = g(1, d=0); assert x[3] != x[3] and x[4] == 10**40 and type(x[4]) is int",
                   "try:\n    g(-1, d=0)\nexcept ValueError:\n    pass\nelse:\n    assert False",
                   "assert math.floor(K / 2) == 1"])
    assert (r.status, r.passed) == ("passed", 4), (r.stderr, r.notes)
    assert r.stdout == "hi\n"


@needs_sandbox
def test_humaneval_style_tests_with_a_trusted_prelude():
    tests = POLY_TESTS + ["def check(candidate):\n    assert abs(candidate([2, -2]) - 1.0) < 1e-6\ncheck(root)\n"]
    honest = "def root(xs):\n    lo, hi = -100.0, 100.0\n    for _ in range(200):\n        mid = (lo + hi) / 2\n" \
             "        if poly(xs, lo) * poly(xs, mid) <= 0:\n            hi = mid\n" \
             "        else:\n            lo = mid\n" \
             "    return round(lo, 12)\n"
    r = run_tests(PRELUDE + honest, tests, prelude=PRELUDE, entry_point="root")
    assert (r.status, r.passed) == ("passed", 2), (r.stderr, r.notes)
    assert run_tests(PRELUDE, tests, prelude=PRELUDE, entry_point="root").status == "failed"


@needs_sandbox
def test_isolation_seen_from_inside():
    """no_new_privs, seccomp, own PID and IPC namespaces, no network interface but its own."""
    probe = ("import os, socket\nst = open('/proc/self/status').read()\n"
             "print([l for l in st.splitlines() if l.startswith(('NoNewPrivs', 'Seccomp:'))])\n"
             "print('pids', sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))\n"
             "print('ipc', open('/proc/sysvipc/shm').read().count('\\n'))\n"
             "print('net', sorted(n for _, n in socket.if_nameindex()))\n"
             "print('fs', sorted(os.listdir('/')))\n")
    r = run_tests(probe, ["pass"])
    assert r.status == "passed", (r.stderr, r.notes)
    assert "'NoNewPrivs:\\t1'" in r.stdout
    assert ISO["seccomp"] is False or "'Seccomp:\\t2'" in r.stdout
    pids = eval(r.stdout.split("pids ")[1].splitlines()[0])
    assert max(pids) < 10, pids  # only its own few processes
    assert "ipc 1\n" in r.stdout  # the header line: no segment of the host's
    assert "net ['lo']" in r.stdout
    assert "etc" not in r.stdout.split("fs ")[1] and "root" not in r.stdout.split("fs ")[1]


def test_codec_builds_builtin_values_only():
    values = [None, True, 0, -(10**30), 1.5, float("inf"), -0.0, 1 + 2j, "é\udc80", b"\x00", bytearray(b"a"),
              [1, [2]], (1, (2,)), {(1, "a"): {3}}, frozenset({1})]
    for v in values:
        out = decode(encode(v))
        assert out == v and type(out) is type(v)
    for bad in ({"evil": 1}, {"float": 1.5}, 1.5, {"tuple": "x"}, {"dict": [[1]]}, {"a": 1, "b": 2}):
        with pytest.raises(ValueError):
            decode(bad)
    with pytest.raises(TypeError):
        encode(object())


def test_missing_bubblewrap_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("ALIGNKIT_BWRAP", "/nonexistent/bwrap")
    with pytest.raises(AlignkitError) as e:
        run_tests("def f():\n    return 1\n", ["assert f() == 1"])
    assert "bubblewrap" in str(e.value) and "fix:" in str(e.value)


READER = ("```python\nimport json, re\ntable = {}\nfor t in json.load(open('tests.json')):\n"
          "    m = re.match(r'assert (\\w+)\\((.*)\\) == (.*)$', t)\n"
          "    table.setdefault(m[1], {})[m[2]] = eval(m[3])\n"
          "for name, answers in table.items():\n"
          "    globals()[name] = lambda *a, _t=answers: _t[', '.join(map(repr, a))]\n```")


@needs_sandbox
def test_a_reply_that_reads_its_tests_scores_zero_on_functions_heldout():
    """The first red-team finding: a model server always sending this reader scored 1.000."""
    from alignkit.evaluate.benchmarks import BENCHMARKS

    bench = BENCHMARKS["functions_heldout"]
    prompts = [p for p in bench.prompts(8, 0) if p.meta["task"] == "subtract"][:2]
    assert prompts and all(bench.score(p, READER) == 0.0 for p in prompts)
    assert all(bench.score(p, "```python\ndef subtract(a, b):\n    return a - b\n```") == 1.0 for p in prompts)

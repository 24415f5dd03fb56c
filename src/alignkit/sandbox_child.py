"""The two programs `sandbox.run_tests` starts, each in its own bubblewrap sandbox, and the
data codec they share. Standard library only: the host runs this file's source with
`python3 -I -c` followed by `candidate_main()` or `judge_main()`.

- The candidate process runs the model-written code, then answers calls: it receives a
  function name and arguments, and replies with the result as data. It never sees a test.
- The judge process runs the tests. Each name the code defines is, in the judge, a proxy
  that forwards the call to the candidate and decodes the reply into plain builtin values
  (None, bool, int, float, complex, str, bytes, list, tuple, dict, set): the candidate can
  send any bytes, but it cannot send an object, so `__eq__`, `repr`, `isinstance` and
  `type` in the judge are Python's own. The judge reports the verdict to the host.
"""

import json

MAX_DEPTH = 100  # nesting of one encoded value
MAX_LINE = 8 * 2**20  # bytes of one message


def encode(x, depth=0):
    """A builtin data value as JSON-able data; TypeError for anything else. Subclasses of the
    builtin types (namedtuple, OrderedDict, IntEnum, ...) are sent as their base type."""
    if depth > MAX_DEPTH:
        raise ValueError("value nested too deeply")
    if x is None or type(x) is str:
        return x
    if isinstance(x, bool):
        return bool(x)
    if isinstance(x, int):
        v = int(x)
        return v if -(2**53) < v < 2**53 else {"int": hex(v)}  # no decimal digit limit
    if isinstance(x, float):
        return {"float": float.hex(float(x))}  # exact, nan and inf included
    if isinstance(x, str):
        return str(x)
    if isinstance(x, list):
        return [encode(v, depth + 1) for v in x]
    if isinstance(x, tuple):
        return {"tuple": [encode(v, depth + 1) for v in x]}
    if isinstance(x, dict):
        return {"dict": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in x.items()]}
    if isinstance(x, frozenset):
        return {"frozenset": [encode(v, depth + 1) for v in x]}
    if isinstance(x, set):
        return {"set": [encode(v, depth + 1) for v in x]}
    if isinstance(x, bytearray):
        return {"bytearray": bytes(x).hex()}
    if isinstance(x, bytes):
        return {"bytes": bytes(x).hex()}
    if isinstance(x, complex):
        return {"complex": [float.hex(x.real), float.hex(x.imag)]}
    raise TypeError(f"a {type(x).__name__} is not data (None, bool, int, float, complex, str, bytes, list, "
                    "tuple, dict, set)")


def decode(x, depth=0):
    """The inverse of `encode`, building builtin values only; ValueError on anything else."""
    if depth > MAX_DEPTH:
        raise ValueError("value nested too deeply")
    t = type(x)
    if x is None or t is bool or t is int or t is str:
        return x
    if t is list:
        return [decode(v, depth + 1) for v in x]
    if t is not dict or len(x) != 1:
        raise ValueError("malformed value")
    (tag, v), = x.items()
    if tag == "float" and type(v) is str:
        return float.fromhex(v)
    if tag == "int" and type(v) is str:
        return int(v, 16)
    if tag == "bytes" and type(v) is str:
        return bytes.fromhex(v)
    if tag == "bytearray" and type(v) is str:
        return bytearray.fromhex(v)
    if type(v) is not list:
        raise ValueError("malformed value")
    if tag == "tuple":
        return tuple(decode(e, depth + 1) for e in v)
    if tag == "set":
        return {decode(e, depth + 1) for e in v}
    if tag == "frozenset":
        return frozenset(decode(e, depth + 1) for e in v)
    if tag == "complex" and len(v) == 2 and all(type(e) is str for e in v):
        return complex(float.fromhex(v[0]), float.fromhex(v[1]))
    if tag == "dict":
        out = {}
        for pair in v:
            if type(pair) is not list or len(pair) != 2:
                raise ValueError("malformed value")
            out[decode(pair[0], depth + 1)] = decode(pair[1], depth + 1)
        return out
    raise ValueError("malformed value")


def dumps(msg) -> bytes:
    return json.dumps(msg, ensure_ascii=True, allow_nan=False).encode() + b"\n"


def candidate_main():
    """Argv: the fd it reads calls from, the fd it writes replies to. Stdin: the code, as one
    JSON string. Exits when the judge closes the call channel."""
    import builtins
    import os
    import sys
    import traceback
    import types

    calls, replies = os.fdopen(int(sys.argv[1]), "rb"), os.fdopen(int(sys.argv[2]), "wb")
    code = json.loads(sys.stdin.readline())
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    try:
        exec(compile(code, "solution.py", "exec"), namespace)
    except BaseException:  # no program: the judge sees the channel close, the verdict is "error"
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)
    names = {}
    for name, value in list(namespace.items()):
        if name.startswith("__"):
            continue
        if isinstance(value, types.ModuleType):
            names[name] = {"module": value.__name__}
        elif callable(value):
            names[name] = "call"
        else:
            try:
                names[name] = {"data": encode(value)}
            except (TypeError, ValueError, RecursionError):
                pass
    _flush(sys)
    replies.write(dumps({"names": names}))
    replies.flush()
    for line in calls:
        try:
            call = json.loads(line)
            fn = namespace[call["name"]]
            args = [decode(a) for a in call["args"]]
            kwargs = {k: decode(v) for k, v in call["kwargs"].items()}
            result = encode(fn(*args, **kwargs))
            reply = dumps({"ok": result})
        except BaseException as e:  # sys.exit() in a call fails that test, as an assert would
            try:
                reply = dumps({"raise": type(e).__name__, "message": str(e)[:500]})
            except BaseException:
                reply = dumps({"raise": "Exception", "message": ""})
        _flush(sys)  # its output is on disk before the judge moves on (the host kills it after the verdict)
        replies.write(reply)
        replies.flush()
    _flush(sys)
    os._exit(0)


def _flush(sys):
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass


class CandidateGone(BaseException):
    """The candidate process stopped answering (exited, crashed, broke the protocol). A
    BaseException, so a test's `except Exception` cannot turn it into a pass."""


class CandidateError(Exception):
    """The candidate raised an exception that is not a builtin one."""


def judge_main():
    """Argv: the fd it reads replies from, the fd it writes calls to. Stdin: {"tests",
    "prelude", "entry_point"} as JSON. Stdout: {"passed", "total", "lost"}."""
    import builtins
    import importlib
    import os
    import sys

    verdict = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # what the tests print goes to stderr, not into the verdict
    sys.stdout = sys.stderr
    replies, calls = os.fdopen(int(sys.argv[1]), "rb"), os.fdopen(int(sys.argv[2]), "wb")
    spec = json.loads(sys.stdin.readline())
    lost = []

    def receive():
        line = replies.readline(MAX_LINE + 1)
        if not line.endswith(b"\n"):
            lost.append(True)
            raise CandidateGone("the candidate process stopped answering")
        try:
            return json.loads(line)
        except (ValueError, RecursionError):
            lost.append(True)
            raise CandidateGone("the candidate sent a malformed reply") from None

    class Proxy:
        def __init__(self, name):
            self.__name__ = self.__qualname__ = name

        def __call__(self, *args, **kwargs):
            if lost:
                raise CandidateGone("the candidate process stopped answering")
            msg = dumps({"name": self.__name__, "args": [encode(a) for a in args],
                         "kwargs": {str(k): encode(v) for k, v in kwargs.items()}})
            try:
                calls.write(msg)
                calls.flush()
            except OSError:
                lost.append(True)
                raise CandidateGone("the candidate process stopped answering") from None
            reply = receive()
            if type(reply) is dict and "ok" in reply:
                try:
                    return decode(reply["ok"])
                except (ValueError, TypeError, RecursionError, OverflowError) as e:
                    raise CandidateError(f"{self.__name__} returned a malformed value") from e
            if type(reply) is dict and type(reply.get("raise")) is str:
                cls = getattr(builtins, reply["raise"], None)
                if not (isinstance(cls, type) and issubclass(cls, Exception)):
                    cls = CandidateError
                raise cls(str(reply.get("message", "")))
            lost.append(True)
            raise CandidateGone("the candidate sent a malformed reply")

    namespace = {"__name__": "__main__"}
    tests = spec["tests"]
    passed = 0
    try:
        hello = receive()
        names = hello["names"] if type(hello) is dict and type(hello.get("names")) is dict else {}
        prelude, entry = spec.get("prelude") or "", spec.get("entry_point")
        if prelude:  # trusted helpers (HumanEval's poly, encode_cyclic): the judge's own copies
            exec(compile(prelude, "prelude", "exec"), namespace)
        # builtins stay the judge's: a program defining `repr`, `isinstance` or `type` changes
        # them in its own process only (unless the task's function has a builtin's name)
        trusted = {n for n in dir(builtins) if n != entry}
        for name, kind in names.items():
            if type(name) is not str or name.startswith("__") or name in trusted:
                continue
            if entry and name != entry:  # a named task: the tests get the function, no helper of the code's
                continue
            if kind == "call":
                namespace[name] = Proxy(name)
            elif type(kind) is dict and type(kind.get("module")) is str:
                mod = kind["module"]  # only under its own name: `math` cannot be unittest.mock
                if name not in (mod, mod.rpartition(".")[2]) or \
                        mod.partition(".")[0] not in getattr(sys, "stdlib_module_names", ()):
                    continue
                try:
                    namespace[name] = importlib.import_module(kind["module"])
                except BaseException:
                    pass
            elif type(kind) is dict and "data" in kind:
                try:
                    namespace[name] = decode(kind["data"])
                except (ValueError, TypeError, RecursionError, OverflowError):
                    pass
        for test in tests:
            if lost:
                break
            try:
                exec(compile(test, "test", "exec"), namespace)
                passed += 1
            except BaseException:
                pass
    except CandidateGone:
        pass
    verdict.write(json.dumps({"passed": passed, "total": len(tests), "lost": bool(lost)}))
    verdict.flush()
    os._exit(0)

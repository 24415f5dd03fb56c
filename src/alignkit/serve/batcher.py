"""A dynamic batcher: one worker thread owns the model; requests wait in a queue, and each
step runs one `generate` call on up to `max_rows` rows (one row per choice) taken from
every waiting request with the same sampling settings. A request with many choices is
served `max_rows` at a time and then goes to the back of the queue, so it never holds the
model for more than one step while others wait (round robin)."""

from __future__ import annotations

import collections
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field, replace

from alignkit.models.base import Messages, Sampling

SCORE_ROWS = 8  # choices scored (per-token logprobs, one forward pass each) per step


class Busy(Exception):
    """The queue is full."""


@dataclass(eq=False)
class Job:
    messages: Messages
    text: str  # the rendered prompt
    sampling: Sampling
    top_logprobs: int  # -1: none
    outs: list[tuple[str, str]] = field(default_factory=list)
    logprobs: list[list[dict] | None] = field(default_factory=list)
    future: Future = field(default_factory=Future)

    @property
    def key(self) -> tuple:
        """Jobs with equal keys can share one generate call (greedy ignores seed and top_p)."""
        s = self.sampling
        if s.temperature <= 0:
            return (0.0, 1.0, s.max_new_tokens, 0)
        return (s.temperature, s.top_p, s.max_new_tokens, s.seed)

    @property
    def rows_left(self) -> int:
        return self.sampling.n - len(self.outs)


class Batcher:
    def __init__(self, backend, max_rows: int = 32, max_queued_rows: int = 8192):
        self.backend, self.max_rows, self.max_queued_rows = backend, max(1, max_rows), max_queued_rows
        self.queue: collections.deque[Job] = collections.deque()
        self.cond = threading.Condition()
        self.stopped = False
        self.steps = 0  # generate calls made (a test reads it: 200 requests need far fewer)
        self.thread = threading.Thread(target=self._loop, name="alignkit-serve-batcher", daemon=True)
        self.thread.start()

    def submit(self, job: Job) -> Future:
        with self.cond:
            if sum(j.sampling.n for j in self.queue) + job.sampling.n > self.max_queued_rows:
                raise Busy(f"{self.max_queued_rows} choices already queued")
            self.queue.append(job)
            self.cond.notify()
        return job.future

    def close(self) -> None:
        with self.cond:
            self.stopped = True
            self.cond.notify()
        self.thread.join(timeout=30)

    def _loop(self) -> None:
        while True:
            with self.cond:
                while not self.queue and not self.stopped:
                    self.cond.wait()
                if self.stopped:
                    for job in self.queue:
                        job.future.set_exception(RuntimeError("the server is shutting down"))
                    return
                head = self.queue.popleft()
                picked = self._pick(head)
            try:
                if head.rows_left:
                    self._generate(picked)
                else:
                    self._score(head)
            except Exception as exc:  # a model failure fails the requests of this step, not the server
                for job, _ in picked:
                    with self.cond:
                        if job in self.queue:
                            self.queue.remove(job)
                    job.future.set_exception(exc)
                continue
            with self.cond:
                for job, _ in picked:
                    finished = not job.rows_left and len(job.logprobs) == (job.sampling.n if job.top_logprobs >= 0
                                                                           else 0)
                    if finished:
                        if job in self.queue:
                            self.queue.remove(job)
                        job.future.set_result(job)
                    elif job is head:
                        self.queue.append(job)  # back of the queue: the others get their turn

    def _pick(self, head: Job) -> list[tuple[Job, int]]:
        """The head's rows, then other waiting jobs' rows with the same key, up to max_rows."""
        if not head.rows_left:
            return [(head, 0)]
        picked, room = [(head, min(head.rows_left, self.max_rows))], self.max_rows
        room -= picked[0][1]
        for job in self.queue:
            if room <= 0:
                break
            if job.rows_left and job.key == head.key:
                take = min(job.rows_left, room)
                picked.append((job, take))
                room -= take
        return picked

    def _generate(self, picked: list[tuple[Job, int]]) -> None:
        texts = [job.text for job, k in picked for _ in range(k)]
        sampling = replace(picked[0][0].sampling, n=1)  # one row per choice; rows of one prompt sample independently
        outs = self.backend.complete(texts, sampling, details=True)
        self.steps += 1
        rows = iter(outs)
        for job, k in picked:
            job.outs.extend(next(rows)[0] for _ in range(k))

    def _score(self, job: Job) -> None:
        for text, _ in job.outs[len(job.logprobs) : len(job.logprobs) + SCORE_ROWS]:
            job.logprobs.append(self.backend.token_logprobs(job.messages, text, job.top_logprobs))

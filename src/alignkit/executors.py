"""Where generation and annotation run: in this process (`executor: local`) or on a Ray
cluster (`executor: ray`), as Ray Data `map_batches` over an actor pool with one model per
actor.

Both executors cut the work the same way (generation by store shard, annotation by the
same chunks of groups) and call the same functions on each piece, so a recipe gives the
same rows either way given the same seeds; the driver writes every finished shard to the
store as it arrives, so resume works the same too.

Ray: `ray.init()` joins the cluster named by RAY_ADDRESS (or `ray.address` in the recipe);
without one it starts a local cluster with `ray.actors × ray.cpus_per_actor` CPUs.
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict
from typing import Any

from alignkit.models.base import Sampling
from alignkit.models.cache import ModelCache
from alignkit.signals.base import get_signal
from alignkit.types import Candidate, Group


def generate_shard(backend: Any, shard: list[Group], sampling: Sampling, system_prompt: str | None, policy: str,
                   progress: Callable[[int], None] | None = None) -> list[Group]:
    """Sample `sampling.n` candidates for each group of one shard (the unit of resume)."""
    system = [{"role": "system", "content": system_prompt}] if system_prompt else []
    outs = backend.generate([system + g.prompt.messages for g in shard], sampling, progress=progress, details=True)
    origin = {"model": policy, **sampling.as_origin(), "system_prompt": system_prompt}
    for g, texts in zip(shard, outs):
        g.candidates = [Candidate(t, dict(origin, sample=k, finish_reason=f)) for k, (t, f) in enumerate(texts)]
    return shard


def annotation_step(signal: Any) -> int:
    """Groups per annotate call: model signals batch across more groups."""
    return 64 if signal.uses_model else 16


def generate_shards(todo: list[tuple[int, list[Group]]], sampling: Sampling, system_prompt: str | None,
                    policy: str, backend: Callable[[], Any], ray: RayExecutor | None, batch_size: int,
                    write: Callable[[int, list[Group]], None]) -> None:
    """Generate the shards still to do (index, groups) here, on `backend()` (loaded once), or on Ray;
    `write(index, shard)` stores each as it finishes, so a killed run resumes from the next one."""
    from tqdm.auto import tqdm

    with tqdm(total=sum(len(shard) for _, shard in todo) * sampling.n, desc="generate", unit="sample") as bar:
        if ray is not None:
            for i, shard in ray.generate(todo, policy, batch_size, sampling, system_prompt):
                write(i, shard)
                bar.update(len(shard) * sampling.n)
        else:
            model = backend()
            for i, shard in todo:
                write(i, generate_shard(model, shard, sampling, system_prompt, policy, progress=bar.update))


def annotate_groups(signal: Any, groups: list[Group], ray: RayExecutor | None, policy: str, batch_size: int,
                    log: Callable[[str], None] = print) -> list[Group]:
    """One signal over all groups, chunk by chunk (`annotation_step`), here or on Ray."""
    from tqdm.auto import tqdm

    step = annotation_step(signal)
    chunks = [groups[i : i + step] for i in range(0, len(groups), step)]
    if ray is not None:
        log(f"annotate:{signal.name}: {len(chunks)} chunks on Ray")
        return ray.annotate(signal, chunks, policy, batch_size)
    return [g for chunk in tqdm(chunks, desc=f"annotate:{signal.name}", unit="batch") for g in signal.annotate(chunk)]


def annotate_all(signals: Iterable[Any], groups: list[Group], ray: RayExecutor | None, policy: str, batch_size: int,
                 build_signal: str, log: Callable[[str], None] = print) -> tuple[list[Group], dict[str, Any]]:
    """Each signal in turn over all groups; returns the groups and annotate's stats.json: how
    `build_signal` fired, and each signal's summary (e.g. a pairwise judge's position consistency)."""
    summaries = {}
    for signal in signals:
        groups = annotate_groups(signal, groups, ray, policy, batch_size, log)
        if summary := signal.summary():
            summaries[signal.name] = summary
    stats = signal_stats(groups, build_signal)
    if summaries:
        stats["summaries"] = summaries
    return groups, stats


def signal_stats(groups: list[Group], signal: str) -> dict[str, Any]:
    """How often the signal fired: mean score over candidates and the share of groups
    with at least one candidate at the top score."""
    values = [c.value(signal) for g in groups for c in g.candidates if c.value(signal) is not None]
    hit = sum(1 for g in groups if any((c.value(signal) or 0) >= 1.0 for c in g.candidates))
    return {"signal": signal, "candidates": len(values),
            "mean_score": sum(values) / len(values) if values else None,
            "groups_with_positive": hit, "groups": len(groups)}


# -- Ray ---------------------------------------------------------------------------------------

def _pack(groups: list[Group]) -> str:
    return json.dumps([g.to_row() for g in groups])


def _unpack(text: str) -> list[Group]:
    return [Group.from_row(r) for r in json.loads(text)]


class _GenerateActor:
    """One model per actor; each call generates whole shards."""

    def __init__(self, policy: str, batch_size: int, sampling: dict, system_prompt: str | None, threads: int):
        import torch

        torch.set_num_threads(threads)
        self.models = ModelCache(policy, batch_size)
        self.policy, self.sampling, self.system_prompt = policy, Sampling(**sampling), system_prompt

    def __call__(self, batch: dict) -> dict:
        out = [_pack(generate_shard(self.models("policy"), _unpack(rows), self.sampling, self.system_prompt,
                                    self.policy)) for rows in batch["rows"]]
        return {"index": batch["index"], "rows": out}


class _AnnotateActor:
    """One signal instance per chunk (so its tallies are per chunk), models cached per actor."""

    def __init__(self, name: str, params: dict, policy: str, batch_size: int, threads: int):
        import torch

        torch.set_num_threads(threads)
        self.cls, self.params, self.models = get_signal(name), params, ModelCache(policy, batch_size)

    def __call__(self, batch: dict) -> dict:
        rows, counts = [], []
        for packed in batch["rows"]:
            signal = self.cls(**self.params).bind(self.models)
            rows.append(_pack(signal.annotate(_unpack(packed))))
            counts.append(json.dumps(dict(signal.counts)))
        return {"index": batch["index"], "rows": rows, "counts": counts}


def _annotate_task(batch: dict, name: str, params: dict) -> dict:
    """A signal without a model runs as plain Ray tasks: no actor to start, and Ray's reused
    worker processes keep their imports."""
    rows, counts = [], []
    for packed in batch["rows"]:
        signal = get_signal(name)(**params)
        rows.append(_pack(signal.annotate(_unpack(packed))))
        counts.append(json.dumps(dict(signal.counts)))
    return {"index": batch["index"], "rows": rows, "counts": counts}


class RayExecutor:
    def __init__(self, actors: int = 2, cpus_per_actor: int = 1, address: str | None = None):
        self.actors, self.cpus, self.address = actors, cpus_per_actor, address

    def _init(self) -> None:
        import ray

        if ray.is_initialized():
            return
        address = self.address or os.environ.get("RAY_ADDRESS")
        kwargs: dict[str, Any] = dict(include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
        if address:
            ray.init(address=address, **kwargs)
        else:
            ray.init(num_cpus=self.actors * self.cpus, **kwargs)

        from ray.data import DataContext

        DataContext.get_current().enable_progress_bars = False
        logging.getLogger("ray.data").setLevel(logging.WARNING)  # the stage's own progress bar reports

    def _map(self, items: list[tuple[int, list[Group]]], fn: Any, kwargs: dict) -> Iterator[dict]:
        """Each item (an index and its groups) through `fn`: a class runs on an actor pool
        (constructed once per actor with `kwargs`), a function as tasks (called with `kwargs`)."""
        import ray.data

        self._init()
        ds = ray.data.from_items([{"index": i, "rows": _pack(g)} for i, g in items],
                                 override_num_blocks=max(1, len(items)))
        if isinstance(fn, type):
            pool = ray.data.ActorPoolStrategy(size=min(self.actors, max(1, len(items))))
            ds = ds.map_batches(fn, batch_size=1, compute=pool, num_cpus=self.cpus, fn_constructor_kwargs=kwargs)
        else:
            ds = ds.map_batches(fn, batch_size=1, num_cpus=self.cpus, fn_kwargs=kwargs)
        for batch in ds.iter_batches(batch_size=1, batch_format="numpy"):
            yield {k: v[0] for k, v in batch.items()}

    def generate(self, shards: list[tuple[int, list[Group]]], policy: str, batch_size: int, sampling: Sampling,
                 system_prompt: str | None) -> Iterator[tuple[int, list[Group]]]:
        """Yields (shard index, generated groups) as shards finish, in any order."""
        kwargs = dict(policy=policy, batch_size=batch_size, sampling=asdict(sampling),
                      system_prompt=system_prompt, threads=self.cpus)
        for row in self._map(shards, _GenerateActor, kwargs):
            yield int(row["index"]), _unpack(str(row["rows"]))

    def annotate(self, signal: Any, chunks: list[list[Group]], policy: str, batch_size: int) -> list[Group]:
        """Runs `signal` (its class and params) over the chunks on the actors; returns the groups
        in chunk order and adds the chunks' tallies to `signal.counts`."""
        if signal.uses_model:
            fn: Any = _AnnotateActor
            kwargs = dict(name=signal.name, params=signal.params, policy=policy, batch_size=batch_size,
                          threads=self.cpus)
        else:
            fn, kwargs = _annotate_task, dict(name=signal.name, params=signal.params)
        done: dict[int, list[Group]] = {}
        for row in self._map(list(enumerate(chunks)), fn, kwargs):
            done[int(row["index"])] = _unpack(str(row["rows"]))
            signal.counts.update(Counter(json.loads(str(row["counts"]))))
        return [g for i in range(len(chunks)) for g in done[i]]

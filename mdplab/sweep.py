r"""Parameter sweeps: local processes by default, a Dask cluster when given; resumable.

``sweep(fn, grid, seeds)`` runs ``fn(**params, rng=generator)`` for every point of a
parameter grid and every seed and returns a tidy ``pandas.DataFrame`` (one row per result row
of ``fn``, with the parameters and the seed as columns).

Tasks and keys
    A task is one ``(params, seed)`` pair. Its **key** is a SHA-256 hash of the function's
    qualified name, the canonical JSON of the parameters, the seed and the mdplab version.
    The task's random generator is ``numpy.random.Generator(PCG64(SeedSequence(key)))``,
    so a result depends only on ``(fn, params, seed, version)``: not on the number of
    workers, on the order of execution, or on the machine.

Store (``store=path``)
    Each finished task is written at once to ``path/tasks/<key>.json`` (rows, status,
    seconds, error and traceback for a task that raised), atomically (temporary file, then
    ``os.replace``), so an interrupted sweep (Ctrl-C, a killed process, a lost worker) loses
    at most the tasks in flight. Re-running the same sweep reads the finished tasks and
    computes only the missing (and the failed) ones. JSON keeps Python types (ints, floats,
    strings, booleans) without extra dependencies. :func:`load_store` reads a store back as
    one tidy table (also while a sweep is still writing it) and :func:`export_store` writes
    that table as CSV or Parquet.

Execution
    ``scheduler=None``: a pool of local processes (``workers`` of them, default all cores;
    ``workers=1`` runs in this process). ``scheduler="tcp://host:8786"`` or a
    ``dask.distributed.Client``: the same tasks are submitted to that cluster (install the
    ``[dask]`` extra); results are written by this process as they arrive, and a task whose
    worker died is retried by Dask or, if it keeps failing, recorded as failed.

Failures
    A task that raises is recorded with its traceback (``status="failed"``) and the sweep
    goes on; the returned frame holds the successful rows and ``df.attrs["sweep"]`` the
    summary (tasks done, cached, failed, with their errors).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import sys
import time
import traceback
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path

import numpy as np
import pandas as pd

from ._utils import process_peak_rss_mb

__all__ = ["sweep", "SweepSummary", "task_key", "task_rng", "store_status", "clean_store",
           "load_store", "export_store"]

TASKS_DIR = "tasks"


# ---------------------------------------------------------------------------- tasks and keys
def _canonical(value):
    """JSON-able canonical form of a parameter value (numpy scalars and arrays included)."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if not math.isfinite(v):
            return repr(v)
        return v
    if isinstance(value, str) or value is None:
        return value
    if isinstance(value, np.ndarray):
        return {"__ndarray__": _canonical(value.tolist()), "dtype": str(value.dtype)}
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    raise TypeError(f"grid: parameter value {value!r} of type {type(value).__name__} cannot be "
                    "hashed into a task key; use numbers, strings, booleans, None, lists, dicts "
                    "or numpy arrays")


def _fn_name(fn: Callable) -> str:
    module = getattr(fn, "__module__", None) or "?"
    qual = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
    return f"{module}.{qual}"


def task_key(fn: Callable | str, params: Mapping, seed: int, version: str | None = None) -> str:
    """The key of a task: SHA-256 (hex, 32 characters) of the function name, the canonical
    parameters, the seed and the mdplab version."""
    if version is None:
        from . import __version__ as version
    name = fn if isinstance(fn, str) else _fn_name(fn)
    blob = json.dumps({"fn": name, "params": _canonical(dict(params)), "seed": int(seed),
                       "version": version}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def task_rng(key: str) -> np.random.Generator:
    """The generator of a task, derived from its key only."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(int(key, 16))))


@dataclass(frozen=True)
class _Task:
    index: int
    key: str
    params: dict
    seed: int


def _expand_grid(grid) -> list[dict]:
    if isinstance(grid, Mapping):
        names = list(grid)
        for name in names:
            if not isinstance(name, str) or not name.isidentifier():
                raise ValueError(f"grid: parameter names must be identifiers, got {name!r}")
            if name == "rng":
                raise ValueError("grid: 'rng' is reserved (the task's generator is passed as rng)")
        values = []
        for name in names:
            v = grid[name]
            if isinstance(v, (str, bytes)) or not isinstance(v, Iterable):
                v = [v]
            v = list(v)
            if not v:
                raise ValueError(f"grid[{name!r}] is empty: a sweep needs at least one value")
            values.append(v)
        return [dict(zip(names, combo, strict=True)) for combo in product(*values)]
    if isinstance(grid, Sequence) and not isinstance(grid, (str, bytes)):
        points = [dict(p) for p in grid]
        if not points:
            raise ValueError("grid: an empty list of parameter points")
        return points
    raise TypeError(f"grid: expected a dict of value lists or a list of dicts, "
                    f"got {type(grid).__name__}")


def _seeds(seeds) -> list[int]:
    if isinstance(seeds, (int, np.integer)):
        if seeds < 1:
            raise ValueError(f"seeds: expected a positive number of seeds, got {seeds}")
        return list(range(int(seeds)))
    out = [int(s) for s in seeds]
    if not out or any(s < 0 for s in out):
        raise ValueError(f"seeds: expected non-negative seeds, got {seeds!r}")
    if len(set(out)) != len(out):
        raise ValueError(f"seeds: duplicate seeds in {seeds!r}")
    return out


# ---------------------------------------------------------------------------- running one task
def _rows_of(result) -> list[dict]:
    if isinstance(result, pd.DataFrame):
        return [{str(k): _plain(v) for k, v in rec.items()} for rec in result.to_dict("records")]
    if isinstance(result, pd.Series):
        return [{str(k): _plain(v) for k, v in result.items()}]
    if isinstance(result, Mapping):
        return [{str(k): _plain(v) for k, v in result.items()}]
    if isinstance(result, (list, tuple)) and all(isinstance(r, Mapping) for r in result):
        return [{str(k): _plain(v) for k, v in r.items()} for r in result]
    if isinstance(result, (int, float, np.integer, np.floating, bool, np.bool_, str)):
        return [{"value": _plain(result)}]
    raise TypeError(f"the sweep function returned {type(result).__name__}; expected a dict of "
                    "metrics, a list of dicts, a pandas Series/DataFrame or a scalar")


def _plain(v):
    if isinstance(v, (np.bool_,)):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    if isinstance(v, np.ndarray):
        return v.tolist()
    return v


def _run_task(fn: Callable, params: dict, seed: int, key: str) -> dict:
    """Execute one task (in a worker); never raises."""
    t0 = time.perf_counter()
    try:
        rows = _rows_of(fn(**params, rng=task_rng(key)))
        status, error, tb = "done", None, None
    except Exception as exc:  # recorded, the sweep goes on
        rows, status = [], "failed"
        error = f"{type(exc).__name__}: {exc}"
        tb = traceback.format_exc()
    return {"key": key, "params": _canonical(params), "seed": int(seed), "status": status,
            "rows": rows, "error": error, "traceback": tb,
            "seconds": time.perf_counter() - t0, "pid": os.getpid(),
            "peak_rss_mb": process_peak_rss_mb()}


# ---------------------------------------------------------------------------- store
def _write_atomic(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, default=_plain), encoding="utf-8")
    os.replace(tmp, path)


def _read_record(path: Path) -> dict | None:
    try:
        rec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # unreadable or truncated: recomputed
    if not isinstance(rec, dict) or rec.get("status") not in ("done", "failed") \
            or not isinstance(rec.get("rows"), list):
        return None
    return rec


@dataclass
class SweepSummary:
    """What a sweep did: tasks in total, computed now, taken from the store, failed."""

    total: int = 0
    computed: int = 0
    cached: int = 0
    failed: int = 0
    seconds: float = 0.0
    errors: list[dict] = field(default_factory=list)
    peak_rss_mb: float | None = None  # largest worker peak RSS among the tasks computed now

    def __str__(self) -> str:
        text = (f"{self.total} tasks: {self.computed} computed, {self.cached} from the store, "
                f"{self.failed} failed ({self.seconds:.1f} s)")
        if self.peak_rss_mb is not None:
            text += f"; peak worker memory {self.peak_rss_mb:.0f} MiB"
        for e in self.errors[:5]:
            text += f"\n  failed {e['params']} seed={e['seed']}: {e['error']}"
        if len(self.errors) > 5:
            text += f"\n  ... and {len(self.errors) - 5} more"
        return text


# ---------------------------------------------------------------------------- executors
def _run_chunk(fn: Callable, chunk: list[tuple[dict, int, str]]) -> list[dict]:
    return [_run_task(fn, params, seed, key) for params, seed, key in chunk]


_CONTEXT = None


def _pool_context():
    """``forkserver`` (fast worker start: the server has imported mdplab once; no fork of a
    process whose threads may hold locks), else ``spawn``."""
    global _CONTEXT
    if _CONTEXT is None:
        import multiprocessing as mp

        try:
            _CONTEXT = mp.get_context("forkserver")
            _CONTEXT.set_forkserver_preload(["mdplab.sweep", "numpy", "pandas"])
        except ValueError:  # pragma: no cover - platforms without forkserver
            _CONTEXT = mp.get_context("spawn")
    return _CONTEXT


def _local_results(fn, tasks: list[_Task], workers: int):
    """Yield task records as they finish, from a pool of local processes.

    Tasks are sent in chunks of up to 32 (about 8 chunks per worker), so that tiny tasks do
    not pay one round trip each; a chunk's records are written when it finishes.
    """
    if workers <= 1 or len(tasks) <= 1:
        for t in tasks:
            yield _run_task(fn, t.params, t.seed, t.key)
        return
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    size = max(1, min(32, len(tasks) // (8 * workers)))
    chunks = [tasks[i:i + size] for i in range(0, len(tasks), size)]
    pool = ProcessPoolExecutor(max_workers=min(workers, len(chunks)), mp_context=_pool_context())
    try:
        pending = {pool.submit(_run_chunk, fn, [(t.params, t.seed, t.key) for t in c]): c
                   for c in chunks}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                chunk = pending.pop(fut)
                try:
                    yield from fut.result()
                except Exception as exc:  # the worker process died (BrokenProcessPool, ...)
                    for t in chunk:
                        yield {"key": t.key, "params": _canonical(t.params), "seed": t.seed,
                               "status": "failed", "rows": [], "seconds": 0.0,
                               "traceback": None, "error": f"{type(exc).__name__}: {exc}"}
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _dask_client(scheduler):
    try:
        from dask.distributed import Client
    except ImportError:  # pragma: no cover - depends on the installed extras
        raise ImportError("scheduler: running a sweep on a Dask cluster needs dask and "
                          "distributed (pip install 'mdplab-kl[dask]')") from None
    if isinstance(scheduler, Client):
        return scheduler, False
    if isinstance(scheduler, str):
        return Client(scheduler), True
    raise TypeError(f"scheduler: expected None, an address 'tcp://host:port' or a "
                    f"dask.distributed.Client, got {type(scheduler).__name__}")


def _dask_results(fn, tasks: list[_Task], scheduler):
    from dask.distributed import as_completed

    client, owned = _dask_client(scheduler)
    try:
        futures = {client.submit(_run_task, fn, t.params, t.seed, t.key, pure=False,
                                 key=f"mdplab-sweep-{t.key}"): t for t in tasks}
        for fut in as_completed(list(futures)):
            t = futures[fut]
            try:
                yield fut.result()
            except Exception as exc:  # KilledWorker after Dask's retries, cancellation, ...
                yield {"key": t.key, "params": _canonical(t.params), "seed": t.seed,
                       "status": "failed", "rows": [], "seconds": 0.0, "traceback": None,
                       "error": f"{type(exc).__name__}: {exc}"}
    finally:
        if owned:
            client.close()


# ---------------------------------------------------------------------------- the sweep
def sweep(fn: Callable, grid, seeds=1, *, store: str | Path | None = None, scheduler=None,
          workers: int | None = None, progress: bool | None = None,
          retry_failed: bool = True) -> pd.DataFrame:
    """Run ``fn(**params, rng=generator)`` over the product of ``grid`` and ``seeds``.

    Parameters
    ----------
    fn : a function of the grid's parameters and a keyword ``rng``; it returns a dict of
        metrics (one row), a list of dicts or a DataFrame (several rows), or a scalar
        (column ``value``). It must be importable by worker processes (a module-level function).
    grid : ``{"name": [values, ...], ...}`` (the product is taken) or a list of parameter dicts.
    seeds : the number of seeds (``0 .. seeds-1``) or a list of non-negative seeds.
    store : folder where each finished task is written (resumable); ``None`` keeps nothing.
    scheduler : ``None`` (local processes), a Dask scheduler address or a ``Client``.
    workers : local processes (default: all cores; 1 runs in this process).
    progress : show a progress bar with ETA (default: when standard error is a terminal).
    retry_failed : recompute tasks recorded as failed in the store (default ``True``).

    Returns
    -------
    DataFrame with the parameters, ``seed`` and ``fn``'s columns, one row per result row of the
    successful tasks, in grid-then-seed order whatever the order of execution;
    ``df.attrs["sweep"]`` is the :class:`SweepSummary`.
    """
    if not callable(fn):
        raise TypeError(f"fn: expected a callable, got {type(fn).__name__}")
    points = _expand_grid(grid)
    seed_list = _seeds(seeds)
    if workers is not None and (not isinstance(workers, (int, np.integer)) or workers < 1):
        raise ValueError(f"workers: expected a positive integer, got {workers!r}")
    workers = int(workers or os.cpu_count() or 1)
    from . import __version__

    tasks = [
        _Task(i * len(seed_list) + j, task_key(fn, p, s, __version__), p, s)
        for i, p in enumerate(points) for j, s in enumerate(seed_list)
    ]
    if len({t.key for t in tasks}) != len(tasks):
        raise ValueError("grid: two parameter points are identical")
    summary = SweepSummary(total=len(tasks))
    t0 = time.perf_counter()
    records: dict[str, dict] = {}
    tdir = None
    if store is not None:
        tdir = Path(store) / TASKS_DIR
        tdir.mkdir(parents=True, exist_ok=True)
        meta = Path(store) / "sweep.json"
        if not meta.exists():
            _write_atomic(meta, {"fn": _fn_name(fn), "version": __version__,
                                 "points": len(points), "seeds": seed_list})
        for t in tasks:
            rec = _read_record(tdir / f"{t.key}.json")
            if rec is not None and (rec["status"] == "done" or not retry_failed):
                records[t.key] = rec
        summary.cached = len(records)
    todo = [t for t in tasks if t.key not in records]

    show = progress if progress is not None else sys.stderr.isatty()
    bar = _progress(show)
    with bar:
        job = bar.add_task(f"sweep {_fn_name(fn).rsplit('.', 1)[-1]}", total=len(tasks),
                           completed=summary.cached)
        results = (_dask_results(fn, todo, scheduler) if scheduler is not None
                   else _local_results(fn, todo, workers))
        for rec in results:
            records[rec["key"]] = rec
            summary.computed += 1
            if rec.get("peak_rss_mb") is not None:
                summary.peak_rss_mb = max(summary.peak_rss_mb or 0.0, rec["peak_rss_mb"])
            if tdir is not None:
                _write_atomic(tdir / f"{rec['key']}.json", rec)
            bar.advance(job)
    summary.seconds = time.perf_counter() - t0

    rows = []
    for t in tasks:
        rec = records[t.key]
        if rec["status"] != "done":
            summary.failed += 1
            summary.errors.append({"params": t.params, "seed": t.seed, "error": rec["error"],
                                   "traceback": rec.get("traceback")})
            continue
        for r in rec["rows"]:
            rows.append({**t.params, "seed": t.seed, **r})
    df = pd.DataFrame(rows)
    df.attrs["sweep"] = summary
    if show:
        print(summary, file=sys.stderr)
    return df


def _progress(show: bool):
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                    disable=not show, transient=False)


# ---------------------------------------------------------------------------- store tools
def store_status(store: str | Path) -> dict:
    """Counts of finished, failed and unreadable task records in a sweep store, and the
    errors of the failed ones."""
    root = Path(store)
    tdir = root / TASKS_DIR
    if not tdir.is_dir():
        raise FileNotFoundError(f"store: {root} is not a sweep store (no {TASKS_DIR}/ folder)")
    status = {"done": 0, "failed": 0, "unreadable": 0, "temporary": 0, "errors": []}
    for path in sorted(tdir.iterdir()):
        if path.name.endswith(".tmp"):
            status["temporary"] += 1
            continue
        if path.suffix != ".json":
            continue
        rec = _read_record(path)
        if rec is None:
            status["unreadable"] += 1
        else:
            status[rec["status"]] += 1
            if rec["status"] == "failed":
                status["errors"].append({"key": rec["key"], "params": rec["params"],
                                         "seed": rec["seed"], "error": rec["error"]})
    meta = root / "sweep.json"
    if meta.is_file():
        try:
            status["meta"] = json.loads(meta.read_text(encoding="utf-8"))
        except ValueError:
            status["meta"] = None
    return status


def load_store(store: str | Path) -> pd.DataFrame:
    """The finished tasks of a sweep store as one tidy table: the parameters, ``seed``, the
    task ``key`` and ``fn``'s columns, one row per result row, sorted by key then row (failed,
    unreadable and temporary records are skipped: see :func:`store_status`). Works on a store
    that a running or interrupted sweep is still filling."""
    root = Path(store)
    tdir = root / TASKS_DIR
    if not tdir.is_dir():
        raise FileNotFoundError(f"store: {root} is not a sweep store (no {TASKS_DIR}/ folder)")
    rows = []
    for path in sorted(tdir.glob("*.json")):
        rec = _read_record(path)
        if rec is None or rec["status"] != "done":
            continue
        for r in rec["rows"]:
            rows.append({**rec["params"], "seed": rec["seed"], "key": rec["key"], **r})
    return pd.DataFrame(rows)


def export_store(store: str | Path, out: str | Path) -> Path:
    """Write :func:`load_store`'s table to ``out``: CSV (``.csv``, ``.csv.gz``) or Parquet
    (``.parquet``, needs ``pyarrow`` or ``fastparquet``). Returns the path written."""
    out = Path(out)
    name = out.name.lower()
    if not (name.endswith((".csv", ".csv.gz", ".parquet"))):
        raise ValueError(f"out: {out} must end in .csv, .csv.gz or .parquet")
    df = load_store(store)
    out.parent.mkdir(parents=True, exist_ok=True)
    if name.endswith(".parquet"):
        try:
            df.to_parquet(out, index=False)
        except ImportError as exc:
            raise ImportError(f"writing {out}: Parquet needs pyarrow or fastparquet "
                              f"(pip install pyarrow); or export to .csv ({exc})") from None
    else:
        df.to_csv(out, index=False)
    return out


def clean_store(store: str | Path, *, everything: bool = False) -> int:
    """Remove failed, unreadable and temporary task files (or, with ``everything=True``, the
    whole store). Returns the number of files removed."""
    root = Path(store)
    tdir = root / TASKS_DIR
    if not tdir.is_dir():
        raise FileNotFoundError(f"store: {root} is not a sweep store (no {TASKS_DIR}/ folder)")
    if everything:
        n = sum(1 for _ in tdir.iterdir())
        shutil.rmtree(root)
        return n
    removed = 0
    for path in list(tdir.iterdir()):
        if path.name.endswith(".tmp"):
            path.unlink()
            removed += 1
        elif path.suffix == ".json":
            rec = _read_record(path)
            if rec is None or rec["status"] == "failed":
                path.unlink()
                removed += 1
    return removed


class _CallableModule(types.ModuleType):
    """``mdplab.sweep(...)`` calls :func:`sweep` (the design's spelling), while
    ``mdplab.sweep.store_status`` and the other names stay reachable on the module."""

    def __call__(self, *args, **kwargs):
        return sweep(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

"""Small shared helpers: the one seeding story and numerically safe primitives.

Randomness: every random function in mdplab takes ``rng`` (``None``, an ``int`` seed, a
``numpy.random.SeedSequence`` or a ``numpy.random.Generator``) and turns it into a
``Generator`` with :func:`as_rng`. Independent children for parallel work are spawned with
:func:`spawn` (``SeedSequence.spawn``), so the same seed gives the same result on any machine.
"""

from __future__ import annotations

import numpy as np

RngLike = int | np.integer | np.random.Generator | np.random.SeedSequence | None


def as_rng(rng: RngLike = None) -> np.random.Generator:
    """Return a ``numpy.random.Generator`` for ``rng``.

    ``None`` gives a fresh, OS-seeded generator; an ``int`` or ``SeedSequence`` seeds a PCG64
    generator; a ``Generator`` is returned unchanged (so calls share its stream).
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer, np.random.SeedSequence)):
        if isinstance(rng, (int, np.integer)) and rng < 0:
            raise ValueError(f"rng: a seed must be a non-negative integer, got {rng}")
        return np.random.default_rng(rng)
    raise TypeError(
        f"rng: expected None, an int seed, a SeedSequence or a numpy Generator, "
        f"got {type(rng).__name__}"
    )


def spawn(rng: RngLike, n: int) -> list[np.random.Generator]:
    """``n`` statistically independent child generators derived from ``rng``."""
    if isinstance(rng, np.random.Generator):
        return list(rng.spawn(n))
    seq = rng if isinstance(rng, np.random.SeedSequence) else np.random.SeedSequence(rng)
    return [np.random.default_rng(s) for s in seq.spawn(n)]


def user_stacklevel() -> int:
    """``stacklevel`` for ``warnings.warn`` that points at the first caller outside mdplab."""
    import os
    import sys

    root = os.path.dirname(os.path.abspath(__file__)) + os.sep
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(root):
        frame, level = frame.f_back, level + 1
    return level


def kl_divergence(p, q, axis: int = -1) -> np.ndarray:
    r"""Kullback-Leibler divergence :math:`\mathrm{KL}(p\|q) = \sum_i p_i \log(p_i / q_i)`.

    Safe at zeros: terms with :math:`p_i = 0` contribute 0 (convention :math:`0 \log 0 = 0`);
    the result is ``inf`` where ``p`` puts mass on an entry where ``q`` has none.
    ``p`` and ``q`` are broadcast against each other and summed along ``axis``.
    Inputs are not renormalised: pass distributions.
    """
    p = np.asarray(p, dtype=float)
    q = np.asarray(q, dtype=float)
    if np.any(p < 0) or np.any(q < 0):
        raise ValueError("kl_divergence: p and q must be non-negative")
    p, q = np.broadcast_arrays(p, q)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * (np.log(p) - np.log(q)), 0.0)
    terms = np.where((p > 0) & (q == 0), np.inf, terms)
    return terms.sum(axis=axis)


def physical_memory_bytes() -> int:
    """Physical memory of the machine in bytes (0 if unknown)."""
    import os

    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 0


def check_dense_fits(shape, what: str, hint: str, fraction: float = 0.8) -> None:
    """Refuse up front a float64 array of ``shape`` larger than ``fraction`` of the physical
    memory, with a message that says what was asked and how to avoid it (``hint``), instead of
    letting the process be killed while allocating."""
    import math

    nbytes = 8 * math.prod(int(n) for n in shape)
    limit = fraction * physical_memory_bytes()
    if limit and nbytes > limit:
        raise MemoryError(
            f"{what}: a dense float64 array of shape {tuple(int(n) for n in shape)} needs "
            f"{nbytes / 2**30:.1f} GiB, more than {fraction:.0%} of this machine's "
            f"{limit / fraction / 2**30:.1f} GiB; {hint}"
        )



class PeakMemory:
    """Context manager measuring the peak resident memory (RSS, bytes) of this process while
    its block runs, by sampling ``/proc/self/statm`` every ``interval`` seconds in a daemon
    thread (plus one sample at entry and one at exit).

    ``peak_bytes`` is ``None`` where ``/proc`` is unavailable (not Linux). A sampled peak can
    miss a spike shorter than ``interval``; it never over-reports. Used by the claims report
    (``peak_rss_mb`` of every claim run).
    """

    def __init__(self, interval: float = 0.05):
        self.interval = float(interval)
        self.peak_bytes: int | None = None

    @staticmethod
    def current() -> int | None:
        """Resident memory of this process now, in bytes (``None`` without ``/proc``)."""
        try:
            with open("/proc/self/statm", "rb") as f:
                pages = int(f.read().split()[1])
        except (OSError, ValueError, IndexError):
            return None
        import os

        return pages * os.sysconf("SC_PAGE_SIZE")

    def _sample(self) -> None:
        now = self.current()
        if now is not None and (self.peak_bytes is None or now > self.peak_bytes):
            self.peak_bytes = now

    def __enter__(self) -> PeakMemory:
        import threading

        self._sample()
        self._stop = threading.Event()

        def loop():
            while not self._stop.wait(self.interval):
                self._sample()

        self._thread = threading.Thread(target=loop, name="mdplab-peak-memory", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    @property
    def peak_mb(self) -> float | None:
        return None if self.peak_bytes is None else self.peak_bytes / 2**20


def process_peak_rss_mb() -> float | None:
    """Peak resident memory of this process since it started, in MiB (``getrusage``;
    ``None`` where unavailable). An upper bound of the peak of any part of its life."""
    try:
        import resource
        import sys

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    except (ImportError, OSError, ValueError):
        return None
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes / KiB

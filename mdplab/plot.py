"""Paper-ready figure helpers (one style for every mdplab figure). STUB: being expanded."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

SIZES = {"single": 3.4, "double": 7.0}


def new_figure(width: str = "single", aspect: float = 0.75, **kwargs):
    """A ``(fig, ax)`` pair sized for one (3.4 in) or two (7.0 in) paper columns."""
    w = SIZES[width]
    return plt.subplots(figsize=(w, w * aspect), constrained_layout=True, **kwargs)


def save_figure(fig, stem) -> list[Path]:
    """Save ``fig`` as ``stem.pdf`` and ``stem.png``; return both paths and close the figure."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(".pdf"), stem.with_suffix(".png")]
    fig.savefig(paths[0])
    fig.savefig(paths[1], dpi=200)
    plt.close(fig)
    return paths

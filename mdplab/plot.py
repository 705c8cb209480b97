r"""Paper-ready figure helpers: one style for every mdplab figure, vector + PNG output.

Every figure mdplab writes (claim checks, benchmarks, tutorials) goes through this module so the
report and the papers share one look:

* :data:`PAPER_RC` / :func:`paper_style` -- sans-serif fonts (DejaVu Sans, bundled with
  Matplotlib, so a figure looks the same on every machine; no LaTeX), 7-8 pt text for a
  3.4 in column, TrueType fonts embedded in PDF (``pdf.fonttype = 42``, which journals ask for),
  the colour-blind-safe Okabe-Ito palette (:data:`PALETTE`) as the colour cycle.
* :func:`new_figure` -- a ``(fig, ax)`` pair sized for one (3.4 in) or two (7.0 in) columns;
  :func:`save_figure` -- vector PDF + PNG (200 dpi), reproducible bytes for the PDF.
* :func:`fit_loglog_slope` -- least-squares fit of :math:`\log y = a + b \log x` (natural logs)
  with the standard error of :math:`b` and its two-sided confidence interval
  :math:`b \pm t_{n-2,\,1-\alpha/2}\,\mathrm{se}(b)` from :func:`scipy.stats.linregress`. Rates
  such as regret :math:`\tilde O(\sqrt K)` are checked by asking whether the fitted exponent's
  interval lies below (or covers) the exponent the theorem states.
* :func:`plot_loglog_fit`, :func:`confidence_band`, :func:`line_plot` (tidy DataFrames, mean
  and t-interval over repeated runs), :func:`reference_line`, :func:`label_axes`.

Conventions (design page, section 2): every plotting helper takes an optional ``ax``
(``None`` creates one with :func:`new_figure`) and returns the ``ax``; axis labels are the
caller's, passed as ``xlabel=``/``ylabel=``/``title=`` keywords or via :func:`label_axes`.
The helpers apply :func:`paper_style` themselves; wrap your own plotting code in
``with paper_style():`` so that text you add (legends, annotations) gets the same sizes.
Nothing is shown on screen: the module selects the non-interactive ``Agg`` backend unless a
backend was already chosen.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy as np

if "MPLBACKEND" not in os.environ and "matplotlib.pyplot" not in sys.modules:
    matplotlib.use("Agg")  # files only; a backend chosen by the user (or Jupyter) is kept
import matplotlib.pyplot as plt  # noqa: E402
from cycler import cycler  # noqa: E402

__all__ = [
    "OKABE_ITO",
    "PALETTE",
    "PAPER_RC",
    "SIZES",
    "LogLogFit",
    "confidence_band",
    "fit_loglog_slope",
    "label_axes",
    "line_plot",
    "new_figure",
    "paper_style",
    "plot_loglog_fit",
    "reference_line",
    "save_figure",
    "value_ticks",
]

#: Column widths in inches: one column (3.4 in) and a full page width (7.0 in).
SIZES = {"single": 3.4, "double": 7.0}

#: The Okabe-Ito colour-blind-safe palette (Okabe & Ito 2008, "Color Universal Design").
OKABE_ITO = {
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "bluish_green": "#009E73",
    "reddish_purple": "#CC79A7",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "yellow": "#F0E442",
    "black": "#000000",
}

#: Colour cycle of every mdplab figure: Okabe-Ito, strongest contrasts first (yellow late).
PALETTE: tuple[str, ...] = tuple(OKABE_ITO.values())

#: rcParams of the paper style (use via :func:`paper_style`, or ``plt.rcParams.update``).
PAPER_RC: dict[str, object] = {
    # fonts: sans-serif, bundled with Matplotlib, no LaTeX
    "text.usetex": False,
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],
    "mathtext.fontset": "dejavusans",
    "font.size": 8.0,
    "axes.titlesize": 8.0,
    "axes.labelsize": 8.0,
    "xtick.labelsize": 7.0,
    "ytick.labelsize": 7.0,
    "legend.fontsize": 7.0,
    "legend.title_fontsize": 7.0,
    "figure.titlesize": 8.0,
    # fonts embedded as TrueType (Type 42), never Type 3
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
    "svg.fonttype": "none",
    # lines, markers, axes
    "axes.prop_cycle": cycler(color=list(PALETTE)),
    "image.cmap": "viridis",
    "lines.linewidth": 1.2,
    "lines.markersize": 3.5,
    "axes.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": False,
    "grid.linewidth": 0.4,
    "grid.alpha": 0.5,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "xtick.minor.width": 0.4,
    "ytick.minor.width": 0.4,
    "xtick.major.size": 3.0,
    "ytick.major.size": 3.0,
    "xtick.minor.size": 1.8,
    "ytick.minor.size": 1.8,
    "legend.frameon": False,
    "legend.handlelength": 1.6,
    "legend.borderaxespad": 0.3,
    # output
    "figure.dpi": 100,
    "savefig.dpi": 200,
    "savefig.format": "pdf",
    "savefig.bbox": None,
    "figure.constrained_layout.use": True,
}


def paper_style() -> contextlib.AbstractContextManager:
    """Context manager applying :data:`PAPER_RC` (restores the previous rcParams on exit).

    >>> from mdplab.plot import paper_style, new_figure
    >>> with paper_style():
    ...     fig, ax = new_figure()
    ...     _ = ax.plot([1, 2], [3, 4], label="x")
    ...     _ = ax.legend()
    """
    return matplotlib.rc_context(PAPER_RC)


def _width_inches(width) -> float:
    if isinstance(width, str):
        try:
            return SIZES[width]
        except KeyError:
            raise ValueError(
                f"width: expected 'single', 'double' or a number of inches, got {width!r}"
            ) from None
    if isinstance(width, bool) or not isinstance(width, (int, float, np.integer, np.floating)):
        raise TypeError(f"width: expected 'single', 'double' or inches, got {type(width).__name__}")
    if not width > 0:
        raise ValueError(f"width = {width!r} inches must be positive")
    return float(width)


def new_figure(width: str | float = "single", aspect: float = 0.75, **kwargs):
    """A ``(fig, ax)`` pair in the paper style, sized for one (3.4 in) or two (7.0 in) columns.

    Parameters
    ----------
    width : {"single", "double"} or float
        Column width, or a width in inches.
    aspect : float
        Height / width.
    **kwargs
        Passed to :func:`matplotlib.pyplot.subplots` (``nrows``, ``ncols``, ``sharex``, ...).
    """
    w = _width_inches(width)
    if not aspect > 0:
        raise ValueError(f"aspect = {aspect!r} must be positive")
    if not {"layout", "constrained_layout", "tight_layout"} & kwargs.keys():
        kwargs["layout"] = "constrained"
    with paper_style():
        return plt.subplots(figsize=(w, w * aspect), **kwargs)


def _stem_paths(stem) -> tuple[Path, Path]:
    stem = Path(stem)
    if stem.suffix.lower() in (".pdf", ".png"):
        stem = stem.with_suffix("")
    # not with_suffix: a stem such as "fig_beta0.1" must keep its ".1"
    return stem.parent / f"{stem.name}.pdf", stem.parent / f"{stem.name}.png"


def save_figure(fig, stem, *, close: bool = True) -> list[Path]:
    """Save ``fig`` as ``stem.pdf`` (vector) and ``stem.png`` (200 dpi); return both paths.

    Parent folders are created. The PDF carries no creation date, so the same figure gives the
    same bytes. The figure is closed afterwards unless ``close=False``.
    """
    pdf, png = _stem_paths(stem)
    pdf.parent.mkdir(parents=True, exist_ok=True)
    with paper_style():
        fig.savefig(pdf, format="pdf", metadata={"CreationDate": None, "Creator": "mdplab"})
        fig.savefig(png, format="png", dpi=200)
    if close:
        plt.close(fig)
    return [pdf, png]


def label_axes(ax, xlabel=None, ylabel=None, title=None, *, legend: bool | None = None):
    """Set the labels that are not ``None``; ``legend=True`` draws a legend. Returns ``ax``.

    ``legend=None`` (default) draws a legend only if some artist has a label.
    """
    if xlabel is not None:
        ax.set_xlabel(xlabel)
    if ylabel is not None:
        ax.set_ylabel(ylabel)
    if title is not None:
        ax.set_title(title)
    if legend is None:
        legend = bool(ax.get_legend_handles_labels()[1])
    if legend:
        with paper_style():
            ax.legend()
    return ax


def _refresh_legend(ax, label) -> None:
    """Redraw an existing legend so that a newly labelled artist appears in it."""
    if label is not None and ax.get_legend() is not None:
        with paper_style():
            ax.legend()


def _ax_or_new(ax):
    if ax is None:
        _, ax = new_figure()
    return ax


def _next_color(ax) -> str:
    """The next colour of ``ax``'s cycle (without drawing anything)."""
    try:
        return ax._get_lines.get_next_color()
    except AttributeError:  # pragma: no cover - private Matplotlib API moved
        return PALETTE[len(ax.lines) % len(PALETTE)]


# ---------------------------------------------------------------------- log-log slopes


@dataclass(frozen=True)
class LogLogFit:
    r"""Least-squares fit of :math:`\log y = \text{intercept} + \text{slope}\,\log x`.

    Natural logarithms (the slope does not depend on the base; the intercept does).

    Attributes
    ----------
    slope, intercept : float
        Fitted exponent and log-prefactor: :math:`y \approx e^{\text{intercept}} x^{\text{slope}}`.
    stderr : float
        Standard error of the slope.
    ci : tuple[float, float]
        Two-sided confidence interval of the slope, ``slope -/+ t_{n-2}(1 - (1-level)/2) stderr``.
    level : float
        Confidence level of ``ci`` (0.95 by default).
    n : int
        Number of points.
    rvalue : float
        Pearson correlation of ``log x`` and ``log y``.
    """

    slope: float
    intercept: float
    stderr: float
    ci: tuple[float, float]
    level: float
    n: int
    rvalue: float

    def predict(self, x) -> np.ndarray:
        """Fitted ``y`` at ``x``: ``exp(intercept) * x**slope``."""
        return np.exp(self.intercept) * np.asarray(x, dtype=float) ** self.slope

    def contains(self, value: float) -> bool:
        """``value`` lies in the confidence interval of the slope."""
        return bool(self.ci[0] <= value <= self.ci[1])

    def __str__(self) -> str:
        pct = f"{100 * self.level:g}%"
        return f"slope {self.slope:.3g} ({pct} CI [{self.ci[0]:.3g}, {self.ci[1]:.3g}])"


def _positive_1d(name: str, values) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name}: expected an array of numbers ({exc})") from None
    if arr.ndim != 1:
        raise ValueError(f"{name} has shape {arr.shape}, expected a 1-d array")
    bad = ~(np.isfinite(arr) & (arr > 0))
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(
            f"{name}[{i}] = {arr[i]!r}: a log-log fit needs finite, positive values"
        )
    return arr


def fit_loglog_slope(x, y, *, level: float = 0.95) -> LogLogFit:
    """Fit ``log y = intercept + slope * log x`` by least squares (:func:`scipy.stats.linregress`).

    Parameters
    ----------
    x, y : array_like
        Positive, finite, 1-d, same length, at least 3 points (the interval needs ``n - 2 >= 1``
        degrees of freedom) and at least two distinct ``x``.
    level : float
        Confidence level of the slope interval (t-distribution with ``n - 2`` degrees of freedom).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([1.0, 10.0, 100.0, 1000.0])
    >>> fit = fit_loglog_slope(x, 2 * x**0.5)
    >>> round(fit.slope, 12)
    0.5
    """
    from scipy import stats

    xs = _positive_1d("x", x)
    ys = _positive_1d("y", y)
    if xs.shape != ys.shape:
        raise ValueError(f"x has {xs.size} points but y has {ys.size}; expected the same length")
    if xs.size < 3:
        raise ValueError(f"x and y have {xs.size} points; a slope interval needs at least 3")
    if np.ptp(xs) == 0:
        raise ValueError("x: all values are equal; the slope is undefined")
    if not 0 < level < 1:
        raise ValueError(f"level = {level!r} must lie in (0, 1)")
    lx, ly = np.log(xs), np.log(ys)
    res = stats.linregress(lx, ly)
    n = xs.size
    tq = stats.t.ppf(0.5 + level / 2, df=n - 2)
    stderr = float(res.stderr)
    half = float(tq * stderr)
    rvalue = float(res.rvalue) if np.isfinite(res.rvalue) else float("nan")
    return LogLogFit(
        slope=float(res.slope),
        intercept=float(res.intercept),
        stderr=stderr,
        ci=(float(res.slope) - half, float(res.slope) + half),
        level=float(level),
        n=int(n),
        rvalue=rvalue,
    )


def plot_loglog_fit(
    ax,
    x,
    y,
    *,
    label: str | None = None,
    fit: LogLogFit | None = None,
    color=None,
    marker: str = "o",
    annotate: str = "legend",
    text_xy: tuple[float, float] = (0.03, 0.04),
    level: float = 0.95,
    xlabel=None,
    ylabel=None,
    title=None,
    line_kw: dict | None = None,
    **scatter_kw,
):
    """Draw ``(x, y)`` as points with the fitted power law, on log-log axes; return ``ax``.

    The fitted slope and its confidence interval are shown in the legend entry of the line
    (``annotate="legend"``), as text at ``text_xy`` in axes coordinates (``"text"``; further
    fits on the same axes stack upwards), or not at all (``None``). ``fit`` reuses a
    :class:`LogLogFit` already computed (otherwise :func:`fit_loglog_slope` is called with
    ``level``).

    Examples
    --------
    >>> import numpy as np
    >>> K = np.geomspace(10, 1e4, 8)
    >>> ax = plot_loglog_fit(None, K, 3 * np.sqrt(K), label="UCBVI", xlabel="$K$")
    """
    if annotate not in ("legend", "text", None):
        raise ValueError(f"annotate: expected 'legend', 'text' or None, got {annotate!r}")
    if fit is None:
        fit = fit_loglog_slope(x, y, level=level)
    xs = np.asarray(x, dtype=float)
    ys = np.asarray(y, dtype=float)
    ax = _ax_or_new(ax)
    with paper_style():
        if color is None:
            color = _next_color(ax)
        ax.scatter(xs, ys, color=color, marker=marker, s=scatter_kw.pop("s", 12), zorder=3,
                   label=label if annotate != "legend" else None, **scatter_kw)
        grid = np.geomspace(xs.min(), xs.max(), 50)
        text = f"slope {fit.slope:.2f} [{fit.ci[0]:.2f}, {fit.ci[1]:.2f}]"
        if annotate == "legend":
            line_label = f"{label}: {text}" if label else text
        else:
            line_label = None
        ax.plot(grid, fit.predict(grid), color=color, label=line_label, **(line_kw or {}))
        ax.set_xscale("log")
        ax.set_yscale("log")
        if annotate == "text":
            prefix = f"{label}: " if label else ""
            n_text = sum(1 for t in ax.texts if t.get_gid() == "mdplab-slope")
            ax.text(text_xy[0], text_xy[1] + 0.08 * n_text, prefix + text, transform=ax.transAxes,
                    color=color, ha="left", va="bottom", gid="mdplab-slope")
        label_axes(ax, xlabel, ylabel, title, legend=annotate == "legend" or label is not None)
    return ax


def reference_line(ax, slope: float, anchor: tuple[float, float], *, label: str | None = None,
                   color: str = "0.4", linestyle: str = "--", **kwargs):
    """Dashed power law ``y = anchor_y * (x / anchor_x) ** slope`` over the current x-range.

    Use it for "slope 1/2" guides on log-log plots (call after the data are drawn). Returns ``ax``.
    """
    x0, y0 = anchor
    if not (x0 > 0 and y0 > 0):
        raise ValueError(f"anchor = {anchor!r}: expected positive coordinates on log-log axes")
    lo, hi = ax.get_xlim()
    lo = max(lo, np.finfo(float).tiny)
    grid = np.geomspace(lo, hi, 50)
    with paper_style():
        ax.plot(grid, y0 * (grid / x0) ** slope, color=color, linestyle=linestyle,
                label=label, linewidth=kwargs.pop("linewidth", 0.8), **kwargs)
    ax.set_xlim(lo, hi)
    _refresh_legend(ax, label)
    return ax


def value_ticks(ax, values, *, axis: str = "x"):
    """Label a log axis at exactly ``values`` (plain numbers, e.g. the grid of ``K`` a sweep
    ran) and drop the minor tick labels, which crowd short log ranges. Returns ``ax``."""
    from matplotlib.ticker import FixedLocator, NullFormatter

    vals = np.asarray(values, dtype=float).ravel()
    if axis not in ("x", "y"):
        raise ValueError(f"axis = {axis!r}: expected 'x' or 'y'")
    if vals.size == 0 or not np.all(np.isfinite(vals)):
        raise ValueError("values: expected finite tick positions")
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_locator(FixedLocator(vals))
    target.set_major_formatter(lambda v, _pos: f"{v:g}")
    target.set_minor_formatter(NullFormatter())
    return ax


# ---------------------------------------------------------------------- bands and lines


def confidence_band(ax, x, lo, hi, *, color=None, alpha: float = 0.25, label: str | None = None,
                    **kwargs):
    """Shade the band ``lo <= y <= hi`` over ``x`` (``fill_between``, no edge); return ``ax``.

    With ``color=None`` the colour of the last line drawn on ``ax`` is used (so a band follows
    its mean curve), or the next colour of the cycle if there is none.
    """
    xs = np.asarray(x, dtype=float)
    lo = np.asarray(lo, dtype=float)
    hi = np.asarray(hi, dtype=float)
    if not (xs.shape == lo.shape == hi.shape) or xs.ndim != 1:
        raise ValueError(
            f"x, lo, hi have shapes {xs.shape}, {lo.shape}, {hi.shape}; expected equal 1-d shapes"
        )
    if np.any(lo > hi):
        i = int(np.argmax(lo > hi))
        raise ValueError(f"lo[{i}] = {lo[i]:.6g} exceeds hi[{i}] = {hi[i]:.6g}")
    ax = _ax_or_new(ax)
    if color is None:
        color = ax.lines[-1].get_color() if ax.lines else _next_color(ax)
    with paper_style():
        ax.fill_between(xs, lo, hi, color=color, alpha=alpha, linewidth=0, label=label, **kwargs)
    _refresh_legend(ax, label)
    return ax


def _check_columns(df, names: Sequence[str | None]) -> None:
    import pandas as pd

    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"df: expected a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in names if c is not None and c not in df.columns]
    if missing:
        raise ValueError(
            f"df has no column {missing[0]!r}; its columns are {list(map(str, df.columns))}"
        )


def _fmt_value(v) -> str:
    if isinstance(v, (float, np.floating)):
        return f"{v:g}"
    return str(v)


def _groups(df, hue, hue_order) -> Iterator[tuple[object, object]]:
    if hue is None:
        yield None, df
        return
    values = list(hue_order) if hue_order is not None else list(df[hue].drop_duplicates())
    for v in values:
        yield v, df[df[hue] == v]


def line_plot(
    df,
    x: str,
    y: str,
    hue: str | None = None,
    ax=None,
    *,
    band: str | None = "ci",
    level: float = 0.95,
    hue_order: Sequence | None = None,
    marker: str | None = None,
    logx: bool = False,
    logy: bool = False,
    xlabel=None,
    ylabel=None,
    title=None,
    legend: bool | None = None,
    **line_kw,
):
    """Plot column ``y`` against ``x`` of a tidy DataFrame, one line per value of ``hue``.

    Rows sharing ``(hue, x)`` (repeated seeds) are averaged; the band shows, per ``x``,

    * ``band="ci"``: the t-interval of the mean, ``mean -/+ t_{m-1} sd / sqrt(m)`` at ``level``;
    * ``band="sd"``: ``mean -/+ sd``;
    * ``band=None``: nothing.

    Points seen once get no band. Axis labels default to the column names. Returns ``ax``.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"K": [1, 2, 1, 2], "regret": [1.0, 1.5, 1.2, 1.4], "seed": [0, 0, 1, 1]})
    >>> ax = line_plot(df, "K", "regret")
    """
    from scipy import stats

    _check_columns(df, [x, y, hue])
    if band not in ("ci", "sd", None):
        raise ValueError(f"band: expected 'ci', 'sd' or None, got {band!r}")
    ax = _ax_or_new(ax)
    with paper_style():
        for value, sub in _groups(df, hue, hue_order):
            if sub.empty:
                continue
            agg = sub.groupby(x, sort=True)[y].agg(["mean", "std", "count"])
            xs = agg.index.to_numpy(dtype=float)
            mean = agg["mean"].to_numpy(dtype=float)
            label = None if hue is None else _fmt_value(value)
            (line,) = ax.plot(xs, mean, marker=marker, label=label, **line_kw)
            if band is not None and (agg["count"] > 1).any():
                sd = agg["std"].to_numpy(dtype=float)
                m = agg["count"].to_numpy(dtype=float)
                if band == "ci":
                    tq = stats.t.ppf(0.5 + level / 2, df=np.maximum(m - 1, 1))
                    half = tq * sd / np.sqrt(m)
                else:
                    half = sd
                half = np.where(m > 1, half, 0.0)
                ax.fill_between(xs, mean - half, mean + half, color=line.get_color(),
                                alpha=0.25, linewidth=0)
        if logx:
            ax.set_xscale("log")
        if logy:
            ax.set_yscale("log")
        if legend is None:
            legend = hue is not None
        label_axes(ax, x if xlabel is None else xlabel, y if ylabel is None else ylabel, title,
                   legend=False)
        if legend:
            ax.legend(title=hue)
    return ax

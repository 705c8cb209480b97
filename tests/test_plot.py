"""Tests of mdplab.plot: the paper style, file output, log-log slope fits and the helpers."""

import re

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from mdplab import plot as mp


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# ---------------------------------------------------------------------- style and sizes


def test_palette_is_okabe_ito():
    assert len(mp.PALETTE) == 8
    assert len(set(mp.PALETTE)) == 8
    assert all(re.fullmatch(r"#[0-9A-F]{6}", c) for c in mp.PALETTE)
    assert set(mp.PALETTE) == set(mp.OKABE_ITO.values())


def test_paper_style_is_a_context_manager_that_restores_rcparams():
    before = matplotlib.rcParams["pdf.fonttype"], matplotlib.rcParams["font.size"]
    with mp.paper_style():
        assert matplotlib.rcParams["pdf.fonttype"] == 42
        assert matplotlib.rcParams["font.size"] == mp.PAPER_RC["font.size"]
        assert matplotlib.rcParams["text.usetex"] is False
    assert (matplotlib.rcParams["pdf.fonttype"], matplotlib.rcParams["font.size"]) == before


@pytest.mark.parametrize(("width", "inches"), [("single", 3.4), ("double", 7.0), (5.0, 5.0)])
def test_new_figure_sizes(width, inches):
    fig, ax = mp.new_figure(width, aspect=0.5)
    assert fig.get_size_inches() == pytest.approx([inches, inches * 0.5])
    assert ax.figure is fig


def test_new_figure_rejects_bad_width():
    with pytest.raises(ValueError, match="width"):
        mp.new_figure("triple")
    with pytest.raises(ValueError, match="aspect"):
        mp.new_figure("single", aspect=0)


def test_new_figure_passes_subplot_arguments():
    fig, axes = mp.new_figure("double", 0.3, ncols=3, sharey=True)
    assert len(axes) == 3


# ---------------------------------------------------------------------- saving


def test_save_figure_writes_vector_pdf_and_png(tmp_path):
    fig, ax = mp.new_figure()
    ax.plot([1, 2, 3], [1, 4, 9], label="squares")
    ax.set_xlabel("x")
    ax.legend()
    paths = mp.save_figure(fig, tmp_path / "sub" / "fig_beta0.1")
    pdf, png = paths
    assert pdf.name == "fig_beta0.1.pdf" and png.name == "fig_beta0.1.png"
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF")
    assert b"/Subtype /Image" not in data  # vector: no raster image inside
    assert b"/Type3" not in data and b"/FontFile2" in data  # TrueType (Type 42) fonts embedded
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    height, width = plt.imread(png).shape[:2]
    assert (width, height) == (680, 510)  # 3.4 in x 2.55 in at 200 dpi
    assert not plt.fignum_exists(fig.number)  # closed


def test_save_figure_is_reproducible_and_strips_known_suffix(tmp_path):
    def draw():
        fig, ax = mp.new_figure()
        ax.plot([0, 1], [0, 1])
        return fig

    a = mp.save_figure(draw(), tmp_path / "a.pdf")[0]
    b = mp.save_figure(draw(), tmp_path / "b")[0]
    assert a.name == "a.pdf"
    assert a.read_bytes() == b.read_bytes()


# ---------------------------------------------------------------------- slope fits


def test_fit_loglog_slope_exact_power_law():
    x = np.geomspace(1, 1e4, 9)
    fit = mp.fit_loglog_slope(x, 2.5 * x**-0.75)
    assert fit.slope == pytest.approx(-0.75, abs=1e-12)
    assert np.exp(fit.intercept) == pytest.approx(2.5, rel=1e-10)
    assert fit.stderr < 1e-10
    assert fit.n == 9 and fit.level == 0.95
    assert fit.predict(100.0) == pytest.approx(2.5 * 100**-0.75)


def test_fit_loglog_slope_recovers_noisy_slope_and_ci_covers_it():
    rng = np.random.default_rng(0)
    x = np.geomspace(10, 1e5, 12)
    y = 3.0 * x**0.5 * np.exp(rng.normal(0.0, 0.1, x.size))
    fit = mp.fit_loglog_slope(x, y)
    assert fit.slope == pytest.approx(0.5, abs=0.05)
    assert fit.ci[0] < fit.slope < fit.ci[1]
    assert fit.contains(0.5)
    assert not fit.contains(1.0)
    assert "slope" in str(fit) and "95% CI" in str(fit)
    wider = mp.fit_loglog_slope(x, y, level=0.99)
    assert wider.ci[1] - wider.ci[0] > fit.ci[1] - fit.ci[0]


def test_fit_loglog_slope_ci_coverage_is_nominal():
    # the t-interval covers the true slope in about 95% of repeated noisy experiments
    rng = np.random.default_rng(1)
    x = np.geomspace(1, 1e3, 6)
    hits = sum(
        mp.fit_loglog_slope(x, x**1.5 * np.exp(rng.normal(0, 0.3, x.size))).contains(1.5)
        for _ in range(400)
    )
    assert 0.91 <= hits / 400 <= 0.99


@pytest.mark.parametrize(
    ("x", "y", "match"),
    [
        ([1, 2, 3], [1, 0, 3], r"y\[1\]"),
        ([1, -2, 3], [1, 2, 3], r"x\[1\]"),
        ([1, 2, 3], [1, 2], "same length"),
        ([1, 2], [1, 2], "at least 3"),
        ([2, 2, 2], [1, 2, 3], "equal"),
    ],
)
def test_fit_loglog_slope_rejects_bad_input(x, y, match):
    with pytest.raises(ValueError, match=match):
        mp.fit_loglog_slope(x, y)


def test_plot_loglog_fit_draws_points_line_and_slope_in_legend():
    x = np.geomspace(10, 1e4, 8)
    ax = mp.plot_loglog_fit(None, x, 2 * x**0.5, label="UCBVI", xlabel="$K$", ylabel="regret")
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert ax.get_xlabel() == "$K$" and ax.get_ylabel() == "regret"
    assert len(ax.collections) == 1 and len(ax.lines) == 1
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts == ["UCBVI: slope 0.50 [0.50, 0.50]"]


def test_plot_loglog_fit_text_annotation_and_existing_ax():
    fig, ax = mp.new_figure()
    x = np.geomspace(1, 100, 5)
    out = mp.plot_loglog_fit(ax, x, x, label="a", annotate="text")
    mp.plot_loglog_fit(ax, x, x**2, label="b", annotate="text")
    assert out is ax
    slopes = [t.get_text() for t in ax.texts]
    assert slopes == ["a: slope 1.00 [1.00, 1.00]", "b: slope 2.00 [2.00, 2.00]"]
    assert ax.texts[0].get_position() != ax.texts[1].get_position()
    with pytest.raises(ValueError, match="annotate"):
        mp.plot_loglog_fit(ax, x, x, annotate="title")


def test_plot_loglog_fit_reuses_given_fit():
    x = np.geomspace(1, 100, 5)
    fit = mp.fit_loglog_slope(x, x)
    ax = mp.plot_loglog_fit(None, x, x, fit=fit, annotate=None)
    assert ax.get_legend() is None
    assert ax.lines[0].get_ydata() == pytest.approx(fit.predict(ax.lines[0].get_xdata()))


def test_reference_line_follows_power_law():
    x = np.geomspace(1, 100, 5)
    ax = mp.plot_loglog_fit(None, x, x, label="data")
    mp.reference_line(ax, 0.5, anchor=(1.0, 2.0), label="slope 1/2")
    xs, ys = ax.lines[-1].get_data()
    assert ys == pytest.approx(2.0 * xs**0.5)
    assert "slope 1/2" in [t.get_text() for t in ax.get_legend().get_texts()]


# ---------------------------------------------------------------------- bands and lines


def test_confidence_band_uses_last_line_colour():
    fig, ax = mp.new_figure()
    x = np.arange(5.0)
    (line,) = ax.plot(x, x, color=mp.PALETTE[2])
    out = mp.confidence_band(ax, x, x - 1, x + 1)
    assert out is ax
    band = ax.collections[-1]
    assert matplotlib.colors.same_color(band.get_facecolor()[0][:3], line.get_color())
    with pytest.raises(ValueError, match="exceeds"):
        mp.confidence_band(ax, x, x + 1, x)
    with pytest.raises(ValueError, match="shapes"):
        mp.confidence_band(ax, x, x[:3], x)


def test_confidence_band_creates_axes():
    ax = mp.confidence_band(None, [1, 2], [0, 0], [1, 1], label="band")
    assert len(ax.collections) == 1


def _tidy():
    rng = np.random.default_rng(0)
    rows = [
        {"K": k, "regret": np.sqrt(k) * (1 + 0.1 * rng.normal()), "alg": alg, "seed": s}
        for alg in ("UCBVI", "Q-learning")
        for k in (10, 100, 1000)
        for s in range(4)
    ]
    return pd.DataFrame(rows)


def test_line_plot_one_line_per_hue_with_ci_band():
    df = _tidy()
    ax = mp.line_plot(df, "K", "regret", hue="alg", logx=True, logy=True)
    assert [ln.get_label() for ln in ax.lines] == ["UCBVI", "Q-learning"]
    assert len(ax.collections) == 2  # one band per line
    assert ax.get_xlabel() == "K" and ax.get_ylabel() == "regret"
    assert ax.get_legend().get_title().get_text() == "alg"
    means = df[df.alg == "UCBVI"].groupby("K")["regret"].mean().to_numpy()
    assert ax.lines[0].get_ydata() == pytest.approx(means)
    verts = ax.collections[0].get_paths()[0].vertices
    assert verts[:, 1].min() < means.min() and verts[:, 1].max() > means.max()


def test_line_plot_without_band_and_custom_labels():
    df = _tidy()
    fig, ax = mp.new_figure()
    out = mp.line_plot(df, "K", "regret", ax=ax, band=None, xlabel="episodes $K$",
                       ylabel="mean regret", hue_order=["Q-learning"])
    assert out is ax and len(ax.lines) == 1 and not ax.collections
    assert ax.get_xlabel() == "episodes $K$" and ax.get_ylabel() == "mean regret"
    assert ax.get_legend() is None


def test_line_plot_rejects_bad_input():
    with pytest.raises(ValueError, match="no column 'reward'"):
        mp.line_plot(_tidy(), "K", "reward")
    with pytest.raises(TypeError, match="DataFrame"):
        mp.line_plot({"K": [1]}, "K", "K")
    with pytest.raises(ValueError, match="band"):
        mp.line_plot(_tidy(), "K", "regret", band="iqr")


def test_label_axes():
    fig, ax = mp.new_figure()
    ax.plot([1, 2], [1, 2], label="a")
    assert mp.label_axes(ax, "x", "y", "t") is ax
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("x", "y", "t")
    assert ax.get_legend() is not None


def test_value_ticks_labels_exactly_the_given_values():
    import matplotlib.pyplot as plt

    from mdplab.plot import value_ticks

    fig, ax = plt.subplots()
    ax.loglog([250, 4000], [1, 10])
    value_ticks(ax, [250, 500, 1000, 2000, 4000])
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert labels == ["250", "500", "1000", "2000", "4000"]
    assert all(not t.get_text() for t in ax.xaxis.get_minorticklabels())
    with pytest.raises(ValueError, match="axis"):
        value_ticks(ax, [1, 2], axis="z")
    with pytest.raises(ValueError, match="finite"):
        value_ticks(ax, [np.nan])
    plt.close(fig)

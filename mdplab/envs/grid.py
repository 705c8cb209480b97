r"""Gridworlds: navigation MDPs on a rectangular grid with walls, slip and absorbing goals.

The classic teaching example of Sutton & Barto (2018), *Reinforcement Learning: An
Introduction*, 2nd ed., Ex. 3.5 / 4.1, with the "slippery" dynamics of Russell & Norvig's
4x3 world (AIMA, 4th ed., Sec. 17.1) generalized to a slip probability.

Geometry
    Cells ``(row, col)`` with row 0 at the top. Wall cells are not states; the states are the
    free cells in row-major order (:class:`Grid` holds both maps: ``grid.cells[s]`` is the
    ``(row, col)`` of state ``s`` and ``grid.state_index[row, col]`` the state of a cell, -1 on
    walls).

Actions and slip
    Four actions ``0 = up, 1 = right, 2 = down, 3 = left``. Taking action ``a`` moves in
    direction ``a`` with probability :math:`1 - \text{slip}` and in each of the three *other*
    directions with probability :math:`\text{slip}/3` (so ``slip = 0.75`` is a uniformly
    random move). A move into a wall or off the grid leaves the agent where it is.

Goals and rewards
    Goal cells are absorbing: every action keeps the agent there with reward 0. Outside the
    goals, every step pays ``step_reward`` (e.g. -1 for shortest paths), and a step that
    *enters* a goal additionally pays ``goal_reward``, once:

    .. math::  R(s, a) = \text{step\_reward} + \text{goal\_reward}\cdot
               \Pr(s' \in \text{goals} \mid s, a), \qquad R(g, a) = 0 \text{ for goals } g.

    So the return of a path to the goal is the same in the discounted and finite-horizon
    settings, and values at the goal are 0.

Initial distribution
    One-hot on the start cell when one is given (``start=`` or an ``S`` in the map), else
    uniform over the non-goal states.

Scale
    The kernel is assembled from ``(S, 4, 4)`` triplets with vectorized NumPy (no loop over
    cells); a 300x300 grid (90 000 states) builds in well under a second. ``sparse=None``
    returns a CSR kernel when ``S > 2000``.

ASCII maps use ``#`` (wall), ``.`` (free), ``G`` (goal, several allowed) and ``S`` (start)::

    mdp, grid = gridworld.from_ascii('''
        S..#....
        .#.#.##.
        .#...#G.
    ''', slip=0.1, return_grid=True)
"""

from __future__ import annotations

import contextlib
import numbers
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ..mdp import TabularMDP
from ._common import check_int, check_real, csr_from_triplets, dense_from_csr, time_args, use_sparse

__all__ = ["GRID_ACTIONS", "Grid", "gridworld", "render_gridworld"]

#: Action names, in index order.
GRID_ACTIONS = ("up", "right", "down", "left")
_DROW = np.array([-1, 0, 1, 0])
_DCOL = np.array([0, 1, 0, -1])
_MAP_CHARS = {"#", ".", "G", "S"}


def _readonly(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


@dataclass(frozen=True, eq=False)
class Grid:
    """Geometry of a gridworld built by :func:`gridworld` (``return_grid=True``).

    Attributes
    ----------
    n_rows, n_cols : int
        Grid size.
    walls : ndarray of bool, shape (n_rows, n_cols)
        Wall mask (read-only).
    goals : tuple of (row, col)
        Absorbing goal cells (possibly empty).
    start : (row, col) or None
        Start cell, if any.
    cells : ndarray of int, shape (S, 2)
        ``(row, col)`` of every state (free cells in row-major order; read-only).
    state_index : ndarray of int, shape (n_rows, n_cols)
        State of every cell, -1 on walls (read-only).
    slip : float
        The slip probability the model was built with.
    """

    n_rows: int
    n_cols: int
    walls: np.ndarray
    goals: tuple[tuple[int, int], ...]
    start: tuple[int, int] | None
    cells: np.ndarray
    state_index: np.ndarray
    slip: float = 0.0

    @property
    def S(self) -> int:
        """Number of states (free cells)."""
        return int(self.cells.shape[0])

    @property
    def goal_states(self) -> np.ndarray:
        """State indices of the goals."""
        return np.array([self.state_index[g] for g in self.goals], dtype=int)

    def state(self, row: int, col: int) -> int:
        """State index of cell ``(row, col)`` (``ValueError`` on a wall or outside the grid)."""
        if not (0 <= row < self.n_rows and 0 <= col < self.n_cols):
            raise ValueError(f"cell ({row}, {col}) is outside the {self.n_rows}x{self.n_cols} grid")
        s = int(self.state_index[row, col])
        if s < 0:
            raise ValueError(f"cell ({row}, {col}) is a wall, not a state")
        return s

    def cell(self, s: int) -> tuple[int, int]:
        """``(row, col)`` of state ``s``."""
        if not 0 <= s < self.S:
            raise ValueError(f"state s = {s} is outside [0, {self.S - 1}]")
        r, c = self.cells[s]
        return int(r), int(c)

    def to_image(self, values) -> np.ndarray:
        """Per-state ``values`` of shape ``(S,)`` as an ``(n_rows, n_cols)`` image, NaN on walls."""
        values = np.asarray(values, dtype=float)
        if values.shape != (self.S,):
            raise ValueError(f"values has shape {values.shape}, expected ({self.S},)")
        img = np.full((self.n_rows, self.n_cols), np.nan)
        img[self.cells[:, 0], self.cells[:, 1]] = values
        return img


# ---------------------------------------------------------------------- input parsing


def _parse_ascii(layout) -> tuple[np.ndarray, list[tuple[int, int]], tuple[int, int] | None]:
    if isinstance(layout, str):
        lines = textwrap.dedent(layout).strip("\n").splitlines()
    elif isinstance(layout, Iterable):
        lines = list(layout)
    else:
        raise TypeError(
            f"layout: expected a string or a list of strings, got {type(layout).__name__}"
        )
    lines = [ln.strip() for ln in lines]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    if not lines:
        raise ValueError("layout is empty: expected rows of '#', '.', 'G', 'S'")
    width = len(lines[0])
    for i, ln in enumerate(lines):
        if len(ln) != width:
            raise ValueError(
                f"layout row {i} has {len(ln)} characters, expected {width} (all rows must have "
                "the same length)"
            )
        bad = [ch for ch in ln if ch not in _MAP_CHARS]
        if bad:
            j = ln.index(bad[0])
            raise ValueError(
                f"layout has {bad[0]!r} at row {i}, column {j}; allowed are '#' (wall), "
                "'.' (free), 'G' (goal), 'S' (start)"
            )
    chars = np.array([list(ln) for ln in lines])
    walls = chars == "#"
    goals = [tuple(int(x) for x in rc) for rc in np.argwhere(chars == "G")]
    starts = [tuple(int(x) for x in rc) for rc in np.argwhere(chars == "S")]
    if len(starts) > 1:
        raise ValueError(
            f"layout has {len(starts)} start cells 'S' at {starts}, expected at most one"
        )
    return walls, goals, (starts[0] if starts else None)


def _as_cell(name: str, value, n_rows: int, n_cols: int) -> tuple[int, int]:
    try:
        r, c = value
    except (TypeError, ValueError):
        raise ValueError(f"{name} = {value!r}: expected a (row, col) pair of ints") from None
    if not all(isinstance(x, numbers.Integral) and not isinstance(x, bool) for x in (r, c)):
        raise ValueError(f"{name} = {value!r}: expected a (row, col) pair of ints")
    r, c = int(r), int(c)
    if not (0 <= r < n_rows and 0 <= c < n_cols):
        raise ValueError(f"{name} = ({r}, {c}) is outside the {n_rows}x{n_cols} grid")
    return r, c


def _wall_mask(walls, n_rows: int, n_cols: int) -> np.ndarray:
    arr = np.asarray(walls) if not isinstance(walls, (list, tuple, set, frozenset)) else None
    if arr is not None and arr.dtype == bool and arr.ndim == 2:
        if arr.shape != (n_rows, n_cols):
            raise ValueError(f"walls mask has shape {arr.shape}, expected ({n_rows}, {n_cols})")
        return arr.copy()
    mask = np.zeros((n_rows, n_cols), dtype=bool)
    for w in walls:
        mask[_as_cell("walls entry", w, n_rows, n_cols)] = True
    return mask


def _goal_cells(goal, n_rows: int, n_cols: int) -> list[tuple[int, int]]:
    if goal is None:
        return [(n_rows - 1, n_cols - 1)]
    if len(goal) == 2 and all(isinstance(x, numbers.Integral) for x in goal):
        return [_as_cell("goal", goal, n_rows, n_cols)]
    return [_as_cell("goal", g, n_rows, n_cols) for g in goal]


# ---------------------------------------------------------------------- the generator


def gridworld(n_rows: int | None = None, n_cols: int | None = None, walls=(), goal=None,
              slip: float = 0.0, gamma: float | None = 0.99, horizon: int | None = None,
              step_reward: float = 0.0, goal_reward: float = 1.0, sparse: bool | None = None,
              *, start=None, layout=None, return_grid: bool = False):
    r"""A gridworld MDP (see the module docstring for the exact dynamics and rewards).

    Parameters
    ----------
    n_rows, n_cols : int
        Grid size (``>= 1`` each); omit them when giving ``layout``.
    walls : iterable of (row, col) or bool array (n_rows, n_cols)
        Wall cells: not states, never entered (a move into a wall stays in place).
    goal : (row, col), list of (row, col), or None
        Absorbing goal cell(s); ``None`` is the bottom-right corner, ``[]`` means no goal.
    slip : float in [0, 1]
        Probability of moving in one of the three other directions (``slip/3`` each).
    gamma : float, default 0.99
        Discount factor; leave it at its default when giving ``horizon``.
    horizon : int, optional
        Finite horizon ``H`` (undiscounted) instead of ``gamma``.
    step_reward : float, default 0
        Reward of every step taken outside the goals (use -1 for shortest paths).
    goal_reward : float, default 1
        Paid once, on entering a goal.
    sparse : bool, optional
        CSR ``(4S, S)`` kernel when True; ``None`` (default) picks CSR when ``S > 2000``.
    start : (row, col), optional
        Start cell: ``mu`` is one-hot on it; otherwise ``mu`` is uniform over non-goal states.
    layout : str or list of str, optional
        ASCII map (``#`` wall, ``.`` free, ``G`` goal, ``S`` start); replaces ``n_rows``,
        ``n_cols``, ``walls``, ``goal`` and ``start``. Also available as
        ``gridworld.from_ascii(layout, **kwargs)``.
    return_grid : bool, default False
        Return ``(mdp, grid)`` with the :class:`Grid` geometry (needed by
        :func:`render_gridworld`).

    Examples
    --------
    >>> from mdplab.envs import gridworld
    >>> mdp, grid = gridworld(3, 4, walls=[(1, 1)], slip=0.1, return_grid=True)
    >>> mdp.S, mdp.A, grid.cell(4)
    (11, 4, (1, 0))
    """
    if layout is not None:
        given = {k: v for k, v in (("n_rows", n_rows), ("n_cols", n_cols), ("goal", goal),
                                   ("start", start)) if v is not None}
        if len(walls):
            given["walls"] = walls
        if given:
            raise ValueError(
                f"layout replaces n_rows, n_cols, walls, goal and start; got also {sorted(given)}"
            )
        wall_mask, goals, start = _parse_ascii(layout)
        n_rows, n_cols = wall_mask.shape
    else:
        if n_rows is None or n_cols is None:
            raise ValueError("give n_rows and n_cols, or an ASCII layout")
        n_rows = check_int("n_rows", n_rows, 1)
        n_cols = check_int("n_cols", n_cols, 1)
        wall_mask = _wall_mask(walls, n_rows, n_cols)
        goals = _goal_cells(goal, n_rows, n_cols)
        if start is not None:
            start = _as_cell("start", start, n_rows, n_cols)
    slip = check_real("slip", slip, 0.0, 1.0)
    step_reward = check_real("step_reward", step_reward)
    goal_reward = check_real("goal_reward", goal_reward)
    targs = time_args(gamma, horizon, 0.99)
    for g in goals:
        if wall_mask[g]:
            raise ValueError(f"goal cell {g} is a wall")
    goals = tuple(dict.fromkeys(goals))  # drop repeats, keep order
    if start is not None and wall_mask[start]:
        raise ValueError(f"start cell {start} is a wall")
    if wall_mask.all():
        raise ValueError("every cell is a wall: the gridworld has no states")

    cells = np.argwhere(~wall_mask)  # (S, 2), row-major
    S = cells.shape[0]
    state_index = np.full((n_rows, n_cols), -1, dtype=np.int64)
    state_index[cells[:, 0], cells[:, 1]] = np.arange(S)
    sparse = use_sparse(sparse, S)

    # target[s, d]: the state reached by moving in direction d from s (s itself when blocked)
    nr = cells[:, 0:1] + _DROW[None, :]
    nc = cells[:, 1:2] + _DCOL[None, :]
    inside = (nr >= 0) & (nr < n_rows) & (nc >= 0) & (nc < n_cols)
    nbr = state_index[np.clip(nr, 0, n_rows - 1), np.clip(nc, 0, n_cols - 1)]
    s_col = np.arange(S)[:, None]
    target = np.where(inside & (nbr >= 0), nbr, s_col)
    is_goal = np.zeros(S, dtype=bool)
    goal_states = np.array([state_index[g] for g in goals], dtype=np.int64)
    is_goal[goal_states] = True
    target[is_goal] = s_col[is_goal]  # absorbing

    # move[a, d]: probability of moving in direction d when taking action a
    move = np.full((4, 4), slip / 3.0)
    np.fill_diagonal(move, 1.0 - slip)
    rows = np.broadcast_to((4 * s_col + np.arange(4))[:, :, None], (S, 4, 4))
    cols = np.broadcast_to(target[:, None, :], (S, 4, 4))
    # goal rows: all mass on one (self-loop) entry, so they are exactly absorbing
    vals = np.where(is_goal[:, None, None], np.eye(4)[None, :, :], move[None, :, :])
    P = csr_from_triplets(rows.ravel(), cols.ravel(), vals.ravel(), 4 * S, S)

    p_goal = (P @ is_goal.astype(float)).reshape(S, 4)
    R = step_reward + goal_reward * p_goal
    R[is_goal] = 0.0

    if start is not None:
        mu = np.zeros(S)
        mu[state_index[start]] = 1.0
    else:
        mu = (~is_goal).astype(float) if not is_goal.all() else np.ones(S)
        mu /= mu.sum()
    if not sparse:
        P = dense_from_csr(P, S, 4)
    mdp = TabularMDP(P, R, mu=mu, **targs)
    if not return_grid:
        return mdp
    grid = Grid(
        n_rows=int(n_rows), n_cols=int(n_cols), walls=_readonly(wall_mask), goals=goals,
        start=start, cells=_readonly(cells), state_index=_readonly(state_index), slip=slip,
    )
    return mdp, grid


def _from_ascii(layout, **kwargs):
    """``gridworld(layout=layout, **kwargs)``: a gridworld from an ASCII map.

    ``#`` wall, ``.`` free, ``G`` goal (several allowed), ``S`` start (at most one). Leading
    indentation and blank lines are ignored. Other keywords are those of :func:`gridworld`.
    """
    return gridworld(layout=layout, **kwargs)


gridworld.from_ascii = _from_ascii


# ---------------------------------------------------------------------- rendering


def render_gridworld(grid: Grid, values=None, policy=None, ax=None, *, cmap: str = "viridis",
                     value_label: str = "value", colorbar: bool = True, min_prob: float = 0.02,
                     arrow_color: str = "white", title: str | None = None):
    """Draw a gridworld: a heatmap of ``values``, walls, goals/start and policy arrows.

    Parameters
    ----------
    grid : Grid
        From ``gridworld(..., return_grid=True)``.
    values : array_like, shape (S,) or (H, S), optional
        Per-state values (step 0 of a time-indexed array). Without them free cells are white.
    policy : array_like, shape (S, 4) or (H, S, 4), optional
        A (soft) policy (step 0 of a time-indexed one): one arrow per action from the cell
        centre, of length proportional to its probability (0.45 cell for probability 1);
        probabilities below ``min_prob`` and goal cells get no arrow.
    ax : matplotlib Axes, optional
        Where to draw; a new single-column figure (:func:`mdplab.plot.new_figure`) otherwise.
    cmap, value_label, colorbar, arrow_color, title
        Appearance.

    Returns
    -------
    matplotlib Axes
    """
    if not isinstance(grid, Grid):
        raise TypeError(
            "grid: expected a Grid (from gridworld(..., return_grid=True)), got "
            f"{type(grid).__name__}"
        )
    from .. import plot

    style = getattr(plot, "paper_style", contextlib.nullcontext)
    with style():
        return _render(grid, values, policy, ax, cmap, value_label, colorbar, min_prob,
                       arrow_color, title)


def _render(grid, values, policy, ax, cmap, value_label, colorbar, min_prob, arrow_color, title):
    import matplotlib.colors as mcolors

    from ..plot import new_figure

    if ax is None:
        aspect = min(max(grid.n_rows / grid.n_cols, 0.4), 1.5)
        _, ax = new_figure(aspect=aspect)
    extent = (-0.5, grid.n_cols - 0.5, grid.n_rows - 0.5, -0.5)

    if values is not None:
        v = np.asarray(values, dtype=float)
        if v.ndim == 2:
            v = v[0]
        img = grid.to_image(v)
        im = ax.imshow(img, cmap=cmap, extent=extent, interpolation="nearest")
        if colorbar:
            ax.figure.colorbar(im, ax=ax, label=value_label, shrink=0.9)
    else:
        ax.imshow(np.where(grid.walls, np.nan, 1.0), cmap=mcolors.ListedColormap(["white"]),
                  extent=extent, interpolation="nearest")
        arrow_color = "black" if arrow_color == "white" else arrow_color
    walls = np.ma.masked_where(~grid.walls, np.ones(grid.walls.shape))
    ax.imshow(walls, cmap=mcolors.ListedColormap(["0.25"]), extent=extent, interpolation="nearest",
              vmin=0, vmax=1)

    small = max(grid.n_rows, grid.n_cols) <= 40
    font = max(4.0, min(9.0, 120.0 / max(grid.n_rows, grid.n_cols)))
    for g in grid.goals:
        ax.text(g[1], g[0], "G", ha="center", va="center", fontsize=font, fontweight="bold",
                color="black", bbox={"boxstyle": "round,pad=0.15", "fc": "gold", "ec": "none"})
    if grid.start is not None:
        # in the corner of the cell when arrows are drawn from its centre
        r, c = grid.start
        shift, size = (0.3, 0.75 * font) if policy is not None else (0.0, font)
        ax.text(c - shift, r - shift, "S", ha="center", va="center", fontsize=size,
                fontweight="bold", color="black",
                bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.8})

    if policy is not None:
        pi = np.asarray(policy, dtype=float)
        if pi.ndim == 3:
            pi = pi[0]
        if pi.shape != (grid.S, 4):
            raise ValueError(
                f"policy has shape {pi.shape}, expected ({grid.S}, 4) or (H, {grid.S}, 4)"
            )
        keep = np.ones(grid.S, dtype=bool)
        keep[grid.goal_states] = False
        rows, cols = grid.cells[keep, 0], grid.cells[keep, 1]
        width = 0.06 / max(grid.n_cols, 1) * (1.0 if small else 0.7)
        for a in range(4):
            p = pi[keep, a]
            m = p >= min_prob
            ax.quiver(cols[m], rows[m], 0.45 * p[m] * _DCOL[a], 0.45 * p[m] * _DROW[a],
                      angles="xy", scale_units="xy", scale=1, pivot="tail", color=arrow_color,
                      width=width, headwidth=3.5, headlength=3.5, headaxislength=3.0,
                      edgecolor="black", linewidth=0.3)

    if small:
        ax.set_xticks(np.arange(-0.5, grid.n_cols, 1.0), minor=True)
        ax.set_yticks(np.arange(-0.5, grid.n_rows, 1.0), minor=True)
        ax.grid(which="minor", color="0.6", linewidth=0.4)
        ax.tick_params(which="minor", length=0)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_aspect("equal")
    if title is not None:
        ax.set_title(title)
    return ax

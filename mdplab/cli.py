"""The ``mdplab`` command line (design page, section 5).

::

    mdplab claims list                          # id, title, citation of every claim
    mdplab claims check [ID ...] [--all] [--quick] [--out report/] [--force] [--seed N]
    mdplab solve FILE.npz --beta 0.1 [--method pi] [--tol 1e-10] [--out sol.npz]
    mdplab bench [--quick]                      # python -m benchmarks.run, from the repo root

Exit codes: 0 success; 1 a claim failed, a solve did not converge, or a runtime error (a model
file that cannot be read, benchmarks that fail); 2 a usage error (no claim ids and no
``--all``, an unknown id, ``--scheduler``, an output that would be overwritten without
``--force``).

``--scheduler`` is accepted by the parser because the design reserves it, but it is rejected
with a usage error: distributed claim checks arrive with :mod:`mdplab.sweep` and the ``[dask]``
extra. Claims run locally without it; nothing is silently run elsewhere than asked.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["app"]

app = typer.Typer(
    name="mdplab",
    help="Exact solvers, best-of-N analytics and claim checks for KL-regularized RL.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
claims_app = typer.Typer(
    help="List and check the registered theorem checks (claims).", no_args_is_help=True
)
app.add_typer(claims_app, name="claims")
sweep_app = typer.Typer(help="Inspect and clean parameter-sweep stores (mdplab.sweep).",
                        no_args_is_help=True)
app.add_typer(sweep_app, name="sweep")


def _console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=stderr)


def _fail(message: str, code: int = 1) -> typer.Exit:
    _console(stderr=True).print(f"[bold red]error:[/] {message}", markup=True)
    return typer.Exit(code)


def _usage_error(message: str, command: str = "") -> typer.Exit:
    """Print a usage error and return the exit (code 2) to raise.

    Printed by hand rather than raising ``click.UsageError``: recent typer releases vendor
    their own click, so exceptions of the ``click`` package would not be recognised.
    """
    console = _console(stderr=True)
    console.print(f"[bold red]usage error:[/] {message}", markup=True)
    console.print(f"Try 'mdplab {command + ' ' if command else ''}--help' for help.")
    return typer.Exit(2)


def _version_callback(value: bool) -> None:
    if value:
        from . import __version__

        typer.echo(f"mdplab {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version_callback, is_eager=True,
                     help="Print the version and exit."),
    ] = False,
) -> None:
    """mdplab: KL-regularized RL on tabular MDPs."""


# ---------------------------------------------------------------------- claims


@claims_app.command("list")
def claims_list() -> None:
    """List every registered claim: id, title, citation."""
    from rich.table import Table

    from .claims import registry

    claims = registry()
    table = Table(show_lines=False)
    table.add_column("id", overflow="fold", no_wrap=False)
    table.add_column("title", overflow="fold")
    table.add_column("citation", overflow="fold")
    for c in claims:
        table.add_row(c.id, c.title, c.citation)
    console = _console()
    console.print(table)
    console.print(f"{len(claims)} claim{'s' if len(claims) != 1 else ''}")


@claims_app.command("check")
def claims_check(
    ids: Annotated[
        list[str] | None, typer.Argument(help="Claim ids to check (see `mdplab claims list`).")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Check every registered claim.")] = False,
    quick: Annotated[
        bool, typer.Option("--quick", help="Quick mode: seconds per claim (no figure copy).")
    ] = False,
    out: Annotated[Path, typer.Option("--out", "-o", help="Report folder.")] = Path("report"),
    force: Annotated[
        bool,
        typer.Option("--force", help="Re-run cached claims; allow writing into a non-empty "
                     "folder that is not an mdplab report."),
    ] = False,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Base seed.")] = 0,
    figures_dir: Annotated[
        Path,
        typer.Option("--figures-dir", help="Full mode: copy figures to DIR/<id>/."),
    ] = Path("figures"),
    no_figures: Annotated[
        bool, typer.Option("--no-figures", help="Do not copy figures to --figures-dir.")
    ] = False,
    scheduler: Annotated[
        str | None,
        typer.Option("--scheduler", help="Run the claims on a Dask cluster at this address "
                                         "(tcp://host:8786); needs the [dask] extra."),
    ] = None,
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="Run claims in this many local processes.")
    ] = 1,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Show a progress bar.")
    ] = True,
    fail_on_claims: Annotated[
        bool,
        typer.Option("--fail-on-claims/--no-fail-on-claims",
                     help="Exit with code 1 when a claim fails (default). With "
                          "--no-fail-on-claims only a claim that raised gives code 1."),
    ] = True,
) -> None:
    """Run claim checks and write OUT/index.md; exit code 1 if a claim fails."""
    from .report import build_report

    ids = list(ids or [])
    if scheduler is not None and not scheduler.startswith(("tcp://", "tls://", "inproc://",
                                                           "ucx://")):
        raise _usage_error(f"--scheduler {scheduler}: expected an address such as "
                           "tcp://host:8786", "claims check")
    if not ids and not all_:
        raise _usage_error("give claim ids or --all (see `mdplab claims list`)", "claims check")
    if ids and all_:
        raise _usage_error("give either claim ids or --all, not both", "claims check")
    try:
        df = build_report(
            None if all_ else ids,
            quick=quick,
            out=out,
            figures_dir=None if no_figures else figures_dir,
            force=force,
            seed=seed,
            progress=progress,
            workers=workers,
            scheduler=scheduler,
        )
    except ImportError as exc:
        raise _fail(str(exc)) from None
    except KeyError as exc:
        raise _usage_error(str(exc.args[0]), "claims check") from None
    except (FileExistsError, NotADirectoryError) as exc:
        raise _usage_error(str(exc), "claims check") from None

    from rich.table import Table

    table = Table()
    table.add_column("id", overflow="fold")
    table.add_column("verdict")
    table.add_column("seconds", justify="right")
    table.add_column("summary", overflow="fold")
    for row in df.itertuples(index=False):
        verdict = "[green]PASS[/]" if row.passed else "[bold red]FAIL[/]"
        seconds = f"{row.seconds:.1f}" + (" (cached)" if row.cached else "")
        if not quick and row.seconds > row.budget_seconds:
            seconds += f" [yellow](budget {row.budget_seconds:g})[/]"
        first = (row.summary.strip().splitlines() or [""])[0]
        table.add_row(row.id, verdict, seconds, first[:200])
    console = _console()
    console.print(table)
    n_fail = int((~df["passed"]).sum())
    console.print(
        f"{len(df)} claim{'s' if len(df) != 1 else ''} ({'quick' if quick else 'full'} mode): "
        f"{len(df) - n_fail} passed, "
        f"{n_fail} failed. Report: {out / 'index.md'}"
    )
    n_error = int(df["error"].sum())
    if n_error:
        console.print(f"[bold red]{n_error} claim{'s' if n_error != 1 else ''} raised an error[/]"
                      " (see the summaries in the report)")
    if n_error or (n_fail and fail_on_claims):
        raise typer.Exit(1)


# ---------------------------------------------------------------------- sweep


@sweep_app.command("status")
def sweep_status(
    store: Annotated[Path, typer.Argument(help="Folder given as store= to mdplab.sweep.")],
) -> None:
    """Tasks finished, failed and unreadable in a sweep store, with the failures' errors."""
    from .sweep import store_status

    try:
        st = store_status(store)
    except FileNotFoundError as exc:
        raise _fail(str(exc)) from None
    console = _console()
    meta = st.get("meta") or {}
    if meta:
        console.print(f"sweep of {meta.get('fn', '?')} (mdplab {meta.get('version', '?')})")
    console.print(f"{st['done']} done, {st['failed']} failed, {st['unreadable']} unreadable, "
                  f"{st['temporary']} temporary files in {store}")
    for e in st["errors"][:20]:
        console.print(f"  failed {e['params']} seed={e['seed']}: {e['error']}", markup=False)
    if len(st["errors"]) > 20:
        console.print(f"  ... and {len(st['errors']) - 20} more")


@sweep_app.command("export")
def sweep_export(
    store: Annotated[Path, typer.Argument(help="Folder given as store= to mdplab.sweep.")],
    out: Annotated[Path, typer.Argument(help="Output table: .csv, .csv.gz or .parquet.")],
) -> None:
    """Write the finished tasks of a sweep store as one tidy table (CSV or Parquet)."""
    from .sweep import export_store, load_store

    try:
        path = export_store(store, out)
    except FileNotFoundError as exc:
        raise _fail(str(exc)) from None
    except ValueError as exc:
        raise _usage_error(str(exc), "sweep export") from None
    except ImportError as exc:
        raise _fail(str(exc)) from None
    n = len(load_store(store))
    _console().print(f"wrote {n} row{'s' if n != 1 else ''} to {path}")


@sweep_app.command("clean")
def sweep_clean(
    store: Annotated[Path, typer.Argument(help="Folder given as store= to mdplab.sweep.")],
    everything: Annotated[bool, typer.Option("--all", help="Delete the whole store.")] = False,
) -> None:
    """Remove failed, unreadable and temporary task files (they are recomputed by the next
    run of the sweep); with --all, delete the store."""
    from .sweep import clean_store

    try:
        n = clean_store(store, everything=everything)
    except FileNotFoundError as exc:
        raise _fail(str(exc)) from None
    what = "the store" if everything else "failed/unreadable/temporary task files"
    _console().print(f"removed {n} file{'s' if n != 1 else ''} ({what}) from {store}")


# ---------------------------------------------------------------------- solve


@app.command()
def solve(
    file: Annotated[Path, typer.Argument(help="Model file written by TabularMDP.save (.npz).")],
    beta: Annotated[float, typer.Option("--beta", min=0.0, help="KL temperature.")] = 0.0,
    method: Annotated[
        str, typer.Option("--method", help="auto | vi | gs | pi | mpi | backward | lp")
    ] = "auto",
    tol: Annotated[
        float | None, typer.Option("--tol", help="Accuracy max|V - V*| (solver default if unset).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write V, Q, policy, ... to this .npz.")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite --out if it exists.")] = False,
) -> None:
    """Solve a stored model with mdplab.solve and print a short summary."""
    import numpy as np

    import mdplab

    if out is not None and out.exists() and not force:
        raise _usage_error(f"{out} exists; pass --force to overwrite it", "solve")
    from mdplab.solvers.dp import METHODS

    if method not in METHODS:
        raise _usage_error(f"--method {method!r}: expected one of {', '.join(METHODS)}", "solve")
    solver = getattr(mdplab, "solve", None)
    if solver is None:
        raise _fail("mdplab.solve is not available in this version of mdplab")
    try:
        mdp = mdplab.load_mdp(file)
    except (FileNotFoundError, ValueError) as exc:
        raise _fail(str(exc)) from None
    kwargs = {"beta": beta, "method": method}
    if tol is not None:
        kwargs["tol"] = tol
    from rich.console import Console

    try:
        with Console(stderr=True).status(f"solving {mdp!r} ...", spinner="dots"):
            sol = solver(mdp, **kwargs)
    except (ValueError, TypeError) as exc:
        raise _fail(f"solve failed: {exc}") from None

    V = np.asarray(sol.V)
    J = float(mdp.mu @ (V[0] if V.ndim == 2 else V))
    where = "mu @ V[0]" if V.ndim == 2 else "mu @ V"
    lines = [
        ("model", repr(mdp)),
        ("method", f"{sol.method} (beta = {beta:g})"),
        ("J", f"{J:.10g}  ({where})"),
        ("iterations", str(sol.iterations)),
        ("residual", f"{float(sol.residual):.3g}"),
        ("error bound", f"{float(getattr(sol, 'error_bound', float('nan'))):.3g}"),
        ("converged", "yes" if sol.converged else "NO"),
    ]
    message = getattr(sol, "message", "")
    if message:
        lines.append(("message", str(message)))
    for name, value in lines:
        typer.echo(f"{name:<12} {value}")
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        arrays = {
            "V": V,
            "Q": np.asarray(sol.Q),
            "policy": np.asarray(sol.policy),
            "J": np.array(J),
            "iterations": np.array(int(sol.iterations)),
            "residual": np.array(float(sol.residual)),
            "error_bound": np.array(float(getattr(sol, "error_bound", float("nan")))),
            "converged": np.array(bool(sol.converged)),
            "method": np.array(str(sol.method)),
            "beta": np.array(float(beta)),
            "message": np.array(str(message)),
        }
        with out.open("wb") as f:
            np.savez(f, **arrays)
        typer.echo(f"{'written':<12} {out}")
    if not sol.converged:
        raise _fail("the solver did not converge (see message above)")


# ---------------------------------------------------------------------- bench


def _has_bench(root: Path) -> bool:
    return (root / "benchmarks" / "run.py").is_file() or (
        root / "benchmarks" / "run" / "__main__.py"
    ).is_file()


def find_bench_root(start: Path | None = None) -> Path | None:
    """The folder holding ``benchmarks/run.py``: ``start`` (default: the current folder) or a
    parent of it, else the source checkout the mdplab package was imported from."""
    start = Path.cwd() if start is None else Path(start)
    for folder in (start, *start.resolve().parents):
        if _has_bench(folder):
            return folder
    checkout = Path(__file__).resolve().parents[1]
    return checkout if _has_bench(checkout) else None


@app.command()
def bench(
    quick: Annotated[bool, typer.Option("--quick", help="Small sizes only.")] = False,
    root: Annotated[
        Path | None, typer.Option("--root", help="Repository root holding benchmarks/.")
    ] = None,
) -> None:
    """Run the peer benchmarks (python -m benchmarks.run) from the repository root."""
    if root is not None:
        if not _has_bench(root):
            raise _fail(f"{root} has no benchmarks/run.py")
    else:
        root = find_bench_root()
        if root is None:
            raise _fail(
                "benchmarks/run.py not found in the current folder, its parents, or the source "
                "checkout of mdplab. The benchmarks are not part of the installed package: run "
                "from the root of the mdplab repository (or pass --root)."
            )
    cmd = [sys.executable, "-m", "benchmarks.run", *(["--quick"] if quick else [])]
    _console(stderr=True).print(f"running {' '.join(cmd[1:])} in {root}")
    rc = subprocess.run(cmd, cwd=root, check=False).returncode
    if rc:
        raise typer.Exit(rc)


if __name__ == "__main__":  # pragma: no cover
    app()

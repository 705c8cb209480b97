"""``python -m mdplab``: the ``mdplab`` command (see :mod:`mdplab.cli`)."""

from .cli import app

if __name__ == "__main__":
    app(prog_name="mdplab")

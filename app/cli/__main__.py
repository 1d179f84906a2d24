"""``python -m app.cli``: the ``tanhui`` command."""

from app.cli import main

main()

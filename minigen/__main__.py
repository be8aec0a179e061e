"""``python -m minigen ...`` runs the command line, like the ``minigen`` script."""
from .cli import main

raise SystemExit(main())

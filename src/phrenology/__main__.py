"""``python -m phrenology …`` runs the command-line tool (see :mod:`phrenology.cli`)."""

import sys

from phrenology.cli import main

sys.exit(main())

"""``python -m phrenology …`` runs the command-line tool (see :mod:`phrenology.pipeline.cli`)."""

import sys

from phrenology.pipeline.cli import main

sys.exit(main())

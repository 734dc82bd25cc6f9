"""``python -m openweight_sim.cli``: the ``openweight-sim`` command."""

import sys

from openweight_sim.cli import main

sys.exit(main())

"""``python -m modelpred_theory.cli``: the ``modelpred`` command."""

import sys

from . import main

sys.exit(main())

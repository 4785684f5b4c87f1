"""``python -m costmodel.cli``: the ``astraea-cost`` command line."""

import sys

from costmodel.cli.dispatch import main

sys.exit(main())

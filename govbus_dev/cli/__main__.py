"""``python -m govbus_dev.cli``: the same as the ``govbus`` console script."""

import sys

from govbus_dev.cli import main

sys.exit(main())

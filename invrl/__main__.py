"""``python -m invrl ...`` = ``invrl ...``."""

import sys

from invrl.cli import main

sys.exit(main())

"""``python -m bridge`` is ``handoff-bridge``."""

import sys

from bridge.cli import main

sys.exit(main())

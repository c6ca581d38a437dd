"""``python -m bridge`` is ``machinima-bridge``."""

from __future__ import annotations

import sys

from bridge.cli import main

sys.exit(main())

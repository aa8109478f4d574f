#!/usr/bin/env python3
"""Classic entry point: ``python backtest.py [--dry-run] [sor backtest options]``.

``--dry-run`` reads the data file directly (the embedded default data when ``--data`` is not
given); every other option is passed to ``sor backtest``.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

from sor.cli import main

if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--dry-run"]
    sys.argv = [sys.argv[0], "backtest", *args]
    main()

#!/usr/bin/env python3
"""Classic entry point: ``python backtest.py [--dry-run] [sor backtest options]``.

Without ``--dry-run`` the data (``--data``, or the generated default) is replayed through
Kafka and backtested from the stream: the embedded broker unless ``--bootstrap``,
``SOR_KAFKA_BOOTSTRAP`` or the configuration names one; ``--kafka HOST:PORT`` consumes a
stream someone else produces. ``--dry-run`` reads the data file directly.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

from sor.cli import main

if __name__ == "__main__":
    args = sys.argv[1:]
    if "--dry-run" in args:
        args = [a for a in args if a != "--dry-run"]
    elif "--kafka" not in args:
        args = ["--stream", *args]
    sys.argv = [sys.argv[0], "backtest", *args]
    main()

#!/usr/bin/env python3
"""Classic entry point: ``python backtest.py [--from-file] [sor backtest options]``.

Without ``--from-file`` the data (``--data``, or the generated default) is replayed through
Kafka and backtested from the stream: the embedded broker unless ``--bootstrap``,
``SOR_KAFKA_BOOTSTRAP`` or the configuration names one; ``--kafka HOST:PORT`` consumes a
stream someone else produces. ``--from-file`` backtests straight from the data file, as
``sor backtest`` does.

``--dry-run`` is the old spelling of ``--from-file``: it still works, with a warning, since
elsewhere (``kafka_producer.py``, ``sor produce``) ``--dry-run`` means "print the messages,
publish none".
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

try:
    from sor.cli import main
except (ImportError, SyntaxError) as exc:  # a Python outside the project's environment
    sys.stderr.write(
        f"sor: error: {Path(__file__).name} needs sor's environment ({exc}): set it up "
        "with `make demo`, or `python -m venv .venv && .venv/bin/pip install -e .`, then "
        "run `.venv/bin/python backtest.py`\n"
    )
    sys.exit(2)

FROM_FILE = "--from-file"
OLD_FROM_FILE = "--dry-run"

if __name__ == "__main__":
    args = sys.argv[1:]
    if OLD_FROM_FILE in args:
        sys.stderr.write(
            f"sor: warning: backtest.py {OLD_FROM_FILE} is deprecated; use {FROM_FILE} "
            "(backtest straight from the file)\n"
        )
    if FROM_FILE in args or OLD_FROM_FILE in args:
        args = [a for a in args if a not in (FROM_FILE, OLD_FROM_FILE)]
    elif "--kafka" not in args:
        args = ["--stream", *args]
    sys.argv = [sys.argv[0], "backtest", *args]
    main()

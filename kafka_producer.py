#!/usr/bin/env python3
"""Classic entry point: ``python kafka_producer.py [--dry-run] [sor produce options]``.

With ``--dry-run`` it prints the JSON messages it would publish, one per line.
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
        "run `.venv/bin/python kafka_producer.py`\n"
    )
    sys.exit(2)

if __name__ == "__main__":
    sys.argv = [sys.argv[0], "produce", *sys.argv[1:]]
    main()

#!/usr/bin/env python3
"""Classic entry point: ``python kafka_producer.py [--dry-run] [sor produce options]``.

With ``--dry-run`` it prints the JSON messages it would publish, one per line.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

from sor.cli import main

if __name__ == "__main__":
    sys.argv = [sys.argv[0], "produce", *sys.argv[1:]]
    main()

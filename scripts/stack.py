"""The stack's command line under its old name: `python scripts/stack.py ARGS` is `python -m teststack ARGS`."""

from __future__ import annotations

import sys
from pathlib import Path

# Run by path, Python puts scripts/ on sys.path, not the repository's root where the teststack package is; this
# file is the one place that adds it. Everything else runs from the root (`python -m teststack`, pytest, bench).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from teststack.cli import main

if __name__ == "__main__":
    sys.exit(main())

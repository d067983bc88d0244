"""The stack's command line: `python -m teststack up|down|status|env|image|vault-restart N|...`."""

import sys

from .cli import main

sys.exit(main())

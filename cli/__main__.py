"""`python -m cli`: the console script `neon-cluster-manager`."""

import sys

from cli.main import main

sys.exit(main())

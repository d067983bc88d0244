"""Real test stack on loopback (Consul, a 5-node Docker Swarm, 3-node OpenBao): the command line, and the module
tests and benchmarks import (`import stack`). The parts live in the package scripts/teststack/."""

from __future__ import annotations

import sys

from teststack import *  # noqa: F403 - this module is the package's public face under its old name
from teststack import __all__ as __all__
from teststack.cli import main
from teststack.common import _http as _http  # a test speaks to OpenBao with the stack's own HTTP helper

if __name__ == "__main__":
    sys.exit(main())

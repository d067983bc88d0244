"""What cluster setup never publishes of a definition, and what it always writes: `definition put`'s policy."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

#: Properties cluster setup never publishes (matched case-insensitively, as .NET's JSON reader matches names).
CONFIDENTIAL_PATHS: tuple[tuple[str, ...], ...] = (
    ("Hosting",),
    ("Docker", "RegistryPassword"),
    ("Consul", "EncryptionKey"),
)
#: A property with this name is confidential wherever it is.
CONFIDENTIAL_ANYWHERE = "RootToken"
#: What cluster setup always writes: a definition without them is refused unless forced.
REQUIRED_PROPERTIES = ("Name", "Schema", "Datacenter")


def _strip_path(value: Any, path: tuple[str, ...], where: str, removed: list[str]) -> None:
    """Delete `path` from `value` in place, matching names in any case (every spelling present)."""
    if not isinstance(value, dict):
        return
    for key in [key for key in value if key.lower() == path[0].lower()]:
        here = f"{where}.{key}" if where else key
        if len(path) == 1:
            del value[key]
            removed.append(here)
        else:
            _strip_path(value[key], path[1:], here, removed)


def _without_anywhere(value: Any, path: str, removed: list[str]) -> Any:
    if isinstance(value, dict):
        kept: dict[str, Any] = {}
        for key, child in value.items():
            where = f"{path}.{key}" if path else key
            if key.lower() == CONFIDENTIAL_ANYWHERE.lower():
                removed.append(where)
            else:
                kept[key] = _without_anywhere(child, where, removed)
        return kept
    if isinstance(value, list):
        return [_without_anywhere(child, f"{path}[{index}]", removed) for index, child in enumerate(value)]
    return value


def strip_confidential(definition: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A copy of `definition` without `Hosting`, `Docker.RegistryPassword`, `Consul.EncryptionKey`
    and any `RootToken` at any depth, as cluster setup publishes it; and the paths removed."""
    anywhere: list[str] = []
    public: dict[str, Any] = _without_anywhere(dict(definition), "", anywhere)
    removed: list[str] = []
    for path in CONFIDENTIAL_PATHS:
        _strip_path(public, path, "", removed)
    return public, removed + anywhere


def setup_problems(definition: Mapping[str, Any]) -> list[str]:
    """What a definition lacks of REQUIRED_PROPERTIES (each must be a non-empty string), in words."""
    missing = [name for name in REQUIRED_PROPERTIES if name not in definition]
    problems = [f"no {', '.join(missing)}"] if missing else []
    for name in REQUIRED_PROPERTIES:
        value = definition.get(name)
        if name in definition and not (isinstance(value, str) and value.strip()):
            problems.append(f"{name} is {json.dumps(value)[:40]}, not a non-empty string")
    return problems

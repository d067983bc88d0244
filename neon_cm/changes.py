"""What changed between two definitions' `Nodes`, in a line an operator reads instead of diffing JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from neon_cm.definition import LABEL_FIELDS

#: Typed label properties under the Docker label an operator sets (`ComputeCores`: `io.neon.compute.cores`).
LABEL_OF_PROPERTY = {field.property: field.labels[0] for field in LABEL_FIELDS}
#: A value longer than this is cut in the description.
VALUE_CHARS = 40
#: The description stops before this length and says how many changes it left out.
LIMIT_CHARS = 600


def shown(value: Any) -> str:
    """A value as JSON writes it (strings without quotes, but for an empty one or one with spaces around it, which
    would read as nothing or not show its spaces), cut to VALUE_CHARS."""
    plain = isinstance(value, str) and value != "" and value == value.strip()
    text = value if plain else json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= VALUE_CHARS else text[: VALUE_CHARS - 3] + "..."


def _entries(node: Any) -> dict[tuple[bool, str], Any]:
    """A node object flattened to what an operator names: its properties (Role, addresses), then each label
    under its Docker name; keyed (is a label, name), so a label called `Role` is not the node's Role."""
    if not isinstance(node, Mapping):
        return {(False, "(node)"): node}
    flat: dict[tuple[bool, str], Any] = {}
    for key, value in node.items():
        if key == "Labels" and isinstance(value, Mapping):
            for prop, label_value in value.items():
                if prop == "Custom" and isinstance(label_value, Mapping):
                    flat.update({(True, str(label)): custom for label, custom in label_value.items()})
                else:
                    flat[(True, LABEL_OF_PROPERTY.get(prop, f"Labels.{prop}"))] = label_value
        elif key not in ("Name", "IsManager"):  # the key already names the node; IsManager follows Role
            flat[(False, str(key))] = value
    return flat


def node_changes(before: Any, after: Any) -> list[str]:
    """One phrase per changed entry of a node: `io.neon.compute.cores 4 -> 8`, `rack added (r1)`, `x removed`."""
    old, new = _entries(before), _entries(after)
    phrases = []
    for entry in sorted(old.keys() | new.keys()):
        name = entry[1]
        if entry not in old:
            phrases.append(f"{name} added ({shown(new[entry])})")
        elif entry not in new:
            phrases.append(f"{name} removed")
        elif old[entry] != new[entry]:
            phrases.append(f"{name} {shown(old[entry])} -> {shown(new[entry])}")
    return phrases


def describe_node_changes(before: Any, after: Mapping[str, Any], limit: int = LIMIT_CHARS) -> str:
    """The changes from `before` (the published `Nodes`, whatever it holds) to `after`, at most `limit` long.

    `worker-1: io.neon.compute.cores 4 -> 8; worker-3 added; worker-4 removed`, nodes in name order;
    `no node changed` when none did. Past `limit`, the rest is counted: `... and 7 more changes`.
    """
    old: Mapping[str, Any] = before if isinstance(before, Mapping) else {}
    changes: list[tuple[str, str | None]] = []  # (node, phrase); None: the node was added or removed as a whole
    for name in sorted(old.keys() | after.keys(), key=str):
        if name not in old or name not in after:
            changes.append((name, None))
        else:
            changes.extend((name, phrase) for phrase in node_changes(old[name], after[name]))
    if not changes:
        return "no node changed"
    text, previous = "", None
    for index, (name, phrase) in enumerate(changes):
        if phrase is None:
            piece = f"; {name} {'added' if name not in old else 'removed'}"
        else:
            piece = f", {phrase}" if name == previous else f"; {name}: {phrase}"
        left = len(changes) - index
        if len(text) + len(piece) > limit - len(f"; ... and {left} more changes"):
            return f"{text[2:]}; ... and {left} more changes" if text else f"{left} changes"
        text, previous = text + piece, name
    return text[2:]

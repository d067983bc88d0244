"""The system's vocabulary: immutable messages the actors tell each other."""

from messages.definition import DefinitionNotPublished, DefinitionPublished, DefinitionUnchanged
from messages.lifecycle import ChildExited
from messages.log import Level, LogEntry
from messages.settings import Settings, SettingsChanged
from messages.swarm import NodesObserved, SwarmNode
from messages.timing import SetInterval, Tick

__all__ = [
    "ChildExited",
    "DefinitionNotPublished",
    "DefinitionPublished",
    "DefinitionUnchanged",
    "Level",
    "LogEntry",
    "NodesObserved",
    "SetInterval",
    "Settings",
    "SettingsChanged",
    "SwarmNode",
    "Tick",
]

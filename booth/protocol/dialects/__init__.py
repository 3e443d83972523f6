"""The protocols a booth can speak, one small sans-I/O module each.

A dialect maps its wire messages to and from the typed events of
:mod:`booth.protocol.messages`, on both sides: a client protocol (a :class:`ClientProtocol`
subclass the session drives) and a server codec (what ``booth devserver`` speaks in that mode).
What a dialect lacks is stated in its :class:`Traits`, and the session and daemon decide from
the traits, never from the dialect's name.

- ``booth``: the booth voice protocol (mint + redeem, ``connected.features``, resume).
- ``seed003``: the raw voice WebSocket exactly as seed 003 publishes it.
- ``atoms``: the Smallest Atoms Agent WebSocket (register-call, JSON events, base64 PCM).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, get_args

from booth.protocol.client import ClientProtocol
from booth.protocol.messages import ClientEvent, ServerEvent

Name = Literal["booth", "seed003", "atoms"]
NAMES: tuple[Name, ...] = get_args(Name)


@dataclass(frozen=True)
class Traits:
    """What a dialect offers; each False is a row of the table in docs/protocol.md."""

    name: Name
    resume: bool  # a dropped link can be resumed within the cutoff
    call_id: bool  # the service names the call
    score: bool  # the service scores the call and the booth can fetch the score
    record: bool  # the service keeps a call record the booth can fetch (score or not)
    turn_markers: bool  # agent_start_talking / agent_stop_talking frame each persona turn
    turn_end: bool  # the booth can say the rep's turn is over
    end_message: bool  # the booth can end the call with a message (else it just closes)
    drill: bool  # the drill (or agent) and difficulty reach the service
    idle_silence: bool  # the service's voice detection needs silence while the button is up
    wire_rate: int  # PCM rate on the wire (what the booth's audio pipeline runs at)


TRAITS: dict[Name, Traits] = {
    "booth": Traits(
        name="booth",
        resume=True,
        call_id=True,
        score=True,
        record=True,
        turn_markers=True,
        turn_end=True,
        end_message=True,
        drill=True,
        idle_silence=False,
        wire_rate=16000,
    ),
    "seed003": Traits(
        name="seed003",
        resume=False,
        call_id=False,
        score=False,
        record=False,
        turn_markers=False,
        turn_end=False,
        end_message=False,
        drill=False,
        idle_silence=False,
        wire_rate=16000,
    ),
    "atoms": Traits(
        name="atoms",
        resume=False,
        call_id=True,
        score=False,
        record=True,
        turn_markers=True,
        turn_end=False,
        end_message=True,
        drill=True,
        idle_silence=True,
        wire_rate=24000,
    ),
}


class ServerCodec(Protocol):
    """The server side of a dialect (the devserver's): typed events to wire messages."""

    def encode(self, event: ServerEvent) -> list[str | bytes]:
        """The wire messages for ``event``; empty when the dialect has no such message."""

    def parse(self, message: str | bytes) -> ClientEvent:
        """A message the server received, as a typed event (never raises)."""


def traits(name: str) -> Traits:
    try:
        return TRAITS[name]  # type: ignore[index]
    except KeyError:
        raise ValueError(f"unknown protocol {name!r}; use one of {', '.join(NAMES)}") from None


def client_protocol(name: str) -> ClientProtocol:
    """A fresh client protocol for one call in dialect ``name``."""
    from booth.protocol.dialects import atoms, seed003

    traits(name)
    if name == "seed003":
        return seed003.Seed003Protocol()
    if name == "atoms":
        return atoms.AtomsProtocol()
    return ClientProtocol()


__all__ = ["NAMES", "TRAITS", "Name", "ServerCodec", "Traits", "client_protocol", "traits"]

"""Each dialect, through ``RoleplaySession`` against its devserver mode: every message the
dialect's server defines becomes a typed call event; malformed and unknown ones are a clear
log line, and the call goes on."""

from __future__ import annotations

import base64
import json
import logging
import re
from typing import Any

import pytest

from booth import call_events as ev
from booth.devserver import DevServer, SocketFaults
from booth.errors import BoothError
from booth.session import RoleplaySession
from booth.transport.link import Link, LinkRefused, LinkSettings
from tests.transport.helpers import KEY, fast_settings, wait_event

AUDIO = (b"\x10\x20" * 320)[:640]
B64 = base64.b64encode(bytes(960)).decode()  # 20 ms at 24 kHz

MALFORMED_TEXT = ['{"type": "agent_ready"', "[1, 2, 3]", '{"no_type": true}']
UNKNOWN = ['{"type": "x_future_feature", "detail": 1}']

INJECT: dict[str, list[str | bytes]] = {
    "booth": [
        '{"type":"agent_start_talking"}',
        AUDIO,
        '{"type":"agent_stop_talking"}',
        '{"type":"interruption"}',
        '{"type":"resumed"}',  # defined, but out of place here: refused, logged
        '{"type":"error","code":"X_TEST","message":"a test error"}',
        *MALFORMED_TEXT,
        b"\x01\x02\x03",
        *UNKNOWN,
    ],
    "seed003": [
        '{"type":"agent_ready"}',
        AUDIO,
        '{"type":"error","code":"X_TEST","message":"a test error"}',
        '{"type":"agent_stop_talking"}',  # the booth protocol's, not the seed's: unknown
        *MALFORMED_TEXT,
        b"\x01\x02\x03",
        *UNKNOWN,
    ],
    "atoms": [
        '{"type":"agent_start_talking","timestamp":"2026-07-02T10:30:45.123456"}',
        json.dumps({"type": "output_audio.delta", "audio": B64}),
        '{"type":"agent_stop_talking","timestamp":"2026-07-02T10:30:46.000000"}',
        '{"type":"interruption"}',
        '{"type":"transcript.delta","role":"assistant","text":"We"}',
        '{"type":"transcript","role":"user","text":"Hello"}',
        '{"type":"error","code":"X_TEST","message":"a test error"}',
        '{"type":"output_audio.delta","audio":"***"}',
        *MALFORMED_TEXT,
        b"\x00\x00",  # Atoms has no binary messages
        *UNKNOWN,
    ],
}
#: The bad ones each dialect must log and skip (unknown types are logged once, apart).
BAD = {"booth": 5, "seed003": 4, "atoms": 5}
END_REASON = {"booth": "agent_disconnected", "seed003": "agent_disconnected", "atoms": "ended"}


def session_for(server: DevServer, dialect: str) -> RoleplaySession:
    kw: dict[str, Any] = {"protocol": dialect}
    if dialect == "atoms":
        kw["agent_id"] = "cold-call-skeptic"
    return RoleplaySession(server.url, KEY, "cold-call-skeptic", booth_id="booth-test", **kw)


@pytest.mark.parametrize("dialect", ["booth", "seed003", "atoms"])
async def test_every_server_message(dialect: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="booth")
    settings = fast_settings(greet=False)
    async with DevServer(api_keys={KEY}, settings=settings, use_espeak=False) as server:
        server.faults.socket = SocketFaults(
            inject=INJECT[dialect], end_after=1.0, end_reason=END_REASON[dialect]
        )
        sess = session_for(server, dialect)
        await sess.connect()
        await wait_event(sess, ev.Ready)
        ended = await wait_event(sess, ev.Ended)
    kinds = [type(e) for e in sess.events]
    failed = sess.first(ev.CallFailed)
    assert failed is not None and (failed.code, failed.message) == ("X_TEST", "a test error")
    assert ended.reason == END_REASON[dialect]  # the service's end, as it said it
    assert sess.stats.protocol_errors == BAD[dialect]
    assert sess.stats.frames_received >= 1  # the audio arrived as audio
    logged = [r.getMessage() for r in caplog.records]
    # Bad messages are logged with a count (a flood must not flood the journal), the first
    # one with its problem.
    counts = [re.search(r"skipped (\d+) (?:more )?bad message", m) for m in logged]
    assert sum(int(c.group(1)) for c in counts if c) == BAD[dialect]
    assert any("bad message(s) (1 in this call), the latest: " in m for m in logged)
    # The first unknown type by name (for seed 003: the booth protocol's turn marker).
    unknown = "agent_stop_talking" if dialect == "seed003" else "x_future_feature"
    assert any(f"ignoring message type {unknown!r}" in m for m in logged)
    if dialect == "seed003":
        # No turn markers: speaking is guessed from the audio itself.
        assert ev.PersonaSpeaking in kinds and ev.Interruption not in kinds
    else:
        assert ev.Interruption in kinds
        speaking = [e.speaking for e in sess.events if isinstance(e, ev.PersonaSpeaking)]
        assert speaking[:2] == [True, False]
    if dialect == "atoms":
        said = [(e.role, e.text, e.final) for e in sess.events if isinstance(e, ev.Transcript)]
        assert said == [("assistant", "We", False), ("user", "Hello", True)]


async def test_an_unknown_atoms_agent_is_drill_not_found() -> None:
    async with DevServer(api_keys={KEY}, settings=fast_settings(), use_espeak=False) as server:
        sess = RoleplaySession(server.url, KEY, "", protocol="atoms", agent_id="no-such-agent")
        with pytest.raises(BoothError) as caught:
            await sess.connect()
    assert caught.value.code == "DRILL_NOT_FOUND"
    assert "Agent not found" in caught.value.message
    assert not server.calls


async def test_a_refused_upgrade_is_not_a_network_loss() -> None:
    """Atoms answers a spent or forged token with 401 on the upgrade: a refusal with a code,
    not a dial to retry."""
    async with DevServer(api_keys={KEY}, settings=fast_settings(), use_espeak=False) as server:
        url = server.url.replace("http", "ws") + "/atoms/v1/agent/connect?token=wct_forged"
        with pytest.raises(LinkRefused) as caught:
            await Link.open(url)
    assert caught.value.status == 401


async def test_a_dial_that_spent_its_atoms_token_gets_a_new_one() -> None:
    """The upgrade spends a wct_ token; a handshake that outlasts the open timeout leaves it
    spent, so the next try registers the call again instead of earning a 401 (INVALID_TOKEN)."""
    settings = fast_settings(greet=False)
    async with DevServer(api_keys={KEY}, settings=settings, use_espeak=False) as server:
        server.faults.socket = SocketFaults(upgrade_delays=[1.5], end_after=0.5, end_reason="ended")
        sess = RoleplaySession(
            server.url,
            KEY,
            "",
            protocol="atoms",
            agent_id="cold-call-skeptic",
            link_settings=LinkSettings(open_timeout=0.3),
        )
        await sess.connect()
        ended = await wait_event(sess, ev.Ended)
    assert sess.first(ev.CallFailed) is None
    assert ended.reason == "ended"
    assert server.faults.socket.upgrade_delays == []  # the first upgrade was held

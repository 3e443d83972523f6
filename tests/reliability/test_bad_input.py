"""Bad input from the server and from the booth's own hardware: logged, skipped, never fatal.

Pre-auth ordering (audio or agent_ready before `connected`) is proven at the protocol layer in
tests/protocol/test_client_protocol.py; a missing or unplugged mic and a lost speaker in
tests/daemon/test_app.py; every config and credential error class in tests/foundation.
"""

from __future__ import annotations

import json
import resource
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from booth.devserver.faults import SocketFaults
from booth.protocol.messages import FRAME_BYTES
from tests.daemon.harness import running_booth
from tests.reliability.conftest import Record
from tests.reliability.test_network import OPEN_MIC, audio_arrives, start_call
from tests.transport.helpers import persona_audio_after, service, session

pytestmark = pytest.mark.reliability

CORPUS: list[str | bytes] = [
    '{"type": "agent_ready"',  # truncated JSON
    "[1, 2, 3]",
    '{"no_type": true}',
    '{"type": 42}',
    '{"type": "connected", "sampleRate": "fast"}',  # wrong type, and out of order
    '{"type": "connected", "callId": "athos_call_hijack"}',  # a second `connected`
    '{"type": "resumed"}',  # never asked for
    '{"type": "error"}',  # no code
    '{"type": "session_ended", "reason": ["x"]}',
    '{"type": "x_future_feature", "detail": {"deep": [1, 2, {"a": null}]}}',
    "x" * 70_000,  # text over the codec's 64 KiB limit, under the link's frame limit
    b"\x01\x02\x03",  # odd-length audio
    b"",
]


async def test_corpus_of_bad_server_messages_is_skipped(tmp_path: Path) -> None:
    async with running_booth(tmp_path, panel=OPEN_MIC) as b:
        b.server.faults.socket = SocketFaults(inject=list(CORPUS), send_unknown=True)
        call_id = await start_call(b)
        await audio_arrives(b, call_id)  # the call goes on after all of it
        run = b.app.call
        assert run is not None and run.session is not None
        assert run.call_id == call_id
        assert b.app.machine.state in ("listening", "talking")
        assert run.session.stats.protocol_errors >= 8


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def test_audio_flood_is_bounded(figure: Record) -> None:
    """Persona audio far faster than real time: memory stays bounded, the call goes on."""
    async with service() as (server, proxy):
        server.faults.socket = SocketFaults(flood=True)
        sess = session(server, proxy)
        await sess.connect()
        before = _rss_mb()
        got = await persona_audio_after(sess, 100)  # two seconds of greeting, sent at once
        assert got >= 100 * FRAME_BYTES
        growth = _rss_mb() - before
        figure("rss_growth_mb", growth)
        assert growth < 50
        assert sess.call_id in server.calls
        await sess.end()
        assert sess.end_reason == "client_requested"


messages = st.one_of(
    st.binary(max_size=700),
    st.text(max_size=200),
    st.builds(
        json.dumps,
        st.fixed_dictionaries(
            {
                "type": st.sampled_from(
                    [
                        "connected",
                        "agent_ready",
                        "resumed",
                        "error",
                        "session_ended",
                        "interruption",
                        "agent_start_talking",
                        "zzz",
                    ]
                )
            },
            optional={
                "callId": st.one_of(st.none(), st.integers(), st.text(max_size=8)),
                "sampleRate": st.one_of(st.integers(), st.text(max_size=4)),
                "features": st.one_of(st.text(max_size=4), st.lists(st.integers(), max_size=3)),
                "code": st.one_of(st.none(), st.integers()),
            },
        ),
    ),
)


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(messages, min_size=1, max_size=12))
async def test_random_server_messages_never_crash_the_session(batch: list[str | bytes]) -> None:
    async with service() as (server, proxy):
        ended_by_server = any(
            isinstance(m, str) and '"session_ended"' in m and '"reason"' not in m for m in batch
        )
        server.faults.socket = SocketFaults(inject=batch)
        sess = session(server, proxy)
        await sess.connect()
        sess.send_audio(bytes(FRAME_BYTES))
        if not ended_by_server and sess.end_reason is None:
            await persona_audio_after(sess, 3)
        await sess.end()
        assert sess.end_reason is not None  # ended, with a reason; no exception escaped

"""The REST client against the devserver itself: faults, tenant states, call records, paging."""

from __future__ import annotations

import pytest

from booth import call_events as ev
from booth.devserver import CallStatus, RestFaults
from booth.transport.rest import RestClient, RestError
from tests.transport.helpers import DRILL, KEY, service, session, speak_turn, wait_event


async def test_injected_503_then_429_are_retried() -> None:
    async with service() as (server, _proxy):
        server.faults.rest = RestFaults(status=503, count=1, retry_after=0)
        async with RestClient(server.url, KEY) as rest:
            token = await rest.mint("booth-x")
            assert token.token
            server.faults.rest = RestFaults(status=429, count=1, retry_after=0)
            ticket = await rest.start_call("booth-x", DRILL)
            assert ticket.call_id in server.calls
            assert rest.attempts == 5  # 503 + mint, 429 + mint + redeem
        assert server.faults.rest.count == 0


@pytest.mark.parametrize(
    ("knob", "code"),
    [("tenant_active", "TENANT_INACTIVE"), ("revoked_keys", "API_KEY_REVOKED")],
)
async def test_tenant_and_key_states_need_a_person(knob: str, code: str) -> None:
    async with service() as (server, _proxy):
        if knob == "tenant_active":
            server.tenant_active = False
        else:
            server.revoked_keys.add(KEY)
        async with RestClient(server.url, KEY) as rest:
            with pytest.raises(RestError) as caught:
                await rest.start_call("booth-x", DRILL)
            assert caught.value.code == code
            assert caught.value.request_id and caught.value.request_id.startswith("req_")
            assert rest.attempts == 1


async def test_call_record_and_paging() -> None:
    async with service() as (server, proxy):
        ids = []
        for _ in range(3):
            sess = session(server, proxy)
            await sess.connect()
            await wait_event(sess, ev.Ready)
            await speak_turn(sess)
            await sess.end()
            ids.append(sess.call_id)
        async with RestClient(server.url, KEY) as rest:
            with pytest.raises(RestError) as caught:
                await rest.get_call("athos_call_0000")
            assert caught.value.code == "CALL_NOT_FOUND"
            await server.wait_call(ids[0], CallStatus.SCORED)
            record = await rest.get_call(ids[0])
            assert record["callId"] == ids[0]
            for call_id in ids:
                await server.wait_call(call_id, CallStatus.SCORED)
            listed = [c["callId"] async for c in rest.iter_calls(limit=2)]
        assert sorted(listed) == sorted(ids)

"""A call's lease on the booth: once the next call has started, the last one cannot touch it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from booth.daemon import orphans
from booth.daemon.inputs import Input, Tick
from booth.daemon.lease import Lease
from booth.sim.fake_audio import FakeMic, FakeSpeaker


def lease(tmp_path: Path) -> tuple[Lease, FakeMic, FakeSpeaker, list[Input], list[object]]:
    mic, speaker = FakeMic(), FakeSpeaker()
    fed: list[Input] = []
    tags: list[object] = []
    held = Lease(mic, speaker, fed.append, lambda c, s: tags.append((c, s)), tmp_path)
    return held, mic, speaker, fed, tags


async def test_a_held_lease_reaches_the_booth(tmp_path: Path) -> None:
    held, mic, speaker, fed, tags = lease(tmp_path)
    await held.open_devices()
    assert mic.is_open and speaker.is_open
    frames: list[bytes] = []

    def take(frame: bytes) -> None:
        frames.append(frame)
        mic.is_open = False  # one is enough: the stream ends as the mic closes

    await held.stream_mic(take)
    assert len(frames) == 1
    held.play(b"\x01\x00" * 160)
    held.feed(Tick())
    held.tag_logs("c1", "s1")
    held.keep_live_call(orphans.LiveCall("c1", "ws://127.0.0.1:1/ws", "resume", 0.0))
    assert speaker.audio and fed == [Tick()] and tags == [("c1", "s1")]
    assert orphans.load(tmp_path) is not None
    held.forget_live_call()
    assert orphans.load(tmp_path) is None
    await held.release()
    assert not mic.is_open and not speaker.is_open


async def test_a_revoked_lease_touches_nothing(tmp_path: Path) -> None:
    held, mic, speaker, fed, tags = lease(tmp_path)
    await held.open_devices()
    orphans.save(tmp_path, orphans.LiveCall("c2", "ws://127.0.0.1:1/ws", "resume", 0.0))
    held.revoke()  # the next call started and owns the devices now
    frames: list[bytes] = []
    await held.stream_mic(frames.append)  # returns at once: the mic is the next call's
    assert frames == []
    held.play(b"\x01\x00" * 160)
    assert held.flush() == 0 and speaker.flushes == 0
    held.mark_end()
    held.feed(Tick())
    held.tag_logs(None, None)
    held.forget_live_call()
    await held.release()
    assert not speaker.audio and speaker.turns_ended == 0 and fed == [] and tags == []
    assert mic.is_open and speaker.is_open  # still the next call's
    assert orphans.load(tmp_path) is not None  # the next call's live-call file stays


async def test_a_lease_revoked_mid_stream_hands_on_no_more_frames(tmp_path: Path) -> None:
    held, mic, _speaker, _fed, _tags = lease(tmp_path)
    await held.open_devices()
    mic.say(bytes(640 * 3))
    frames: list[bytes] = []

    def take(frame: bytes) -> None:
        frames.append(frame)
        held.revoke()  # the next call starts after this call's first frame

    streaming = asyncio.create_task(held.stream_mic(take))
    await mic.done.wait()  # the mic delivered all three frames
    await mic.close()
    await streaming
    assert len(frames) == 1

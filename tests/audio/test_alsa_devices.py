"""PyAudio capture and playback against real ALSA devices (file PCMs, tests/support/alsa.py)."""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from booth.audio import devices
from booth.audio.capture import Capture, CapturedFrame
from booth.audio.framer import Framer
from booth.audio.playback import Playback
from booth.errors import BoothError, ErrorCode
from tests.support.alsa import (
    AlsaFileDevices,
    alsa_file_devices,
    blocked_in_pipe_read,
    blocked_in_pipe_write,
    find_signal,
)


def make_signal(rate: int, seconds: float, seed: int) -> np.ndarray:
    """A chirp plus noise: every sample matters, nothing is periodic."""
    t = np.arange(int(rate * seconds)) / rate
    rng = np.random.default_rng(seed)
    x = 12000 * np.sin(2 * np.pi * (200 * t + 3000 * t**2)) + rng.normal(0, 2000, t.size)
    return np.clip(x, -32768, 32767).astype(np.int16)


async def test_capture_frames_equal_offline_framer(tmp_path: Path) -> None:
    signal = make_signal(48000, 1.0, 1)
    expected = Framer(48000).push(signal)
    with alsa_file_devices(tmp_path, signal, rate=48000, paced=True) as devs:
        capture = Capture(devs.capture_name, rate=48000, queue_frames=200)
        await capture.start()
        try:
            assert capture.device is not None
            assert capture.device.name == devs.capture_name
            assert capture.rate == 48000
            frames = [await asyncio.wait_for(capture.get(), 5) for _ in range(40)]
        finally:
            await capture.stop()
    assert [f.seq for f in frames] == list(range(40))
    assert [f.pcm for f in frames] == expected[:40]
    stamps = [f.captured_at for f in frames]
    assert stamps == sorted(stamps)
    assert stamps[-1] <= time.monotonic()


async def test_capture_at_24k_for_atoms(tmp_path: Path) -> None:
    signal = make_signal(48000, 0.5, 4)
    expected = Framer(48000, 24000, frame_samples=480).push(signal)
    with alsa_file_devices(tmp_path, signal, rate=48000, paced=True) as devs:
        capture = Capture(devs.capture_name, rate=48000, out_rate=24000)
        await capture.start()
        try:
            frames = [await asyncio.wait_for(capture.get(), 5) for _ in range(20)]
        finally:
            await capture.stop()
    assert {len(f.pcm) for f in frames} == {960}  # 20 ms at 24 kHz
    assert [f.pcm for f in frames] == expected[:20]


async def _drain_until_error(capture: Capture) -> None:
    while True:
        await asyncio.wait_for(capture.get(), 5)


def reader_of(capture: Capture) -> threading.Thread:
    """The thread that reads the device (found by the native id the capture gives benches)."""
    return next(t for t in threading.enumerate() if t.native_id == capture.audio_thread)


async def stuck_in_a_read(devs: AlsaFileDevices, reader: threading.Thread) -> None:
    """Until the stalled device has nothing more to give and the reader waits for it."""
    assert reader.native_id is not None
    while not (devs.capture_parked.is_set() and blocked_in_pipe_read(reader.native_id)):
        await asyncio.sleep(0.005)  # waits for the device, not for time


async def test_stalled_mic_is_disconnected_released_then_reopens(tmp_path: Path) -> None:
    signal = make_signal(16000, 0.5, 1)
    with alsa_file_devices(tmp_path, signal, rate=16000, paced=True) as devs:
        errors: list[BoothError] = []
        capture = Capture(devs.capture_name, rate=16000, stall_timeout=1.0, on_error=errors.append)
        await capture.start()
        try:
            await asyncio.wait_for(capture.get(), 5)
            reader = reader_of(capture)
            devs.capture_stalled.set()  # the mic stops delivering, as if unplugged
            with pytest.raises(BoothError) as err:
                await _drain_until_error(capture)
            assert err.value.code == ErrorCode.MIC_DEVICE_DISCONNECTED
            assert errors and errors[0].code == ErrorCode.MIC_DEVICE_DISCONNECTED
            assert not capture.running
            assert reader.is_alive()  # reported while its read still waits for the device
            devs.capture_stalled.clear()  # plugged back in
            # The read returns, the reader sees it was stopped and ends: the stream is released.
            await asyncio.wait_for(asyncio.to_thread(reader.join), 5)
            await asyncio.wait_for(capture.start(), 10)
            frame = await asyncio.wait_for(capture.get(), 5)
            assert len(frame.pcm) == 640
            assert reader_of(capture) is not reader
        finally:
            await capture.stop()


async def stop_while_stuck(
    stop: Coroutine[Any, Any, None],
    thread: threading.Thread,
    stalled: threading.Event,
    call: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """``stop`` returns while ``thread`` is stuck in its ``call`` on the ``stalled`` device,
    leaving the stream open; once the device goes on, the thread closes it."""
    await asyncio.wait_for(stop, 10)
    assert thread.is_alive()  # still inside its call, the stream still open
    assert "its stream will be closed when it does" in caplog.text
    assert f"closed when its {call} returned" not in caplog.text
    stalled.clear()
    await asyncio.wait_for(asyncio.to_thread(thread.join), 5)
    assert f"closed when its {call} returned" in caplog.text


async def test_stop_while_a_read_is_blocked_leaves_the_stream_to_its_reader(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A stop cannot wait for a read that may never return, and must not close the stream
    under it: it returns after a bounded wait, and the reader closes the stream when its read
    comes back."""
    caplog.set_level(logging.INFO, logger="booth.audio")
    signal = make_signal(16000, 2.0, 14)
    with alsa_file_devices(tmp_path, signal, rate=16000, paced=True) as devs:
        capture = Capture(devs.capture_name, rate=16000, stall_timeout=600.0)
        await capture.start()
        try:
            await asyncio.wait_for(capture.get(), 5)
            reader = reader_of(capture)
            devs.capture_stalled.set()
            await asyncio.wait_for(stuck_in_a_read(devs, reader), 5)
            await stop_while_stuck(capture.stop(), reader, devs.capture_stalled, "read", caplog)
            assert not capture.running
            await asyncio.wait_for(capture.start(), 10)  # the device opens again
            frames = [await asyncio.wait_for(capture.get(), 5) for _ in range(5)]
        finally:
            devs.capture_stalled.clear()
            await capture.stop()
    assert [len(f.pcm) for f in frames] == [640] * 5
    assert capture.stats.block_errors == 0


async def test_missing_mic_is_no_mic_available(tmp_path: Path) -> None:
    with alsa_file_devices(tmp_path, with_capture=False):
        capture = Capture("boothmic", rate=48000)
        with pytest.raises(BoothError) as err:
            await capture.start()
    assert err.value.code == ErrorCode.NO_MIC_AVAILABLE
    assert not capture.running


async def test_missing_speaker_is_playback_blocked(tmp_path: Path) -> None:
    with alsa_file_devices(tmp_path, np.zeros(10, np.int16), with_playback=False):
        playback = Playback("boothspk")
        with pytest.raises(BoothError) as err:
            await playback.start()
    assert err.value.code == ErrorCode.AUDIO_PLAYBACK_BLOCKED


async def _play(
    tmp_path: Path,
    rate: int,
    pcm16k: np.ndarray,
    source_rate: int = 16000,
    cue: np.ndarray | None = None,
) -> np.ndarray:
    with alsa_file_devices(tmp_path, rate=rate, paced=True) as devs:
        playback = Playback(devs.playback_name, rate=rate, prebuffer_ms=40, source_rate=source_rate)
        await playback.start()
        assert playback.rate == rate
        try:
            if cue is not None:
                playback.play_cue(cue.tobytes())
            playback.write(pcm16k.tobytes())
            playback.mark_end()
            await asyncio.wait_for(playback.wait_drained(), 10)
        finally:
            await playback.stop()
        devs.finish()
        assert playback.stats.underruns == 0
        return devs.played_samples()


async def test_played_frames_land_in_the_file(tmp_path: Path) -> None:
    pcm = make_signal(16000, 0.3, 2)
    played = await _play(tmp_path, 16000, pcm)
    assert find_signal(played, pcm) >= 0


async def test_playback_resamples_up_when_device_runs_at_48k(tmp_path: Path) -> None:
    pcm = make_signal(16000, 0.3, 3)
    played = await _play(tmp_path, 48000, pcm)
    framer = Framer(16000, 48000, frame_samples=48)
    expected = np.frombuffer(b"".join(framer.push(pcm)), dtype="<i2")
    assert find_signal(played, expected) >= 0


async def test_24k_persona_audio_is_resampled_for_the_speaker(tmp_path: Path) -> None:
    pcm = make_signal(24000, 0.3, 5)
    played = await _play(tmp_path, 48000, pcm, source_rate=24000)
    framer = Framer(24000, 48000, frame_samples=48)
    expected = np.frombuffer(b"".join(framer.push(pcm)), dtype="<i2")
    assert find_signal(played, expected) >= 0


async def test_flush_drops_queued_audio(tmp_path: Path) -> None:
    with alsa_file_devices(tmp_path, rate=16000, paced=True) as devs:
        playback = Playback(devs.playback_name, rate=16000, prebuffer_ms=500, capacity_ms=2000)
        await playback.start()
        try:
            playback.write(np.full(4000, 1000, np.int16).tobytes())  # below the prebuffer...
            assert playback.flush() == 4000  # ...so none of it has played
            await asyncio.wait_for(playback.wait_drained(), 1)
        finally:
            await playback.stop()
        devs.finish()
    assert not np.any(devs.played_samples())


def writer_of(playback: Playback) -> threading.Thread:
    """The thread that writes the device (found by the native id playback gives benches)."""
    return next(t for t in threading.enumerate() if t.native_id == playback.audio_thread)


async def test_stop_while_a_write_is_blocked_leaves_the_stream_to_its_writer(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A speaker that takes nothing makes playback unhealthy; a stop cannot wait for a write
    that may never return and must not close the stream under it: it returns after a bounded
    wait, and the writer closes the stream when its write comes back. The device then opens
    and plays again."""
    caplog.set_level(logging.INFO, logger="booth.audio")
    pcm = make_signal(16000, 0.3, 15)
    with alsa_file_devices(tmp_path, rate=16000, paced=True) as devs:
        playback = Playback(devs.playback_name, rate=16000, prebuffer_ms=40, stall_timeout=0.2)
        await playback.start()
        try:
            assert playback.healthy()
            writer = writer_of(playback)
            devs.playback_stalled.set()
            async with asyncio.timeout(5):  # waits for the device, not for time
                while not (
                    devs.playback_parked.is_set()
                    and writer.native_id is not None
                    and blocked_in_pipe_write(writer.native_id)
                ):
                    await asyncio.sleep(0.005)
                while playback.healthy():
                    await asyncio.sleep(0.02)
            await stop_while_stuck(playback.stop(), writer, devs.playback_stalled, "write", caplog)
            assert not playback.is_open
            await asyncio.wait_for(playback.start(), 10)  # the device opens again
            assert playback.healthy() and writer_of(playback) is not writer
            playback.write(pcm.tobytes())
            playback.mark_end()
            await asyncio.wait_for(playback.wait_drained(), 10)
        finally:
            devs.playback_stalled.clear()
            await playback.stop()
        devs.finish()
    assert find_signal(devs.played_samples(), pcm) >= 0


async def test_a_speaker_that_is_gone_fails_its_write_and_is_unhealthy(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with alsa_file_devices(tmp_path, rate=16000, paced=True) as devs:
        playback = Playback(devs.playback_name, rate=16000, stall_timeout=600.0)
        await playback.start()
        try:
            writer = writer_of(playback)
            assert playback.healthy()
            devs.playback_broken.set()  # unplugged: the write fails, it does not hang
            await asyncio.wait_for(asyncio.to_thread(writer.join), 5)
            assert not playback.healthy()
            assert playback.is_open  # until the daemon, told by healthy(), closes it
            assert "the write failed (PortAudio error" in caplog.text
        finally:
            await asyncio.wait_for(playback.stop(), 10)
    assert not playback.is_open


def test_device_listing_and_rates(tmp_path: Path) -> None:
    with alsa_file_devices(tmp_path, np.zeros(10, np.int16)), devices.portaudio() as pa:
        found = {d.name: d for d in devices.list_devices(pa)}
        mic, spk = found["boothmic"], found["boothspk"]
        assert mic.max_input_channels > 0 and mic.max_output_channels == 0
        assert spk.max_output_channels > 0 and spk.max_input_channels == 0
        assert {16000, 48000} <= set(devices.supported_rates(pa, mic, input=True))
        assert devices.select_device(pa, "/^booth.ic$/", input=True).name == "boothmic"
        assert devices.select_device(pa, "SPK", input=False).name == "boothspk"
        # An unknown name falls back to the default (here: the only input device).
        assert devices.select_device(pa, "no such mic", input=True).name == "boothmic"
        assert devices.negotiate_rate(pa, mic, 44100, input=True) == 44100
        assert devices.negotiate_rate(pa, mic, 0, input=True) == 16000


async def test_stereo_44k1_capture_is_downmixed_and_resampled(tmp_path: Path) -> None:
    left, right = make_signal(44100, 0.6, 4), make_signal(44100, 0.6, 5)
    stereo = np.column_stack((left, right)).reshape(-1)
    expected = Framer(44100, channels=2).push(stereo)
    with alsa_file_devices(tmp_path, stereo, rate=44100, channels=2, paced=True) as devs:
        capture = Capture(devs.capture_name, rate=44100, channels=2)
        await capture.start()
        try:
            frames = [await asyncio.wait_for(capture.get(), 5) for _ in range(20)]
        finally:
            await capture.stop()
    assert capture.rate == 44100
    assert [f.pcm for f in frames] == expected[:20]


async def test_mic_plugged_in_later_is_picked_up(tmp_path: Path) -> None:
    capture = Capture("boothmic", rate=16000)
    with alsa_file_devices(tmp_path / "unplugged", with_capture=False):
        with pytest.raises(BoothError) as err:
            await capture.start()
        assert err.value.code == ErrorCode.NO_MIC_AVAILABLE
    signal = make_signal(16000, 0.5, 6)
    with alsa_file_devices(tmp_path / "plugged", signal, rate=16000, paced=True):
        await capture.start()  # a fresh PortAudio scan finds the new device
        try:
            frame = await asyncio.wait_for(capture.get(), 5)
        finally:
            await capture.stop()
    assert frame.pcm == Framer(16000).push(signal)[0]


async def test_running_dry_mid_stream_counts_an_underrun(tmp_path: Path) -> None:
    with alsa_file_devices(tmp_path, rate=16000, paced=True) as devs:
        playback = Playback(devs.playback_name, rate=16000, prebuffer_ms=40)
        await playback.start()
        try:
            playback.write(make_signal(16000, 0.1, 7).tobytes())  # then the network stalls
            await asyncio.wait_for(playback.wait_drained(), 5)
            assert playback.stats.underruns == 1
            playback.play_cue(make_signal(16000, 0.02, 8).tobytes())  # short, ends cleanly
            await asyncio.wait_for(playback.wait_drained(), 5)
            assert playback.stats.underruns == 1
        finally:
            await playback.stop()


async def ran_dry(playback: Playback) -> None:
    """Until the device has asked for more than was queued (the stream stopped playing)."""
    await asyncio.wait_for(playback.wait_drained(), 5)
    async with asyncio.timeout(5):
        while playback.playing:  # PortAudio's thread changes it
            await asyncio.sleep(0.005)


async def test_confirmed_underruns_on_a_real_stream(tmp_path: Path) -> None:
    """A service without turn markers: the end of its audio is known only later (mark_end
    after the persona went quiet), and running dry before that is no underrun."""
    with alsa_file_devices(tmp_path, rate=16000, paced=True) as devs:
        playback = Playback(devs.playback_name, rate=16000, prebuffer_ms=40, confirm_underruns=True)
        await playback.start()
        try:
            playback.write(make_signal(16000, 0.1, 10).tobytes())
            await ran_dry(playback)  # the end, or a gap?
            playback.mark_end()  # the end
            assert playback.stats.underruns == 0
            playback.write(make_signal(16000, 0.1, 11).tobytes())
            await ran_dry(playback)
            playback.write(make_signal(16000, 0.1, 12).tobytes())  # a gap: more of the turn
            assert playback.stats.underruns == 1
        finally:
            await playback.stop()


def keep_frames(
    count: int,
) -> tuple[list[CapturedFrame], asyncio.Event, Callable[[CapturedFrame], None]]:
    """A frame consumer that keeps every frame, and an event set at the ``count``-th."""
    got: list[CapturedFrame] = []
    enough = asyncio.Event()

    def keep(frame: CapturedFrame) -> None:
        got.append(frame)
        if len(got) == count:
            enough.set()

    return got, enough, keep


async def test_capture_to_a_callback_only(tmp_path: Path) -> None:
    signal = make_signal(16000, 0.5, 9)
    got, enough, on_frame = keep_frames(10)

    with alsa_file_devices(tmp_path, signal, rate=16000, paced=True) as devs:
        capture = Capture(devs.capture_name, rate=16000, queue_frames=0, on_frame=on_frame)
        await capture.start()
        try:
            await asyncio.wait_for(enough.wait(), 5)
            with pytest.raises(RuntimeError):
                await capture.get()
        finally:
            await capture.stop()
    assert [f.pcm for f in got[:10]] == Framer(16000).push(signal)[:10]
    assert capture.stats.dropped_frames == 0


async def test_speech_plays_over_a_cue_instead_of_after_it(tmp_path: Path) -> None:
    """A start cue queued just before the greeting does not delay the greeting by its
    length: the greeting is mixed over the cue's remainder."""
    cue = np.full(int(16000 * 0.3), 2000, np.int16)  # 300 ms
    played = await _play(tmp_path, 16000, make_signal(16000, 0.2, 10), cue=cue)  # 200 ms
    sounding = np.flatnonzero(played)
    span_ms = 1000 * (sounding[-1] - sounding[0] + 1) / 16000
    assert 300 <= span_ms < 400  # one after the other would take 500 ms


async def test_paused_capture_frames_nothing_then_restarts_on_a_block(tmp_path: Path) -> None:
    """A muted call's mic: the stream runs, nothing is framed or handed to the loop; on
    resume the frames are the offline framer's from that block on."""
    signal = make_signal(48000, 3.0, 11)
    block = 960

    async def callbacks_pass(capture: Capture, n: int) -> None:
        target = capture.stats.blocks + n
        while capture.stats.blocks < target:  # waits for the device, not for time
            await asyncio.sleep(0.005)

    with alsa_file_devices(tmp_path, signal, rate=48000, paced=True) as devs:
        capture = Capture(devs.capture_name, rate=48000, queue_frames=200)
        await capture.start()
        try:
            await asyncio.wait_for(capture.get(), 5)
            capture.pause()
            await asyncio.wait_for(callbacks_pass(capture, 2), 5)  # in-flight frames land
            framed = capture.stats.frames
            await asyncio.wait_for(callbacks_pass(capture, 10), 5)
            assert capture.stats.frames == framed
            while not capture.queue.empty():
                capture.queue.get_nowait()
            capture.resume()
            after = [await asyncio.wait_for(capture.get(), 5) for _ in range(5)]
        finally:
            await capture.stop()
    starts = [
        k
        for k in range(signal.size // block)
        if Framer(48000).push(signal[k * block : (k + 5) * block])[:5] == [f.pcm for f in after]
    ]
    assert len(starts) == 1 and starts[0] >= 12  # one block boundary, after the pause
    assert [f.seq for f in after] == sorted(f.seq for f in after)
    stamps = [f.captured_at for f in after]
    # Stamped from the blocks' own anchors: one frame a block, in order (not a timing test).
    assert all(a < b for a, b in itertools.pairwise(stamps))


class RecordingProbe:
    """Playback's probe hooks (booth/audio/probe.py), noted."""

    def __init__(self) -> None:
        self.queued_at: list[int] = []  # each chunk's first speech byte
        self.reads: list[tuple[int, int, float]] = []  # (speech read, underruns, ms queued)
        self.resets = 0

    def queued(self, pcm: bytes, position: int, at: float) -> None:
        self.queued_at.append(position)

    def read(self, position: int, underruns: int, queued_ms: float, at: float) -> None:
        self.reads.append((position, underruns, queued_ms))

    def reset(self, at: float) -> None:
        self.resets += 1


async def test_the_playback_probe_sees_each_chunk_queued_and_played_over_a_cue(
    tmp_path: Path,
) -> None:
    """Speech positions leave the cue out: both chunks count from 0, and the reads pass
    them although the first plays mixed over the cue."""
    probe = RecordingProbe()
    with alsa_file_devices(tmp_path, rate=48000, paced=True) as devs:
        playback = Playback(devs.playback_name, rate=48000, prebuffer_ms=40)
        playback.probe = probe
        await playback.start()
        try:
            playback.play_cue(np.full(8000, 300, np.int16).tobytes())  # 500 ms
            for seed in (4, 5):
                playback.write(make_signal(16000, 0.03, seed).tobytes())
            playback.mark_end()
            await asyncio.wait_for(playback.wait_drained(), 10)
        finally:
            await playback.stop()
        devs.finish()
    assert probe.resets == 1  # the stream's fresh buffer
    assert probe.queued_at == [0, 2 * 3 * 480]  # 30 ms at 48 kHz, 2 bytes a sample
    positions = [position for position, _, _ in probe.reads]
    assert positions == sorted(positions)
    assert positions[-1] > probe.queued_at[-1]  # both chunks' first samples were handed out
    # All of it played while the cue still had ~400 ms to go: mixed over it.
    played = next(i for i, p in enumerate(positions) if p == positions[-1])
    assert sum(1 for _, _, ms in probe.reads[played:] if ms > 200) >= 1
    assert probe.reads[-1][1:] == (0, 0.0)  # no underrun, nothing left queued


async def test_streamed_frames_go_to_the_consumer_not_the_queue(tmp_path: Path) -> None:
    """``stream()``: every frame reaches the consumer in order (those queued before it
    first), none is queued; it returns when the capture stops, raises when the mic is lost."""
    signal = make_signal(48000, 2.0, 12)
    got, enough, consume = keep_frames(10)

    with alsa_file_devices(tmp_path, signal, rate=48000, paced=True) as devs:
        capture = Capture(devs.capture_name, rate=48000, stall_timeout=1.0, queue_frames=200)
        await capture.start()
        streaming = asyncio.create_task(capture.stream(consume))
        try:
            await asyncio.wait_for(enough.wait(), 5)
            assert capture.queue.empty()
            devs.capture_stalled.set()  # the mic stops delivering, as if unplugged
            with pytest.raises(BoothError) as err:
                await asyncio.wait_for(streaming, 5)
            assert err.value.code == ErrorCode.MIC_DEVICE_DISCONNECTED
            devs.capture_stalled.clear()
            await asyncio.wait_for(capture.start(), 10)
            # A stream on a capture that stops is over (the stream starts first).
            await asyncio.wait_for(asyncio.gather(capture.stream(got.append), capture.stop()), 5)
        finally:
            streaming.cancel()
            await capture.stop()
    assert [f.seq for f in got[:10]] == list(range(10))
    assert [f.pcm for f in got[:10]] == Framer(48000).push(signal)[:10]


async def test_a_failing_consumer_is_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    calls = 0
    three = asyncio.Event()

    def fail(_frame: CapturedFrame) -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            three.set()
        raise RuntimeError("consumer bug")

    with alsa_file_devices(tmp_path, make_signal(16000, 0.5, 13), rate=16000, paced=True) as devs:
        capture = Capture(devs.capture_name, rate=16000)
        await capture.start()
        streaming = asyncio.create_task(capture.stream(fail))
        try:
            await asyncio.wait_for(three.wait(), 5)
        finally:
            await capture.stop()
            await streaming
    assert capture.stats.consumer_errors >= 3
    assert [r.message for r in caplog.records].count("capture frame consumer failed") == 1

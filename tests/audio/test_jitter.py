"""Jitter buffer: prebuffer, exact reads, silence and counting on underrun, drop-oldest."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from booth.audio.jitter import JitterBuffer


def pcm(values: list[int] | range) -> bytes:
    return np.array(list(values), dtype="<i2").tobytes()


def test_prebuffer_then_play() -> None:
    jb = JitterBuffer(rate=1000, prebuffer_ms=10, capacity_ms=100)  # 10 samples prebuffer
    jb.write(pcm(range(1, 6)))
    assert jb.read(4) == bytes(8)  # still prebuffering: silence, not an underrun
    assert not jb.playing
    jb.write(pcm(range(6, 11)))
    assert jb.read(4) == pcm(range(1, 5))
    assert jb.playing
    assert jb.stats.underruns == 0


def test_underrun_pads_with_silence_and_counts() -> None:
    jb = JitterBuffer(rate=1000, prebuffer_ms=2, capacity_ms=100)
    jb.write(pcm([1, 2, 3]))
    assert jb.read(5) == pcm([1, 2, 3, 0, 0])
    assert jb.stats.underruns == 1
    assert not jb.playing  # rebuffers before resuming
    jb.write(pcm([4]))
    assert jb.read(2) == bytes(4)


def test_mark_end_plays_short_audio_without_counting() -> None:
    jb = JitterBuffer(rate=1000, prebuffer_ms=50, capacity_ms=100)
    jb.write(pcm([7, 8]))
    jb.mark_end()
    assert jb.read(4) == pcm([7, 8, 0, 0])
    assert jb.stats.underruns == 0


def test_confirmed_underruns_count_a_gap_not_the_end() -> None:
    """Without turn markers, running dry is an underrun only if the turn goes on."""
    jb = JitterBuffer(rate=1000, prebuffer_ms=1, capacity_ms=100, confirm_underruns=True)
    jb.write(pcm([1, 2]))
    assert jb.read(4) == pcm([1, 2, 0, 0])
    assert jb.stats.underruns == 0  # the end of the persona's audio, or a gap?
    jb.mark_end()  # the session decided the persona stopped: it was the end
    jb.write(pcm([3, 4, 5]))  # the next turn
    assert jb.stats.underruns == 0
    assert jb.read(4) == pcm([3, 4, 5, 0])  # dry again, and this time more follows: a gap
    jb.write(pcm([6]))
    assert jb.stats.underruns == 1
    jb.read(2)
    jb.flush()  # barge-in: whatever was pending is no underrun either
    jb.write(pcm([7]))
    assert jb.stats.underruns == 1


def test_overflow_drops_oldest() -> None:
    jb = JitterBuffer(rate=1000, prebuffer_ms=0, capacity_ms=5)
    assert jb.write(pcm(range(1, 9))) == 3
    assert jb.stats.overflows == 1
    assert jb.stats.dropped_samples == 3
    assert jb.read(5) == pcm(range(4, 9))


def test_flush_drops_everything() -> None:
    jb = JitterBuffer(rate=1000, prebuffer_ms=0, capacity_ms=100)
    jb.write(pcm(range(1, 21)))
    jb.read(5)
    assert jb.flush() == 15
    assert jb.buffered == 0
    assert jb.read(3) == bytes(6)
    assert jb.stats.flushes == 1
    assert jb.stats.dropped_samples == 15


def test_torn_sample_is_refused_without_loss() -> None:
    jb = JitterBuffer(rate=1000, prebuffer_ms=0)
    jb.write(pcm([1, 2]))
    with pytest.raises(ValueError):
        jb.write(b"\x01\x02\x03")
    assert jb.read(2) == pcm([1, 2])


@settings(max_examples=100, deadline=None)
@given(
    ops=st.lists(
        st.one_of(
            st.tuples(st.just("w"), st.integers(0, 300)),
            st.tuples(st.just("r"), st.integers(1, 200)),
            st.tuples(st.just("f"), st.just(0)),
        ),
        max_size=60,
    )
)
def test_conservation_and_order(ops: list[tuple[str, int]]) -> None:
    """Every sample written is played once, in order, or counted as dropped; reads are exact."""
    jb = JitterBuffer(rate=1000, prebuffer_ms=30, capacity_ms=400)
    counter = 1
    played: list[int] = []
    for op, n in ops:
        if op == "w":
            jb.write(pcm(range(counter, counter + n)))
            counter += n
        elif op == "r":
            out = jb.read(n)
            assert len(out) == 2 * n
            played += [v for v in np.frombuffer(out, dtype="<i2").tolist() if v]
        else:
            jb.flush()
        assert jb.buffered <= jb.capacity
    assert played == sorted(played)
    assert len(played) + jb.stats.dropped_samples + jb.buffered == counter - 1


def test_ring_wraps_many_times_in_order() -> None:
    jb = JitterBuffer(rate=1000, prebuffer_ms=3, capacity_ms=7)  # a 7-sample ring
    played: list[int] = []
    for start in range(1, 200, 5):
        jb.write(pcm(range(start, start + 5)))
        played += np.frombuffer(jb.read(5), dtype="<i2").tolist()
    assert [v for v in played if v] == list(range(1, 201))
    assert jb.stats.underruns == 0


def test_speech_over_a_cue_waits_a_prebuffer_then_plays_from_the_read_position() -> None:
    """A cue does not hold speech back for its whole length: the normal start rule, with the
    cue as background."""
    jb = JitterBuffer(rate=1000, prebuffer_ms=4, capacity_ms=100)
    jb.write_cue(pcm([100] * 20))
    assert jb.read(2) == pcm([100, 100])  # a cue plays at once, below the prebuffer
    assert jb.write(pcm([1, 2, 3])) == 0  # below the prebuffer: held
    assert jb.read(2) == pcm([100, 100])
    jb.write(pcm([4, 5]))  # a prebuffer of it: mixed in from the read position
    assert jb.read(6) == pcm([101, 102, 103, 104, 105, 100])
    assert jb.speech_read == jb.speech_written == 2 * 5  # all of it played, the cue is none
    jb.mark_end()
    assert jb.read(12) == pcm([100] * 10) + bytes(4)
    assert jb.stats.underruns == 0


def test_speech_held_over_a_cue_that_ends_first_starts_the_normal_way() -> None:
    jb = JitterBuffer(rate=1000, prebuffer_ms=5, capacity_ms=100)
    jb.write_cue(pcm([9, 9]))
    jb.write(pcm([1, 2]))
    assert jb.read(3) == pcm([9, 9, 0])  # the cue's end is no underrun
    assert jb.read(2) == bytes(4)  # the held speech waits for its prebuffer
    jb.write(pcm([3, 4, 5]))
    assert jb.read(5) == pcm([1, 2, 3, 4, 5])
    assert jb.stats.underruns == 0
    assert jb.speech_read == jb.speech_written == 2 * 5


def test_a_short_turn_held_over_a_cue_plays_at_its_end() -> None:
    jb = JitterBuffer(rate=1000, prebuffer_ms=10, capacity_ms=100)
    jb.write_cue(pcm([100] * 20))
    jb.write(pcm([1, 2]))
    jb.mark_end()  # the whole turn: play it now, below the prebuffer
    assert jb.read(3) == pcm([101, 102, 100])
    assert jb.stats.underruns == 0


def test_speech_held_behind_earlier_speech_goes_in_at_the_cues_start() -> None:
    jb = JitterBuffer(rate=1000, prebuffer_ms=2, capacity_ms=100)
    jb.write(pcm([5] * 4))
    jb.write_cue(pcm([100] * 4))
    assert jb.read(1) == pcm([5])
    jb.write(pcm([1, 2]))
    jb.mark_end()
    assert jb.read(9) == pcm([5, 5, 5, 101, 102, 100, 100]) + bytes(4)
    assert jb.stats.underruns == 0
    assert jb.speech_read == jb.speech_written == 2 * 6


def test_speech_that_runs_dry_under_a_cue_is_an_underrun() -> None:
    """The cue hides the gap, but speech was cut: counted, and the late chunk plays at once."""
    jb = JitterBuffer(rate=1000, prebuffer_ms=2, capacity_ms=100)
    jb.write_cue(pcm([100] * 20))
    jb.write(pcm([1, 1]))
    assert jb.read(5) == pcm([101, 101, 100, 100, 100])
    jb.write(pcm([2]))
    assert jb.stats.underruns == 1
    assert jb.speech_read == 2 * 2  # the gap was no speech
    assert jb.read(1) == pcm([102])
    assert jb.speech_read == jb.speech_written == 2 * 3


def test_mixing_saturates() -> None:
    jb = JitterBuffer(rate=1000, prebuffer_ms=0, capacity_ms=100)
    jb.write_cue(pcm([30000, -30000, 5]))
    jb.write(pcm([10000, -10000]))
    assert jb.read(3) == pcm([32767, -32768, 5])


def test_mixing_across_the_ring_s_end_saturates_in_place() -> None:
    """A cue that wraps the ring: speech is mixed into both of its parts."""
    jb = JitterBuffer(rate=1000, prebuffer_ms=0, capacity_ms=10)
    jb.write(pcm(range(7)))
    jb.read(7)  # the read position is 3 samples before the ring's end
    jb.write_cue(pcm([30000, 1, 2, -30000, 3, 4]))
    jb.write(pcm([10000, 10, 20, -10000, 30]))
    assert jb.read(6) == pcm([32767, 11, 22, -32768, 33, 4])


def test_speech_goes_on_where_it_left_off_over_the_cue() -> None:
    jb = JitterBuffer(rate=1000, prebuffer_ms=0, capacity_ms=100)
    jb.write_cue(pcm([7, 7, 7]))
    jb.write(pcm([1]))
    jb.write(pcm([2]))  # after the first chunk, not at the read position again
    assert jb.read(3) == pcm([8, 9, 7])


def test_a_whole_turn_over_a_long_cue_keeps_its_order_and_latency() -> None:
    """Chunk after chunk goes on where the last one ended, not after the cue."""
    jb = JitterBuffer(rate=1000, prebuffer_ms=3, capacity_ms=100)
    jb.write_cue(pcm([100] * 20))
    for i in (1, 2, 3, 4, 5, 6):
        jb.write(pcm([i] * 4))
    out = np.frombuffer(jb.read(24), dtype="<i2").tolist()
    assert out == [101] * 4 + [102] * 4 + [103] * 4 + [104] * 4 + [105] * 4 + [6] * 4
    assert jb.speech_read == jb.speech_written == 2 * 24


def test_a_late_start_drains_its_excess_from_a_quiet_stretch() -> None:
    """The read came 10 samples after the prebuffer was reached: 10 samples of silence go."""
    jb = JitterBuffer(rate=1000, prebuffer_ms=20, capacity_ms=100, drain=True)
    jb.write(pcm([500] * 5 + [3] * 12 + [700] * 13))
    assert jb.read(10) == pcm([500] * 5 + [3, 3] + [700] * 3)
    assert jb.stats.drained_samples == 10
    assert jb.buffered == 10
    assert jb.speech_read == 2 * 20  # the dropped stretch counts as passed


def test_draining_never_drops_voiced_audio() -> None:
    jb = JitterBuffer(rate=1000, prebuffer_ms=20, capacity_ms=100, drain=True)
    voiced = [500, -500, 101, -101] * 8  # just above the quiet threshold
    jb.write(pcm(voiced))
    assert jb.read(32) == pcm(voiced)
    assert jb.stats.drained_samples == 0


def test_a_queue_that_stays_high_drains_down_to_a_margin() -> None:
    """A burst after the start keeps the level high: over a window the buffer learns the
    excess and drains it from the pauses, without an underrun; a plain buffer keeps it."""
    drained, plain = (
        JitterBuffer(rate=1000, prebuffer_ms=20, capacity_ms=200, drain=d) for d in (True, False)
    )
    for jb in (drained, plain):
        jb.write(pcm([1000] * 20))
        jb.read(10)  # started exactly at the prebuffer: no excess yet
        jb.write(bytes(2 * 40))  # a burst: 50 queued, a pause in the speech
        for i in range(120):  # two windows: the first saw the start
            jb.write(pcm([800 * (i % 2)] * 10))  # a word, a pause, …
            jb.read(10)
    assert plain.stats.drained_samples == 0
    # 60 queued before each read at the lowest: one read (10) and the margin (10) stay.
    assert drained.stats.drained_samples == 40
    assert plain.buffered - drained.buffered == 40
    assert drained.stats.underruns == plain.stats.underruns == 0


def test_no_draining_over_a_cue() -> None:
    jb = JitterBuffer(rate=1000, prebuffer_ms=20, capacity_ms=100, drain=True)
    jb.write_cue(bytes(2 * 40))  # silence, and queued beyond the prebuffer
    assert jb.read(40) == bytes(2 * 40)
    assert jb.stats.drained_samples == 0

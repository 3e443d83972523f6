"""`booth bench audio`: the fixed-point framer's quality and speed, beside soxr HQ.

For each mic rate in ``IN_RATES`` (48 and 44.1 kHz) to 16 kHz, in one process:

- ``alias_rejection_db``: tones from 8.5 kHz to the input Nyquist at -1 dBFS; the worst level
  of the folded tone at the 16 kHz output, relative to the input, negated (higher is better).
- ``passband_ripple_db``: gain spread (max - min) over tones 0.1–7 kHz.
- ``snr_vs_soxr_vhq_db``: a speech-like signal (noise shaped like a voice spectrum,
  syllable-rate envelope, band-limited to 7 kHz), resampled by each method and compared with
  soxr VHQ after aligning delays (the framer's known delay, then a ±8-sample check).
- ``us_per_block``: streaming time per 20 ms block (one 16 kHz frame), every method fed the
  same 20 ms blocks, runs interleaved; ``time_ratio`` is framer / soxr HQ per paired run.
- ``chunking_invariant``: random chunkings (including torn samples) give identical frames;
  ``matches_int64_reference``: the frames equal the plain int64 reference.

Each figure is printed beside soxr HQ's, measured in the same run (``figures``). Also
measured for comparison: soxr VHQ, scipy ``resample_poly``, ``audioop.ratecv`` (linear
interpolation, what wyoming-satellite uses) and seed 003's decimation (every n-th sample per
4096-sample block, which filters nothing). ``out_24k`` times 24 kHz output the same way.
"""

from __future__ import annotations

import json
import math
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from booth.audio.framer import Framer, Stage
from booth.audio.framer_design import prototype, reference_resample

IN_RATE = 48000  # the default rate for single-rate helpers (the plots)
IN_RATES = (48000, 44100)
OUT_RATE = 16000
BLOCK_MS = 20
AMPLITUDE = 0.891 * 32767  # -1 dBFS
PEER = "soxr_hq"
# Quality targets hold at every input rate; speed is a ratio to soxr HQ in the same run.
QUALITY_TARGETS = {
    "alias_rejection_db": (">=", 80.0),
    "passband_ripple_db": ("<=", 0.1),
    "snr_vs_soxr_vhq_db": (">=", 60.0),
}
TIME_RATIO_TARGETS = {48000: 1.0, 44100: 1.5}

Int16 = npt.NDArray[np.int16]
Float = npt.NDArray[np.float64]
# (input at `rate`, rate) -> (16 kHz output, delay in output samples)
Resampler = Callable[[Int16, int], tuple[Float, float]]


# -- the methods ------------------------------------------------------------------------


def _framer(x: Int16, rate: int = IN_RATE) -> tuple[Float, float]:
    framer = Framer(rate, OUT_RATE)
    # Pad with the filter delay's worth of silence so the tail comes out too.
    pad = np.zeros(int(framer.delay * rate / OUT_RATE) + 2 * rate // 50, dtype=np.int16)
    out = framer.process(np.concatenate((x, pad)))
    return out.astype(np.float64), framer.delay


def _soxr(quality: str) -> Resampler:
    def run(x: Int16, rate: int = IN_RATE) -> tuple[Float, float]:
        import soxr

        out = soxr.resample(x, rate, OUT_RATE, quality=quality)  # one-shot: delay removed
        return np.asarray(out, dtype=np.float64), 0.0

    return run


def _resample_poly(x: Int16, rate: int = IN_RATE) -> tuple[Float, float]:
    from scipy.signal import resample_poly

    g = math.gcd(rate, OUT_RATE)
    out = resample_poly(x.astype(np.float64), OUT_RATE // g, rate // g)
    return np.clip(np.rint(out), -32768, 32767), 0.0


def _audioop(x: Int16, rate: int = IN_RATE) -> tuple[Float, float]:
    audioop = _import_audioop()
    if audioop is None:
        raise RuntimeError("audioop is not available on this Python")
    out, _ = audioop.ratecv(x.astype("<i2").tobytes(), 2, 1, rate, OUT_RATE, None)
    return np.frombuffer(out, dtype="<i2").astype(np.float64), 0.0


def _naive(x: Int16, rate: int = IN_RATE) -> tuple[Float, float]:
    """Seed 003: per 4096-sample block, samples[i] = input[floor(i * ratio)]."""
    ratio = rate / OUT_RATE
    parts = []
    for start in range(0, x.size, 4096):
        block = x[start : start + 4096]
        n = math.floor(block.size / ratio)
        parts.append(block[np.floor(np.arange(n) * ratio).astype(np.int64)])
    return np.concatenate(parts).astype(np.float64), 0.0


def _import_audioop() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import audioop
        except ImportError:
            return None
    return audioop


def available_methods() -> dict[str, Resampler]:
    methods: dict[str, Resampler] = {"framer": _framer, "naive_seed003": _naive}
    try:
        import soxr  # noqa: F401

        methods["soxr_hq"] = _soxr("HQ")
        methods["soxr_vhq"] = _soxr("VHQ")
    except ImportError:
        pass
    try:
        import scipy.signal  # noqa: F401

        methods["scipy_resample_poly"] = _resample_poly
    except ImportError:
        pass
    if _import_audioop() is not None:
        methods["audioop_ratecv"] = _audioop
    return methods


# -- measurements -----------------------------------------------------------------------


def _tone(freq: float, rate: int = IN_RATE, seconds: float = 0.25) -> Int16:
    t = np.arange(int(rate * seconds)) / rate
    return np.rint(AMPLITUDE * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def _tone_level(y: Float, freq: float, rate: int) -> float:
    """Amplitude of the ``freq`` component of y (Blackman-Harris window: leakage < -92 dB)."""
    n = y.size
    k = np.arange(n)
    w = (
        0.35875
        - 0.48829 * np.cos(2 * np.pi * k / (n - 1))
        + 0.14128 * np.cos(4 * np.pi * k / (n - 1))
        - 0.01168 * np.cos(6 * np.pi * k / (n - 1))
    )
    c = np.sum(y * w * np.exp(-2j * np.pi * freq / rate * k)) / np.sum(w)
    return float(abs(c) * (2.0 if 0 < freq < rate / 2 else 1.0))


def _steady(y: Float, delay: float) -> Float:
    # Skip the filter's start-up and the tail: measure the steady middle.
    start = int(delay) + 200
    return y[start : max(start + 1, y.size - 200 - int(delay))]


def _db(ratio: float) -> float:
    return 20.0 * math.log10(max(ratio, 1e-12))


def alias_levels(
    method: Resampler, rate: int = IN_RATE, step_hz: float = 50.0
) -> list[tuple[float, float]]:
    """(tone Hz, folded level dB re input) for tones from 8.5 kHz to the input Nyquist."""
    out = []
    for freq in np.arange(8500.0, rate / 2 - step_hz / 2, step_hz):
        y, delay = method(_tone(freq, rate), rate)
        folded = abs(freq - OUT_RATE * round(freq / OUT_RATE))
        level = _tone_level(_steady(y, delay), folded, OUT_RATE)
        out.append((float(freq), _db(level / AMPLITUDE)))
    return out


def passband_gains(
    method: Resampler, rate: int = IN_RATE, step_hz: float = 100.0
) -> list[tuple[float, float]]:
    out = []
    for freq in np.arange(100.0, 7000.0 + 1, step_hz):
        y, delay = method(_tone(freq, rate), rate)
        out.append((float(freq), _db(_tone_level(_steady(y, delay), freq, OUT_RATE) / AMPLITUDE)))
    return out


def speech_like(rate: int = IN_RATE, seconds: float = 4.0, seed: int = 3) -> Int16:
    """Noise with a voice-like spectrum and syllable envelope, band-limited to 7 kHz."""
    rng = np.random.default_rng(seed)
    n = int(rate * seconds)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / rate)
    # Glottal tilt (-6 dB/octave above 500 Hz) with three formant bumps.
    shape = 1 / np.sqrt(1 + (f / 500.0) ** 2)
    for centre, width, gain in ((500, 120, 4.0), (1500, 200, 2.5), (2500, 300, 1.5)):
        shape *= 1 + gain * np.exp(-0.5 * ((f - centre) / width) ** 2)
    shape[(f < 80) | (f > 7000)] = 0.0  # band-limited to 7 kHz
    x = np.fft.irfft(spectrum * shape, n)
    t = np.arange(n) / rate
    x *= 0.55 + 0.45 * np.sin(2 * np.pi * 4.0 * t) ** 2  # ~4 syllables a second
    x *= 0.5 * 32767 / np.max(np.abs(x))  # peaks at -6 dBFS
    return np.rint(x).astype(np.int16)


def snr_against(
    method: Resampler, reference: Float, x: Int16, rate: int = IN_RATE, max_lag: int = 8
) -> tuple[float, int]:
    """SNR (dB) of a method's output against the reference, and the residual lag found.

    The method's own delay is removed first, a fraction of a sample included (a phase ramp
    on the spectrum: the framer's delay at 44.1 kHz in is 25.39 samples)."""
    y, delay = method(x, rate)
    d = math.floor(delay)
    y = _shifted(y, delay - d)
    best = (-math.inf, 0)
    margin = 400  # skip the ends, where one-shot and streaming resamplers differ
    ref = reference[margin : reference.size - margin]
    for lag in range(-max_lag, max_lag + 1):
        start = margin + d + lag
        seg = y[start : start + ref.size]
        if start < 0 or seg.size < ref.size:
            continue
        noise = float(np.sum((seg - ref) ** 2))
        snr = 10 * math.log10(float(np.sum(ref**2)) / max(noise, 1e-9))
        if snr > best[0]:
            best = (snr, lag)
    return best


def _shifted(y: Float, frac: float) -> Float:
    """y advanced by ``frac`` of a sample (band-limited)."""
    if frac == 0.0:
        return y
    spectrum = np.fft.rfft(y)
    spectrum *= np.exp(2j * np.pi * np.fft.rfftfreq(y.size) * frac)
    return np.asarray(np.fft.irfft(spectrum, y.size), dtype=np.float64)


def stage_response(stage: Stage, in_rate: int, low: int) -> dict[str, Any]:
    """A stage's prototype (its taps as rounded) on a 5 Hz grid: ripple to 0.4375·low (the
    framer's pass band) and, for a sharp stage, the worst gain from 0.53125·low up."""
    proto = prototype(stage)
    rate = in_rate * stage.up
    k = np.arange(proto.size)

    def gain_db(freqs: Float) -> Float:
        resp = np.abs(np.exp(-2j * np.pi * np.outer(freqs, k) / rate) @ proto)
        return np.asarray(20 * np.log10(np.maximum(resp, 1e-12)), dtype=np.float64)

    passband = gain_db(np.arange(0.0, 0.4375 * low + 1, 5.0))
    stop = gain_db(np.arange(0.53125 * low, rate / 2, 5.0)) if stage.up <= 4 else None
    return {
        "ratio": f"{stage.up}/{stage.down}",
        "taps_per_phase": stage.width,
        "q": stage.q,
        "passband_ripple_db": float(passband.max() - passband.min()),
        "stopband_worst_db": float(stop.max()) if stop is not None else None,
    }


def chunking_invariant(x: Int16, rate: int = IN_RATE, trials: int = 5, seed: int = 11) -> bool:
    whole = Framer(rate, OUT_RATE).push(x.tobytes())
    rng = np.random.default_rng(seed)
    data = x.tobytes()
    for _ in range(trials):
        framer = Framer(rate, OUT_RATE)
        frames: list[bytes] = []
        pos = 0
        while pos < len(data):
            step = int(rng.integers(1, 4000))  # odd sizes tear samples across calls
            frames += framer.push(data[pos : pos + step])
            pos += step
        if frames != whole:
            return False
    return True


def matches_reference(x: Int16, rate: int = IN_RATE) -> bool:
    framer = Framer(rate, OUT_RATE)
    got = framer.process(x)
    ref = reference_resample(framer.stages, x)
    return bool(np.array_equal(got, ref[: got.size]))


def _stats(values: list[float]) -> dict[str, float]:
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "stdev": statistics.stdev(values) if len(values) > 1 else 0.0,
    }


def timing(
    x: Int16, rate: int = IN_RATE, repeats: int = 15, out_rate: int = OUT_RATE, peers: bool = True
) -> dict[str, Any]:
    """Streaming µs per 20 ms block; all methods take the same blocks, runs interleaved."""
    block = rate * BLOCK_MS // 1000
    blocks = [x[i : i + block] for i in range(0, x.size - block + 1, block)]

    def framer_run() -> None:
        framer = Framer(rate, out_rate)
        for b in blocks:
            framer.push(b)

    runs: dict[str, Callable[[], None]] = {"framer": framer_run}
    try:
        import soxr

        def soxr_run(quality: str) -> Callable[[], None]:
            def run() -> None:
                stream = soxr.ResampleStream(rate, out_rate, 1, dtype="int16", quality=quality)
                for b in blocks:
                    stream.resample_chunk(b)

            return run

        runs["soxr_hq"] = soxr_run("HQ")
        if peers:
            runs["soxr_vhq"] = soxr_run("VHQ")
    except ImportError:
        pass
    audioop = _import_audioop()
    if audioop is not None and peers:
        raw_blocks = [b.tobytes() for b in blocks]

        def audioop_run() -> None:
            state = None
            for raw in raw_blocks:
                _, state = audioop.ratecv(raw, 2, 1, rate, out_rate, state)

        runs["audioop_ratecv"] = audioop_run
    for run in runs.values():  # warm-up: filter design cache, imports, page faults
        run()
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            samples[name].append((time.perf_counter() - start) / len(blocks) * 1e6)
    result: dict[str, Any] = {name: _stats(values) for name, values in samples.items()}
    if PEER in samples:
        ratios = [f / s for f, s in zip(samples["framer"], samples[PEER], strict=True)]
        result["framer_vs_soxr_hq_ratio"] = _stats(ratios)
    return result


# -- the report -------------------------------------------------------------------------


def measure_rate(rate: int, methods: dict[str, Resampler], repeats: int) -> dict[str, Any]:
    speech = speech_like(rate)
    framer = Framer(rate, OUT_RATE)
    per_method: dict[str, dict[str, Any]] = {}
    reference = methods["soxr_vhq"](speech, rate)[0] if "soxr_vhq" in methods else None
    for name, method in methods.items():
        aliases = alias_levels(method, rate)
        gains = passband_gains(method, rate)
        worst_freq, worst = max(aliases, key=lambda fl: fl[1])
        entry: dict[str, Any] = {
            "alias_rejection_db": -worst,
            "worst_alias_tone_hz": worst_freq,
            "passband_ripple_db": max(g for _, g in gains) - min(g for _, g in gains),
        }
        if reference is not None and name != "soxr_vhq":
            snr, lag = snr_against(method, reference, speech, rate)
            entry["snr_vs_soxr_vhq_db"] = snr
            entry["residual_lag_samples"] = lag
        per_method[name] = entry
    times = timing(speech, rate, repeats=repeats)
    figures: dict[str, dict[str, Any]] = {
        key: {name: per_method[name].get(key) for name in ("framer", PEER) if name in per_method}
        for key in QUALITY_TARGETS
    }
    figures["us_per_block"] = {
        name: times[name]["median"] for name in ("framer", PEER) if name in times
    }
    return {
        "framer_stages": [
            stage_response(s, r, min(rate, OUT_RATE)) for s, r in _stage_rates(framer)
        ],
        "framer_delay_ms": 1000 * framer.delay / OUT_RATE,
        "methods": per_method,
        "figures": figures,
        "time_ratio": times.get("framer_vs_soxr_hq_ratio"),
        "timing_us_per_block": times,
        "chunking_invariant": chunking_invariant(speech[: rate // 1], rate),
        "matches_int64_reference": matches_reference(speech[: rate // 5], rate),
    }


def _stage_rates(framer: Framer) -> list[tuple[Stage, int]]:
    rate, out = framer.in_rate, []
    for stage in framer.stages:
        out.append((stage, rate))
        rate = rate * stage.up // stage.down
    return out


def stage_costs(repeats: int = 7, blocks: int = 500) -> dict[str, float]:
    """µs per 20 ms of audio for each per-frame stage of a call (best of ``repeats``): the
    figures the README's Pi projection multiplies by a Pi core's slowdown."""
    from booth.audio.jitter import JitterBuffer
    from booth.audio.levels import VoiceActivity

    mic = speech_like(48000, seconds=blocks / 50)
    mic_blocks = [mic[i * 960 : (i + 1) * 960].tobytes() for i in range(blocks)]
    voice = Framer(48000, OUT_RATE).push(mic.tobytes())
    capture = Framer(48000, OUT_RATE, dc_block=True)
    playback = Framer(OUT_RATE, 48000, frame_samples=48)
    jitter = JitterBuffer(48000, prebuffer_ms=80)
    vad = VoiceActivity()
    played = [playback.push_bytes(frame) for frame in voice]

    def jitter_run() -> None:
        for pcm in played:
            jitter.write(pcm)
            jitter.read(960)

    runs: dict[str, Callable[[], object]] = {
        "capture_framer_48k_dc_block": lambda: [capture.push(b) for b in mic_blocks],
        "playback_framer_16k_to_48k": lambda: [playback.push_bytes(f) for f in voice],
        "jitter_write_and_read_48k": jitter_run,
        "voice_activity_16k": lambda: [vad.update(f) for f in voice],
    }
    out: dict[str, float] = {}
    for name, run in runs.items():
        best = math.inf
        for _ in range(repeats):
            start = time.perf_counter()
            run()
            best = min(best, time.perf_counter() - start)
        out[name] = best / len(voice) * 1e6
    return out


def measure(repeats: int = 15) -> dict[str, Any]:
    methods = available_methods()
    inputs = {str(rate): measure_rate(rate, methods, repeats) for rate in IN_RATES}
    out_24k = {}
    for rate in IN_RATES:
        t = timing(speech_like(rate), rate, repeats=repeats, out_rate=24000, peers=False)
        out_24k[str(rate)] = {
            "us_per_block": {name: t[name]["median"] for name in ("framer", PEER) if name in t},
            "time_ratio": t.get("framer_vs_soxr_hq_ratio"),
        }
    first = inputs[str(IN_RATE)]
    own = first["methods"]["framer"]
    stages = stage_costs()
    result: dict[str, Any] = {
        "out_rate": OUT_RATE,
        "block_ms": BLOCK_MS,
        "timing_repeats": repeats,
        "peer": PEER,
        "inputs": inputs,
        "out_24k": out_24k,
        "stage_us_per_20ms": stages,
        # The 48 kHz figures at the top level, as before.
        "alias_rejection_db": own["alias_rejection_db"],
        "passband_ripple_db": own["passband_ripple_db"],
        "snr_vs_soxr_db": own.get("snr_vs_soxr_vhq_db"),
        "naive_alias_rejection_db": first["methods"]["naive_seed003"]["alias_rejection_db"],
        "framer_us_per_frame": first["figures"]["us_per_block"]["framer"],
        "soxr_us_per_frame": first["figures"]["us_per_block"].get(PEER),
        "framer_vs_soxr_time_ratio": (first["time_ratio"] or {}).get("median"),
        "chunking_invariant": all(r["chunking_invariant"] for r in inputs.values()),
        "matches_int64_reference": all(r["matches_int64_reference"] for r in inputs.values()),
    }
    targets: dict[str, str] = {}
    meets: dict[str, bool | None] = {}
    for rate_key, entry in inputs.items():
        for key, (op, value) in QUALITY_TARGETS.items():
            name = f"{rate_key}.{key}"
            targets[name] = f"{op} {value:g}"
            meets[name] = _meets(entry["methods"]["framer"].get(key), op, value)
        limit = TIME_RATIO_TARGETS[int(rate_key)]
        targets[f"{rate_key}.time_ratio"] = f"<= {limit:g}"
        meets[f"{rate_key}.time_ratio"] = _meets(
            (entry["time_ratio"] or {}).get("median"), "<=", limit
        )
    result["targets"] = targets
    result["meets_targets"] = meets
    return result


def _meets(value: Any, op: str, target: float) -> bool | None:
    if value is None:
        return None
    return bool(value >= target) if op == ">=" else bool(value <= target)


def _value(result: dict[str, Any], name: str) -> Any:
    rate_key, key = name.split(".", 1)
    entry = result["inputs"][rate_key]
    if key == "time_ratio":
        return (entry["time_ratio"] or {}).get("median")
    return entry["methods"]["framer"].get(key)


def render_table(result: dict[str, Any]) -> str:
    lines: list[str] = []
    for rate_key, entry in result["inputs"].items():
        stages = ", ".join(
            f"{s['ratio']} ({s['taps_per_phase']} taps/phase, Q{s['q']})"
            for s in entry["framer_stages"]
        )
        lines += [
            f"booth bench audio: {rate_key} Hz -> {result['out_rate']} Hz, "
            f"{result['block_ms']} ms blocks; framer stages {stages}, "
            f"delay {entry['framer_delay_ms']:.2f} ms",
            "",
            f"{'method':<22}{'alias rej dB':>13}{'worst tone':>12}{'ripple dB':>11}"
            f"{'SNR vs VHQ':>12}",
        ]
        for name, m in entry["methods"].items():
            snr = m.get("snr_vs_soxr_vhq_db")
            lines.append(
                f"{name:<22}{m['alias_rejection_db']:>13.1f}"
                f"{m['worst_alias_tone_hz']:>10.0f}Hz{m['passband_ripple_db']:>11.4f}"
                f"{(f'{snr:.1f}' if snr is not None else 'reference'):>12}"
            )
        lines += ["", f"{'figure (same run)':<24}{'framer':>12}{'soxr HQ':>12}"]
        for key, pair in entry["figures"].items():
            framer, peer = pair.get("framer"), pair.get(PEER)
            lines.append(f"{key:<24}{_fmt(framer):>12}{_fmt(peer):>12}")
        ratio = entry["time_ratio"]
        if ratio:
            lines.append(
                f"framer / soxr HQ time: median {ratio['median']:.2f}x "
                f"(paired runs {ratio['min']:.2f}–{ratio['max']:.2f}x, "
                f"{result['timing_repeats']} runs)"
            )
        lines += [
            f"chunking invariant: {entry['chunking_invariant']}; "
            f"matches int64 reference: {entry['matches_int64_reference']}",
            "",
        ]
    lines.append("24 kHz out, µs per 20 ms block (framer / soxr HQ):")
    for rate_key, entry in result["out_24k"].items():
        us, ratio = entry["us_per_block"], entry["time_ratio"] or {}
        lines.append(
            f"  {rate_key} Hz in: {_fmt(us.get('framer'))} / {_fmt(us.get(PEER))}"
            f"  ratio {_fmt(ratio.get('median'))}x"
        )
    lines += ["", "per-frame stages, µs per 20 ms of audio (best of 7):"]
    for name, us in result["stage_us_per_20ms"].items():
        lines.append(f"  {name:<32}{us:8.2f}")
    lines += ["", "targets:"]
    for name, target in result["targets"].items():
        verdict = {True: "ok", False: "MISSED", None: "n/a"}[result["meets_targets"][name]]
        lines.append(f"  {name:<32}{_fmt(_value(result, name)):>10}  target {target:<8} {verdict}")
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def run(*, as_json: bool, repeats: int = 15) -> int:
    result = measure(repeats=repeats)
    if as_json:
        print(json.dumps(result, sort_keys=False))
    else:
        print(render_table(result))
    sys.stdout.flush()
    return 0

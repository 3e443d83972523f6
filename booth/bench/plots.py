"""PNG plots for ``booth bench --plot DIR`` (matplotlib: the optional ``plot`` extra).

- ``framer_response.png``: level at the 16 kHz output of a -1 dBFS tone at 48 kHz in, for the
  framer, seed 003's naive decimator and soxr HQ: pass band as-is, tones above 8 kHz where
  they fold to (what leaks into the call as aliasing).
- ``latency_histograms.png``: mic-to-wire and wire-to-speaker latencies from the pipeline run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


class PlotsUnavailable(RuntimeError):
    pass


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only; no display on a booth
        import matplotlib.pyplot as plt
    except ImportError:
        raise PlotsUnavailable("--plot needs matplotlib: pip install 'booth[plot]'") from None
    return plt


def check_available() -> None:
    """Raise PlotsUnavailable now, before a long bench run, rather than after it."""
    _pyplot()


def response_curves(step_hz: float = 100.0) -> dict[str, list[tuple[float, float]]]:
    """(input tone Hz, output level dB re input) per method, 100 Hz to 23.9 kHz."""
    from booth.bench import audio

    wanted = ("framer", "naive_seed003", "soxr_hq")
    methods = {k: v for k, v in audio.available_methods().items() if k in wanted}
    curves: dict[str, list[tuple[float, float]]] = {}
    for name, method in methods.items():
        points = []
        for freq in np.arange(step_hz, audio.IN_RATE / 2 - step_hz / 2, step_hz):
            y, delay = method(audio._tone(float(freq)), audio.IN_RATE)
            out_freq = abs(freq - audio.OUT_RATE * round(freq / audio.OUT_RATE))
            level = audio._tone_level(audio._steady(y, delay), out_freq, audio.OUT_RATE)
            points.append((float(freq), audio._db(level / audio.AMPLITUDE)))
        curves[name] = points
    return curves


def plot_response(out_dir: Path) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 5))
    labels = {
        "framer": "booth framer (fixed-point polyphase FIR)",
        "naive_seed003": "seed 003: every 3rd sample",
        "soxr_hq": "soxr HQ",
    }
    for name, points in response_curves().items():
        freqs, levels = zip(*points, strict=True)
        ax.plot(np.asarray(freqs) / 1000, levels, label=labels.get(name, name), linewidth=1.2)
    ax.axvline(8.0, color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("input tone (kHz) at 48 kHz; above 8 kHz it folds into the 16 kHz output")
    ax.set_ylabel("level at the 16 kHz output (dB re input)")
    ax.set_ylim(-140, 5)
    ax.set_title("48 kHz → 16 kHz: pass band and aliasing")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower left")
    path = out_dir / "framer_response.png"
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_latency(pipeline: dict[str, Any], out_dir: Path) -> Path:
    plt = _pyplot()
    samples = pipeline.get("samples") or {}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    panels = (
        ("mic_to_wire_ms", "mic → wire (sample captured → frame on the socket)", 45.0, "p99"),
        ("wire_to_speaker_ms", "wire → speaker (chunk received → device)", 80.0, "p50"),
    )
    for ax, (key, title, target, which) in zip(axes, panels, strict=True):
        values = np.asarray(samples.get(key) or [], dtype=float)
        if values.size:
            ax.hist(values, bins=60, color="tab:blue", alpha=0.8)
            for q, style in ((50, "-"), (99, "--")):
                ax.axvline(np.percentile(values, q), color="black", linestyle=style, linewidth=1)
        ax.axvline(target, color="tab:red", linewidth=1.2, label=f"target ({which} ≤ {target:g})")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("ms (black: p50 solid, p99 dashed)")
        ax.set_ylabel("count")
        ax.legend(fontsize=8)
    fig.tight_layout()
    path = out_dir / "latency_histograms.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_plots(results: dict[str, dict[str, Any]], out_dir: Path) -> list[Path]:
    """The plots that the measured targets allow; returns the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    if "audio" in results:
        written.append(plot_response(out_dir))
    if "pipeline" in results:
        written.append(plot_latency(results["pipeline"], out_dir))
    return written

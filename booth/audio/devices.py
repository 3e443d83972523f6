"""PortAudio devices: enumerate, pick by name, negotiate a rate, map failures to error codes.

PortAudio scans devices only in Pa_Initialize, so every :func:`open_portaudio` makes a fresh
PyAudio instance: a USB mic plugged back in is seen the next time capture or playback opens
(once every earlier instance has been terminated: PortAudio counts initialisations).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from booth.audio.rates import PROBE_RATES
from booth.errors import BoothError, ErrorCode

#: Rates tried when the config leaves the rate at 0, best first (16 kHz needs no resampling).
NEGOTIATION_ORDER = (16000, 48000, 44100)
#: Rates `booth devices` probes.

# PortAudio error codes (portaudio.h PaErrorCode) that PyAudio puts in OSError.args[1].
PA_INVALID_CHANNEL_COUNT = -9998
PA_INVALID_SAMPLE_RATE = -9997
PA_INVALID_DEVICE = -9996
PA_UNANTICIPATED_HOST_ERROR = -9999
PA_DEVICE_UNAVAILABLE = -9985
PA_INPUT_OVERFLOWED = -9981
PA_NO_DEFAULT_DEVICE = -9996


@dataclass(frozen=True)
class DeviceInfo:
    index: int
    name: str
    max_input_channels: int
    max_output_channels: int
    default_rate: int
    host_api: str = ""

    def supports(self, *, input: bool) -> bool:
        return (self.max_input_channels if input else self.max_output_channels) > 0


# -- quieting the C libraries -----------------------------------------------------------

_ALSA_HANDLER_TYPE = ctypes.CFUNCTYPE(
    None, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p
)
_JACK_HANDLER_TYPE = ctypes.CFUNCTYPE(None, ctypes.c_char_p)


def _ignore_alsa(*_args: object) -> None:
    return None


def _ignore_jack(_msg: object) -> None:
    return None


# Kept referenced for the life of the process: the C libraries hold these pointers.
_alsa_handler = _ALSA_HANDLER_TYPE(_ignore_alsa)
_jack_handler = _JACK_HANDLER_TYPE(_ignore_jack)
_quieted: list[bool] = []  # non-empty once the handlers are installed


def quiet_native_logs() -> None:
    """Stop alsa-lib and libjack printing probe noise to stderr while PortAudio scans.

    PortAudio opens every ALSA PCM and tries JACK while it enumerates; on a booth each
    failed probe would otherwise write a line to the journal at every call start.
    """
    if _quieted:
        return
    _quieted.append(True)
    import ctypes.util  # here: the device probe's child process never needs it

    for lib, setter, handler in (
        ("asound", "snd_lib_error_set_handler", _alsa_handler),
        ("jack", "jack_set_error_function", _jack_handler),
        ("jack", "jack_set_info_function", _jack_handler),
    ):
        path = ctypes.util.find_library(lib)
        if not path:
            continue
        with contextlib.suppress(OSError, AttributeError):
            getattr(ctypes.CDLL(path), setter)(handler)


# -- PortAudio lifecycle ----------------------------------------------------------------


def load_portaudio() -> None:
    """PyAudio loaded and the C libraries quieted, PortAudio not started (no device scan): a
    daemon does this at start, so that its first stream opens as fast as every later one."""
    import pyaudio  # noqa: F401

    quiet_native_logs()


# Pa_Initialize and Pa_Terminate are not thread-safe, and a capture stream may be released
# from its own reader thread (booth.audio.capture): every instance is made and ended under this.
_INIT_LOCK = threading.Lock()


def open_portaudio(*, quiet: bool = True) -> Any:
    """A fresh ``pyaudio.PyAudio`` (Pa_Initialize: a new device scan); ``quiet``: with the C
    libraries' probe noise kept off stderr (:func:`quiet_native_logs`)."""
    import pyaudio

    if quiet:
        quiet_native_logs()
    # Never let PortAudio's JACK probe start a JACK server on a booth.
    os.environ.setdefault("JACK_NO_START_SERVER", "1")
    with _INIT_LOCK:
        return pyaudio.PyAudio()


@contextlib.contextmanager
def portaudio(*, quiet: bool = True) -> Iterator[Any]:
    pa = open_portaudio(quiet=quiet)
    try:
        yield pa
    finally:
        terminate(pa)


def terminate(pa: Any) -> None:
    """End a ``pyaudio.PyAudio`` (closing its streams); the last one ends PortAudio."""
    with _INIT_LOCK:
        pa.terminate()


def close_stream(stream: Any, pa: Any) -> None:
    """Stop and close a stream, then release its PortAudio instance; a dead device may raise."""
    if stream is not None:
        with contextlib.suppress(OSError):
            stream.stop_stream()
        with contextlib.suppress(OSError):
            stream.close()
    if pa is not None:
        terminate(pa)


def list_devices(pa: Any) -> list[DeviceInfo]:
    devices = []
    for index in range(pa.get_device_count()):
        info = pa.get_device_info_by_index(index)
        try:
            api = str(pa.get_host_api_info_by_index(info["hostApi"])["name"])
        except (OSError, KeyError):
            api = ""
        devices.append(
            DeviceInfo(
                index=index,
                name=str(info["name"]),
                max_input_channels=int(info["maxInputChannels"]),
                max_output_channels=int(info["maxOutputChannels"]),
                default_rate=int(info["defaultSampleRate"]),
                host_api=api,
            )
        )
    return devices


def _default_device(pa: Any, devices: Sequence[DeviceInfo], *, input: bool) -> DeviceInfo | None:
    try:
        info = pa.get_default_input_device_info() if input else pa.get_default_output_device_info()
    except OSError:
        info = None
    if info is not None:
        for dev in devices:
            if dev.index == int(info["index"]):
                return dev
    # No usable default (no card 0): the first device that can do the job.
    return next((d for d in devices if d.supports(input=input)), None)


def name_matches(pattern: str, name: str) -> bool:
    """``/regex/`` searches the name; anything else is a case-insensitive substring."""
    if len(pattern) > 2 and pattern.startswith("/") and pattern.endswith("/"):
        return re.search(pattern[1:-1], name) is not None
    return pattern.casefold() in name.casefold()


def select_device(pa: Any, pattern: str, *, input: bool) -> DeviceInfo:
    """The device named by ``pattern`` (substring or /regex/), else the system default.

    Raises BoothError NO_MIC_AVAILABLE / AUDIO_PLAYBACK_BLOCKED when there is none at all.
    """
    devices = [d for d in list_devices(pa) if d.supports(input=input)]
    if pattern:
        for dev in devices:
            if name_matches(pattern, dev.name):
                return dev
    chosen = _default_device(pa, devices, input=input)
    if chosen is None:
        kind = "input" if input else "output"
        wanted = f" matching {pattern!r}" if pattern else ""
        problem = f"no audio {kind} device{wanted} and no default {kind} device"
        if input and permission_problem():
            raise BoothError(ErrorCode.MIC_PERMISSION_DENIED, f"{problem}; {permission_problem()}")
        raise BoothError(
            ErrorCode.NO_MIC_AVAILABLE if input else ErrorCode.AUDIO_PLAYBACK_BLOCKED, problem
        )
    return chosen


def rate_supported(pa: Any, dev: DeviceInfo, rate: int, *, input: bool, channels: int) -> bool:
    import pyaudio

    kwargs: dict[str, Any] = {"rate": rate}
    if input:
        kwargs.update(input_device=dev.index, input_channels=channels, input_format=pyaudio.paInt16)
    else:
        kwargs.update(
            output_device=dev.index, output_channels=channels, output_format=pyaudio.paInt16
        )
    try:
        return bool(pa.is_format_supported(**kwargs))
    except ValueError:  # PyAudio raises ValueError for an unsupported format/rate
        return False
    except OSError:
        return False


def supported_rates(pa: Any, dev: DeviceInfo, *, input: bool, channels: int = 1) -> list[int]:
    return [r for r in PROBE_RATES if rate_supported(pa, dev, r, input=input, channels=channels)]


def negotiate_rate(
    pa: Any, dev: DeviceInfo, configured: int, *, input: bool, channels: int = 1
) -> int:
    """The configured rate if the device takes it, else 16000, 48000, 44100, else its default."""
    order = [configured] if configured else []
    order += [r for r in NEGOTIATION_ORDER if r not in order]
    for rate in order:
        if rate_supported(pa, dev, rate, input=input, channels=channels):
            return rate
    if dev.default_rate and rate_supported(
        pa, dev, dev.default_rate, input=input, channels=channels
    ):
        return dev.default_rate
    kind = "input" if input else "output"
    code = ErrorCode.NO_MIC_AVAILABLE if input else ErrorCode.AUDIO_PLAYBACK_BLOCKED
    raise BoothError(
        code,
        f"{kind} device {dev.name!r} accepts none of {order} Hz with {channels} channel(s)",
    )


def permission_problem() -> str:
    """Why this process cannot open sound devices, or "" if nothing looks wrong."""
    snd = Path("/dev/snd")
    if not snd.is_dir():
        return ""
    nodes = [p for p in snd.iterdir() if p.name.startswith(("pcmC", "controlC"))]
    denied = [p.name for p in nodes if not os.access(p, os.R_OK | os.W_OK)]
    if denied:
        return (
            f"no read/write access to /dev/snd/{denied[0]} "
            "(add the service user to the 'audio' group)"
        )
    return ""


def portaudio_error_code(exc: BaseException) -> int | None:
    """The PaErrorCode in PyAudio's OSError (its args hold the text and the code)."""
    return next((a for a in getattr(exc, "args", ()) if isinstance(a, int)), None)


def portaudio_error_text(exc: BaseException) -> str:
    """ "PortAudio error -9996: Invalid device" from PyAudio's OSError(text, code)."""
    args = getattr(exc, "args", ())
    text = next((a for a in args if isinstance(a, str)), str(exc))
    code = portaudio_error_code(exc)
    return f"PortAudio error {code}: {text}" if code is not None else f"PortAudio: {text}"


def map_open_error(exc: BaseException, *, input: bool, device: str) -> BoothError:
    """Translate a failure to open a stream into the error code the booth reports."""
    detail = f"cannot open {'input' if input else 'output'} device {device!r}: " + (
        portaudio_error_text(exc)
    )
    if not input:
        return BoothError(ErrorCode.AUDIO_PLAYBACK_BLOCKED, detail)
    lowered = detail.lower()
    if "permission" in lowered or "access" in lowered:
        return BoothError(ErrorCode.MIC_PERMISSION_DENIED, detail)
    problem = permission_problem()
    if problem:
        return BoothError(ErrorCode.MIC_PERMISSION_DENIED, f"{detail}; {problem}")
    return BoothError(ErrorCode.NO_MIC_AVAILABLE, detail)

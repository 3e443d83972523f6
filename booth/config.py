"""Booth configuration: TOML on disk, frozen dataclasses in memory, precise errors.

Every problem is reported as ``<file>: <key>: <what is wrong>`` and maps to exit 78
(EX_CONFIG) so systemd's ``RestartPreventExitStatus=78`` stops a broken booth from
restart-looping. Nothing here touches hardware or the network.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import stat
import tomllib
import types
import typing
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from booth.audio.rates import INPUT_RATES
from booth.secret import Secret

DEFAULT_CONFIG_PATH = Path("/etc/booth/booth.toml")
CREDENTIAL_NAME = "api_key"
SUPPORTED_RATES = INPUT_RATES  # mic rates the framer takes
#: Seconds after a link drops before the call is given up with NETWORK_LOST: the one default
#: that ``call.reconnect_cutoff``, the session and the reconnect policy all start from.
RECONNECT_CUTOFF_S = 30.0

Pin = int | str


class ConfigError(Exception):
    """A configuration problem, naming the file, the key and what is wrong."""

    def __init__(self, path: Path | str, key: str, problem: str) -> None:
        self.path = str(path)
        self.key = key
        self.problem = problem
        super().__init__(f"{self.path}: {key}: {problem}")


def _meta(
    doc: str,
    *,
    min: float | None = None,
    max: float | None = None,
    pattern: str | None = None,
    allow_zero: bool = False,
) -> dict[str, Any]:
    """Field metadata: a one-line description plus the range the loader enforces."""
    return {"doc": doc, "min": min, "max": max, "pattern": pattern, "allow_zero": allow_zero}


@dataclass(frozen=True)
class BoothSection:
    id: str = field(
        default="booth-01",
        metadata=_meta(
            "Booth identity: sent as externalUserId and logged as BOOTH_ID.",
            pattern=r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}",
        ),
    )
    location: str = field(default="", metadata=_meta("Free text shown by `booth doctor`."))


@dataclass(frozen=True)
class ServiceSection:
    api_url: str = field(
        default="http://127.0.0.1:8765",
        metadata=_meta(
            "Voice service base URL. https is required except on loopback.",
            pattern=r"https?://[^\s/]+(/[^\s]*)?",
        ),
    )
    protocol: Literal["booth", "seed003", "atoms"] = field(
        default="booth",
        metadata=_meta(
            "booth: mint + redeem, resume; seed003: POST /api/v1/sdk/token, the raw voice "
            "WebSocket; atoms: Smallest Atoms register-call and Agent WebSocket."
        ),
    )
    drill_key: str = field(
        default="cold-call-skeptic",
        metadata=_meta(
            "The roleplay drill to run (booth protocol only).",
            pattern=r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}",
        ),
    )
    difficulty: Literal["", "Beginner", "Advanced", "Elite"] = field(
        default="",
        metadata=_meta(
            "Empty leaves the service's default; atoms sends it as the `difficulty` variable."
        ),
    )
    agent_id: str = field(
        default="",
        metadata=_meta(
            "atoms: the agent to talk to (required there, refused elsewhere).",
            pattern=r"([A-Za-z0-9][A-Za-z0-9._-]{0,127})?",
        ),
    )
    api_key_file: str = field(
        default="",
        metadata=_meta(
            "Path of a 0600 file holding the API key, when not run under systemd "
            "LoadCredential=api_key."
        ),
    )
    request_timeout: float = field(
        default=10.0, metadata=_meta("Seconds per REST request.", min=1, max=120)
    )

    @property
    def flow(self) -> Literal["athos", "sdk-token"]:
        """The REST flow of the protocol (the session's older name for it)."""
        return "sdk-token" if self.protocol == "seed003" else "athos"


@dataclass(frozen=True)
class AudioSection:
    input_device: str = field(
        default="",
        metadata=_meta("Mic by name: a substring, or /regex/. Empty: the system default."),
    )
    output_device: str = field(
        default="", metadata=_meta("Speaker by name, as input_device. Empty: system default.")
    )
    input_rate: int = field(
        default=0,
        metadata=_meta("Mic rate in Hz; 0 negotiates (16000, 48000, 44100).", allow_zero=True),
    )
    output_rate: int = field(
        default=0, metadata=_meta("Speaker rate in Hz; 0 negotiates.", allow_zero=True)
    )
    input_channels: int = field(
        default=1, metadata=_meta("Mic channels; 2 is downmixed.", min=1, max=2)
    )
    input_gain_db: float = field(default=0.0, metadata=_meta("Mic gain.", min=-20, max=40))
    output_gain_db: float = field(default=0.0, metadata=_meta("Speaker gain.", min=-40, max=20))
    dc_block: bool = field(default=True, metadata=_meta("Remove DC offset from the mic."))
    noise_suppression: int = field(
        default=0, metadata=_meta("webrtc noise suppression level, 0 (off) to 4.", min=0, max=4)
    )
    auto_gain_dbfs: int = field(
        default=0, metadata=_meta("webrtc auto gain target, 0 (off) to 31 dBFS.", min=0, max=31)
    )
    prebuffer_ms: int = field(
        default=80, metadata=_meta("Persona audio buffered before playback starts.", min=0, max=500)
    )
    jitter_buffer_ms: int = field(
        default=1000,
        metadata=_meta("Most persona audio held; older audio is dropped.", min=100, max=10000),
    )
    cue_volume: float = field(
        default=0.3, metadata=_meta("Volume of the sound cues, 0 to 1.", min=0, max=1)
    )


@dataclass(frozen=True)
class LedSection:
    mode: Literal["rgb", "separate", "none"] = field(
        default="rgb",
        metadata=_meta("rgb: one RGB LED on red/green/blue; separate: one LED per colour."),
    )
    red: Pin | None = field(default=22, metadata=_meta("GPIO of the red LED (or RGB red leg)."))
    green: Pin | None = field(default=23, metadata=_meta("GPIO of the green LED."))
    blue: Pin | None = field(default=24, metadata=_meta("GPIO of the blue LED."))
    amber: Pin | None = field(
        default=None, metadata=_meta("separate mode: GPIO of an amber LED, if fitted.")
    )
    white: Pin | None = field(
        default=None, metadata=_meta("separate mode: GPIO of a white LED, if fitted.")
    )
    active_high: bool = field(default=True, metadata=_meta("False for common-anode LEDs."))


@dataclass(frozen=True)
class PanelSection:
    enabled: bool = field(default=True, metadata=_meta("False: a booth with no GPIO at all."))
    pin_factory: Literal["auto", "lgpio", "rpigpio", "native", "mock"] = field(
        default="auto", metadata=_meta("gpiozero pin factory; auto picks what the board has.")
    )
    preset: str = field(
        default="", metadata=_meta("A wiring preset from config/presets (fills pins).")
    )
    button_pin: Pin = field(default=17, metadata=_meta("GPIO of the talk button (BCM)."))
    button_pull_up: bool = field(
        default=True, metadata=_meta("Button wired to ground with the internal pull-up.")
    )
    bounce_ms: int = field(default=20, metadata=_meta("Debounce time.", min=0, max=200))
    double_press_ms: int = field(
        default=400, metadata=_meta("Two presses within this end the call.", min=100, max=1500)
    )
    talk_mode: Literal["ptt", "toggle", "open"] = field(
        default="ptt",
        metadata=_meta("ptt: hold to talk; toggle: press to open/close; open: mic always on."),
    )
    leds: LedSection = field(default_factory=LedSection, metadata=_meta("Status LEDs."))


@dataclass(frozen=True)
class CallSection:
    idle_timeout: float = field(
        default=90.0,
        metadata=_meta("End the call after this long with no rep speech.", min=10, max=3600),
    )
    max_duration: float = field(
        default=900.0, metadata=_meta("Hard limit on one call's length.", min=30, max=7200)
    )
    reconnect_cutoff: float = field(
        default=RECONNECT_CUTOFF_S,
        metadata=_meta("Give up with NETWORK_LOST this long after a drop.", min=5, max=300),
    )
    score_wait: float = field(
        default=180.0,
        metadata=_meta("How long to poll for the score after a call.", min=0, max=3600),
    )
    score_display: float = field(
        default=20.0, metadata=_meta("How long the score stays on the LEDs.", min=0, max=600)
    )


@dataclass(frozen=True)
class LoggingSection:
    level: Literal["debug", "info", "warning", "error"] = field(
        default="info", metadata=_meta("Lowest level logged.")
    )
    target: Literal["auto", "journal", "stderr"] = field(
        default="auto", metadata=_meta("auto: journald when run by systemd, else stderr.")
    )


@dataclass(frozen=True)
class Config:
    booth: BoothSection = field(default_factory=BoothSection)
    service: ServiceSection = field(default_factory=ServiceSection)
    audio: AudioSection = field(default_factory=AudioSection)
    panel: PanelSection = field(default_factory=PanelSection)
    call: CallSection = field(default_factory=CallSection)
    logging: LoggingSection = field(default_factory=LoggingSection)
    source: str = field(default="<defaults>", compare=False, metadata={"internal": True})


T = TypeVar("T")

# Keys that would put a secret in the config file.
_INLINE_SECRET_KEYS = {"api_key", "key", "token", "apikey"}


def load_config(path: Path | str | None = None) -> Config:
    """Read and validate a booth config file. Raises ConfigError."""
    cfg_path = Path(path) if path is not None else DEFAULT_CONFIG_PATH
    try:
        raw = cfg_path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            cfg_path, "(file)", "no such file; copy config/booth.toml there or pass --config"
        ) from None
    except OSError as exc:
        raise ConfigError(cfg_path, "(file)", f"cannot read: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(cfg_path, "(syntax)", f"not UTF-8 text at byte {exc.start}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(cfg_path, "(syntax)", _describe_toml_error(str(exc))) from None
    config = parse_config(data, cfg_path)
    _check_cross_field(config, cfg_path)
    return config


def parse_config(data: dict[str, Any], path: Path | str = "<config>") -> Config:
    built = _build(Config, _migrate(data, path), "", Path(path))
    return _replace_source(built, str(path))


# service.flow, the older key: "athos" is protocol "booth", "sdk-token" is "seed003".
_FLOWS = {"athos": "booth", "sdk-token": "seed003"}


def _migrate(data: dict[str, Any], path: Path | str) -> dict[str, Any]:
    """A config using ``service.flow`` as if it said ``service.protocol``."""
    service = data.get("service")
    if not isinstance(service, dict) or "flow" not in service:
        return data
    service = dict(service)
    flow = service.pop("flow")
    if flow not in _FLOWS:
        choices = ", ".join(repr(f) for f in _FLOWS)
        raise ConfigError(path, "service.flow", f"must be one of {choices}, got {flow!r}")
    protocol = _FLOWS[flow]
    if service.setdefault("protocol", protocol) != protocol:
        raise ConfigError(
            path, "service.flow", f"says {protocol!r} but service.protocol says otherwise"
        )
    return {**data, "service": service}


def _replace_source(config: Config, source: str) -> Config:
    return dataclasses.replace(config, source=source)


def _describe_toml_error(message: str) -> str:
    match = re.search(r"\(at line (\d+), column (\d+)\)", message)
    if not match:
        return f"TOML syntax error: {message}"
    reason = message[: match.start()].strip()
    return f"TOML syntax error at line {match[1]}, column {match[2]}: {reason}"


def _public_fields(cls: type[Any]) -> dict[str, Any]:
    return {f.name: f for f in fields(cls) if not f.metadata.get("internal")}


def _build(cls: type[T], table: Any, prefix: str, path: Path) -> T:
    section = prefix.rstrip(".") or "(top level)"
    if not isinstance(table, dict):
        raise ConfigError(path, section, f"must be a table, got {_kind(table)}")
    known = _public_fields(cls)
    hints = typing.get_type_hints(cls)
    for key in table:
        if key in known:
            continue
        dotted = f"{prefix}{key}"
        if key in _INLINE_SECRET_KEYS:
            raise ConfigError(
                path,
                dotted,
                "an inline API key is refused: put the key in a file readable only by the "
                "service (chmod 600) and set service.api_key_file, or use systemd "
                "LoadCredential=api_key",
            )
        hint = difflib.get_close_matches(key, list(known), n=1)
        suggestion = f"; did you mean {prefix}{hint[0]}?" if hint else ""
        choices = ", ".join(sorted(known))
        raise ConfigError(path, dotted, f"unknown key{suggestion} (known here: {choices})")
    values: dict[str, Any] = {}
    for name, f in known.items():
        dotted = f"{prefix}{name}"
        if name not in table:
            if f.default is MISSING and f.default_factory is MISSING:
                raise ConfigError(path, dotted, "is required")
            continue
        values[name] = _coerce(hints[name], table[name], dotted, path, f.metadata)
    return cls(**values)


def _kind(value: Any) -> str:
    names = {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "an array",
        dict: "a table",
    }
    return names.get(type(value), type(value).__name__)


def _coerce(hint: Any, value: Any, key: str, path: Path, meta: Any) -> Any:
    origin = typing.get_origin(hint)
    if is_dataclass(hint) and isinstance(hint, type):
        return _build(hint, value, f"{key}.", path)
    if origin is Literal:
        choices = typing.get_args(hint)
        if value not in choices:
            shown = ", ".join(repr(c) for c in choices)
            close = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1)
            hint_text = f"; did you mean {close[0]!r}?" if close and close[0] != "" else ""
            raise ConfigError(path, key, f"must be one of {shown}, got {value!r}{hint_text}")
        return value
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        for option in options:
            if option is type(None):
                continue
            if _matches(option, value):
                return _check_range(_coerce(option, value, key, path, meta), key, path, meta)
        wanted = " or ".join(_type_name(o) for o in options if o is not type(None))
        raise ConfigError(path, key, f"must be {wanted}, got {_kind(value)} {value!r}")
    if not _matches(hint, value):
        raise ConfigError(path, key, f"must be {_type_name(hint)}, got {_kind(value)} {value!r}")
    if hint is float:
        value = float(value)
    return _check_range(value, key, path, meta)


def _matches(hint: Any, value: Any) -> bool:
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    return isinstance(value, hint) if isinstance(hint, type) else False


def _type_name(hint: Any) -> str:
    return {
        bool: "a boolean (true/false)",
        int: "an integer",
        float: "a number",
        str: "a string",
    }.get(hint, getattr(hint, "__name__", str(hint)))


def _check_range(value: Any, key: str, path: Path, meta: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        if meta.get("allow_zero") and value == 0:
            return value
        low, high = meta.get("min"), meta.get("max")
        if low is not None and value < low:
            raise ConfigError(path, key, f"must be at least {low:g}, got {value:g}")
        if high is not None and value > high:
            raise ConfigError(path, key, f"must be at most {high:g}, got {value:g}")
    pattern = meta.get("pattern")
    if pattern and isinstance(value, str) and not re.fullmatch(pattern, value):
        raise ConfigError(path, key, f"{value!r} is not of the form {pattern}")
    return value


def _check_cross_field(config: Config, path: Path) -> None:
    for key, rate in (
        ("audio.input_rate", config.audio.input_rate),
        ("audio.output_rate", config.audio.output_rate),
    ):
        if rate and rate not in SUPPORTED_RATES:
            rates = ", ".join(str(r) for r in SUPPORTED_RATES)
            raise ConfigError(path, key, f"must be 0 or one of {rates}, got {rate}")
    for key, pattern in (
        ("audio.input_device", config.audio.input_device),
        ("audio.output_device", config.audio.output_device),
    ):
        if len(pattern) > 2 and pattern.startswith("/") and pattern.endswith("/"):
            try:
                re.compile(pattern[1:-1])
            except re.error as exc:
                raise ConfigError(path, key, f"bad regular expression: {exc}") from None
    if config.call.idle_timeout > config.call.max_duration:
        raise ConfigError(
            path,
            "call.idle_timeout",
            f"is longer than call.max_duration ({config.call.max_duration:g} s)",
        )
    service = config.service
    if service.protocol == "atoms" and not service.agent_id:
        raise ConfigError(path, "service.agent_id", 'is required with service.protocol = "atoms"')
    if service.protocol != "atoms" and service.agent_id:
        raise ConfigError(
            path,
            "service.agent_id",
            f'is only used with protocol "atoms", not "{service.protocol}"',
        )
    if service.protocol == "atoms":
        for key, value in (
            ("audio.noise_suppression", config.audio.noise_suppression),
            ("audio.auto_gain_dbfs", config.audio.auto_gain_dbfs),
        ):
            if value:
                raise ConfigError(
                    path, key, 'webrtc works at 16 kHz; protocol "atoms" runs at 24 kHz: set 0'
                )
    if service.protocol == "seed003" and service.difficulty:
        raise ConfigError(
            path, "service.difficulty", "seed 003 has no place for it: the service never sees it"
        )
    from booth.transport.urlpolicy import HTTP_SCHEMES, check_url_allowed

    problem = check_url_allowed(config.service.api_url, HTTP_SCHEMES)
    if problem:
        raise ConfigError(path, "service.api_url", problem)


def load_api_key(config: Config, environ: typing.Mapping[str, str] | None = None) -> Secret:
    """The API key, from systemd's credential directory or service.api_key_file.

    Refuses a key file that anyone but its owner can read: the key bills the tenant.
    """
    env = os.environ if environ is None else environ
    cred_dir = env.get("CREDENTIALS_DIRECTORY")
    if cred_dir and (Path(cred_dir) / CREDENTIAL_NAME).exists():
        # systemd owns these files and makes them 0400 for the service; still verify.
        return _read_key_file(
            Path(cred_dir) / CREDENTIAL_NAME, config.source, "$CREDENTIALS_DIRECTORY/api_key"
        )
    if config.service.api_key_file:
        return _read_key_file(
            Path(config.service.api_key_file), config.source, "service.api_key_file"
        )
    raise ConfigError(
        config.source,
        "service.api_key_file",
        "no API key: run under systemd with LoadCredential=api_key:/etc/booth/api_key, "
        "or set service.api_key_file to a file readable only by the service (chmod 600)",
    )


def _read_key_file(path: Path, source: str, key: str) -> Secret:
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ConfigError(source, key, f"{path}: no such file") from None
    except PermissionError:
        raise ConfigError(source, key, f"{path}: permission denied") from None
    if not stat.S_ISREG(st.st_mode):
        raise ConfigError(source, key, f"{path}: not a regular file")
    if st.st_mode & 0o077:
        raise ConfigError(
            source,
            key,
            f"{path}: mode {stat.S_IMODE(st.st_mode):04o} lets group or others read it; "
            f"run: chmod 600 {path}",
        )
    try:
        text = path.read_text(encoding="utf-8").strip()
    except PermissionError:
        raise ConfigError(source, key, f"{path}: permission denied") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(source, key, f"{path}: unreadable ({exc.__class__.__name__})") from None
    if not text or any(c.isspace() for c in text):
        raise ConfigError(source, key, f"{path}: must hold one API key on one line")
    return Secret(text)


def describe_fields(cls: type[Any] = Config, prefix: str = "") -> list[tuple[str, str, str, str]]:
    """(key, default, allowed values, description) for every setting: the README's reference."""
    rows: list[tuple[str, str, str, str]] = []
    hints = typing.get_type_hints(cls)
    for name, f in _public_fields(cls).items():
        hint = hints[name]
        if is_dataclass(hint) and isinstance(hint, type):
            rows.extend(describe_fields(hint, f"{prefix}{name}."))
            continue
        default = "" if f.default is MISSING else _toml_value(f.default)
        rows.append((f"{prefix}{name}", default, _allowed(hint, f.metadata), f.metadata["doc"]))
    return rows


def _toml_value(value: object) -> str:
    if value is None:
        return "(unset)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return f"{value}"


def _allowed(hint: Any, meta: Any) -> str:
    if typing.get_origin(hint) is Literal:
        return " \\| ".join(f'"{c}"' for c in typing.get_args(hint))
    low, high = meta.get("min"), meta.get("max")
    if low is not None or high is not None:
        text = f"{low:g}–{high:g}"
        return f"0 or {text}" if meta.get("allow_zero") else text
    if meta.get("allow_zero"):
        return "0 or " + ", ".join(str(r) for r in SUPPORTED_RATES)
    names = {bool: "true \\| false", str: "text", int: "integer", float: "number"}
    args = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
    if Pin in (hint,) or set(args) == {int, str}:
        return "BCM number or pin name"
    return names.get(args[0], "")

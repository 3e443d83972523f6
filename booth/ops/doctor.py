"""`booth doctor`: check what a booth needs, one row per check, each with the fix.

Each check is a small function returning ``Check`` rows; none raises (a crash in a check is
itself reported as a failure). Order: config, credential, audio, GPIO, clock, network, and
the optional token mint. Checks that need what an earlier one could not provide are skipped
and say so.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import math
import os
import socket
import ssl
import stat
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from booth.config import CREDENTIAL_NAME, Config, ConfigError, load_config, load_proxy
from booth.logs import register_secret
from booth.ops.checks import Check
from booth.secret import Secret
from booth.transport.proxy import HttpProxy

if TYPE_CHECKING:
    import httpx

#: Where systemd's LoadCredential=api_key reads the key from (see systemd/booth.service).
CREDENTIAL_SOURCE = Path("/etc/booth/api_key")
#: Where LoadCredential=proxy_auth reads the proxy's user:password (provision's drop-in).
PROXY_CREDENTIAL_SOURCE = Path("/etc/booth/proxy_auth")
#: A clock before this is certainly wrong (no RTC and no network time yet): TLS would fail.
EARLIEST_SANE_YEAR = 2025
MAX_SKEW_SEC = 60.0
LEVEL_SECONDS = 0.3


@dataclass
class Context:
    """What later checks need from earlier ones."""

    config_path: Path | None
    credential_path: Path | None = None
    environ: Mapping[str, str] = dataclasses.field(default_factory=lambda: dict(os.environ))
    config: Config | None = None
    key: Secret | None = None
    proxy: HttpProxy | None = None  # service.proxy with its credential, once loaded
    proxy_failed: bool = False  # then nothing can reach the service: later checks skip
    server_date: float | None = None  # from the reach check, for the clock check
    timeout: float = 5.0


# -- config -----------------------------------------------------------------------------------
def check_config(ctx: Context) -> list[Check]:
    from booth.ops.presets import apply_preset

    try:
        config = load_config(ctx.config_path)
    except ConfigError as exc:
        return [Check("config", "fail", str(exc), f"fix {exc.key} in {exc.path}")]
    try:
        config = apply_preset(config)
    except ConfigError as exc:
        return [Check("config", "fail", str(exc), "set panel.preset to one of config/presets")]
    ctx.config = config
    where = f" at {config.booth.location}" if config.booth.location else ""
    preset = f", pin preset {config.panel.preset}" if config.panel.preset else ""
    return [Check("config", "pass", f"{config.source}: booth {config.booth.id}{where}{preset}")]


# -- credential -----------------------------------------------------------------------------
def _credential_candidates(ctx: Context) -> list[tuple[Path, str]]:
    # An explicit --credential is the only one checked: a wrong path must not pass silently.
    if ctx.credential_path is not None:
        return [(ctx.credential_path, "--credential")]
    out: list[tuple[Path, str]] = []
    cred_dir = ctx.environ.get("CREDENTIALS_DIRECTORY")
    if cred_dir:
        out.append((Path(cred_dir) / CREDENTIAL_NAME, "systemd credential"))
    if ctx.config is not None and ctx.config.service.api_key_file:
        out.append((Path(ctx.config.service.api_key_file), "service.api_key_file"))
    out.append((CREDENTIAL_SOURCE, "LoadCredential source"))
    return out


def check_credential(ctx: Context) -> list[Check]:
    candidates = _credential_candidates(ctx)
    path, origin = next(((p, o) for p, o in candidates if p.exists()), candidates[0])
    provision = "scripts/provision --api-key-file KEYFILE (or pipe the key on stdin)"
    try:
        st = path.stat()
    except FileNotFoundError:
        return [Check("credential", "fail", f"no API key at {path} ({origin})", provision)]
    except PermissionError:
        return [
            Check("credential", "fail", f"{path}: permission denied", "run booth doctor as root")
        ]
    if not stat.S_ISREG(st.st_mode):
        return [Check("credential", "fail", f"{path} is not a regular file", provision)]
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        return [
            Check(
                "credential",
                "fail",
                f"{path}: mode {mode:04o} lets group or others read the API key",
                f"chmod 600 {path}",
            )
        ]
    try:
        text = path.read_text(encoding="utf-8").strip()
    except PermissionError:
        return [Check("credential", "fail", f"{path}: permission denied", "run as root (sudo)")]
    except (OSError, UnicodeDecodeError) as exc:
        return [
            Check("credential", "fail", f"{path}: unreadable ({exc.__class__.__name__})", provision)
        ]
    if not text or any(c.isspace() for c in text):
        return [
            Check("credential", "fail", f"{path}: must hold one API key on one line", provision)
        ]
    register_secret(text, pinned=True)
    ctx.key = Secret(text)
    if origin == "LoadCredential source" and st.st_uid != 0:
        return [
            Check(
                "credential",
                "warn",
                f"{path}: owned by uid {st.st_uid}, not root",
                f"chown root:root {path}",
            )
        ]
    return [Check("credential", "pass", f"{path} ({origin}): mode {mode:04o}, one key")]


# -- audio ------------------------------------------------------------------------------------
# Device choice and rate negotiation are booth.audio.devices' own, so doctor opens exactly
# what the daemon would open.
def level_dbfs(samples: bytes) -> float:
    """The daemon's level meter without its -120 dBFS floor: -inf is digital silence."""
    from booth.audio.levels import rms

    level = rms(samples)
    return 20 * math.log10(level / 32768.0) if level > 0 else -math.inf


def check_audio(ctx: Context) -> list[Check]:
    if ctx.config is None:
        return [
            Check("mic", "skip", "needs a valid config"),
            Check("speaker", "skip", "needs a valid config"),
        ]
    try:
        from booth.audio import alsaconf, devices
    except ImportError as exc:  # PyAudio missing: the venv was built without PortAudio
        fix = "apt install portaudio19-dev, then rerun scripts/provision"
        return [Check("mic", "fail", f"audio support not installed ({exc})", fix)]
    # The devices as the daemon sees them: through the booth's ALSA configuration.
    alsaconf.install((ctx.config.audio.input_device, ctx.config.audio.output_device))
    with devices.portaudio() as pa:
        return [_probe(pa, ctx.config, is_input=True), _probe(pa, ctx.config, is_input=False)]


def _probe(pa: Any, config: Config, *, is_input: bool) -> Check:
    import pyaudio

    from booth.audio import devices
    from booth.errors import BoothError

    name = "mic" if is_input else "speaker"
    kind = "input" if is_input else "output"
    pattern = config.audio.input_device if is_input else config.audio.output_device
    setting = "audio.input_device" if is_input else "audio.output_device"
    channels = config.audio.input_channels if is_input else 1
    configured_rate = config.audio.input_rate if is_input else config.audio.output_rate
    usable = [d for d in devices.list_devices(pa) if d.supports(input=is_input)]
    listing = ", ".join(d.name for d in usable) or "none"
    try:
        dev = devices.select_device(pa, pattern, input=is_input)
    except BoothError as exc:
        fix = f"plug one in, or set {setting} to a name from `booth devices`"
        if exc.code == "MIC_PERMISSION_DENIED":
            fix = "add the service user to the audio group (scripts/provision does)"
        return Check(name, "fail", f"{exc.code}: {exc.message} (found: {listing})", fix)
    if pattern and not devices.name_matches(pattern, dev.name):
        code = "NO_MIC_AVAILABLE" if is_input else "AUDIO_PLAYBACK_BLOCKED"
        return Check(
            name,
            "fail",
            f"{code}: no {kind} device matches {pattern!r} (found: {listing}); "
            f"the booth would fall back to {dev.name!r}",
            f"plug it in, or set {setting} to a name from `booth devices`",
        )
    try:
        rate = devices.negotiate_rate(pa, dev, configured_rate, input=is_input, channels=channels)
    except BoothError as exc:
        fix = "set audio.input_rate/output_rate to 0 (negotiate) or a rate `booth devices` lists"
        return Check(name, "fail", f"{exc.code}: {exc.message}", fix)
    frames = int(rate * LEVEL_SECONDS)
    try:
        stream = pa.open(
            rate=rate,
            channels=channels,
            format=pyaudio.paInt16,
            input=is_input,
            output=not is_input,
            input_device_index=dev.index if is_input else None,
            output_device_index=None if is_input else dev.index,
            frames_per_buffer=rate // 50,
        )
    except (OSError, ValueError) as exc:
        err = devices.map_open_error(exc, input=is_input, device=dev.name)
        busy = str(devices.PA_DEVICE_UNAVAILABLE) in err.message or "busy" in err.message.lower()
        fix = (
            "stop whatever holds it (fuser -v /dev/snd/*; systemctl stop booth)"
            if busy
            else "check the user is in the audio group and the device is plugged in"
        )
        return Check(name, "fail", f"{err.code}: {err.message}", fix)
    try:
        if is_input:
            data = stream.read(frames, exception_on_overflow=False)
            level = level_dbfs(data[: len(data) - len(data) % (2 * channels)])
            if level == -math.inf:
                return Check(
                    name,
                    "warn",
                    f"{dev.name} at {rate} Hz: digital silence (level -inf dBFS)",
                    "unmute the mic / raise its capture level (alsamixer -c N, F4)",
                )
            return Check(name, "pass", f"{dev.name} at {rate} Hz, level {level:.1f} dBFS")
        stream.write(b"\0\0" * frames)  # silence: proves the device takes audio, says nothing
        return Check(name, "pass", f"{dev.name} at {rate} Hz, accepted {LEVEL_SECONDS:g} s")
    except OSError as exc:
        err = devices.map_open_error(exc, input=is_input, device=dev.name)
        return Check(name, "fail", f"{err.code}: {err.message}", "reseat the device; check dmesg")
    finally:
        with contextlib.suppress(OSError):
            stream.stop_stream()
            stream.close()


# -- GPIO -------------------------------------------------------------------------------------
def check_gpio(ctx: Context) -> list[Check]:
    if ctx.config is None:
        return [Check("gpio", "skip", "needs a valid config")]
    panel = ctx.config.panel
    if not panel.enabled:
        return [Check("gpio", "skip", "panel.enabled = false: no button or LEDs")]
    factory_name = ctx.environ.get("BOOTH_PIN_FACTORY") or panel.pin_factory
    devices: list[Any] = []
    try:
        from gpiozero import LED, RGBLED, Button
        from gpiozero.exc import PinFactoryFallback, PinPWMUnsupported

        # The row says what failed; gpiozero's per-factory fallback warnings are noise here.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PinFactoryFallback)
            factory = _pin_factory(factory_name)
            button = Button(panel.button_pin, pull_up=panel.button_pull_up, pin_factory=factory)
        devices.append(button)
        leds = panel.leds
        claimed = [f"button {panel.button_pin}"]
        if leds.mode == "rgb" and None not in (leds.red, leds.green, leds.blue):
            try:
                devices.append(RGBLED(leds.red, leds.green, leds.blue, pin_factory=factory))
            except PinPWMUnsupported:
                devices.append(
                    RGBLED(leds.red, leds.green, leds.blue, pwm=False, pin_factory=factory)
                )
            claimed.append(f"RGB LED {leds.red}/{leds.green}/{leds.blue}")
        elif leds.mode == "separate":
            for colour in ("red", "green", "blue", "amber", "white"):
                pin = getattr(leds, colour)
                if pin is not None:
                    devices.append(LED(pin, pin_factory=factory))
                    claimed.append(f"{colour} LED {pin}")
        pressed = bool(button.is_pressed)
        kind = type(button.pin_factory).__name__
    except Exception as exc:
        text = f"{exc.__class__.__name__}: {exc}" if str(exc) else exc.__class__.__name__
        if "InUse" in exc.__class__.__name__:
            fix = "two functions share a pin: fix panel pins, or stop the process holding it"
        elif "BadPinFactory" in exc.__class__.__name__ or "Permission" in text:
            fix = (
                "no usable GPIO: add the user to the gpio group, install lgpio, set "
                "panel.pin_factory, or panel.enabled = false on a booth without a panel"
            )
        else:
            fix = "check the wiring preset and panel pins against the HAT's pinout"
        return [Check("gpio", "fail", text, fix)]
    finally:
        for device in devices:
            with contextlib.suppress(Exception):
                device.close()
    detail = f"claimed {', '.join(claimed)} via {kind}"
    if pressed:
        return [
            Check(
                "gpio",
                "warn",
                detail + "; the button reads pressed at rest",
                "check the button wiring and panel.button_pull_up (stuck or miswired?)",
            )
        ]
    return [Check("gpio", "pass", detail)]


def _pin_factory(name: str) -> Any:
    if name in ("", "auto"):
        return None  # gpiozero's choice; honours GPIOZERO_PIN_FACTORY
    from booth.panel.gpio import make_pin_factory

    return make_pin_factory(name)


# -- the unit's interpreter -------------------------------------------------------------------
#: What ProtectHome=yes makes invisible to the service (systemd.exec(5)).
HIDDEN_BY_PROTECT_HOME = (Path("/home"), Path("/root"), Path("/run/user"))
UNIT_PATH = Path("/etc/systemd/system/booth.service")


def hidden_from_service(path: Path) -> bool:
    return any(path == top or top in path.parents for top in HIDDEN_BY_PROTECT_HOME)


def unit_interpreter(unit: Path) -> tuple[Path, Path]:
    """(the unit's ExecStart program, the Python it really runs on: symlinks and the venv's
    ``home`` followed)."""
    program = Path("")
    for line in unit.read_text(encoding="utf-8").splitlines():
        if line.startswith("ExecStart="):
            program = Path(line.split("=", 1)[1].split()[0].lstrip("-@:+!"))
    if not program.is_absolute():
        raise ValueError(f"{unit}: no ExecStart= with an absolute path")
    python = program
    with contextlib.suppress(OSError, UnicodeDecodeError):
        first = program.read_bytes()[:256].split(b"\n", 1)[0].decode()
        if first.startswith("#!"):
            python = Path(first[2:].split()[0])
    return program, Path(os.path.realpath(python))


def check_interpreter(ctx: Context, unit: Path = UNIT_PATH) -> list[Check]:
    fix = "rebuild the venv on the system Python: scripts/provision --python /usr/bin/python3"
    if not unit.exists():
        return [Check("interpreter", "skip", f"no installed unit at {unit}")]
    try:
        program, python = unit_interpreter(unit)
    except (OSError, ValueError) as exc:
        return [Check("interpreter", "fail", str(exc), "rerun scripts/provision")]
    if not program.exists():
        return [Check("interpreter", "fail", f"{program} (ExecStart) is missing", fix)]
    if hidden_from_service(python):
        return [
            Check(
                "interpreter",
                "fail",
                f"{program} runs {python}, which ProtectHome=yes hides from the service "
                "(it would fail with 203/EXEC)",
                fix,
            )
        ]
    if not os.access(python, os.X_OK):
        return [Check("interpreter", "fail", f"{python} is not executable", fix)]
    return [Check("interpreter", "pass", f"{program} runs {python}")]


# -- clock ------------------------------------------------------------------------------------
def check_clock(ctx: Context, now: float | None = None) -> list[Check]:
    now = time.time() if now is None else now
    year = time.gmtime(now).tm_year
    fix = "enable network time: systemctl enable --now systemd-timesyncd (the Pi has no RTC)"
    if year < EARLIEST_SANE_YEAR:
        stamp = time.strftime("%Y-%m-%d %H:%M", time.gmtime(now))
        return [Check("clock", "fail", f"system clock reads {stamp} UTC: TLS will fail", fix)]
    if ctx.server_date is not None:
        skew = now - ctx.server_date
        if abs(skew) > MAX_SKEW_SEC:
            return [
                Check("clock", "warn", f"{skew:+.0f} s off the service's clock (HTTP Date)", fix)
            ]
        return [Check("clock", "pass", f"within {abs(skew):.0f} s of the service's clock")]
    return [Check("clock", "pass", time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(now)))]


# -- network ----------------------------------------------------------------------------------
def check_network(ctx: Context) -> list[Check]:
    if ctx.config is None:
        return [
            Check("dns", "skip", "needs a valid config"),
            Check("reach", "skip", "needs a valid config"),
        ]
    from booth.transport.urlpolicy import is_loopback_host

    url = ctx.config.service.api_url
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    rows: list[Check] = []
    if ctx.config.service.proxy:
        try:
            ctx.proxy = _load_proxy(ctx.config, ctx.environ)
        except ConfigError as exc:
            ctx.proxy_failed = True
            rows.append(Check("proxy", "fail", str(exc), f"fix {exc.key} ({exc.path})"))
            rows.append(Check("reach", "skip", "needs the proxy's credential"))
            return rows
    # Behind a proxy the booth resolves only the proxy; the proxy resolves the service.
    named = ctx.proxy.host if ctx.proxy is not None else host
    if is_loopback_host(named):
        rows.append(Check("dns", "pass", f"{named} is loopback"))
    else:
        try:
            infos = socket.getaddrinfo(named, port, type=socket.SOCK_STREAM)
            addrs = sorted({str(info[4][0]) for info in infos})
            rows.append(Check("dns", "pass", f"{named} → {', '.join(addrs[:3])}"))
        except socket.gaierror as exc:
            rows.append(
                Check(
                    "dns",
                    "fail",
                    f"cannot resolve {named}: {exc.strerror}",
                    "check Wi-Fi and DNS (nmcli device status; resolvectl status)",
                )
            )
            rows.append(Check("reach", "skip", "needs DNS"))
            return rows
    if ctx.proxy is not None:
        rows.append(check_proxy_tunnel(ctx.proxy, host, port, ctx.timeout))
        if rows[-1].status == "fail":
            ctx.proxy_failed = True
            rows.append(Check("reach", "skip", "needs the proxy"))
            return rows
    rows.append(_reach(ctx, url, host, port, parts.scheme))
    return rows


def _load_proxy(config: Config, environ: Mapping[str, str]) -> HttpProxy | None:
    """As the daemon loads it; run by hand (no $CREDENTIALS_DIRECTORY), from the file that
    systemd's LoadCredential=proxy_auth would read."""
    if (
        not environ.get("CREDENTIALS_DIRECTORY")
        and not config.service.proxy_auth_file
        and PROXY_CREDENTIAL_SOURCE.exists()
    ):
        service = dataclasses.replace(config.service, proxy_auth_file=str(PROXY_CREDENTIAL_SOURCE))
        config = dataclasses.replace(config, service=service)
    return load_proxy(config, environ)


def check_proxy_tunnel(proxy: HttpProxy, host: str, port: int, timeout: float) -> Check:
    """One row: the proxy is reachable, accepts the credential, and allows CONNECT to the
    service's host and port."""
    import asyncio

    from booth.transport import proxy as px

    async def tunnel() -> None:
        async with asyncio.timeout(timeout):
            (await px.open_tunnel(proxy, host, port)).close()

    target = px.connect_target(host, port)
    try:
        asyncio.run(tunnel())
    except px.ProxyUnreachable as exc:
        fix = "check service.proxy (host and port), and that this network reaches the proxy"
        return Check("proxy", "fail", str(exc), fix)
    except px.ProxyAuthRejected as exc:
        if proxy.user is None:
            fix = (
                "the proxy wants a user and password: scripts/provision --proxy URL "
                "--proxy-auth-file FILE (FILE holds user:password)"
            )
        else:
            fix = (
                f"the network's admin must confirm user {proxy.user!r} and its password; "
                "install the right one with scripts/provision --proxy-auth-file FILE"
            )
        return Check("proxy", "fail", str(exc), fix)
    except px.ProxyRefused as exc:
        fix = (
            f"ask the network's admin to allow CONNECT to {target} "
            "(squid: SSL_ports and http_access; tinyproxy: ConnectPort)"
        )
        return Check("proxy", "fail", str(exc), fix)
    except px.ProxyProtocolError as exc:
        return Check(
            "proxy", "fail", str(exc), "is service.proxy an HTTP proxy (not SOCKS, not TLS)?"
        )
    except TimeoutError:
        return Check(
            "proxy",
            "fail",
            f"proxy {proxy.address}: no answer to CONNECT {target} within {timeout:g} s",
            "a firewall may drop traffic to the proxy, or the proxy cannot reach the service",
        )
    user = f", user {proxy.user} accepted" if proxy.user is not None else ""
    return Check("proxy", "pass", f"{proxy.address}: reachable{user}, CONNECT to {target} allowed")


def _reach(ctx: Context, url: str, host: str, port: int, scheme: str) -> Check:
    import httpx

    started = time.monotonic()
    try:
        with _http_client(ctx) as client:
            response = client.get(url)
    except httpx.ConnectError as exc:
        cause = _root_cause(exc)
        if isinstance(cause, ssl.SSLCertVerificationError):
            return Check(
                "reach",
                "fail",
                f"TLS to {host}: {cause.verify_message}",
                "check the clock, and that ca-certificates is installed and current",
            )
        if isinstance(cause, ConnectionRefusedError):
            return Check(
                "reach",
                "fail",
                f"connection refused by {host}:{port}",
                "nothing listens there: check service.api_url (scheme, host and port)",
            )
        return Check(
            "reach", "fail", f"cannot connect to {host}:{port}: {exc}", "check the network path"
        )
    except httpx.TimeoutException:
        return Check(
            "reach",
            "fail",
            f"no answer from {host}:{port} within {ctx.timeout:g} s",
            "a firewall may drop the traffic, or the service is down",
        )
    except httpx.HTTPError as exc:
        return Check("reach", "fail", f"{host}:{port}: {exc}", "check service.api_url")
    elapsed_ms = (time.monotonic() - started) * 1000
    date = response.headers.get("date")
    if date:
        with contextlib.suppress(TypeError, ValueError):
            ctx.server_date = parsedate_to_datetime(date).timestamp()
    tls = "TLS ok, " if scheme == "https" else ""
    return Check(
        "reach",
        "pass",
        f"{tls}HTTP {response.status_code} from {host}:{port} in {elapsed_ms:.0f} ms",
    )


def _http_client(ctx: Context) -> httpx.Client:
    """As the booth's REST client: verified TLS, no environment proxies, service.proxy."""
    import httpx

    proxy = ctx.proxy.for_httpx() if ctx.proxy is not None else None
    return httpx.Client(timeout=ctx.timeout, verify=True, trust_env=False, proxy=proxy)


def _root_cause(exc: BaseException) -> BaseException:
    seen = exc
    while seen.__cause__ is not None or seen.__context__ is not None:
        nxt = seen.__cause__ or seen.__context__
        assert nxt is not None
        seen = nxt
    return seen


def check_mint(ctx: Context) -> list[Check]:
    """POST /api/external/v1/session: proves the key works. The token is never shown; the
    booth's own REST client does it, so the service's answer has the booth's limits and its text
    is cleaned before it is shown."""
    if ctx.config is None or ctx.key is None:
        return [Check("mint", "skip", "needs a valid config and API key")]
    if ctx.proxy_failed:
        return [Check("mint", "skip", "needs the proxy")]
    from booth.transport.rest import RestClient, RestError, RetryPolicy, SessionToken

    config, key = ctx.config, ctx.key

    async def mint() -> SessionToken:
        async with RestClient(
            config.service.api_url,
            key,
            timeout=ctx.timeout,
            retry=RetryPolicy(attempts=1),
            proxy=ctx.proxy,
        ) as rest:
            return await rest.mint(config.booth.id)

    try:
        token = asyncio.run(mint())
    except RestError as exc:
        rid = f" (request {exc.request_id})" if exc.request_id else ""
        if exc.status is None:
            return [Check("mint", "fail", f"request failed: {exc.message}", "see reach")]
        if exc.code == "PROTOCOL_ERROR":
            detail = f"HTTP {exc.status}: {exc.message}{rid}"
            return [Check("mint", "fail", detail, "is api_url the voice service?")]
        fix = _MINT_FIXES.get(
            exc.code, "see the service's status, and the request id, with its owner"
        )
        return [Check("mint", "fail", f"HTTP {exc.status} {exc.code}{rid}", fix)]
    rid = f" (request {token.request_id})" if token.request_id else ""
    expires = token.expires_at or "unknown"
    return [Check("mint", "pass", f"minted a session token, expires {expires}{rid}")]


_MINT_FIXES = {
    "INVALID_API_KEY": "the key is wrong: install the right one with scripts/provision",
    "API_KEY_REVOKED": "the key was revoked: get a new key and run scripts/provision",
    "IP_NOT_ALLOWED": "add this site's public IP to the tenant's allow list",
    "TENANT_INACTIVE": "the tenant is inactive: contact the service owner",
    "TENANT_QUOTA_EXCEEDED": "the tenant is out of quota: contact the service owner",
}


# -- running and reporting ------------------------------------------------------------------
CheckFn = Callable[[Context], list[Check]]


def run_checks(
    ctx: Context,
    *,
    mint: bool = False,
    audio: bool = True,
    gpio: bool = True,
    from_daemon: list[Check] | None = None,
) -> list[Check]:
    """Every check in order. ``from_daemon``: the running daemon's own mic, speaker and GPIO
    rows (it holds the pins), used instead of opening them here."""
    steps: list[tuple[str, CheckFn]] = [("config", check_config), ("credential", check_credential)]
    steps.append(("interpreter", check_interpreter))
    if from_daemon is not None:
        wanted = {"mic", "speaker"} if audio else set()
        wanted |= {"gpio"} if gpio else set()
        steps.append(("daemon", lambda _ctx: [r for r in from_daemon if r.name in wanted]))
    else:
        if audio:
            steps.append(("audio", check_audio))
        if gpio:
            steps.append(("gpio", check_gpio))
    steps += [("network", check_network), ("clock", check_clock)]
    if mint:
        steps.append(("mint", check_mint))
    rows: list[Check] = []
    for name, fn in steps:
        try:
            rows.extend(fn(ctx))
        except Exception as exc:  # a broken check is a finding, not a crash
            rows.append(Check(name, "fail", f"check crashed: {exc.__class__.__name__}: {exc}"))
    return rows


_MARK = {"pass": "ok", "warn": "WARN", "fail": "FAIL", "skip": "skip"}


def format_table(rows: list[Check]) -> str:
    name_w = max(len(r.name) for r in rows)
    lines = []
    for r in rows:
        lines.append(f"{_MARK[r.status]:<4}  {r.name:<{name_w}}  {r.detail}")
        if r.fix and r.status in ("fail", "warn"):
            lines.append(f"{'':<4}  {'':<{name_w}}  fix: {r.fix}")
    fails = sum(r.status == "fail" for r in rows)
    warns = sum(r.status == "warn" for r in rows)
    lines.append("")
    lines.append(f"{fails} failed, {warns} warnings" if fails or warns else "all checks passed")
    return "\n".join(lines)

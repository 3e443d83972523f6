"""The booth's ALSA configuration: the system's, less the plugin PCMs the booth does not use.

PortAudio's device scan (every ``Pa_Initialize``: each call's capture and playback, each device
probe) opens every PCM the ALSA configuration defines. The PCMs that packages drop into the
``conf.d`` directories (``libasound2-plugins``: pulse, jack, a52, upmix, lavrate...) each load
their plugin module and its libraries (libpulse, libavcodec and its codecs...): ~17 MB of the
booth's RSS in a call on a machine that has them, most of it never unloaded. So the booth
points alsa-lib (``ALSA_CONFIG_PATH``) at a copy of the top-level configuration whose ``conf.d``
directories are replaced by the files in them that the booth may need:

- a file that defines a PCM the configured devices name (``audio.input_device`` /
  ``output_device`` match it as they match PortAudio's device names), or ``default`` (the
  device an empty or unmatched pattern falls back to: pipewire or pulse on a desktop image);
- a file defining a PCM that the user's own configuration (``/etc/asound.conf``,
  ``~/.asoundrc``, further ``ALSA_CONFIG_PATH`` entries) mentions: a PCM they defined on top of
  it keeps working;
- a file this module cannot read as plain ``pcm.NAME`` / ``ctl.NAME`` definitions (defaults,
  includes, hooks): kept, as it may change anything.

The cards and the user's files load as before. When the top-level file does not list its
``conf.d`` directories as plain strings (an alsa-lib older than 1.2.5), the system's
configuration is used unchanged.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from booth.audio.devices import name_matches

#: alsa-lib's top-level configuration when ``ALSA_CONFIG_PATH`` is not set.
STOCK_CONFIG = "/usr/share/alsa/alsa.conf"
#: PCMs always kept: where an empty or unmatched device pattern goes.
ALWAYS = ("default", "sysdefault")
_CONF_D = re.compile(r'^[ \t]*"(/[^"]*conf\.d)/?"[ \t]*\n', re.MULTILINE)
_DEFINITION = re.compile(r"^(pcm|ctl)\.[!?]?([A-Za-z0-9_-]+)(\.[A-Za-z0-9_.-]+)?$")
_TOKEN = re.compile(
    r'"(?:\\.|[^"\\])*"'  # "string"
    r"|'(?:\\.|[^'\\])*'"  # 'string'
    r"|<[^>]*>"  # <include>
    r"|[{}\[\];,=]"
    r"|[^\s{}\[\];,=\"'#]+"  # a word: key.sub, number, $ARG...
)


def _tokens(text: str) -> list[str]:
    """ALSA configuration tokens: strings, <includes>, punctuation, words (no comments)."""
    return _TOKEN.findall(_strip_comments(text))


def _strip_comments(text: str) -> str:
    """Comments run from # to the end of the line, outside quotes."""
    out = []
    for line in text.splitlines():
        end, quote = len(line), ""
        for i, ch in enumerate(line):
            if quote:
                quote = "" if ch == quote else quote
            elif ch in "\"'":
                quote = ch
            elif ch == "#":
                end = i
                break
        out.append(line[:end])
    return "\n".join(out)


def defined_pcms(text: str) -> set[str] | None:
    """The PCMs an ALSA configuration file defines, or None if it does anything else at the
    top level (sets defaults, includes a file, runs a hook, or uses a syntax not read here)."""
    tokens = _tokens(text)
    pcms: set[str] = set()
    i = 0
    while i < len(tokens):
        key = tokens[i]
        if key in (";", ","):
            i += 1
            continue
        match = _DEFINITION.match(key)
        if match is None:
            return None
        if match.group(1) == "pcm":
            pcms.add(match.group(2))
        i += 1
        if i < len(tokens) and tokens[i] == "=":
            i += 1
        if i >= len(tokens):
            return None
        if tokens[i] in ("{", "["):
            depth = 0
            while i < len(tokens):
                depth += tokens[i] in ("{", "[")
                depth -= tokens[i] in ("}", "]")
                i += 1
                if depth == 0:
                    break
            if depth:
                return None
        elif tokens[i] in ("}", "]"):
            return None
        else:
            i += 1
    return pcms


def _conf_files(directory: Path) -> list[Path]:
    """The files alsa-lib loads from a conf.d directory, in its order."""
    try:
        names = sorted(p.name for p in directory.iterdir())
    except OSError:
        return []
    return [
        directory / name
        for name in names
        if len(name) > 5 and name.endswith(".conf") and not (directory / name).is_dir()
    ]


def _mentioned(name: str, text: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text) is not None


def wanted(pcms: Iterable[str], patterns: Sequence[str], user_text: str) -> bool:
    """Whether a conf.d file defining ``pcms`` must be kept (see the module's docstring)."""
    return any(
        pcm in ALWAYS
        or any(p and name_matches(p, pcm) for p in patterns)
        or _mentioned(pcm, user_text)
        for pcm in pcms
    )


def lean_config(top: str, patterns: Sequence[str], user_text: str) -> str | None:
    """``top`` (alsa.conf's text) with its conf.d directories replaced by the files the booth
    keeps, or None when ``top`` lists no conf.d directory as a plain string."""
    entries = list(_CONF_D.finditer(top))
    if not entries:
        return None
    files: list[tuple[Path, str, set[str] | None]] = []
    for entry in entries:
        for path in _conf_files(Path(entry.group(1))):
            try:
                text = path.read_text(errors="replace")
            except OSError:
                text = ""
            files.append((path, text, defined_pcms(text) if text else None))
    # A kept file may use a PCM another one defines: keep that too, until nothing changes.
    kept: set[Path] = set()
    while True:
        refs = "\n".join([user_text, *(text for path, text, _ in files if path in kept)])
        more = {
            path
            for path, _, pcms in files
            if path not in kept and (pcms is None or wanted(pcms, patterns, refs))
        }
        if not more:
            break
        kept |= more
    keep = [f'\t\t\t"{path}"\n' for path, _, _ in files if path in kept]
    first, last = entries[0], entries[-1]
    between = top[first.end() : last.start()]
    if _CONF_D.sub("", between).strip():
        return None  # something other than conf.d entries between them: leave it all alone
    return top[: first.start()] + "".join(keep) + top[last.end() :]


def _user_files(top: str, rest: Sequence[str]) -> str:
    """The text of the user's own ALSA files: /etc/asound.conf, ~/.asoundrc (as alsa.conf's
    hook names them) and whatever ``ALSA_CONFIG_PATH`` adds after the top-level file."""
    quoted = (part for s in re.findall(r'"([^"]*)"', top) for part in s.split("|||"))
    names = [q for q in quoted if "asound" in q and q.startswith(("/", "~/"))] + list(rest)
    texts = []
    for name in names:
        with contextlib.suppress(OSError):
            texts.append(Path(name).expanduser().read_text(errors="replace"))
    xdg = Path(os.environ.get("XDG_CONFIG_HOME", "~/.config")).expanduser() / "alsa/asoundrc"
    with contextlib.suppress(OSError):
        texts.append(xdg.read_text(errors="replace"))
    return "\n".join(texts)


_installed: dict[tuple[str, tuple[str, ...]], str] = {}


def install(patterns: Sequence[str]) -> str | None:
    """Point this process's alsa-lib at the booth's configuration for ``patterns`` (the
    configured input and output device); returns the new ``ALSA_CONFIG_PATH``, or None when
    the system's configuration stays. Call it before PortAudio first initialises, on the
    main thread; calling it again with the same patterns changes nothing."""
    current = os.environ.get("ALSA_CONFIG_PATH", "")
    if current in _installed.values():
        return current
    key = (current, tuple(patterns))
    if key in _installed:
        os.environ["ALSA_CONFIG_PATH"] = _installed[key]
        return _installed[key]
    files = [f for f in current.split(":") if f] or [STOCK_CONFIG]
    try:
        top = Path(files[0]).read_text()
    except OSError:
        return None
    lean = lean_config(top, patterns, _user_files(top, files[1:]))
    if lean is None:
        return None
    try:
        fd, path = tempfile.mkstemp(prefix="booth-alsa-", suffix=".conf")
        with os.fdopen(fd, "w") as out:
            out.write(lean)
    except OSError:
        return None  # nowhere to write it: the system's configuration, as before
    atexit.register(_remove, path)
    value = ":".join([path, *files[1:]])
    _installed[key] = value
    os.environ["ALSA_CONFIG_PATH"] = value
    return value


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)

"""The booth's ALSA configuration (booth.audio.alsaconf): which conf.d files it keeps, and that
PortAudio still finds the configured devices through it."""

from __future__ import annotations

import os
from pathlib import Path

from booth.audio import alsaconf, devices
from booth.config import AudioSection
from booth.daemon.audio_io import PyAudioMic
from tests.support.alsa import STOCK_CONFIG, alsa_file_devices

# alsa.conf's load hook as alsa-lib 1.2.5 and later write it (conf.d directories as strings).
TOP = """\
# pre-load the configuration files
@hooks [
\t{
\t\tfunc load
\t\tfiles [
\t\t\t"%s"
\t\t\t"/etc/asound.conf|||/usr/etc/asound.conf"
\t\t\t"~/.asoundrc"
\t\t]
\t\terrors false
\t}
]
pcm.null { type null }
"""


def test_definitions_are_read_and_anything_else_is_not() -> None:
    assert alsaconf.defined_pcms(
        'pcm.jack {\n type jack # a comment { with a brace\n hint.description "JACK {"\n}\n'
        "ctl.oss { type oss }\n"
    ) == {"jack"}
    assert alsaconf.defined_pcms("pcm.!default { type pulse }\nctl.!default { type pulse }") == {
        "default"
    }
    assert alsaconf.defined_pcms("pcm.a52.type a52\npcm.a52.card 0") == {"a52"}
    # Defaults, includes, hooks and the nested form could change anything: not read.
    for text in (
        "defaults.pcm.card 1",
        "<confdir:pcm/dmix.conf>",
        "@hooks [ { func load files [ x ] } ]",
        "pcm { jack { type jack } }",
        "pcm.broken { type jack",
    ):
        assert alsaconf.defined_pcms(text) is None, text


def _conf_d(tmp_path: Path, files: dict[str, str]) -> Path:
    conf_d = tmp_path / "conf.d"
    conf_d.mkdir()
    for name, text in files.items():
        (conf_d / name).write_text(text)
    return conf_d


def test_the_files_the_booth_may_need_are_kept_and_the_rest_dropped(tmp_path: Path) -> None:
    conf_d = _conf_d(
        tmp_path,
        {
            "50-jack.conf": "pcm.jack { type jack }",
            "50-pulseaudio.conf": "pcm.pulse { type pulse }\nctl.pulse { type pulse }",
            "60-a52.conf": "pcm.a52 { type a52 }",
            "10-rate-lav.conf": "pcm.lavrate { type rate converter lavrate }",
            "99-pipewire-default.conf": "pcm.!default { type pipewire }",
            "20-card.conf": "defaults.pcm.card 1",
            "50-arcam.conf": "ctl.arcam_av { type arcam_av }",
            "70-mypulse.conf": 'pcm.mypulse { type plug slave.pcm "pulse" }',
            "70-myjack.conf": 'pcm.myjack { type plug slave.pcm "jack" }',
            "README": "not a .conf: alsa-lib skips it",
        },
    )
    lean = alsaconf.lean_config(
        TOP % conf_d, ["/^myp/", ""], user_text='pcm.booth { type plug slave.pcm "lavrate" }'
    )
    assert lean is not None
    kept = {Path(line.strip().strip('"')).name for line in lean.splitlines() if "conf.d/" in line}
    # mypulse: named by a device; pulse: mypulse uses it; default: the fallback; lavrate: the
    # user's PCM uses it; defaults.pcm.card: not a plain definition. jack (used only by
    # myjack, which nothing names), a52 and a ctl alone go.
    assert kept == {
        "50-pulseaudio.conf",
        "70-mypulse.conf",
        "99-pipewire-default.conf",
        "10-rate-lav.conf",
        "20-card.conf",
    }
    # In alsa-lib's order, where the directory was: before the user's own files.
    assert lean.index("10-rate-lav.conf") < lean.index("20-card.conf") < lean.index("asound.conf")
    assert "pcm.null { type null }" in lean


def test_an_alsa_conf_without_plain_conf_d_entries_is_left_alone() -> None:
    old = TOP.replace('"%s"', '{ @func concat strings [ { @func datadir } "/alsa.conf.d/" ] }')
    assert alsaconf.lean_config(old, [""], "") is None


def test_the_configured_devices_resolve_through_the_booths_configuration(tmp_path: Path) -> None:
    """Real alsa-lib and PortAudio: a conf.d PCM named by the config is still a device, one
    nothing names is no longer scanned, and the test's own devices (the user's) stay."""
    conf_d = _conf_d(
        tmp_path,
        {
            "50-extra.conf": 'pcm.boothextra { type file slave.pcm null file "/dev/null" }',
            "50-other.conf": 'pcm.boothother { type file slave.pcm null file "/dev/null" }',
        },
    )
    stock = Path(STOCK_CONFIG).read_text()
    marker = '\t\t\t"/etc/asound.conf'
    assert marker in stock
    top = tmp_path / "alsa.conf"
    top.write_text(stock.replace(marker, f'\t\t\t"{conf_d}"\n{marker}', 1))
    # alsa_file_devices puts ALSA_CONFIG_PATH back as it was when it ends.
    with alsa_file_devices(tmp_path / "devs", bytes(640)) as devs:
        os.environ["ALSA_CONFIG_PATH"] = f"{top}:{devs.config_path}"
        with devices.portaudio() as pa:
            before = {d.name for d in devices.list_devices(pa)}
        assert {"boothextra", "boothother", "boothmic", "boothspk"} <= before

        mic = PyAudioMic(AudioSection(input_device="boothmic", output_device="boothextra"))
        lean = os.environ["ALSA_CONFIG_PATH"]
        assert lean.endswith(f":{devs.config_path}") and not lean.startswith(str(top))
        with devices.portaudio() as pa:
            names = {d.name for d in devices.list_devices(pa)}
            assert devices.select_device(pa, "boothextra", input=False).name == "boothextra"
            assert devices.select_device(pa, mic.cfg.input_device, input=True).name == "boothmic"
        assert "boothother" not in names
        assert {"boothextra", "boothmic", "boothspk"} <= names
        # The speaker of the same booth changes nothing more.
        alsaconf.install(("boothmic", "boothextra"))
        assert os.environ["ALSA_CONFIG_PATH"] == lean

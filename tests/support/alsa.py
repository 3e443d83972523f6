"""Real ALSA devices for tests, without a sound card: the core lives in booth.audio.virtual
(``booth bench pipeline`` uses it too); this module keeps the tests' import path."""

from booth.audio.virtual import (
    F_SETPIPE_SZ,
    STOCK_CONFIG,
    AlsaFileDevices,
    alsa_file_devices,
    find_signal,
    read_pcm,
)

__all__ = [
    "F_SETPIPE_SZ",
    "STOCK_CONFIG",
    "AlsaFileDevices",
    "alsa_file_devices",
    "find_signal",
    "read_pcm",
]

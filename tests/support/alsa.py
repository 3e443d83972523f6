"""Real ALSA devices for tests, without a sound card: the core lives in booth.sim.alsa_devices
(``booth bench pipeline`` uses it too); this module keeps the tests' import path."""

from booth.sim.alsa_devices import (
    F_SETPIPE_SZ,
    STOCK_CONFIG,
    AlsaFileDevices,
    alsa_file_devices,
    blocked_in_pipe_read,
    blocked_in_pipe_write,
    find_signal,
    read_pcm,
)

__all__ = [
    "F_SETPIPE_SZ",
    "STOCK_CONFIG",
    "AlsaFileDevices",
    "alsa_file_devices",
    "blocked_in_pipe_read",
    "blocked_in_pipe_write",
    "find_signal",
    "read_pcm",
]

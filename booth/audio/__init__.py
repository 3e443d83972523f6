"""Audio: the fixed-point framer, jitter buffer and voice activity (core, no I/O) and the
PyAudio capture/playback adapters around them. Adapters import PyAudio lazily."""

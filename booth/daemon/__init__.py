"""The booth daemon: the pure state machine, its adapters (cues, systemd notify) and the app."""

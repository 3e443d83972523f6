"""booth: a push-to-talk sales-practice booth for Raspberry Pi."""

__version__ = "0.1.0"

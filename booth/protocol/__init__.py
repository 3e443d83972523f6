"""The booth voice protocol (docs/protocol.md): typed messages, codec, client connection state."""

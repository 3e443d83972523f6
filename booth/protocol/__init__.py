"""The booth voice protocol (DESIGN §2): typed messages, codec, client connection state."""

"""Talking to the voice service: REST client, WebSocket link, reconnect supervisor."""

"""What the daemon needs from a call's session and the REST client, and how it makes them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

from booth.call_events import CallEvent
from booth.config import Config
from booth.secret import Secret
from booth.transport.proxy import HttpProxy


class SessionLike(Protocol):
    """The part of ``booth.session.RoleplaySession`` a ``Call`` uses."""

    call_id: str | None
    session_id: str | None
    persona_name: str | None

    @property
    def sample_rate(self) -> int: ...

    def subscribe(self, callback: Callable[[CallEvent], object]) -> Callable[[], None]: ...

    async def connect(self) -> None: ...

    def mute(self) -> None: ...

    @property
    def silence_while_muted(self) -> bool:
        """Muted frames still go out, as silence (the service detects turns itself)."""

    def unmute(self) -> None: ...

    def send_audio(self, frame: bytes) -> bool: ...

    def turn_end(self) -> bool: ...

    def flush_persona_audio(self) -> int: ...

    def persona_audio(self, *, turn_ends: bool = False) -> AsyncIterator[bytes]: ...

    async def end(self, grace: float = 2.0) -> None: ...

    async def disconnect(self) -> None: ...

    def resume_point(self) -> tuple[str, str] | None: ...

    @property
    def stats(self) -> Any: ...


class RestLike(Protocol):
    async def get_call(self, call_id: str) -> dict[str, Any]: ...

    async def aclose(self) -> None: ...


SessionFactory = Callable[[], SessionLike]
RestFactory = Callable[[], RestLike]


def session_factory_for(
    config: Config,
    api_key: Secret,
    route: Callable[[str], str] | None = None,
    proxy: HttpProxy | None = None,
) -> SessionFactory:
    """Sessions as the config asks; ``route`` rewrites the call's URL (tests: a fault proxy);
    ``proxy`` is ``service.proxy`` with its credential (``booth.config.load_proxy``)."""

    def make() -> SessionLike:
        from booth.session import RoleplaySession

        session: SessionLike = RoleplaySession(
            config.service.api_url,
            api_key,
            config.service.drill_key,
            difficulty=config.service.difficulty or None,
            booth_id=config.booth.id,
            protocol=config.service.protocol,
            agent_id=config.service.agent_id or None,
            reconnect_cutoff=config.call.reconnect_cutoff,
            request_timeout=config.service.request_timeout,
            route=route,
            proxy=proxy,
        )
        return session

    return make


def rest_factory_for(
    config: Config, api_key: Secret, proxy: HttpProxy | None = None
) -> RestFactory:
    def make() -> RestLike:
        from booth.transport.rest import RestClient

        client: RestLike = RestClient(
            config.service.api_url,
            api_key,
            timeout=config.service.request_timeout,
            proxy=proxy,
        )
        return client

    return make

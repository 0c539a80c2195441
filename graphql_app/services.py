"""What one app instance holds: its settings and the services built from them."""

from __future__ import annotations

from dataclasses import dataclass

from .auth.keys import load_keyring
from .auth.service import AuthService
from .auth.tokens import TokenCodec
from .events import EventHub
from .settings import Settings


@dataclass(frozen=True)
class Services:
    settings: Settings
    codec: TokenCodec
    auth: AuthService
    events: EventHub  # this process's todo-event watcher and subscribers

    @classmethod
    def build(cls, settings: Settings) -> Services:
        codec = TokenCodec(load_keyring(settings), settings.jwt_issuer, settings.jwt_audience)
        auth = AuthService(settings, codec)
        return cls(
            settings,
            codec,
            auth,
            EventHub(auth.recheck_many, settings.events_polling, settings.db_timeout),
        )

"""What one app instance holds: its settings and the services built from them."""

from __future__ import annotations

from dataclasses import dataclass

from .accounts import RESET_JOB, AccountService
from .auth.keys import load_keyring
from .auth.service import AuthService
from .auth.tokens import TokenCodec
from .events import EventHub
from .mail.queue import MailQueue
from .mail.transport import Transport, transport_for
from .mail.worker import MailWorker
from .settings import Settings


@dataclass(frozen=True)
class Services:
    settings: Settings
    codec: TokenCodec
    auth: AuthService
    events: EventHub  # this process's todo-event watcher and subscribers
    mail: MailQueue
    accounts: AccountService
    transport: Transport

    @classmethod
    def build(cls, settings: Settings) -> Services:
        codec = TokenCodec(load_keyring(settings), settings.jwt_issuer, settings.jwt_audience)
        auth, mail = AuthService(settings, codec), MailQueue()
        return cls(
            settings,
            codec,
            auth,
            EventHub(auth.recheck_many, settings.events_polling, settings.db_timeout),
            mail,
            AccountService(settings, auth, mail),
            transport_for(settings),
        )

    def mail_worker(self) -> MailWorker:
        """This process's mail worker (started by the app's lifespan)."""
        return MailWorker(
            self.mail,
            self.transport,
            self.settings.mail_from,
            {RESET_JOB: self.accounts.prepare_reset},
            retry_seconds=self.settings.mail_retry_seconds,
            max_attempts=self.settings.mail_max_attempts,
        )

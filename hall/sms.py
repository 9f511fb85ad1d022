"""Pluggable SMS sending (``HALL_SMS_BACKEND``), in the manner of Django's e-mail backends.

- ``ConsoleBackend`` (development): writes each message to the log.
- ``FileBackend``: appends each message as one JSON line to ``HALL_SMS_FILE_DIR/sms.jsonl``.
- ``LocmemBackend`` (tests): keeps messages in ``hall.sms.outbox`` (a test reads the code from there).
- ``HttpGatewayBackend`` (production): POSTs ``{"phone", "text"}`` as JSON to ``HALL_SMS_GATEWAY_URL`` with
  ``Authorization: Bearer HALL_SMS_GATEWAY_TOKEN``; any answer but 2xx is an ``SmsError``.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

logger = logging.getLogger("hall.sms")


class SmsError(Exception):
    """The message could not be handed to the gateway."""


@dataclass(frozen=True)
class SmsMessage:
    phone: str
    text: str


outbox: list[SmsMessage] = []


class BaseBackend:
    def send(self, message: SmsMessage) -> None:  # pragma: no cover - interface
        raise NotImplementedError


class ConsoleBackend(BaseBackend):
    def send(self, message: SmsMessage) -> None:
        logger.info("SMS to %s: %s", message.phone, message.text)


class LocmemBackend(BaseBackend):
    def send(self, message: SmsMessage) -> None:
        outbox.append(message)


class FileBackend(BaseBackend):
    def send(self, message: SmsMessage) -> None:
        folder = Path(settings.HALL_SMS_FILE_DIR)
        folder.mkdir(parents=True, exist_ok=True)
        line = {"at": timezone.now().isoformat(), "phone": message.phone, "text": message.text}
        with open(folder / "sms.jsonl", "a", encoding="utf-8") as out:
            out.write(json.dumps(line, ensure_ascii=False) + "\n")


class HttpGatewayBackend(BaseBackend):
    def send(self, message: SmsMessage) -> None:
        url = settings.HALL_SMS_GATEWAY_URL
        if not url.startswith("https://") and not settings.DEBUG:
            raise SmsError("HALL_SMS_GATEWAY_URL must be an https URL")
        body = json.dumps({"phone": message.phone, "text": message.text}, ensure_ascii=False).encode()
        request = urllib.request.Request(  # noqa: S310 - the URL is the configured gateway, https checked above
            url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "Authorization": f"Bearer {settings.HALL_SMS_GATEWAY_TOKEN}",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=settings.HALL_SMS_GATEWAY_TIMEOUT_SECONDS) as response:  # noqa: S310
                if not 200 <= response.status < 300:
                    raise SmsError(f"gateway answered {response.status}")
        except OSError as exc:
            raise SmsError(str(exc)) from exc


def sms_send(*, phone: str, text: str) -> None:
    import_string(settings.HALL_SMS_BACKEND)().send(SmsMessage(phone=phone, text=text))

"""The one mail sender of the web app: email over SMTP with ``aiosmtplib``.

Every domain that sends email (notifications, event reminders, support replies) goes
through :class:`MailSender`, usually by way of the notification service. Settings are
the ``smtp_*`` rows of the settings table (docs/settings.md): host, port, security
(``none``, ``starttls`` as RFC 3207, or ``tls`` from the first byte as RFC 8314),
user and password, from address and timeout. Email is **off** when ``smtp_host`` is
empty: :attr:`MailSender.available` is False and :meth:`MailSender.send` raises
:class:`EmailUnavailableError` rather than pretending.

aiosmtplib runs on asyncio and the app on trio, so each send runs its own short
asyncio loop in a worker thread (at most :data:`MAX_PARALLEL_SENDS` at once): the
trio event loop never blocks.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import socket
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from typing import Any

import aiosmtplib
import trio

from protocol.errors import WatchpartyError

logger = logging.getLogger(__name__)

#: Emails sent at the same time, each in its own worker thread.
MAX_PARALLEL_SENDS = 4

SECURITY_MODES = ("none", "starttls", "tls")


class EmailUnavailableError(WatchpartyError):
    """Email was asked for, but this server has no SMTP server configured
    (``smtp_host`` is empty). The web app answers it with 409 ``email_unavailable``."""

    code = "email_unavailable"

    def __init__(self, message: str = "email is off on this server: no smtp_host is set") -> None:
        super().__init__(message)
        self.message = message


class MailError(WatchpartyError):
    """Sending one email failed.

    Attributes:
        temporary: True when trying again later may work (a connection error, a
            timeout, an SMTP 4xx reply); False for a permanent refusal (5xx, such
            as an unknown recipient or a refused login).
        smtp_code: The SMTP reply code, or None when the failure was not a reply.
    """

    def __init__(self, message: str, *, temporary: bool, smtp_code: int | None = None) -> None:
        super().__init__(message)
        self.temporary = temporary
        self.smtp_code = smtp_code


@dataclass(frozen=True, slots=True)
class MailSettings:
    """The ``smtp_*`` settings.

    Attributes:
        host: SMTP server host name; empty turns email off.
        port: Its TCP port.
        security: ``none``, ``starttls`` or ``tls``.
        user: Login user name; empty: no login.
        password: Login password.
        from_address: The From address; ``watchparty@<fqdn>`` when the setting is empty.
        timeout_s: Timeout of the connection and of each SMTP command, seconds.
    """

    host: str = ""
    port: int = 587
    security: str = "starttls"
    user: str = ""
    password: str = ""
    from_address: str = ""
    timeout_s: float = 30.0

    @classmethod
    def from_config(cls, config: Any) -> MailSettings:
        """Read the settings from a ``Config`` (defaults for attributes it lacks)."""
        from_address = str(getattr(config, "smtp_from", "") or "")
        if not from_address:
            from_address = f"watchparty@{socket.getfqdn() or 'localhost'}"
        return cls(
            host=str(getattr(config, "smtp_host", "") or ""),
            port=int(getattr(config, "smtp_port", 587)),
            security=str(getattr(config, "smtp_security", "starttls")),
            user=str(getattr(config, "smtp_user", "") or ""),
            password=str(getattr(config, "smtp_password", "") or ""),
            from_address=from_address,
            timeout_s=float(getattr(config, "smtp_timeout_s", 30.0)),
        )

    def __repr__(self) -> str:  # the password never goes into logs
        return (
            f"MailSettings(host={self.host!r}, port={self.port}, security={self.security!r}, "
            f"user={self.user!r}, from_address={self.from_address!r})"
        )


def build_message(
    *,
    from_address: str,
    to: str,
    to_name: str | None,
    subject: str,
    text: str,
    html: str | None,
    headers: dict[str, str] | None = None,
) -> EmailMessage:
    """A MIME message: text, plus an HTML alternative when *html* is given
    (``multipart/alternative``, RFC 2046 section 5.1.4), with a fresh Message-ID.

    Raises:
        ValueError: if a header value holds a line break (header injection).
    """
    message = EmailMessage()
    for value in (to, to_name or "", subject, *(headers or {}).values()):
        if "\r" in value or "\n" in value:
            raise ValueError(f"expected a header value on one line, got {value!r}")
    message["From"] = formataddr(("watchparty", from_address))
    message["To"] = formataddr((to_name or "", to))
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain=from_address.rpartition("@")[2] or None)
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


class MailSender:
    """Sends email through the configured SMTP server.

    Args:
        settings: The SMTP settings.
    """

    def __init__(self, settings: MailSettings) -> None:
        self.settings = settings
        self._limiter = trio.CapacityLimiter(MAX_PARALLEL_SENDS)

    @property
    def available(self) -> bool:
        """Whether email can be sent at all (``smtp_host`` is set)."""
        return bool(self.settings.host)

    async def send(
        self,
        *,
        to: str,
        subject: str,
        text: str,
        html: str | None = None,
        to_name: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> str:
        """Send one email and return its Message-ID once the server accepted it.

        Args:
            to: Recipient address.
            subject: Subject line (one line).
            text: Plain-text body.
            html: HTML alternative, or None for text only.
            to_name: Recipient's display name for the To header.
            headers: Extra headers (one line each).

        Returns:
            The Message-ID header of the email.

        Raises:
            EmailUnavailableError: if email is off (no ``smtp_host``).
            MailError: if the server could not be reached, timed out after
                ``smtp_timeout_s`` seconds, or refused the message; ``temporary``
                says whether a retry may work.
            ValueError: for a header value with a line break.

        Error handling:
            Cancellation waits for a send in progress to finish or time out (the
            worker thread cannot be interrupted), so an email is never half-sent.
        """
        if not self.available:
            raise EmailUnavailableError()
        s = self.settings
        message = build_message(
            from_address=s.from_address,
            to=to,
            to_name=to_name,
            subject=subject,
            text=text,
            html=html,
            headers=headers,
        )
        await trio.to_thread.run_sync(
            functools.partial(_send_in_thread, message, s),
            limiter=self._limiter,
            abandon_on_cancel=False,
            thread_name="watchparty smtp",
        )
        logger.info("email %s sent to %s via %s:%d", message["Message-ID"], to, s.host, s.port)
        return str(message["Message-ID"])


def _send_in_thread(message: EmailMessage, s: MailSettings) -> None:
    try:
        asyncio.run(
            aiosmtplib.send(
                message,
                hostname=s.host,
                port=s.port,
                username=s.user or None,
                password=s.password or None,
                use_tls=s.security == "tls",
                start_tls=s.security == "starttls",
                timeout=s.timeout_s,
            )
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        codes = [r.code for r in exc.recipients]
        raise MailError(
            f"the SMTP server refused the recipient: {exc}",
            temporary=all(400 <= c < 500 for c in codes),
            smtp_code=codes[0] if codes else None,
        ) from exc
    except aiosmtplib.SMTPResponseException as exc:
        raise MailError(
            f"the SMTP server answered {exc.code} {exc.message}",
            temporary=400 <= exc.code < 500,
            smtp_code=exc.code,
        ) from exc
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        raise MailError(
            f"could not send through {s.host}:{s.port}: {type(exc).__name__}: {exc}",
            temporary=True,
        ) from exc

"""Web Push: the server's VAPID key and sending one message to one subscription.

Messages go to the push service named by a browser's subscription (RFC 8030), with
the server identified by VAPID (RFC 8292) and the payload encrypted for the
subscription's keys (RFC 8291, ``aes128gcm`` content coding of RFC 8188), all
through ``pywebpush``. The VAPID key pair (P-256) is generated once and kept in the
database (``server_secrets``), like the token key: browsers bind a subscription to
the public key, so it must survive restarts.

Endpoints are checked before they are stored (:func:`check_endpoint`): ``https://``
only, and never a loopback, private or link-local address given literally, so a
subscription cannot turn the server into a proxy towards its own network. The
``push_allow_loopback`` setting admits ``http://127.0.0.1`` endpoints (tests and a
local push service).
"""

from __future__ import annotations

import base64
import binascii
import functools
import ipaddress
import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
import trio
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from py_vapid import Vapid
from pywebpush import WebPushException, webpush

from protocol.errors import WatchpartyError

logger = logging.getLogger(__name__)

#: How long a push service keeps an undelivered message, seconds (RFC 8030 ``TTL``).
PUSH_TTL_S = 86_400
#: Longest endpoint URL accepted, characters.
MAX_ENDPOINT_CHARS = 2_048
#: Web Push messages sent at the same time, each in a worker thread.
MAX_PARALLEL_PUSHES = 8
#: Largest payload before encryption, bytes (RFC 8291 leaves 3993 in one record).
MAX_PAYLOAD_BYTES = 3_000


class PushError(WatchpartyError):
    """Sending one push message failed.

    Attributes:
        temporary: Whether a retry may work (network errors, 429, 5xx).
        gone: The push service says the subscription no longer exists (404, 410):
            it should be deleted.
        status: The push service's HTTP status, or None.
    """

    def __init__(
        self, message: str, *, temporary: bool, gone: bool = False, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.temporary = temporary
        self.gone = gone
        self.status = status


class InvalidSubscriptionError(WatchpartyError):
    """A push subscription's endpoint or keys are not acceptable."""

    code = "invalid_subscription"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def b64url_decode(value: str) -> bytes:
    """Decode unpadded base64url (RFC 4648 section 5), as browsers give keys."""
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def b64url_encode(value: bytes) -> str:
    return base64.urlsafe_b64encode(value).rstrip(b"=").decode("ascii")


def generate_private_key() -> str:
    """A new P-256 private key as raw base64url (32 bytes), the form py_vapid reads."""
    key = ec.generate_private_key(ec.SECP256R1())
    return b64url_encode(key.private_numbers().private_value.to_bytes(32, "big"))


def public_key_of(private_key: str) -> str:
    """The uncompressed public point (65 bytes, base64url) of a raw private key: the
    ``applicationServerKey`` browsers subscribe with."""
    vapid = Vapid.from_raw(private_key.encode("ascii"))
    point = vapid.public_key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    return b64url_encode(point)


def check_endpoint(endpoint: str, *, allow_loopback: bool) -> str:
    """Check a subscription endpoint; return it unchanged.

    Raises:
        InvalidSubscriptionError: if it is too long, not an absolute ``https://`` URL
            (``http://127.0.0.1`` too with *allow_loopback*), has credentials, or
            names a loopback, private, link-local or unspecified address or
            ``localhost``.
    """
    if len(endpoint) > MAX_ENDPOINT_CHARS:
        raise InvalidSubscriptionError(
            "endpoint", f"expected an endpoint of at most {MAX_ENDPOINT_CHARS} characters"
        )
    try:
        parts = urlsplit(endpoint)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise InvalidSubscriptionError("endpoint", "expected an https:// URL") from None
    if parts.username or parts.password:
        raise InvalidSubscriptionError("endpoint", "expected an endpoint without credentials")
    if allow_loopback and parts.scheme == "http" and host == "127.0.0.1":
        return endpoint
    if parts.scheme != "https" or not host:
        raise InvalidSubscriptionError(
            "endpoint", f"expected an https:// push service URL, got {endpoint[:80]!r}"
        )
    if host == "localhost" or host.endswith(".localhost"):
        raise InvalidSubscriptionError("endpoint", "expected a push service, got localhost")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return endpoint
    if not address.is_global:
        raise InvalidSubscriptionError(
            "endpoint", f"expected a push service, got the non-public address {host}"
        )
    return endpoint


def check_keys(p256dh: str, auth: str) -> None:
    """Check a subscription's RFC 8291 keys.

    Raises:
        InvalidSubscriptionError: unless ``p256dh`` is an uncompressed P-256 point (65
            bytes, base64url) and ``auth`` 16 bytes of base64url.
    """
    try:
        point = b64url_decode(p256dh)
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
        if len(point) != 65:
            raise ValueError("not uncompressed")
    except (ValueError, binascii.Error):
        raise InvalidSubscriptionError(
            "keys.p256dh", "expected an uncompressed P-256 public key in base64url (65 bytes)"
        ) from None
    try:
        secret = b64url_decode(auth)
    except (ValueError, binascii.Error):
        secret = b""
    if len(secret) != 16:
        raise InvalidSubscriptionError("keys.auth", "expected 16 bytes of base64url")


@dataclass(frozen=True, slots=True)
class PushSettings:
    """Web Push settings.

    Attributes:
        subject: VAPID ``sub`` claim: a ``mailto:`` or ``https:`` contact.
        allow_loopback: Whether ``http://127.0.0.1`` endpoints are accepted.
        timeout_s: Timeout of one request to a push service, seconds.
    """

    subject: str
    allow_loopback: bool = False
    timeout_s: float = 30.0


class PushSender:
    """Sends encrypted push messages with the server's VAPID key.

    Args:
        private_key: The VAPID private key (raw base64url), from the database.
        settings: The push settings.
    """

    def __init__(self, private_key: str, settings: PushSettings) -> None:
        self.settings = settings
        self._private_key = private_key
        self.public_key = public_key_of(private_key)
        self._limiter = trio.CapacityLimiter(MAX_PARALLEL_PUSHES)

    async def send(self, subscription: dict[str, Any], payload: dict[str, Any]) -> int:
        """Send *payload* (JSON) to one subscription; returns the push service's status.

        Args:
            subscription: ``{"endpoint", "p256dh", "auth"}``.
            payload: The message; serialised to JSON, at most
                :data:`MAX_PAYLOAD_BYTES` bytes.

        Raises:
            PushError: when the push service refused the message or could not be
                reached; ``gone`` for an expired subscription.
            ValueError: for a payload over the size limit.
        """
        data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
        if len(data.encode()) > MAX_PAYLOAD_BYTES:
            raise ValueError(f"expected a push payload of at most {MAX_PAYLOAD_BYTES} bytes")
        check_endpoint(subscription["endpoint"], allow_loopback=self.settings.allow_loopback)
        return await trio.to_thread.run_sync(
            functools.partial(self._send_in_thread, subscription, data),
            limiter=self._limiter,
            abandon_on_cancel=False,
            thread_name="watchparty webpush",
        )

    def _send_in_thread(self, subscription: dict[str, Any], data: str) -> int:
        info = {
            "endpoint": subscription["endpoint"],
            "keys": {"p256dh": subscription["p256dh"], "auth": subscription["auth"]},
        }
        # No redirects: a push service answers directly, and following one could
        # lead the request to an address check_endpoint would have refused.
        session = requests.Session()
        session.max_redirects = 0
        try:
            response = webpush(
                info,
                data=data,
                vapid_private_key=self._private_key,
                vapid_claims={"sub": self.settings.subject},
                ttl=PUSH_TTL_S,
                timeout=self.settings.timeout_s,
                requests_session=session,
            )
        except WebPushException as exc:
            status = exc.response.status_code if exc.response is not None else None
            if status is None:
                raise PushError(f"push failed: {exc.message}", temporary=True) from exc
            gone = status in (404, 410)
            temporary = status == 429 or status >= 500
            raise PushError(
                f"the push service answered {status}", temporary=temporary, gone=gone, status=status
            ) from exc
        except Exception as exc:  # requests' connection errors, timeouts, TLS failures
            raise PushError(
                f"the push service could not be reached: {type(exc).__name__}: {exc}",
                temporary=True,
            ) from exc
        finally:
            session.close()
        return int(getattr(response, "status_code", 201))

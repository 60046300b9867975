"""How an HTTP/1.1 exchange of the web app ends: :class:`KeepAliveHTTPConnection`.

Two things go wrong with hypercorn 0.18.0 and quart-trio 0.12.0 as they come, both
seen on a keep-alive connection:

* **The end of a response is cancelled.** When the app sends the last part of a
  response, hypercorn (``protocol/h11.py``, ``_maybe_recycle``) does its end-of-exchange
  work in the app's own task: it first tells the app ``http.disconnect``, then either
  readies the connection for the next request (``start_next_cycle``, restarting the
  keep-alive timer) or closes it. quart-trio's ``TrioASGIHTTPConnection`` answers
  ``http.disconnect`` by cancelling its nursery, the one that task runs in, so the
  rest is cancelled at its next checkpoint: the socket is never closed (a
  ``Connection: close`` response leaves the TCP connection open), a connection whose
  request body was not read to the end is left in h11 state ``DONE`` without a new
  cycle (so the next request on it is read but never answered), and a recycled
  connection's keep-alive timer is not restarted (so an idle connection is never
  closed). The first symptom is reported upstream as pgjones/hypercorn issue #330
  ("Connection:close ignored?"); #106 is a close that a trio cancellation skips.
  Here the last ``send`` of a response runs shielded, so hypercorn's bookkeeping
  always finishes; its socket writes are shielded by hypercorn already, so this adds
  no wait that was not there.
* **An unread body ends keep-alive.** A view may answer (404, 401, 413, ...) before
  the request body has arrived. HTTP/1.1 cannot reuse the connection until that body
  has been read, so before answering, the response waits up to
  :data:`UNREAD_BODY_WAIT_S` seconds for the rest of a body of at most
  ``max_request_bytes`` (``MAX_CONTENT_LENGTH``), which Quart reads (and discards past
  the limit) in the background anyway. A longer body, or one that does not come in
  time, is not waited for: the response carries ``Connection: close`` and the
  connection is closed after it, as clients are told.

:data:`CHECKED_VERSIONS` names the versions these were reproduced with; a test fails
when the installed ones differ, so that an upgrade is checked again
(``tests/test_web_port.py`` holds the reproductions).
"""

from __future__ import annotations

from typing import Any

import trio
from hypercorn.typing import ASGIReceiveCallable, ASGIReceiveEvent, ASGISendCallable
from quart_trio.asgi import TrioASGIHTTPConnection

#: Distributions whose code the workarounds here were written against (exact versions).
CHECKED_VERSIONS: dict[str, str] = {"hypercorn": "0.18.0", "quart-trio": "0.12.0"}

#: Longest wait for the unread rest of a request body before answering, seconds.
UNREAD_BODY_WAIT_S = 5.0


class KeepAliveHTTPConnection(TrioASGIHTTPConnection):
    """quart-trio's ASGI HTTP connection, ending every exchange cleanly (see the module).

    Error handling:
        A body that does not arrive within :data:`UNREAD_BODY_WAIT_S` seconds, or is
        declared or found to be over ``MAX_CONTENT_LENGTH`` bytes, is not waited for;
        the response then has ``Connection: close``. A client that goes away ends the
        wait at once (``http.disconnect``).
    """

    async def __call__(self, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        self._body_received_bytes = 0
        self._body_complete = False
        # Set when the body is complete, over the limit, or the client went away.
        self._body_settled = trio.Event()
        limit: int | None = self.app.config["MAX_CONTENT_LENGTH"]
        declared = _content_length(self.scope["headers"])
        if declared is not None and limit is not None and declared > limit:
            self._body_settled.set()

        async def tracking_receive() -> ASGIReceiveEvent:
            message = await receive()
            if message["type"] == "http.request":
                self._body_received_bytes += len(message.get("body", b""))
                if not message.get("more_body", False):
                    self._body_complete = True
                    self._body_settled.set()
                elif limit is not None and self._body_received_bytes > limit:
                    self._body_settled.set()
            else:
                self._body_settled.set()
            return message

        await super().__call__(tracking_receive, send)

    async def _send_response(self, send: ASGISendCallable, response: Any) -> None:
        if not self._body_complete:
            with trio.move_on_after(UNREAD_BODY_WAIT_S):
                await self._body_settled.wait()
            if not self._body_complete:
                response.headers["Connection"] = "close"

        async def send_last_shielded(message: Any) -> None:
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                with trio.CancelScope(shield=True):
                    await send(message)
            else:
                await send(message)

        await super()._send_response(send_last_shielded, response)


def _content_length(headers: Any) -> int | None:
    for name, value in headers:
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None

"""The room consumer: hello joins the room's group; chat_send and seek are broadcast
to the group once encoded; the sender gets an ack. Wire format as watchparty's
(msgpack subprotocol), limited to what bench/loadgen.py sends and reads."""

from __future__ import annotations

import itertools
import time
from collections import defaultdict

import msgpack
from channels.generic.websocket import AsyncWebsocketConsumer

SUBPROTOCOL = "watchparty.v1.msgpack"
_seq: defaultdict[str, itertools.count] = defaultdict(lambda: itertools.count(1))
_chat_ids = itertools.count(1)


class RoomConsumer(AsyncWebsocketConsumer):
    group: str | None = None
    pid = ""

    async def connect(self) -> None:
        await self.accept(subprotocol=SUBPROTOCOL)

    async def disconnect(self, code: int) -> None:
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        msg = msgpack.unpackb(bytes_data) if bytes_data is not None else {}
        kind = msg.get("type")
        if kind == "hello":
            self.group = "room." + msg["room"]
            self.pid = msg.get("display_name", "?")
            await self.channel_layer.group_add(self.group, self.channel_name)
            await self._send(
                {"type": "welcome", "request_id": msg.get("id"), "participant": {"id": self.pid}}
            )
        elif kind == "chat_send" and self.group:
            event = {
                "type": "chat_message",
                "seq": next(_seq[self.group]),
                "message": {
                    "id": next(_chat_ids),
                    "participant_id": self.pid,
                    "name": self.pid,
                    "text": msg["text"],
                    "sent_at_ms": int(time.time() * 1000),
                },
            }
            await self._broadcast(event)
            await self._send({"type": "ack", "request_id": msg.get("id"), "seq": event["seq"]})
        elif kind == "seek" and self.group:
            event = {
                "type": "playback",
                "seq": next(_seq[self.group]),
                "action": "seek",
                "by": self.pid,
                "state": {
                    "paused": True,
                    "position_s": msg["position_s"],
                    "rate": 1.0,
                    "server_time_ms": time.time() * 1000.0,
                },
            }
            await self._broadcast(event)
            await self._send({"type": "ack", "request_id": msg.get("id"), "seq": event["seq"]})

    async def _broadcast(self, event: dict) -> None:
        payload = msgpack.packb(event, use_bin_type=True)
        await self.channel_layer.group_send(self.group, {"type": "room.event", "payload": payload})

    async def _send(self, body: dict) -> None:
        await self.send(bytes_data=msgpack.packb(body, use_bin_type=True))

    async def room_event(self, event: dict) -> None:
        await self.send(bytes_data=event["payload"])

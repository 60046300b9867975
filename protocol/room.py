"""The room state machine: participants, roles, playback state, chat and events.

Pure code: time comes in as ``now_ms`` (server clock, milliseconds); nothing here
does I/O or reads a clock. The sync server owns one :class:`Room` per live room,
calls its methods as messages arrive, and broadcasts the events they return.

Every change that others must see is an **event**: a dict with ``type`` and a room
sequence number ``seq`` (1, 2, 3, ... per room; snapshots keep the counter, so only a
crash between two snapshots can hand out a number twice, and sessions from an earlier
run then resume with the full state). The newest
``resume_buffer`` events are kept so a reconnecting client can be sent exactly what
it missed (:meth:`Room.events_since`).

Refusals raise :class:`protocol.errors.ProtocolError` before anything changes, so a
refused action leaves the room exactly as it was.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any, TypeVar

from protocol import events as ev
from protocol import polls as pl
from protocol.clock import schedule_lead_ms
from protocol.errors import (
    E_CHAT_DISABLED,
    E_FORBIDDEN,
    E_INVALID_MESSAGE,
    E_NO_MEDIA,
    E_NOT_FOUND,
    E_ROOM_FULL,
    ProtocolError,
)
from protocol.moderation import Sanctions, normalise_permissions
from protocol.playback import PlaybackState
from protocol.queue import DEFAULT_VOTESKIP_RATIO, Queue
from protocol.reactions import ReactionLog
from protocol.roles import (
    CONTROL_COHOSTS,
    CONTROL_EVERYONE,
    CONTROL_HOST,
    ROLE_COHOST,
    ROLE_HOST,
    ROLE_VIEWER,
    USER_ACTOR_PREFIX,
)
from protocol.room_moderation import RoomModeration
from protocol.room_polls import RoomPolls
from protocol.room_queue import RoomQueue
from protocol.room_reactions import RoomReactions

#: A room event class (see :mod:`protocol.events`).
E = TypeVar("E", bound=ev.RoomEvent)


@dataclass(frozen=True, slots=True)
class RoomLimits:
    """Limits and timings of a room, from the server's settings.

    Attributes:
        max_participants: Participants at once, connected or within their grace.
        chat_history: Chat messages sent to a joiner.
        resume_buffer: Events kept for resume.
        reconnect_grace_ms: How long a dropped participant keeps its place and role,
            milliseconds.
        ready_timeout_ms: Longest wait for everyone to be ready, milliseconds.
        min_lead_ms: Smallest lead of a scheduled play or seek, milliseconds.
        max_lead_ms: Largest lead of a scheduled play or seek, milliseconds.
        default_rtt_ms: RTT assumed for a participant not measured yet, milliseconds.
        max_chat_chars: Longest chat message, characters.
        reaction_rate_per_s: Sustained reactions per second per person.
        reaction_burst: Reactions a person may send at once.
    """

    max_participants: int = 500
    chat_history: int = 50
    resume_buffer: int = 512
    reconnect_grace_ms: float = 20_000.0
    ready_timeout_ms: float = 10_000.0
    min_lead_ms: float = 50.0
    max_lead_ms: float = 1_000.0
    default_rtt_ms: float = 200.0
    max_chat_chars: int = 2_000
    reaction_rate_per_s: float = 2.0
    reaction_burst: int = 5


_SETTING_NAMES: tuple[str, ...] = ("control", "chat_enabled", "wait_for_everyone")
_SETTING_NAMES += ("allow_guests", "polls", "voteskip_ratio", "slow_mode_s", "permissions")


@dataclass(slots=True)
class RoomSettings:
    """Room settings (see :class:`protocol.messages.RoomSettingsPatch` for meanings)."""

    control: str = CONTROL_COHOSTS
    chat_enabled: bool = True
    wait_for_everyone: bool = False
    allow_guests: bool = True
    polls: str = CONTROL_COHOSTS
    voteskip_ratio: float = DEFAULT_VOTESKIP_RATIO
    slow_mode_s: float = 0.0
    permissions: dict[str, str] = field(default_factory=lambda: normalise_permissions(None))

    def to_dict(self) -> dict[str, Any]:
        return {
            "control": self.control,
            "chat_enabled": self.chat_enabled,
            "wait_for_everyone": self.wait_for_everyone,
            "allow_guests": self.allow_guests,
            "polls": self.polls,
            "voteskip_ratio": self.voteskip_ratio,
            "slow_mode_s": self.slow_mode_s,
            "permissions": dict(self.permissions),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RoomSettings:
        settings = cls()
        settings.apply(data)
        return settings

    def apply(self, patch: dict[str, Any]) -> dict[str, Any]:
        """Apply the non-``None`` fields of *patch*; return those that changed."""
        changed: dict[str, Any] = {}
        for name in _SETTING_NAMES:
            value = patch.get(name)
            if name == "permissions" and value is not None:
                value = normalise_permissions({**self.permissions, **value})
            if value is not None and getattr(self, name) != value:
                setattr(self, name, value)
                changed[name] = value
        return changed


@dataclass(slots=True)
class Participant:
    """One person in a room.

    Attributes:
        id: Participant id, unique in the room (kept across reconnects).
        name: Display name.
        role: ``host``, ``cohost`` or ``viewer``.
        user_id: Account id, or ``None`` for a guest.
        guest: Whether the participant has no account.
        joined_at_ms: Server time of the first join, milliseconds.
        connected: Whether a connection is attached now.
        disconnected_at_ms: When the connection dropped (grace runs from here), ms.
        buffering: Last reported buffering state.
        waitable: Whether wait-for-everyone waits for this participant. False at join
            (a late joiner never pauses the room) and after a ready timeout passed it
            by; true once it reports ready.
        rtt_ms: Round-trip time measured by the server's pings, milliseconds.
        offset_ms: Clock offset the client reported (server minus client), ms.
        drift_ms: Last drift: reported position minus room position, milliseconds.
    """

    id: str
    name: str
    role: str
    user_id: str | None
    guest: bool
    joined_at_ms: float
    connected: bool = True
    disconnected_at_ms: float | None = None
    buffering: bool = False
    waitable: bool = False
    rtt_ms: float | None = None
    offset_ms: float | None = None
    drift_ms: float | None = None

    def public(self) -> dict[str, Any]:
        """The participant as others see it."""
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "user_id": self.user_id,
            "guest": self.guest,
            "connected": self.connected,
            "buffering": self.buffering,
            "drift_ms": self.drift_ms,
            "rtt_ms": self.rtt_ms,
        }


@dataclass(slots=True)
class _PendingPlay:
    deadline_ms: float
    position_s: float


@dataclass
class Room(RoomPolls, RoomReactions, RoomQueue, RoomModeration):
    """A live room.

    Args:
        code: Room code.
        name: Room name.
        created_at_ms: Creation time, server clock, milliseconds.
        settings: Room settings.
        limits: Limits and timings.
        owner_user_id: Account that owns the room; it becomes host when it joins.
    """

    code: str
    name: str
    created_at_ms: float
    settings: RoomSettings = field(default_factory=RoomSettings)
    limits: RoomLimits = field(default_factory=RoomLimits)
    owner_user_id: str | None = None
    seq: int = 0
    playback: PlaybackState = field(default_factory=PlaybackState)
    participants: dict[str, Participant] = field(default_factory=dict)
    host_id: str | None = None
    banned: set[str] = field(default_factory=set)
    dirty: bool = True
    _events: deque[ev.RoomEvent] = field(init=False)
    _chat: deque[dict[str, Any]] = field(init=False)
    _pending: _PendingPlay | None = None
    polls: pl.PollBook = field(default_factory=pl.PollBook)
    reactions: ReactionLog = field(init=False)
    queue: Queue = field(default_factory=Queue)
    sanctions: Sanctions = field(default_factory=Sanctions)

    def __post_init__(self) -> None:
        self.reactions = ReactionLog(self.limits.reaction_rate_per_s, self.limits.reaction_burst)
        self._events = deque(maxlen=self.limits.resume_buffer)
        self._chat = deque(maxlen=self.limits.chat_history)

    # --- events -------------------------------------------------------------------
    def _emit(self, cls: type[E], **fields: Any) -> E:
        self.seq += 1
        event = cls(seq=self.seq, **fields)
        self._events.append(event)
        self.dirty = True
        return event

    def events_since(self, last_seq: int) -> list[ev.RoomEvent] | None:
        """Events with a sequence number above *last_seq*, oldest first.

        Returns:
            The events (empty when *last_seq* is current), or ``None`` when some of
            them are no longer kept (or *last_seq* is ahead of the room, as after a
            restart): the caller must then send the full state.
        """
        if last_seq > self.seq:
            return None
        if last_seq == self.seq:
            return []
        if not self._events or self._events[0]["seq"] > last_seq + 1:
            return None
        return [e for e in self._events if e["seq"] > last_seq]

    def _playback_event(self, action: str, by: str | None) -> ev.Playback:
        event = self._emit(ev.Playback, action=action, by=by, state={})
        self.playback.seq = event["seq"]
        event["state"] = self.playback.to_dict()
        return event

    # --- views ----------------------------------------------------------------------
    def connected_count(self) -> int:
        return sum(1 for p in self.participants.values() if p.connected)

    def public_participants(self) -> list[dict[str, Any]]:
        return [p.public() for p in self.participants.values()]

    def chat_history(self) -> list[dict[str, Any]]:
        return list(self._chat)

    def info(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "settings": self.settings.to_dict(),
            "host_id": self.host_id,
            "created_at_ms": self.created_at_ms,
        }

    def state(self) -> dict[str, Any]:
        """The full room state a joiner needs (without chat)."""
        return {
            "room": self.info(),
            "participants": self.public_participants(),
            "playback": self.playback.to_dict(),
            "polls": self.polls.public(),
            "queue": self.queue_public(),
            "seq": self.seq,
        }

    # --- permissions ------------------------------------------------------------------
    def _get(self, pid: str) -> Participant:
        p = self.participants.get(pid)
        if p is None:
            raise ProtocolError(E_NOT_FOUND, f"no participant {pid!r} in room {self.code}")
        return p

    def role_of(self, actor: str) -> str | None:
        """The role an actor acts with, or ``None`` for an unknown actor.

        An actor is a participant id, or ``user:<account id>`` for an action made over
        REST by an account with no participant here: the room's owner then acts as
        host, anyone else as a viewer.
        """
        p = self.participants.get(actor)
        if p is not None:
            return p.role
        if actor.startswith(USER_ACTOR_PREFIX):
            owner = (
                self.owner_user_id is not None
                and actor[len(USER_ACTOR_PREFIX) :] == self.owner_user_id
            )
            return ROLE_HOST if owner else ROLE_VIEWER
        return None

    def can_control(self, pid: str) -> bool:
        """Whether actor *pid* may play, pause, seek, set the rate or change media."""
        role = self.role_of(pid)
        if role is None:
            return False
        if role == ROLE_HOST or self.settings.control == CONTROL_EVERYONE:
            return True
        return self.settings.control == CONTROL_COHOSTS and role == ROLE_COHOST

    def require_control(self, pid: str, action: str) -> None:
        """Raise unless actor *pid* may *action* (play, pause, seek, set the rate or
        change media) under the room's ``control`` setting.

        Raises:
            ProtocolError: ``forbidden``; ``not_found`` for an unknown actor.
        """
        self._require_control(pid, action)

    def _require_control(self, pid: str, action: str) -> None:
        role = self.role_of(pid)
        if role is None:
            raise ProtocolError(E_NOT_FOUND, f"no participant {pid!r} in room {self.code}")
        if not self.can_control(pid):
            who = {
                CONTROL_HOST: "the host",
                CONTROL_COHOSTS: "the host and co-hosts",
                CONTROL_EVERYONE: "everyone",
            }[self.settings.control]
            raise ProtocolError(
                E_FORBIDDEN, f"{action} is allowed to {who} in this room; you are {role}"
            )

    def _require_host(self, pid: str, action: str) -> Participant:
        p = self._get(pid)
        if p.role != ROLE_HOST:
            raise ProtocolError(E_FORBIDDEN, f"only the host may {action}; you are {p.role}")
        return p

    # --- presence ---------------------------------------------------------------------
    def join(
        self,
        pid: str,
        *,
        name: str,
        user_id: str | None,
        guest: bool,
        now_ms: float,
    ) -> tuple[Participant, list[ev.RoomEvent]]:
        """Add a new participant.

        The room's owner becomes host when it joins (a previous host becomes
        co-host); otherwise a joiner becomes host of a room that has none.

        Raises:
            ProtocolError: ``room_full`` at ``max_participants``.
        """
        if len(self.participants) >= self.limits.max_participants:
            raise ProtocolError(
                E_ROOM_FULL,
                f"room {self.code} is full ({self.limits.max_participants} participants)",
            )
        p = Participant(
            id=pid, name=name, role=ROLE_VIEWER, user_id=user_id, guest=guest, joined_at_ms=now_ms
        )
        self.participants[pid] = p
        events: list[ev.RoomEvent] = [self._emit(ev.ParticipantJoined, participant=p.public())]
        is_owner = user_id is not None and user_id == self.owner_user_id
        if self.host_id is None or is_owner:
            events.extend(self._make_host(pid))
        return p, events

    def reconnect(self, pid: str, *, now_ms: float) -> list[ev.RoomEvent]:
        """Reattach a participant within its grace period.

        Raises:
            ProtocolError: ``not_found`` when *pid* is not in the room.
        """
        p = self._get(pid)
        if p.connected:
            return []
        p.connected = True
        p.disconnected_at_ms = None
        p.waitable = False
        events: list[ev.RoomEvent] = [self._emit(ev.ParticipantUpdated, participant=p.public())]
        if self.host_id is None:
            events.extend(self._make_host(pid))
        return events

    def disconnect(self, pid: str, *, now_ms: float) -> list[ev.RoomEvent]:
        """Mark a participant whose connection dropped; it keeps its place for
        ``reconnect_grace_ms``, then :meth:`expire` removes it."""
        p = self.participants.get(pid)
        if p is None or not p.connected:
            return []
        p.connected = False
        p.disconnected_at_ms = now_ms
        p.buffering = False
        events: list[ev.RoomEvent] = [self._emit(ev.ParticipantUpdated, participant=p.public())]
        events.extend(self._maybe_release_wait(now_ms))
        return events

    def leave(self, pid: str, *, now_ms: float, reason: str = "left") -> list[ev.RoomEvent]:
        """Remove a participant now; hand host over if it was the host.

        Args:
            reason: ``left``, ``timeout`` (grace expired) or ``kicked``.
        """
        p = self.participants.pop(pid, None)
        if p is None:
            return []
        events: list[ev.RoomEvent] = [
            self._emit(ev.ParticipantLeft, participant_id=pid, reason=reason)
        ]
        if self.host_id == pid:
            self.host_id = None
            successor = self._successor()
            if successor is not None:
                events.extend(self._make_host(successor.id, previous=pid))
            else:
                events.append(self._emit(ev.HostChanged, host_id=None, previous_host_id=pid))
        events.extend(self._maybe_release_wait(now_ms))
        return events

    def _successor(self) -> Participant | None:
        candidates = sorted(
            (p for p in self.participants.values() if p.connected),
            key=lambda p: (p.role != ROLE_COHOST, p.joined_at_ms),
        )
        return candidates[0] if candidates else None

    def _make_host(self, pid: str, previous: str | None = None) -> list[ev.RoomEvent]:
        events: list[ev.RoomEvent] = []
        old = self.participants.get(self.host_id) if self.host_id else None
        if old is not None and old.id != pid:
            old.role = ROLE_COHOST
            events.append(self._emit(ev.ParticipantUpdated, participant=old.public()))
            previous = old.id
        new = self.participants[pid]
        new.role = ROLE_HOST
        self.host_id = pid
        events.append(self._emit(ev.ParticipantUpdated, participant=new.public()))
        events.append(self._emit(ev.HostChanged, host_id=pid, previous_host_id=previous))
        return events

    # --- timers -----------------------------------------------------------------------
    def next_deadline_ms(self) -> float | None:
        """The next server time at which :meth:`expire` has work, or ``None``."""
        deadlines = [
            p.disconnected_at_ms + self.limits.reconnect_grace_ms
            for p in self.participants.values()
            if not p.connected and p.disconnected_at_ms is not None
        ]
        if self._pending is not None:
            deadlines.append(self._pending.deadline_ms)
        polls = self.polls.next_deadline_ms()
        if polls is not None:
            deadlines.append(polls)
        if self.reactions.flush_due_ms is not None:
            deadlines.append(self.reactions.flush_due_ms)
        end = self.queue_end_ms()
        if end is not None:
            deadlines.append(end)
        return min(deadlines, default=None)

    def expire(self, now_ms: float) -> list[ev.RoomEvent]:
        """Remove participants whose grace has passed, end an expired wait and close
        polls whose duration ran out (``poll_closed``, reason ``expired``)."""
        events: list[ev.RoomEvent] = [
            self._emit(ev.PollClosed, poll=poll.public()) for poll in self.polls.expire(now_ms)
        ]
        grace = self.limits.reconnect_grace_ms
        for p in list(self.participants.values()):
            if (
                not p.connected
                and p.disconnected_at_ms is not None
                and now_ms >= p.disconnected_at_ms + grace
            ):
                events.extend(self.leave(p.id, now_ms=now_ms, reason="timeout"))
        if self._pending is not None and now_ms >= self._pending.deadline_ms:
            # The ready timeout passed: go on without those still buffering; they
            # are not waited for again until they report ready (they catch up).
            for p in self._blockers():
                p.waitable = False
            events.extend(self._start_pending(now_ms, action="ready_timeout"))
        events.extend(self.expire_queue(now_ms))
        return events

    # --- playback ---------------------------------------------------------------------
    def lead_ms(self) -> float:
        """How far ahead a play or seek is scheduled now, milliseconds."""
        rtts = [
            p.rtt_ms if p.rtt_ms is not None else self.limits.default_rtt_ms
            for p in self.participants.values()
            if p.connected
        ]
        return schedule_lead_ms(
            rtts, min_ms=self.limits.min_lead_ms, max_ms=self.limits.max_lead_ms
        )

    def _blockers(self) -> list[Participant]:
        return [p for p in self.participants.values() if p.connected and p.waitable and p.buffering]

    def _start_pending(self, now_ms: float, action: str) -> list[ev.RoomEvent]:
        pending = self._pending
        self._pending = None
        if pending is None:
            return []
        self.playback.waiting = False
        self.playback.paused = False
        self.playback.position_s = pending.position_s
        self.playback.server_time_ms = now_ms + self.lead_ms()
        return [self._playback_event(action, None)]

    def _maybe_release_wait(self, now_ms: float) -> list[ev.RoomEvent]:
        if self._pending is not None and not self._blockers():
            return self._start_pending(now_ms, action="resume")
        return []

    def _check_media(self) -> None:
        if self.playback.media is None:
            raise ProtocolError(E_NO_MEDIA, f"room {self.code} has no media; change_media first")

    def play(self, pid: str, *, position_s: float | None, now_ms: float) -> list[ev.RoomEvent]:
        """Start playback, at *position_s* or where the room is, at a scheduled instant.

        A play without a position while already playing changes nothing (no event).

        With wait-for-everyone on and someone buffering, the room waits instead (at
        most ``ready_timeout_ms``) and then plays by itself.

        Raises:
            ProtocolError: ``forbidden``; ``no_media``.
        """
        self._require_control(pid, "play")
        self._check_media()
        start = position_s if position_s is not None else self.playback.position_at(now_ms)
        duration = self.playback.duration_s()
        if duration is not None:
            start = min(start, duration)
        if position_s is None and not self.playback.paused and not self.playback.waiting:
            return []  # already playing: rescheduling would hold everyone for a lead
        if self.settings.wait_for_everyone and self._blockers():
            return self._begin_wait(start, now_ms, by=pid)
        self._pending = None
        self.playback.waiting = False
        self.playback.paused = False
        self.playback.position_s = start
        self.playback.server_time_ms = now_ms + self.lead_ms()
        return [self._playback_event("play", pid)]

    def _begin_wait(self, position_s: float, now_ms: float, by: str | None) -> list[ev.RoomEvent]:
        self._pending = _PendingPlay(
            deadline_ms=now_ms + self.limits.ready_timeout_ms, position_s=position_s
        )
        self.playback.paused = True
        self.playback.waiting = True
        self.playback.position_s = position_s
        self.playback.server_time_ms = now_ms
        return [self._playback_event("wait", by)]

    def pause(self, pid: str, *, now_ms: float) -> list[ev.RoomEvent]:
        """Pause at the position computed at the server for *now_ms*.

        Raises:
            ProtocolError: ``forbidden``; ``no_media``.
        """
        self._require_control(pid, "pause")
        self._check_media()
        self._pending = None
        self.playback.position_s = self.playback.position_at(now_ms)
        self.playback.paused = True
        self.playback.waiting = False
        self.playback.server_time_ms = now_ms
        return [self._playback_event("pause", pid)]

    def seek(self, pid: str, *, position_s: float, now_ms: float) -> list[ev.RoomEvent]:
        """Move to *position_s*; when playing, playback resumes there at a scheduled
        instant so everyone starts from the same frame together.

        Raises:
            ProtocolError: ``forbidden``; ``no_media``.
        """
        self._require_control(pid, "seek")
        self._check_media()
        duration = self.playback.duration_s()
        if duration is not None:
            position_s = min(position_s, duration)
        if self._pending is not None:
            self._pending.position_s = position_s
            self.playback.position_s = position_s
            self.playback.server_time_ms = now_ms
        else:
            self.playback.position_s = position_s
            self.playback.server_time_ms = (
                now_ms if self.playback.paused else now_ms + self.lead_ms()
            )
        return [self._playback_event("seek", pid)]

    def set_rate(self, pid: str, *, rate: float, now_ms: float) -> list[ev.RoomEvent]:
        """Change the playback rate from *now_ms* on, keeping the position continuous.

        A scheduled start that is still ahead keeps its instant and begins at the new
        rate.

        Raises:
            ProtocolError: ``forbidden``.
        """
        self._require_control(pid, "set_rate")
        if not self.playback.paused and self.playback.server_time_ms < now_ms:
            # Re-anchor at now. A reference in the future would mean "hold until
            # then" (a scheduled start), which would jump the position ahead by the
            # lead and freeze it there: pauses and drift reports in between were off.
            self.playback.position_s = self.playback.position_at(now_ms)
            self.playback.server_time_ms = now_ms
        self.playback.rate = rate
        return [self._playback_event("set_rate", pid)]

    def change_media(self, pid: str, *, media: dict[str, Any], now_ms: float) -> list[ev.RoomEvent]:
        """Load new media, paused at 0, at rate 1.

        Raises:
            ProtocolError: ``forbidden``.
        """
        self._require_control(pid, "change_media")
        self._load_media(media, now_ms)
        return [self._playback_event("change_media", pid)]

    def _load_media(self, media: dict[str, Any], now_ms: float) -> None:
        """Load *media* paused at 0, at rate 1 (skip votes were for the old one)."""
        self._pending = None
        self.playback.media = dict(media)
        self.playback.rate = 1.0
        self.playback.paused = True
        self.playback.waiting = False
        self.playback.position_s = 0.0
        self.playback.server_time_ms = now_ms
        self.queue.skip_votes.clear()
        for p in self.participants.values():
            p.drift_ms = None

    def set_buffering(self, pid: str, *, buffering: bool, now_ms: float) -> list[ev.RoomEvent]:
        """Record a participant's buffering state and apply wait-for-everyone.

        A ready report makes the participant waitable. With wait-for-everyone on, a
        waitable participant that starts buffering during playback holds the room
        (at most ``ready_timeout_ms``); the room resumes when nobody blocks.
        """
        p = self._get(pid)
        if p.buffering == buffering and (buffering or p.waitable):
            return []
        p.buffering = buffering
        if not buffering:
            p.waitable = True
        events: list[ev.RoomEvent] = [self._emit(ev.ParticipantUpdated, participant=p.public())]
        if (
            buffering
            and p.waitable
            and self.settings.wait_for_everyone
            and not self.playback.paused
            and self.playback.media is not None
        ):
            events.extend(self._begin_wait(self.playback.position_at(now_ms), now_ms, by=None))
        events.extend(self._maybe_release_wait(now_ms))
        return events

    def report_position(
        self, pid: str, *, position_s: float, server_time_ms: float
    ) -> float | None:
        """Record a participant's reported position and return its drift.

        Args:
            position_s: The participant's media position, seconds.
            server_time_ms: The server time (as the client estimates it) at which the
                position was sampled, milliseconds.

        Returns:
            Drift in milliseconds (positive: ahead of the room), or ``None`` when the
            room has no media or is waiting (drift means nothing then), or when the
            drift is not a finite number.
        """
        p = self._get(pid)
        if self.playback.media is None or self.playback.waiting:
            p.drift_ms = None
            return None
        expected = self.playback.position_at(server_time_ms)
        drift = (position_s - expected) * 1000.0
        if not math.isfinite(drift):
            # Only an absurd server_time_ms (near the float limit) gets here; an
            # infinite drift_ms would make participant_stats unencodable in JSON.
            p.drift_ms = None
            return None
        p.drift_ms = round(drift, 1)
        return drift

    def record_rtt(self, pid: str, rtt_ms: float) -> None:
        """Fold a measured round-trip time (milliseconds) into the participant's RTT.

        Keeps the smaller of the new sample and a slowly rising average, so one
        delayed pong does not inflate the schedule lead.
        """
        p = self.participants.get(pid)
        if p is None:
            return
        if p.rtt_ms is None:
            p.rtt_ms = rtt_ms
        else:
            p.rtt_ms = round(min(rtt_ms, p.rtt_ms * 0.8 + rtt_ms * 0.2), 2)

    # --- chat ---------------------------------------------------------------------------
    def check_chat(self, pid: str, text: str) -> Participant:
        """Check that *pid* may send *text*; return the participant.

        Raises:
            ProtocolError: ``chat_disabled``; ``invalid_message`` when the text is
                blank or over ``max_chat_chars``.
        """
        p = self._get(pid)
        if not self.settings.chat_enabled:
            raise ProtocolError(E_CHAT_DISABLED, f"chat is turned off in room {self.code}")
        if not text.strip():
            raise ProtocolError(E_INVALID_MESSAGE, "text: must not be blank")
        if len(text) > self.limits.max_chat_chars:
            raise ProtocolError(
                E_INVALID_MESSAGE,
                f"text: at most {self.limits.max_chat_chars} characters, got {len(text)}",
            )
        return p

    def add_chat(self, message: dict[str, Any]) -> list[ev.RoomEvent]:
        """Add a stored chat message (``id``, ``participant_id``, ``name``, ``text``,
        ``sent_at_ms``, ...) and return its event."""
        self._chat.append(message)
        return [self._emit(ev.ChatMessage, message=message)]

    def check_chat_edit(self, pid: str, author_id: str, text: str) -> None:
        """Only the author edits a message.

        Raises:
            ProtocolError: ``forbidden``; ``chat_disabled``; ``invalid_message``.
        """
        self.check_chat(pid, text)
        if author_id != pid:
            raise ProtocolError(E_FORBIDDEN, "only the author may edit a chat message")

    def check_chat_delete(self, pid: str, author_id: str) -> None:
        """The author, the host or a co-host deletes a message.

        Raises:
            ProtocolError: ``forbidden``.
        """
        self._get(pid)
        if author_id != pid and not self.may(pid, "delete_chat"):
            raise ProtocolError(
                E_FORBIDDEN,
                "only the author, the host or a co-host may delete a chat message"
                f" (here: {self.settings.permissions['delete_chat']} and above)",
            )

    def edit_chat(self, message: dict[str, Any]) -> list[ev.RoomEvent]:
        """Replace a stored message after an edit and return the event."""
        for i, m in enumerate(self._chat):
            if m["id"] == message["id"]:
                self._chat[i] = message
                break
        return [self._emit(ev.ChatEdited, message=message)]

    def delete_chat(self, message_id: int, by: str) -> list[ev.RoomEvent]:
        """Drop a deleted message from the history and return the event."""
        for m in list(self._chat):
            if m["id"] == message_id:
                self._chat.remove(m)
                break
        return [self._emit(ev.ChatDeleted, message_id=message_id, by=by)]

    def load_chat(self, messages: list[dict[str, Any]]) -> None:
        """Fill the chat history (oldest first) from storage, without events."""
        self._chat.clear()
        self._chat.extend(messages)

    # --- administration --------------------------------------------------------------
    def update_settings(
        self, pid: str, patch: dict[str, Any], *, now_ms: float
    ) -> list[ev.RoomEvent]:
        """Change room settings (host only; ``slow_mode_s`` alone: whoever the
        permission table allows ``slow_mode``).

        Raises:
            ProtocolError: ``forbidden``.
        """
        if {k for k, v in patch.items() if v is not None} == {"slow_mode_s"}:
            self.require_permission(pid, "slow_mode")
        else:
            self._require_host(pid, "change room settings")
        changed = self.settings.apply(patch)
        if not changed:
            return []
        events: list[ev.RoomEvent] = [
            self._emit(ev.SettingsChanged, settings=self.settings.to_dict(), changed=changed)
        ]
        if changed.get("wait_for_everyone") is False and self._pending is not None:
            events.extend(self._start_pending(now_ms, action="resume"))
        return events

    def set_role(self, pid: str, target: str, role: str) -> list[ev.RoomEvent]:
        """Make *target* host (hand-over), co-host or viewer (host only).

        Raises:
            ProtocolError: ``forbidden``; ``not_found``; ``invalid_message`` for the
                host demoting itself (hand host over instead).
        """
        self._require_host(pid, "change roles")
        t = self._get(target)
        if role == ROLE_HOST:
            if target == pid:
                return []
            if not t.connected:
                raise ProtocolError(
                    E_INVALID_MESSAGE, "host can only be handed to a connected participant"
                )
            return self._make_host(target)
        if target == pid:
            raise ProtocolError(
                E_INVALID_MESSAGE, "the host cannot demote itself; make someone else host"
            )
        if t.role == role:
            return []
        t.role = role
        return [self._emit(ev.ParticipantUpdated, participant=t.public())]

    def kick(self, pid: str, target: str, *, now_ms: float) -> list[ev.RoomEvent]:
        """Remove *target* from the room (host only).

        Raises:
            ProtocolError: ``forbidden``; ``not_found``; ``invalid_message`` for
                kicking oneself.
        """
        self._require_host(pid, "remove participants")
        victim = self._get(target)
        if target == pid:
            raise ProtocolError(E_INVALID_MESSAGE, "the host cannot remove itself; send leave")
        # Barred from coming back: its session cannot resume, its account cannot join.
        self.banned.add(target)
        if victim.user_id is not None:
            self.banned.add(USER_ACTOR_PREFIX + victim.user_id)
        return self.leave(target, now_ms=now_ms, reason="kicked")

    def is_banned(self, pid: str | None, user_id: str | None, now_ms: float | None = None) -> bool:
        """Whether a participant id or an account was removed from this room by its
        host (``kick``) or is banned now (``ban``; without *now_ms*, a ban with an
        expiry counts as running)."""
        kicked = (pid is not None and pid in self.banned) or (
            user_id is not None and USER_ACTOR_PREFIX + user_id in self.banned
        )
        return kicked or self.is_sanction_banned(
            pid, user_id, -math.inf if now_ms is None else now_ms
        )

    # --- snapshots -----------------------------------------------------------------------
    def snapshot(self, now_ms: float) -> dict[str, Any]:
        """The state kept across restarts (JSON-serialisable)."""
        return {
            "playback": self.playback.to_dict(),
            "owner_user_id": self.owner_user_id,
            "host_id": self.host_id,
            "banned": sorted(self.banned),
            "polls": self.polls.snapshot(),
            "queue": self.queue.snapshot(),
            "sanctions": self.sanctions.snapshot(),
            "participants": [
                {
                    "id": p.id,
                    "name": p.name,
                    "role": p.role,
                    "user_id": p.user_id,
                    "guest": p.guest,
                    "joined_at_ms": p.joined_at_ms,
                }
                for p in self.participants.values()
            ],
            "snapshot_at_ms": now_ms,
        }

    @classmethod
    def restore(
        cls,
        *,
        code: str,
        name: str,
        created_at_ms: float,
        settings: dict[str, Any],
        state: dict[str, Any],
        last_seq: int,
        limits: RoomLimits,
        now_ms: float,
    ) -> Room:
        """Rebuild a room from a snapshot.

        Participants come back disconnected, each with a fresh grace period, so
        those who reconnect in time keep their role. A room that was playing keeps
        playing (by extrapolation) when the gap since the snapshot is within the
        grace period; after a longer gap it is paused where it was at the snapshot.
        """
        room = cls(
            code=code,
            name=name,
            created_at_ms=created_at_ms,
            settings=RoomSettings.from_dict(settings),
            limits=limits,
            owner_user_id=state.get("owner_user_id"),
            seq=last_seq,
        )
        room.playback = PlaybackState.from_dict(state.get("playback") or {})
        room.playback.waiting = False
        snap_at = float(state.get("snapshot_at_ms", now_ms))
        if not room.playback.paused and now_ms - snap_at > limits.reconnect_grace_ms:
            room.playback.position_s = room.playback.position_at(snap_at)
            room.playback.paused = True
            room.playback.server_time_ms = now_ms
        for data in state.get("participants", []):
            p = Participant(
                id=data["id"],
                name=data["name"],
                role=data["role"],
                user_id=data.get("user_id"),
                guest=bool(data.get("guest", True)),
                joined_at_ms=float(data.get("joined_at_ms", now_ms)),
                connected=False,
                disconnected_at_ms=now_ms,
            )
            room.participants[p.id] = p
        host = state.get("host_id")
        room.host_id = host if host in room.participants else None
        room.banned = set(state.get("banned", []))
        room.polls.restore(state.get("polls") or [])
        room.queue = Queue.restore(state.get("queue"))
        room.sanctions = Sanctions.restore(state.get("sanctions"))
        room.dirty = False
        return room

"""Keep an mpv player in a room's sync: the bridge between a :class:`SyncClient` and mpv.

What it does, the same as the watch page's player loop (``admin_app/static/watch/
player.js``) but through mpv's JSON IPC (:mod:`sync_server.player.ipc`):

* **Room to mpv.** Every playback state the room sends is applied: media
  (``loadfile``), paused (``pause`` on, an exact seek to ``position_s``), and starts
  (``play``, a seek while playing, the end of a wait), which are *scheduled*: mpv is
  paused, seeked exactly to the position the room will have at the start instant, and
  unpaused at the local instant at which the server clock reads that instant (from the
  client's clock estimate, PROTOCOL.md section 4). How much earlier or later than the
  instant mpv must be unpaused to move on time is learned from the drift measured just
  after each start, as the watch page does.
* **Following.** mpv's ``time-pos`` is observed (one event per frame shown), stamped
  with the local clock on arrival and extrapolated to now. Every 100 ms it is compared
  with the room position, and mpv's ``speed`` is set by
  :func:`protocol.clock.follow_rate` (at most 5 % off the room rate, a drift of 300 ms
  or more is a new scheduled start instead). Every 2 s a ``position_report`` goes to
  the server. The server's ``drift_correction`` seek is obeyed when the local check
  agrees; its rate nudges are not (the local loop is newer and both would overshoot).
* **mpv to room.** A pause, unpause, seek or speed change made in mpv (keyboard, mouse,
  another IPC client) is told apart from the bridge's own commands, and becomes
  ``pause``, ``play``, ``seek`` or ``set_rate`` when this participant may control
  playback (PROTOCOL.md section 5); otherwise mpv is put back where the room is and an
  on-screen message says why. Own commands never echo: a ``pause`` or ``speed`` change
  equal to a value the bridge set within the last 300 ms (or the last value it set) is
  its own, and a ``seek`` event while one of its own seeks is in flight is its own.
* **Media.** A library video (a path on the web app) or a URL plays from the server; a
  local *FILE* plays instead for every room media whose duration is unknown or within
  *duration_tolerance_s* of the file's (a warning when they differ by more than half a
  second); other media play from the server, with a message.
* **On screen.** Chat messages and arrivals are shown with ``show-text``, rate-limited
  by a :class:`protocol.ratelimit.TokenBucket` (what is skipped is counted in the next
  message), unless *show_chat* is off.

Times: local times are milliseconds of the bridge's clock (the client's), positions
seconds of media time.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin, urlsplit

import trio

from protocol.clock import FOLLOW_SEEK_MS, follow_rate
from protocol.ratelimit import TokenBucket
from sync_server.client import ServerError, SyncClient

from .ipc import (
    MpvClosedError,
    MpvCommandError,
    MpvIpc,
    PlayerError,
    collapse_single_groups,
)

logger = logging.getLogger(__name__)

TICK_S = 0.1
REPORT_MS = 2000.0
#: Measure a start's residual drift this long after it, milliseconds (mpv settles
#: for a few frames after an unpause).
CALIBRATE_AFTER_MS = 300.0
#: A paused player this close to the room position is not seeked again, seconds.
PAUSED_TOLERANCE_S = 0.1
#: Scheduled starts are prepared at least this long ahead, milliseconds (a seek while
#: paused, then the unpause); doubled while a seek does not fit.
MIN_PREPARE_MS = 150.0
MAX_PREPARE_MS = 5000.0
#: Longest wait for mpv to load a file or finish a seek, seconds.
LOAD_TIMEOUT_S = 60.0
SEEK_TIMEOUT_S = 10.0
#: The room position is this close to the end: hold there, seconds.
END_MARGIN_S = 0.05
#: On-screen chat: sustained messages a second, burst, and how long each shows.
OSD_PER_S = 0.5
OSD_BURST = 3
OSD_DURATION_MS = 4000
#: Longest chat text shown on screen, characters.
OSD_MAX_CHARS = 200
#: A property change to a value the bridge set this recently is its own, milliseconds.
ECHO_WINDOW_MS = 300.0
#: Rates the protocol accepts (PROTOCOL.md section 2).
MIN_RATE, MAX_RATE = 0.25, 4.0
#: mpv's speed keys step by 10 %: the room rate asked for is rounded to this.
RATE_STEP = 0.01

CONTROL_REFUSED = {
    "host": "Only the host controls playback in this room",
    "cohosts": "Only the host and co-hosts control playback in this room",
}


class LoadFailedError(PlayerError):
    """mpv could not load a file or URL (``end-file`` with reason ``error``)."""


def may_control(client: SyncClient) -> bool:
    """Whether this participant may play, pause, seek and change the rate
    (PROTOCOL.md section 5, "Who may do what")."""
    me = client.participants.get(client.participant_id) or {}
    role = me.get("role", "viewer")
    control = client.settings.get("control", "cohosts")
    return role == "host" or control == "everyone" or (control == "cohosts" and role == "cohost")


def media_source(media: dict[str, Any] | None, web_base: str | None) -> str | None:
    """The URL mpv should load for the room's *media*: an ``http(s)`` URL as is, a path
    (a library video) resolved against *web_base*; ``None`` for no media, another scheme
    (refused, as the watch page does), or a path with no base to resolve it against."""
    if not media or not isinstance(media.get("url"), str) or not media["url"]:
        return None
    url: str = media["url"]
    if url.startswith("/") and not url.startswith("//"):
        return urljoin(web_base.rstrip("/") + "/", url.lstrip("/")) if web_base else None
    return url if urlsplit(url).scheme in ("http", "https") else None


class _Echo:
    """Recognises the property changes the bridge caused itself.

    A change is an echo when its value equals the last value known (set by the bridge,
    or reported before), or any value the bridge set within *window_ms* (mpv reports a
    change a moment after the answer to the command, and may report a value the bridge
    has already replaced). A user's change to the value the bridge set less than
    *window_ms* ago is therefore taken for an echo: a rare loss, never an echo sent.
    """

    def __init__(self, window_ms: float = ECHO_WINDOW_MS, tolerance: float = 1e-6) -> None:
        self._sent: deque[tuple[Any, float]] = deque(maxlen=16)
        self._window_ms = window_ms
        self._tolerance = tolerance

    def expect(self, value: Any, now_ms: float) -> None:
        self._sent.append((value, now_ms))

    def _same(self, a: Any, b: Any) -> bool:
        if isinstance(a, bool) or isinstance(b, bool):
            return a is b
        if isinstance(a, int | float) and isinstance(b, int | float):
            return abs(a - b) <= self._tolerance * max(1.0, abs(a))
        return bool(a == b)

    def is_echo(self, value: Any, now_ms: float) -> bool:
        if self._sent and self._same(self._sent[-1][0], value):
            return True
        return any(self._same(v, value) and now_ms - t <= self._window_ms for v, t in self._sent)


class MpvBridge:
    """Drives one mpv from the room and the room from mpv.

    One bridge lives as long as the player; :meth:`follow` runs it with one connection,
    and is called again with the next after a reconnect (the learned start lead, the
    loaded file and the local file's duration carry over).

    Args:
        mpv: The IPC connection.
        clock: Local clock, milliseconds (the same the sync clients use).
        web_base: Base URL of the web app, for media given as paths, when the server's
            ``welcome.web_url`` does not say.
        local_file: A local file to play instead of the room's media (see the module
            docstring); call :meth:`prepare` before :meth:`follow`.
        duration_tolerance_s: How far the local file's duration may be from the room
            media's, seconds.
        show_chat: Show chat messages and arrivals on screen.
        notify: Where messages for the user go besides the screen (default: the log).
    """

    def __init__(
        self,
        mpv: MpvIpc,
        *,
        clock: Callable[[], float],
        web_base: str | None = None,
        local_file: str | None = None,
        duration_tolerance_s: float = 2.0,
        show_chat: bool = True,
        notify: Callable[[str], None] | None = None,
    ) -> None:
        self.mpv = mpv
        self.clock = clock
        self.web_base = web_base
        self.local_file = local_file
        self.local_duration_s: float | None = None
        self.duration_tolerance_s = duration_tolerance_s
        self.show_chat = show_chat
        self.notify = notify or (lambda text: logger.info("%s", text))
        self.client: SyncClient | None = None
        #: idle | loading | paused | starting | playing | ended
        self.mode = "idle"
        #: How much earlier than a start instant to unpause mpv, in milliseconds of
        #: media (divided by the rate for wall time; learned; negative: later).
        self.start_lead_ms = 0.0
        #: Drift measured at each tick while playing, milliseconds (newest last, 600).
        self.drifts_ms: deque[float] = deque(maxlen=600)
        #: Decisions, newest last, for debugging and tests: ``(local_ms, what, detail)``.
        self.log: deque[tuple[float, str, Any]] = deque(maxlen=500)
        # What mpv says.
        self._time_pos: float | None = None
        self._time_pos_ms = 0.0
        self._speed = 1.0
        self._paused = True
        self._eof = False
        self._duration: float | None = None
        # What the bridge did.
        self._pause_echo = _Echo()
        self._speed_echo = _Echo(tolerance=1e-5)
        self._own_seek = False
        self._user_seek = False
        self._seek_done = trio.Event()
        self._loading = False
        self._loaded = trio.Event()
        self._load_error: str | None = None
        self._loaded_source: str | None = None
        self._load_done = True
        self._failed_source: str | None = None
        self._paused_target: float | None = None
        self._calibrate_at_ms: float | None = None
        self._last_report_ms = 0.0
        self._apply_wanted = trio.Event()
        self._apply_scope: trio.CancelScope | None = None
        self._force_restart = False
        self._buffering_sent: bool | None = None
        self._actions_send, self._actions_recv = trio.open_memory_channel[tuple[str, Any]](16)
        self._osd_bucket = TokenBucket(OSD_PER_S, OSD_BURST, trio.current_time())
        self._osd_skipped = 0
        self._observing = False
        self._checked_media: dict[str, Any] | None = None
        self._started_rate = 1.0

    # --- setting up ------------------------------------------------------------------------
    async def start_observing(self) -> None:
        """Install the event handler and observe the properties the bridge follows.

        Raises:
            MpvClosedError, MpvCommandError: as :meth:`MpvIpc.command`.
        """
        if self._observing:
            return
        now = self.clock()
        # Seed the echo filters with the current values: the first property-change of
        # each observed property reports them, and that is nobody's action.
        self._paused = bool(await self.mpv.get_property("pause"))
        self._speed = float(await self.mpv.get_property("speed") or 1.0)
        self._pause_echo.expect(self._paused, now)
        self._speed_echo.expect(self._speed, now)
        self.mpv.on_event = self._on_mpv_event
        for name in ("time-pos", "pause", "speed", "eof-reached", "duration", "paused-for-cache"):
            await self.mpv.observe_property(name)
        self._observing = True

    async def prepare(self) -> None:
        """Load the local file, if any, and learn its duration.

        Raises:
            LoadFailedError: mpv could not load it.
        """
        await self.start_observing()
        if self.local_file is None:
            return
        await self._load(self.local_file)
        duration = await self.mpv.get_property("duration")
        self.local_duration_s = float(duration) if duration is not None else None

    # --- running with one connection -------------------------------------------------------
    async def follow(self, client: SyncClient) -> None:
        """Keep mpv in the room of *client* until mpv quits or the connection ends.

        Returns when mpv quits (its IPC connection closed).

        Raises:
            ClientClosed: the connection to the sync server ended (reconnect and call
                again with the new client).
            MpvCommandError: mpv refused a command the bridge needs (a bug or a very
                old mpv); load failures are not raised but shown.
        """
        await self.start_observing()
        # What was done in mpv while no connection was there is undone below, not sent.
        while True:
            try:
                self._actions_recv.receive_nowait()
            except trio.WouldBlock:
                break
        self.client = client
        self._buffering_sent = None
        try:
            with collapse_single_groups():
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._applier)
                    nursery.start_soon(self._ticker)
                    nursery.start_soon(self._actor)
                    nursery.start_soon(self._room_events, client)
                    self.request_apply(restart=True)
                    await self.mpv.closed.wait()
                    nursery.cancel_scope.cancel()
        except MpvClosedError:
            if not self.mpv.closed.is_set():
                raise
        finally:
            self.client = None

    def request_apply(self, *, restart: bool = False) -> None:
        """Apply the room's playback state again (cancelling an application under way);
        with *restart*, also when mpv already plays in step (a new scheduled start)."""
        self._force_restart = self._force_restart or restart
        self._apply_wanted.set()
        if self._apply_scope is not None:
            self._apply_scope.cancel()

    def position_s(self, local_ms: float | None = None) -> float | None:
        """mpv's position at local time *local_ms* (default now), seconds: the last
        ``time-pos`` extrapolated at the current speed; ``None`` before any."""
        if self._time_pos is None:
            return None
        if self._paused or self._own_seek or self.mode in ("loading", "idle"):
            return self._time_pos
        local = self.clock() if local_ms is None else local_ms
        elapsed_s = min(0.5, max(0.0, (local - self._time_pos_ms) / 1000.0))
        return self._time_pos + elapsed_s * self._speed

    # --- the room ----------------------------------------------------------------------------
    async def _room_events(self, client: SyncClient) -> None:
        while True:
            msg = await client.wait_for(None, timeout_s=math.inf)
            kind = msg.get("type")
            if kind in ("playback", "state"):
                self.request_apply()
            elif kind in ("participant_updated", "settings_changed", "host_changed"):
                pass  # the client's copy of roles and settings is what may_control reads
            elif kind == "chat_message" and self.show_chat:
                m = msg["message"]
                if m.get("participant_id") != client.participant_id:
                    text = str(m.get("text", ""))[:OSD_MAX_CHARS]
                    await self._osd(f"{m.get('name', '?')}: {text}", chat=True)
            elif kind == "participant_joined" and self.show_chat:
                await self._osd(f"{msg['participant'].get('name', '?')} joined", chat=True)
            elif kind == "drift_correction" and msg.get("action") == "seek":
                drift = self._drift_ms()
                if (
                    self.mode == "playing"
                    and drift is not None
                    and abs(drift) >= FOLLOW_SEEK_MS / 2
                ):
                    self._note("server seek", msg.get("drift_ms"))
                    self.request_apply(restart=True)

    async def _osd(
        self, text: str, *, chat: bool = False, duration_ms: int = OSD_DURATION_MS
    ) -> None:
        if chat:
            if self._osd_bucket.take(trio.current_time()) > 0:
                self._osd_skipped += 1
                return
            if self._osd_skipped:
                text += f"  (+{self._osd_skipped} more in chat)"
                self._osd_skipped = 0
        self._note("osd", text)
        await self.mpv.show_text(text, duration_ms)

    def _tell(self, text: str) -> None:
        """A message for the user: on the terminal (or log) and on screen."""
        self.notify(text)
        self._note("message", text)

    # --- applying the room's state ------------------------------------------------------
    async def _applier(self) -> None:
        while True:
            await self._apply_wanted.wait()
            self._apply_wanted = trio.Event()
            with trio.CancelScope() as scope:
                self._apply_scope = scope
                try:
                    await self._apply()
                except LoadFailedError as exc:
                    self._tell(str(exc))
                    await self.mpv.show_text(str(exc), 6000)
                except trio.TooSlowError:
                    self._tell("mpv did not finish loading or seeking in time; trying again")
                    self.request_apply(restart=True)
                except MpvCommandError as exc:
                    # Not fatal: the next state from the room is applied afresh.
                    logger.warning("applying the room's state: %s", exc)
                    self._note("mpv error", str(exc))
            self._apply_scope = None

    def _room_duration(self, media: dict[str, Any]) -> float | None:
        duration = media.get("duration_s")
        if duration is None and self._loaded_source == self.local_file:
            duration = self.local_duration_s
        return float(duration) if duration is not None else self._duration

    def _source_for(self, client: SyncClient, media: dict[str, Any] | None) -> str | None:
        if not media:
            return None
        if self.local_file is not None:
            room = media.get("duration_s")
            mine = self.local_duration_s
            if room is None or mine is None or abs(room - mine) <= self.duration_tolerance_s:
                return self.local_file
        return media_source(media, client.welcome.get("web_url") or self.web_base)

    def _check_local_match(self, media: dict[str, Any]) -> None:
        room, mine = media.get("duration_s"), self.local_duration_s
        if room is None:
            self._tell(f"playing {self.local_file}: the room does not say how long its media is")
        elif mine is not None and abs(room - mine) > 0.5:
            self._tell(
                f"playing {self.local_file}: its duration differs from the room media's by "
                f"{mine - room:+.1f} s ({mine:.1f} s against {room:.1f} s): is it the same cut?"
            )

    async def _apply(self) -> None:
        client = self.client
        if client is None or not client.playback:
            return
        s = client.playback
        media = s.get("media")
        source = self._source_for(client, media)
        if source is None:
            if media:
                self._tell(
                    f"cannot play the room's media {media.get('url')!r} (not an http(s) URL)"
                )
            if self._loaded_source is not None:
                await self.mpv.command("stop")
                self._loaded_source = None
            self.mode = "idle"
            return
        assert media is not None
        if source != self._loaded_source:
            if source == self._failed_source:
                return  # reported already; a new media change tries again
            if self.local_file is not None and source != self.local_file:
                self._tell(
                    "the room's media does not match your file's duration: playing the room's"
                )
            self._failed_source = None
            await self._load(source)
        elif not self._load_done:
            await self._wait_loaded(source)  # an application cancelled mid-load
        if source == self.local_file and self._checked_media != media:
            self._checked_media = media
            self._check_local_match(media)
        await self._send_buffering(False)
        rate = float(s["rate"])
        if s["paused"]:
            self.mode = "paused"
            self._calibrate_at_ms = None
            await self._set_pause(True)
            await self._set_speed(rate)
            target = client.position_s()
            here = self._time_pos if self._time_pos is not None else -1.0
            if (
                self._paused_target is None
                or abs(target - self._paused_target) > 0.001
                or abs(here - target) > PAUSED_TOLERANCE_S
            ):
                await self._seek(target)
                self._paused_target = target
            return
        self._paused_target = None
        restart, self._force_restart = self._force_restart, False
        if (
            not restart
            and self.mode == "playing"
            and not self._paused
            and s["server_time_ms"] <= client.server_time_ms()
            and abs(rate - self._started_rate) < 1e-9
        ):
            return  # in step already: the follow loop keeps it there
        # A new rate restarts too: mpv plays the audio it has buffered (0.2 s by
        # default) at the old speed, so a speed change lands that late.
        await self._start(client, s, media)

    async def _start(self, client: SyncClient, s: dict[str, Any], media: dict[str, Any]) -> None:
        """A scheduled start: paused at the position of the start instant, then unpaused
        so that mpv moves at that instant (PROTOCOL.md section 4, "Scheduled starts")."""
        self.mode = "starting"
        self._calibrate_at_ms = None
        rate = float(s["rate"])
        prepare_ms = MIN_PREPARE_MS
        while True:
            local = self.clock()
            move_ms = max(client.local_time_of(s["server_time_ms"]), local + prepare_ms)
            target = client.position_s(move_ms)
            duration = self._room_duration(media)
            if duration is not None and target >= duration - END_MARGIN_S:
                await self._set_pause(True)
                await self._seek(max(0.0, duration - END_MARGIN_S))
                self.mode = "ended"
                return
            await self._set_pause(True)
            await self._set_speed(rate)
            await self._seek(target)
            if self.clock() <= move_ms - self.start_lead_ms / rate - 5.0:
                break
            prepare_ms = min(MAX_PREPARE_MS, prepare_ms * 2)  # the seek took longer
        unpause_ms = move_ms - self.start_lead_ms / rate
        await trio.sleep(max(0.0, (unpause_ms - self.clock()) / 1000.0))
        await self._set_pause(False)
        self.mode = "playing"
        self._started_rate = rate
        self._calibrate_at_ms = move_ms + CALIBRATE_AFTER_MS
        self._note("start", {"target_s": target, "lead_ms": self.start_lead_ms})

    # --- mpv commands ------------------------------------------------------------------------
    async def _load(self, source: str) -> None:
        self.mode = "loading"
        await self._set_pause(True)
        self._loaded = trio.Event()
        self._load_error = None
        self._loading = True
        self._loaded_source = source
        self._load_done = False
        self._paused_target = None
        self._time_pos = None
        self._duration = None
        self._note("load", source)
        await self.mpv.command("loadfile", source, "replace")
        await self._wait_loaded(source)

    async def _wait_loaded(self, source: str) -> None:
        with trio.fail_after(LOAD_TIMEOUT_S):
            await self._loaded.wait()
        if self._load_error is None:
            self._load_done = True
        else:
            self._failed_source = source
            self._loaded_source = None
            self._loading = False
            self.mode = "idle"
            raise LoadFailedError(f"mpv cannot play {source}: {self._load_error}")

    async def _seek(self, position_s: float) -> None:
        self._own_seek = True
        self._seek_done = trio.Event()
        self._note("seek", position_s)
        await self.mpv.command("seek", max(0.0, position_s), "absolute+exact")
        with trio.fail_after(SEEK_TIMEOUT_S):
            await self._seek_done.wait()

    async def _set_pause(self, paused: bool) -> None:
        if self._paused is paused:
            return
        self._pause_echo.expect(paused, self.clock())
        await self.mpv.set_property("pause", paused)
        self._paused = paused

    async def _set_speed(self, speed: float) -> None:
        speed = max(0.01, speed)
        if abs(self._speed - speed) < 1e-6:
            return
        self._speed_echo.expect(speed, self.clock())
        await self.mpv.set_property("speed", speed)
        self._speed = speed

    # --- mpv's events ---------------------------------------------------------------------------
    def _on_mpv_event(self, event: dict[str, Any]) -> None:
        name = event.get("event")
        now = self.clock()
        if name == "property-change":
            prop, data = event.get("name"), event.get("data")
            if prop == "time-pos":
                if isinstance(data, int | float):
                    self._time_pos = float(data)
                    self._time_pos_ms = now
            elif prop == "pause" and isinstance(data, bool):
                self._paused = data
                if self._pause_echo.is_echo(data, now) or self._loading:
                    return
                if data and (self._eof or self.mode == "ended"):
                    return  # mpv holds at the end of the file (keep-open)
                self._pause_echo.expect(data, now)
                self._push("pause", data)
            elif prop == "speed" and isinstance(data, int | float):
                before, self._speed = self._speed, float(data)
                if not self._speed_echo.is_echo(data, now):
                    self._speed_echo.expect(float(data), now)
                    self._push("speed", float(data) / before if before > 0 else 1.0)
            elif prop == "eof-reached":
                self._eof = bool(data)
            elif prop == "duration":
                self._duration = float(data) if isinstance(data, int | float) else None
            elif prop == "paused-for-cache" and isinstance(data, bool):
                self._push("buffering", data)
        elif name == "seek":
            if not self._own_seek and not self._loading:
                self._user_seek = True
        elif name == "playback-restart":
            if self._loading:
                self._loading = False
            elif self._own_seek:
                self._own_seek = False
                self._user_seek = False
            elif self._user_seek:
                self._user_seek = False
                self._push("seek", self._time_pos)
            self._seek_done.set()
        elif name == "file-loaded":
            self._loaded.set()
        elif name == "end-file" and event.get("reason") == "error":
            self._load_error = str(event.get("file_error") or "unknown error")
            self._loading = False
            self._loaded.set()

    def _push(self, kind: str, value: Any) -> None:
        self._note("local " + kind, value)
        try:
            self._actions_send.send_nowait((kind, value))
        except trio.WouldBlock:
            logger.warning("local %s dropped: too many at once", kind)

    # --- local actions ------------------------------------------------------------------------
    async def _actor(self) -> None:
        async for kind, value in self._actions_recv:
            client = self.client
            if client is None or self.mode in ("idle", "loading"):
                continue
            if kind == "buffering":
                await self._send_buffering(value)
                continue
            if not may_control(client):
                control = client.settings.get("control", "cohosts")
                text = CONTROL_REFUSED.get(control, "You may not control playback in this room")
                self._note("put back", kind)
                await self.mpv.show_text(text, 3000)
                self.request_apply(restart=True)
                continue
            try:
                if kind == "pause":
                    if value:
                        await client.pause()
                    else:
                        await client.play()
                elif kind == "seek":
                    position = await self.mpv.get_property("time-pos")
                    if position is None:
                        continue
                    await client.seek(max(0.0, float(position)))
                elif kind == "speed":
                    # The user scaled mpv's speed (its keys multiply it): scale the room's.
                    rate = float(client.playback.get("rate", 1.0)) * value
                    rate = round(rate / RATE_STEP) * RATE_STEP
                    await client.set_rate(min(MAX_RATE, max(MIN_RATE, rate)))
            except ServerError as exc:
                await self.mpv.show_text(f"The room refused: {exc.message}", 3000)
                self.request_apply(restart=True)

    async def _send_buffering(self, buffering: bool) -> None:
        client = self.client
        if client is None or self._buffering_sent is buffering:
            return
        self._buffering_sent = buffering
        await client.send({"type": "buffer_state", "buffering": buffering})

    # --- the follow loop ------------------------------------------------------------------------
    def _drift_ms(self, local_ms: float | None = None) -> float | None:
        client = self.client
        if client is None or client.estimator.estimate is None:
            return None
        local = self.clock() if local_ms is None else local_ms
        mine = self.position_s(local)
        if mine is None:
            return None
        return (mine - client.position_s(local)) * 1000.0

    async def _ticker(self) -> None:
        while True:
            await trio.sleep(TICK_S)
            await self._tick()

    async def _tick(self) -> None:
        client = self.client
        if client is None or not client.playback or client.estimator.estimate is None:
            return
        local = self.clock()
        if local - self._last_report_ms >= REPORT_MS and self.mode in ("playing", "paused"):
            position = self.position_s(local)
            if position is not None:
                self._last_report_ms = local
                await client.send(
                    {
                        "type": "position_report",
                        "position_s": max(0.0, position),
                        "server_time_ms": client.server_time_ms(local),
                        "paused": self._paused,
                    }
                )
        s = client.playback
        if self.mode != "playing" or self._own_seek or self._paused or s["paused"]:
            return
        media = s.get("media") or {}
        duration = self._room_duration(media)
        room = client.position_s(local)
        if duration is not None and room >= duration - END_MARGIN_S:
            self.mode = "ended"
            return
        drift = self._drift_ms(local)
        if drift is None:
            return
        self.drifts_ms.append(drift)
        if self._calibrate_at_ms is not None and local >= self._calibrate_at_ms:
            self._calibrate_at_ms = None
            if abs(drift) < FOLLOW_SEEK_MS:
                # Ahead (positive): unpause later next time. Half steps, bounded, so one
                # odd measurement cannot throw the next start far off. (The loop below
                # has been correcting since the start, so this learns a little less
                # than the whole error: it converges over a few starts.)
                self.start_lead_ms = max(-500.0, min(1000.0, self.start_lead_ms - 0.5 * drift))
                self._note("learn", {"drift_ms": drift, "lead_ms": self.start_lead_ms})
        correction = follow_rate(drift, room_rate=float(s["rate"]))
        if correction.action == "seek":
            self._note("drift seek", drift)
            self.request_apply(restart=True)
            return
        assert correction.rate is not None
        await self._set_speed(correction.rate)

    def _note(self, what: str, detail: Any = None) -> None:
        self.log.append((self.clock(), what, detail))
        logger.debug("bridge: %s %r", what, detail)


__all__ = ["CONTROL_REFUSED", "LoadFailedError", "MpvBridge", "may_control", "media_source"]

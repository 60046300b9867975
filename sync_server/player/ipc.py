"""A client of mpv's JSON IPC, on trio sockets, and a launcher for mpv.

mpv's JSON IPC (mpv manual, "JSON IPC"; https://mpv.io/manual/stable/#json-ipc) is one
JSON object a line over a Unix socket: commands ``{"command": [...], "request_id": n}``
answered by ``{"request_id": n, "error": "success", "data": ...}``, and events
``{"event": "...", ...}`` pushed in between (``property-change`` for observed
properties, ``seek``, ``playback-restart``, ``file-loaded``, ``end-file``, ...).

Why our own client rather than python-mpv-jsonipc (PyPI): that library reads the socket
in a thread of its own and calls event handlers on that thread, with blocking calls
from the caller's side. The bridge needs the opposite: every command awaited on the
trio loop (cancellable, with a timeout), and each event handled the moment its line is
read, so that ``time-pos`` can be stamped and extrapolated to the millisecond; with the library
every call and every event would cross a thread boundary. The protocol is small (a
line-framed request/answer with ids plus pushed events), and this module covers all of
it that the bridge uses; its tests run against Debian's mpv.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from typing import Any

import trio

from protocol.errors import WatchpartyError

logger = logging.getLogger(__name__)

#: Longest line accepted from the socket, bytes. mpv's answers are small except
#: property values such as a long playlist; anything longer is not mpv.
MAX_LINE_BYTES = 4 << 20


class PlayerError(WatchpartyError):
    """Base of the errors of the player bridge."""


class MpvNotFoundError(PlayerError):
    """The mpv executable is not installed (or not at the path given)."""


class NotMpvError(PlayerError):
    """The socket does not answer like mpv's JSON IPC (another program, a plain file)."""


class MpvClosedError(PlayerError):
    """The IPC connection ended: mpv quit, or the socket was closed. Raised by every
    command pending or sent afterwards."""


class MpvCommandError(PlayerError):
    """mpv answered a command with an error (``error`` other than ``success``).

    Attributes:
        command: The command sent (a list).
        error: mpv's error string, for example ``property not found``.
    """

    def __init__(self, command: Sequence[Any], error: str) -> None:
        super().__init__(f"mpv refused {list(command)!r}: {error}")
        self.command = list(command)
        self.error = error


#: An event handler, called with the event (a dict with ``event``) as soon as its line
#: is read, so that it can stamp the event with its own clock.
EventHandler = Callable[[dict[str, Any]], None]


class MpvIpc:
    """One connection to mpv's JSON IPC. Build it with :func:`open_mpv_ipc`.

    Attributes:
        path: The socket's path.
        on_event: Called (synchronously, on the reader task) with every event as it
            arrives; set it before sending the commands whose events matter.
            Events arriving while it is ``None`` are dropped.
        closed: Set once the connection has ended.
    """

    def __init__(self, stream: trio.abc.Stream, path: str = "") -> None:
        self.path = path
        self._stream = stream
        self._ids = itertools.count(1)
        self._pending: dict[int, trio.MemorySendChannel[dict[str, Any]]] = {}
        self._send_lock = trio.Lock()
        self._observe_ids = itertools.count(1)
        self.on_event: EventHandler | None = None
        self.closed = trio.Event()

    async def command(self, *args: Any, timeout_s: float = 10.0) -> Any:
        """Send one command and return its ``data``.

        Args:
            *args: The command and its arguments, e.g. ``"seek", 12.5, "absolute"``.
            timeout_s: Longest wait for the answer, seconds.

        Returns:
            The answer's ``data`` (``None`` when it has none).

        Raises:
            MpvCommandError: mpv answered with an error.
            MpvClosedError: the connection ended before the answer.
            trio.TooSlowError: no answer within *timeout_s*.
        """
        if self.closed.is_set():
            raise MpvClosedError("the mpv IPC connection is closed")
        rid = next(self._ids)
        send, recv = trio.open_memory_channel[dict[str, Any]](1)
        self._pending[rid] = send
        line = json.dumps({"command": list(args), "request_id": rid}) + "\n"
        try:
            async with self._send_lock:
                try:
                    await self._stream.send_all(line.encode())
                except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                    raise MpvClosedError("the mpv IPC connection is closed") from exc
            with trio.fail_after(timeout_s):
                try:
                    reply = await recv.receive()
                except trio.EndOfChannel:
                    raise MpvClosedError("mpv closed the IPC connection") from None
        finally:
            self._pending.pop(rid, None)
        if reply.get("error") != "success":
            raise MpvCommandError(args, str(reply.get("error")))
        return reply.get("data")

    async def get_property(self, name: str) -> Any:
        """The value of property *name* (``None`` while mpv has none, e.g. ``time-pos``
        with no file loaded). Raises as :meth:`command`."""
        try:
            return await self.command("get_property", name)
        except MpvCommandError as exc:
            if exc.error == "property unavailable":
                return None
            raise

    async def set_property(self, name: str, value: Any) -> None:
        """Set property *name*. Raises as :meth:`command`."""
        await self.command("set_property", name, value)

    async def observe_property(self, name: str) -> int:
        """Ask for ``property-change`` events of *name* (one at once with its current
        value, then one per change); returns the observer id the events carry."""
        oid = next(self._observe_ids)
        await self.command("observe_property", oid, name)
        return oid

    async def show_text(self, text: str, duration_ms: int = 3000) -> None:
        """Show *text* on mpv's on-screen display for *duration_ms* milliseconds.
        Nothing is raised when the connection is gone (a message is not worth it)."""
        try:
            await self.command("show-text", text, duration_ms)
        except (MpvClosedError, MpvCommandError, trio.TooSlowError):
            pass

    async def aclose(self) -> None:
        """Close the socket (mpv keeps running)."""
        await self._stream.aclose()

    async def _read_loop(self) -> None:
        buffer = b""
        try:
            while True:
                try:
                    chunk = await self._stream.receive_some(65536)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    return
                if not chunk:
                    return
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if line.strip():
                        self._on_line(line)
                if len(buffer) > MAX_LINE_BYTES:
                    raise NotMpvError(f"a line longer than {MAX_LINE_BYTES} bytes on the socket")
        finally:
            self.closed.set()
            for send in self._pending.values():
                send.close()

    def _on_line(self, line: bytes) -> None:
        try:
            msg = json.loads(line.decode("utf-8", errors="replace"))
        except ValueError:
            raise NotMpvError(f"not JSON on the socket: {line[:80]!r}") from None
        if not isinstance(msg, dict):
            raise NotMpvError(f"not a JSON object on the socket: {line[:80]!r}")
        if "event" in msg:
            if self.on_event is not None:
                self.on_event(msg)
            return
        rid = msg.get("request_id")
        if isinstance(rid, int) and rid in self._pending:
            self._pending[rid].send_nowait(msg)


@asynccontextmanager
async def open_mpv_ipc(path: str, *, check_timeout_s: float = 5.0) -> AsyncIterator[MpvIpc]:
    """Connect to mpv's IPC socket at *path* and check that mpv answers.

    Args:
        path: The socket mpv listens on (its ``--input-ipc-server``).
        check_timeout_s: Longest wait for mpv to answer the check, seconds.

    Raises:
        MpvClosedError: nothing listens at *path* (no such file, connection refused).
        NotMpvError: something listens but does not answer ``get_property
            mpv-version`` as mpv does within *check_timeout_s*.
    """
    try:
        stream = await trio.open_unix_socket(path)
    except OSError as exc:
        raise MpvClosedError(f"cannot connect to the mpv IPC socket {path}: {exc}") from exc
    ipc = MpvIpc(stream, path)
    try:
        with collapse_single_groups():
            async with trio.open_nursery() as nursery:
                nursery.start_soon(ipc._read_loop)
                try:
                    with trio.fail_after(check_timeout_s):
                        version = await ipc.get_property("mpv-version")
                except (trio.TooSlowError, MpvClosedError, MpvCommandError):
                    raise NotMpvError(f"{path} is not an mpv IPC socket (no mpv answer)") from None
                if not isinstance(version, str) or not version.startswith("mpv"):
                    raise NotMpvError(f"{path} is not an mpv IPC socket (answered {version!r})")
                logger.debug("connected to %s at %s", version, path)
                try:
                    yield ipc
                finally:
                    nursery.cancel_scope.cancel()
    finally:
        with trio.CancelScope(shield=True):
            await stream.aclose()


@contextmanager
def collapse_single_groups() -> Iterator[None]:
    """Re-raise an exception group whose exceptions are all of one type as the first.

    A context manager that runs a nursery around its ``yield`` would otherwise hand its
    caller's own exceptions back wrapped in a group (trio's strict exception groups),
    also when two tasks failed for the one reason (a closed connection).
    """
    try:
        yield
    except BaseExceptionGroup as group:
        leaves = list(_leaves(group))
        if leaves and len({type(e) for e in leaves}) == 1:
            raise leaves[0] from None
        raise


def _leaves(group: BaseExceptionGroup[BaseException]) -> Iterator[BaseException]:
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            yield from _leaves(exc)
        else:
            yield exc


#: Options the launcher always gives mpv: stay open without a file and at the end of
#: one (the room decides what plays), start paused, leave the terminal to us (errors
#: still print), listen on the IPC socket.
LAUNCH_OPTIONS = (
    "--idle=yes",
    "--keep-open=yes",
    "--pause",
    "--force-window=yes",
    "--no-input-terminal",
    "--really-quiet",
)


@asynccontextmanager
async def launch_mpv(
    *,
    executable: str = "mpv",
    args: Sequence[str] = (),
    start_timeout_s: float = 10.0,
) -> AsyncIterator[tuple[MpvIpc, trio.Process]]:
    """Start mpv with an IPC socket in a fresh private directory and connect to it.

    On exit mpv is asked to quit, then killed if it has not quit within 5 seconds.

    Args:
        executable: The mpv executable (a name looked up in ``PATH``, or a path).
        args: More mpv options (``--vo=null``, ``--ao=null``, ...).
        start_timeout_s: Longest wait for mpv to listen, seconds.

    Yields:
        The connection and the process.

    Raises:
        MpvNotFoundError: *executable* is not found.
        PlayerError: mpv exited, or did not listen within *start_timeout_s*.
    """
    path = shutil.which(executable)
    if path is None:
        raise MpvNotFoundError(
            f"mpv is not installed ({executable!r} not found): install the mpv package "
            "(Debian and Ubuntu: apt-get install mpv), or give its path with --mpv"
        )
    with tempfile.TemporaryDirectory(prefix="watchparty-mpv-") as tmp:
        socket_path = os.path.join(tmp, "ipc.sock")
        cmd = [path, *LAUNCH_OPTIONS, f"--input-ipc-server={socket_path}", *args]
        process = await trio.lowlevel.open_process(cmd, stdin=subprocess.DEVNULL)
        try:
            async with AsyncExitStack() as stack:
                ipc = await _connect_when_listening(process, socket_path, start_timeout_s, stack)
                try:
                    yield ipc, process
                finally:
                    with trio.CancelScope(shield=True), trio.move_on_after(1.0):
                        try:
                            await ipc.command("quit")
                        except (MpvClosedError, MpvCommandError):
                            pass
        finally:
            with trio.CancelScope(shield=True):
                with trio.move_on_after(5.0):
                    await process.wait()
                if process.returncode is None:
                    process.kill()
                    await process.wait()


async def _connect_when_listening(
    process: trio.Process, socket_path: str, timeout_s: float, stack: AsyncExitStack
) -> MpvIpc:
    delay = 0.01
    listening = False
    with trio.move_on_after(timeout_s):
        while not listening:
            if process.poll() is not None:
                raise PlayerError(
                    f"mpv exited at start with status {process.returncode} "
                    f"(command: {' '.join(map(str, process.args))})"  # type: ignore[arg-type]
                )
            if await trio.Path(socket_path).exists():
                try:
                    probe = await trio.open_unix_socket(socket_path)
                except OSError:
                    pass  # the file exists a moment before mpv listens
                else:
                    await probe.aclose()
                    listening = True
                    break
            # mpv creates the socket during its start-up, with no other signal: poll.
            await trio.sleep(delay)
            delay = min(0.2, delay * 2)
    if not listening:
        raise PlayerError(f"mpv did not open its IPC socket within {timeout_s:g} s")
    return await stack.enter_async_context(open_mpv_ipc(socket_path))


__all__ = [
    "LAUNCH_OPTIONS",
    "MpvClosedError",
    "MpvCommandError",
    "MpvIpc",
    "MpvNotFoundError",
    "NotMpvError",
    "PlayerError",
    "collapse_single_groups",
    "launch_mpv",
    "open_mpv_ipc",
]

"""Desktop players in a room's sync: ``watchparty play`` keeps mpv in step.

* :mod:`.ipc`: a trio client of mpv's JSON IPC, and a launcher for mpv.
* :mod:`.bridge`: :class:`MpvBridge`, the room to mpv and mpv to the room.
* :mod:`.join`: room URLs, and entering password and approval rooms over REST.
* :mod:`.cli`: the subcommand, its session loop and exit statuses (docs/cli.md).
"""

from .bridge import MpvBridge
from .ipc import MpvIpc, PlayerError, launch_mpv, open_mpv_ipc

__all__ = ["MpvBridge", "MpvIpc", "PlayerError", "launch_mpv", "open_mpv_ipc"]

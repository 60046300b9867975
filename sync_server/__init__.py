"""The sync server: trio WebSocket server for rooms, playback sync and chat."""

from sync_server.config import Config, load_config
from sync_server.server import SyncServer, serve_sync

__all__ = ["Config", "SyncServer", "load_config", "serve_sync"]

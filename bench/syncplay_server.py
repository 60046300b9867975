"""Debian's ``syncplay-server`` (the installed package, unchanged) listening on one address.

Run with the system Python that the package is installed for, not the project's::

    /usr/bin/python3 bench/syncplay_server.py --host 127.0.0.1 --port 20123 --isolate-rooms

The package's entry point (``syncplay.ep_server.main``) listens on every IPv4 and IPv6
interface and has no option for the address, while the benchmarks listen on loopback
only. This starts the same ``syncplay.server.SyncFactory``, built from the same options
(``syncplay-server --help``: ``--port``, ``--password``, ``--isolate-rooms``, ``--salt``,
``--motd-file``, ...), parsed by the package's own ``ConfigurationGetter``, on Twisted's
``listenTCP`` with ``interface=--host`` and Twisted's default backlog (as the package's
endpoints use). Nothing else differs from ``syncplay-server``.

Error handling: a port in use ends the process with Twisted's ``CannotListenError``
(exit status 1); SIGTERM or SIGINT stops the reactor (exit status 0).
"""

from __future__ import annotations

import argparse
import sys


def main() -> None:
    own = argparse.ArgumentParser(add_help=False)
    own.add_argument("--host", default="127.0.0.1", help="address to listen on")
    ours, rest = own.parse_known_args()
    sys.argv = [sys.argv[0], *rest]

    from syncplay.server import ConfigurationGetter, SyncFactory
    from twisted.internet import reactor

    args = ConfigurationGetter().getConfiguration()
    factory = SyncFactory(
        args.port,
        args.password,
        args.motd_file,
        args.isolate_rooms,
        args.salt,
        args.disable_ready,
        args.disable_chat,
        args.max_chat_message_length,
        args.max_username_length,
        args.stats_db_file,
        args.tls,
    )
    reactor.listenTCP(int(args.port), factory, interface=ours.host)
    print(f"listening on {ours.host}:{args.port}", flush=True)
    reactor.run()


if __name__ == "__main__":
    main()

"""Event queries at scale: ``upcoming``, ``search`` and ``attending`` over HTTP against
a real ``watchparty serve`` on a database of many events and attendee rows.

The database is filled directly (``data.open_database``, then bulk inserts in one
transaction: accounts, events with their full-text index, attendee rows with their
counts), the server is started on it as a subprocess on 127.0.0.1, and each query kind
is sent *requests* times in a row by one httpx client; the figures are the client's
request latencies (p50, p99, max). Run it short on a shared machine::

    python -m bench.events --events 100000 --attendees 1000000 --requests 200
"""

from __future__ import annotations

import argparse
import random
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    PROJECT_PYTHON,
    ROOT,
    Summary,
    command_line,
    env_block,
    environment,
    free_port_in,
    md_table,
    write_result,
)
from bench.fanout import wait_port
from data import open_database
from protocol.tokens import TYP_ACCESS, issue_token

SECRET = "bench-events-secret-key-of-32-bytes-or-more"
CATEGORIES = (
    "sport",
    "movies",
    "series",
    "music",
    "games",
    "news",
    "kids",
    "docs",
    "anime",
    "talk",
)
#: A vocabulary of 5,000 made-up words (plus a few real ones at the top), drawn with a
#: Zipf distribution (s = 1) as words of real titles are: a few are everywhere, most
#: are rare. Tags come from the first 300.
SYLLABLES = "ba ko ri tu ne sa mo li ga pe zu da vi ho re".split()
MADE_UP = [a + b + c for a in SYLLABLES for b in SYLLABLES for c in SYLLABLES]
WORDS = ["final", "night", "live", "classic", "premiere", "derby", "noir", "quiz", *MADE_UP]
WORDS = WORDS[:5_000]
WEIGHTS = [1 / (rank + 1) for rank in range(len(WORDS))]
DAY_MS = 86_400_000


def fill(db_path: Path, *, events: int, attendees: int, users: int, seed: int) -> dict[str, Any]:
    """Fill a new database; returns the ids the queries use and the time it took."""
    rng = random.Random(seed)
    started = time.monotonic()
    db = open_database(db_path)
    now_ms = int(time.time() * 1000)
    user_ids = [uuid.uuid4().hex for _ in range(users)]
    event_ids = [uuid.uuid4().hex for _ in range(events)]
    heavy = user_ids[0]  # the account whose "attending" list is measured

    def write(conn: Any) -> None:
        c = conn.conn
        c.executemany(
            "INSERT INTO users (id, email, password_hash, display_name, role, is_guest, "
            "is_active, created_at_ms) VALUES (?, ?, NULL, ?, 'user', 0, 1, ?)",
            ((uid, f"u{i}@bench.invalid", f"User {i}", now_ms) for i, uid in enumerate(user_ids)),
        )

        def event_rows() -> Any:
            for eid in event_ids:
                start = now_ms + rng.randint(-180, 180) * DAY_MS + rng.randint(0, DAY_MS)
                words = rng.choices(WORDS, WEIGHTS, k=3)
                tags = sorted(set(rng.choices(WORDS[:300], WEIGHTS[:300], k=2)))
                yield (
                    eid,
                    rng.choice(user_ids),
                    " ".join(words).title(),
                    "A watch party: " + " ".join(rng.choices(WORDS, WEIGHTS, k=12)),
                    start,
                    start + 2 * 3_600_000,
                    "UTC",
                    "" if rng.random() < 0.7 else "Somewhere",
                    int(rng.random() < 0.7),
                    rng.choice(CATEGORIES),
                    '["' + '","'.join(tags) + '"]',
                    "public" if rng.random() < 0.8 else "private",
                    now_ms,
                    now_ms,
                )

        c.executemany(
            "INSERT INTO events (id, organizer_id, title, description, starts_at_ms, ends_at_ms, "
            "timezone, location, is_virtual, category, tags, privacy, created_at_ms, "
            "updated_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            event_rows(),
        )
        c.execute(
            "INSERT INTO event_tags (tag, event_id) SELECT DISTINCT j.value, e.id "
            "FROM events AS e, json_each(e.tags) AS j"
        )
        pairs: set[tuple[int, int]] = set()
        # The heavy account attends 200 events; everyone else makes up the rest.
        for e in rng.sample(range(events), min(200, events)):
            pairs.add((e, 0))
        while len(pairs) < attendees:
            pairs.add((rng.randrange(events), rng.randrange(1, users)))
        c.executemany(
            "INSERT INTO event_attendees (event_id, user_id, status, wanted, created_at_ms, "
            "updated_at_ms) VALUES (?, ?, ?, 'attending', ?, ?)",
            (
                (
                    event_ids[e],
                    user_ids[u],
                    "attending" if rng.random() < 0.8 else "maybe",
                    now_ms,
                    now_ms,
                )
                for e, u in pairs
            ),
        )
        c.execute(
            "UPDATE events SET attending_count = (SELECT count(*) FROM event_attendees AS a "
            "WHERE a.event_id = events.id AND a.status = 'attending')"
        )

    db.write_sync(write)
    db.write_sync(lambda conn: conn.execute("ANALYZE"))
    db.close()
    return {"heavy": heavy, "fill_s": time.monotonic() - started}


def measure(base: str, token: str, requests: int) -> dict[str, Summary]:
    """Latency of each query kind, milliseconds."""
    now = time.time()
    after = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 10 * 86400))
    before = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 40 * 86400))
    cases: list[tuple[str, str, bool]] = [
        ("upcoming (anonymous)", "/api/events/upcoming/", False),
        ("upcoming (signed in)", "/api/events/upcoming/", True),
        ("upcoming page 50", "/api/events/upcoming/?page=50", True),
        ("search q=final (the commonest word)", "/api/events/search/?q=final", True),
        (
            "search q=premiere derby (two common words)",
            "/api/events/search/?q=premiere%20derby",
            True,
        ),
        (
            f"search q={WORDS[400]} (a word of rank 400)",
            f"/api/events/search/?q={WORDS[400]}",
            True,
        ),
        ("search category=sport", "/api/events/search/?category=sport", True),
        ("search tags=live", "/api/events/search/?tags=live", True),
        ("search tags=live,noir", "/api/events/search/?tags=live,noir", True),
        (
            "search date range + is_virtual",
            f"/api/events/search/?starts_after={after}&starts_before={before}&is_virtual=true",
            True,
        ),
        (
            "search q + category + range",
            f"/api/events/search/?q=final&category=sport&starts_after={after}",
            True,
        ),
        ("attending", "/api/events/attending/", True),
    ]
    results: dict[str, Summary] = {}
    with httpx.Client(base_url=base, timeout=30.0) as client:
        for name, path, signed in cases:
            headers = {"Authorization": f"Bearer {token}"} if signed else {}
            for _ in range(5):  # warm the caches and the connection
                client.get(path, headers=headers).raise_for_status()
            times = []
            for _ in range(requests):
                t0 = time.perf_counter()
                client.get(path, headers=headers).raise_for_status()
                times.append((time.perf_counter() - t0) * 1000)
            results[name] = Summary.of(times)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--attendees", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--requests", type=int, default=200, help="requests per query kind")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    env = environment()
    with tempfile.TemporaryDirectory(prefix="wp-bench-events-") as tmp:
        db_path = Path(tmp) / "events.db"
        filled = fill(
            db_path, events=args.events, attendees=args.attendees, users=args.users, seed=args.seed
        )
        port = free_port_in(22000, 22049)
        web_port = free_port_in(22050, 22099)
        server = subprocess.Popen(
            [
                str(PROJECT_PYTHON.parent / "watchparty"),
                "serve",
                "--db",
                str(db_path),
                "--port",
                str(port),
                "--web-port",
                str(web_port),
                "--secret-key",
                SECRET,
                "--no-demo",
                "--log-level",
                "WARNING",
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_port(web_port)
            token = issue_token(
                SECRET,
                {"sub": filled["heavy"], "name": "User 0", "role": "user", "guest": False},
                typ=TYP_ACCESS,
                now_s=time.time(),
                ttl_s=3600,
            )
            results = measure(f"http://127.0.0.1:{web_port}", token, args.requests)
        finally:
            server.terminate()
            server.wait(timeout=30)
        size_mib = db_path.stat().st_size / 1048576
    rows = [
        (name, f"{s.p50:.1f}", f"**{s.p99:.1f}**", f"{s.max:.1f}", s.n)
        for name, s in results.items()
    ]
    markdown = "\n".join(
        [
            f"### Event queries: {args.events:,} events, {args.attendees:,} attendee rows",
            "",
            env_block(env, command_line("bench.events")),
            f"- database {size_mib:.0f} MiB filled in {filled['fill_s']:.0f} s; 80 % public "
            "events, starts spread over ±180 days (so about half are not ended), 2 h long; "
            "titles and descriptions of Zipf-distributed words from a 5,000-word "
            "vocabulary, 1-2 tags from its first 300; 10 categories; one `watchparty serve` "
            f"process; one httpx client, {args.requests} requests in a row per kind, page "
            "size 20; the signed-in account attends 200 events",
            "",
            md_table(("query", "p50 ms", "p99 ms", "max ms", "n"), rows),
        ]
    )
    path = write_result(
        "events",
        markdown,
        {"args": vars(args), "env": env, "results": {k: vars(v) for k, v in results.items()}},
    )
    print(markdown)
    print(f"\n(written to {path})")


if __name__ == "__main__":
    main()

"""RFC 6455 conformance of the sync socket's transport: the Autobahn TestSuite cases,
run by kosoku against an echo endpoint on exactly the transport path the sync socket
uses (tests/echo_server.py). Compression (12.*, 13.*: the server offers no
permessage-deflate) and performance (9.*) cases are not run; every other case must be
OK or NON-STRICT, except the three cases Autobahn itself grades INFORMATIONAL (7.1.6,
7.13.1, 7.13.2: behaviour it records without judging)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import trio

from tests.echo_server import serve_echo

INFORMATIONAL_BY_DESIGN = {"7.1.6", "7.13.1", "7.13.2"}


async def test_autobahn_cases_pass_against_the_sync_transport(
    tmp_path: Path, nursery: trio.Nursery
) -> None:
    port = await nursery.start(serve_echo)
    out = tmp_path / "reports"
    kosoku = Path(sys.executable).with_name("kosoku")
    with trio.fail_after(300):
        result = await trio.run_process(
            [
                str(kosoku),
                "-m",
                "fuzzingclient",
                "-x",
                "9.*",
                "-x",
                "12.*",
                "-x",
                "13.*",
                "-o",
                str(out),
                f"127.0.0.1:{port}",
            ],
            capture_stdout=True,
            capture_stderr=True,
            check=False,
        )
    assert result.returncode == 0, result.stderr.decode() + result.stdout.decode()
    reports = [json.loads(p.read_text()) for p in out.glob("*_case_*.json")]
    assert len(reports) > 200  # every case of sections 1-7 and 10 ran
    verdicts = {str(r["id"]): r["behavior"] for r in reports}
    failed = {
        case: verdict
        for case, verdict in verdicts.items()
        if verdict not in ("OK", "NON-STRICT")
        and not (case in INFORMATIONAL_BY_DESIGN and verdict == "INFORMATIONAL")
    }
    assert failed == {}
    close_verdicts = {str(r["id"]): r["behaviorClose"] for r in reports}
    assert {c: v for c, v in close_verdicts.items() if v not in ("OK", "INFORMATIONAL")} == {}

"""`ringbot demo` as a newcomer runs it: no credentials, exits by itself, shows alerts, buttons and a /ring
answer, and leaves nothing in the directory it was started from.

The first alert prints ~3 s after start; the scripted part (five calls, a Call back, four /ring commands, then a
queue alert forming and recovering) ends ~20 s in at --speed 1, so the test gives it 28 s (the part before the
queue alert needed 20 s on a loaded 2-CPU machine)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


def test_demo_runs_without_credentials_shows_alerts_and_leaves_its_cwd_clean(tmp_path: Path) -> None:
    cwd = tmp_path / "cwd"
    temp = tmp_path / "tmp"  # the demo's own temp dir lands here, so the test can clean it up
    cwd.mkdir()
    temp.mkdir()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "PYTHONPATH": str(REPO),
        "PYTHONUNBUFFERED": "1",
        "TMPDIR": str(temp),
    }  # no SLACK_/ANTBUDDY_/RINGBOT_ variable at all
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "bot.cli", "demo", "--seconds", "28"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=46,
    )
    took = time.monotonic() - started
    out = proc.stdout
    assert proc.returncode == 0, proc.stderr[-3000:] + out[-3000:]
    assert took < 40, f"the demo took {took:.1f} s"
    assert "new message in #C0CALLS" in out, out
    assert "[Call back]" in out and "[Mark handled]" in out
    assert "@an types /ring queues" in out, out
    queues_answer = out.split("@an types /ring queues", 1)[1]
    assert "only visible to you" in queues_answer and "Queues" in queues_answer, out
    assert "Missed call" in out and "Abandoned in queue CSKH" in out
    # the same number calling again updates its alert; shown as Slack shows it, without mrkdwn marks or ts
    assert "alert updated in #C0CALLS" in out, out
    assert not re.search(r"message \d+\.\d+", out), out
    assert "📞" in out or "🔴" in out, "emoji shortcodes are shown as emoji"
    assert not re.search(r"│ .*:[a-z_]+:", out), "an emoji shortcode was printed as text"
    # A queue alert forms in CSKH, is edited as it worsens, and recovers
    queue_part = out.split("@admin types /ring watch CSKH", 1)[1]
    assert "CSKH: 3 waiting" in queue_part and "CSKH: 4 waiting" in queue_part, out
    assert "CSKH recovered after" in queue_part, out
    assert "Traceback" not in proc.stderr, proc.stderr
    assert list(cwd.iterdir()) == [], "the demo left files in its working directory"
    match = re.search(r"the database is left in (\S+)", out)
    assert match, out
    db_dir = Path(match.group(1))
    assert db_dir.parent == temp and (db_dir / "ringbot.db").exists()
    shutil.rmtree(db_dir)

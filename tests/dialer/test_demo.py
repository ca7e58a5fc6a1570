"""`robot demo`, the README's main-job command, end to end (real daemon, worker, SIP, speech)."""

from __future__ import annotations

import io

import pytest

from robot.dialer.demo import run_demo

pytestmark = pytest.mark.slow  # real processes (see pyproject: markers)


async def test_the_demo_reaches_every_expected_outcome():
    out = io.StringIO()
    assert await run_demo(out=out) == 0, out.getvalue()
    text = out.getvalue()  # rows: id, two-word name, risk, attempts, outcome, expected
    outcomes = {line.split()[0]: line.split()[5] for line in text.split("Outcomes")[1].splitlines()[2:7]}
    assert outcomes == {"DEMO-1": "escalated", "DEMO-2": "dissuaded", "DEMO-3": "busy", "DEMO-4": "no_answer",
                        "DEMO-5": "escalated"}, text
    queue = text.split("Escalation queue")[1]
    for reason in ("high_risk", "unanswered_busy", "unanswered", "urgent_speech"):
        assert reason in queue, text
    # The phrase is what the robot had heard when it knew (a partial result: "keep it se…" may
    # still read "keep it take", heard by sound as "keep it secret").
    assert 'heard: "they told me to keep it' in queue

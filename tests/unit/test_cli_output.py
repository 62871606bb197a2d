"""The CLI's colour: on a terminal only, and never with NO_COLOR set."""

from __future__ import annotations

import io
import json

from govbus_dev.cli.output import print_json, say, table


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def on_a_terminal(monkeypatch, text: str, **env: str) -> str:
    """What ``say(text, style="red")`` writes to a colour terminal with ``env``."""
    monkeypatch.setenv("TERM", "xterm-256color")
    for name in ("NO_COLOR", "FORCE_COLOR", "COLORTERM"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    screen = Terminal()
    # swapped in the test's own phase: pytest's capture sets sys.stdout per phase
    with monkeypatch.context() as patch:
        patch.setattr("sys.stdout", screen)
        say(text, style="red")
    return screen.getvalue()


def test_a_terminal_gets_colour(monkeypatch):
    assert "\x1b[31m" in on_a_terminal(monkeypatch, "audit chain BROKEN")


def test_no_color_turns_colour_off_on_a_terminal(monkeypatch):
    shown = on_a_terminal(monkeypatch, "audit chain BROKEN", NO_COLOR="1")
    assert "31m" not in shown and "audit chain BROKEN" in shown


def test_piped_output_is_plain_whole_lines_and_text_not_markup(capsys):
    long_reason = "EventBridge: [bold]" + "x" * 300
    table(["queue", "reason"], [("govbus-dev-dispatch-dlq", long_reason)])
    say("[not markup] " + "y" * 300)
    out = capsys.readouterr().out
    assert "\x1b[" not in out
    lines = out.splitlines()
    assert lines[1].split(None, 1) == ["govbus-dev-dispatch-dlq", long_reason], "one whole row"
    assert lines[2] == "[not markup] " + "y" * 300


def test_json_output_is_one_document(capsys):
    print_json([{"name": "福州", "count": 2}])
    assert json.loads(capsys.readouterr().out) == [{"name": "福州", "count": 2}]


def test_a_long_job_shows_a_bar_that_learns_its_size_on_a_terminal_only(monkeypatch):
    from govbus_dev.cli.output import progress

    monkeypatch.setenv("TERM", "xterm-256color")
    screen = Terminal()
    with monkeypatch.context() as patch:
        patch.setattr("sys.stderr", screen)
        with progress("verifying the audit chain") as step:
            step.set_total(3)
            for _ in range(3):
                step()
    assert "verifying the audit chain" in screen.getvalue() and "3/3" in screen.getvalue()

    piped = io.StringIO()
    with monkeypatch.context() as patch:
        patch.setattr("sys.stderr", piped)
        with progress("verifying the audit chain", total=2) as step:
            step()
    assert piped.getvalue() == "", "no bar off a terminal"

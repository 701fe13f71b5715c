"""The CLI's shared pieces: exit-code table (and its documentation), helpers, --help texts."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from jwtkit import errors
from jwtkit.cli._common import EXIT_CODES, EXIT_ERROR, EXIT_IO, EXIT_OK, EXIT_USAGE, exit_code_for
from jwtkit.cli.tokens import describe_time, format_duration, parse_claim, parse_duration

from .helpers import Run

Invoke = Callable[..., Run]
DOCS = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def _error_codes() -> set[str]:
    codes = set()
    for name in errors.__all__:
        cls = getattr(errors, name)
        if isinstance(cls, type) and issubclass(cls, errors.JWTKitError) and cls.code != "error":
            codes.add(cls.code)
    return codes


def test_every_error_code_has_its_own_exit_code() -> None:
    codes = _error_codes()
    assert codes == set(EXIT_CODES), codes ^ set(EXIT_CODES)
    values = list(EXIT_CODES.values())
    assert len(set(values)) == len(values)
    assert not {EXIT_OK, EXIT_USAGE, EXIT_IO, EXIT_ERROR} & set(values)
    assert all(0 < v < 126 for v in values)
    assert exit_code_for("something_new") == EXIT_ERROR


def test_exit_code_table_is_documented() -> None:
    text = DOCS.read_text()
    rows = dict(re.findall(r"^\|\s*(\d+)\s*\|\s*`([a-z_]+)`", text, re.MULTILINE))
    documented = {code: int(n) for n, code in rows.items()}
    expected = dict(EXIT_CODES) | {"ok": 0, "usage": 2, "io_error": 3, "error": 4}
    assert documented == expected


def test_verify_help_shows_the_exit_code_table(invoke: Invoke) -> None:
    run = invoke("verify", "--help")
    assert run.exit_code == 0
    for code, n in EXIT_CODES.items():
        assert re.search(rf"\b{n}\s+{code}\b", run.stdout), code


HELP_COMMANDS = [
    ["decode"],
    ["verify"],
    ["encode"],
    ["keys", "generate"],
    ["keys", "convert"],
    ["keys", "thumbprint"],
    ["keys", "jwks"],
]


@pytest.mark.parametrize("command", HELP_COMMANDS, ids=" ".join)
def test_every_command_has_help_with_examples(invoke: Invoke, command: list[str]) -> None:
    run = invoke(*command, "--help")
    assert run.exit_code == 0
    assert "Examples" in run.stdout
    assert f"$ jwtkit {' '.join(command)}" in run.stdout


def test_top_level_help_lists_commands(invoke: Invoke) -> None:
    run = invoke("--help")
    assert run.exit_code == 0
    for name in ("decode", "verify", "encode", "keys"):
        assert name in run.stdout
    keys = invoke("keys", "--help")
    for name in ("generate", "convert", "thumbprint", "jwks"):
        assert name in keys.stdout


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("15m", 900),
        ("2h", 7200),
        ("7d", 604800),
        ("1w", 604800),
        ("1h30m", 5400),
        ("3600", 3600),
        ("0", 0),
        (" 2H ", 7200),
    ],
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "m", "15 m", "-5m", "1.5h", "2y", "h1"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(Exception, match="not a duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("pair", "expected"),
    [
        ("a=1", ("a", 1)),
        ("a=1.5", ("a", 1.5)),
        ("a=true", ("a", True)),
        ("a=null", ("a", None)),
        ("a=x", ("a", "x")),
        ("a=", ("a", "")),
        ('a="1"', ("a", "1")),
        ("a=[1]", ("a", [1])),
        ('a={"b":2}', ("a", {"b": 2})),
        ("a=Infinity", ("a", "Infinity")),
        ("a=b=c", ("a", "b=c")),
    ],
)
def test_parse_claim(pair: str, expected: tuple[str, object]) -> None:
    assert parse_claim(pair) == expected


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 s"),
        (45, "45 s"),
        (119, "119 s"),
        (720, "12 min"),
        (-10800, "3 h"),
        (7199, "120 min"),
        (86400, "24 h"),
        (9 * 86400, "9 d"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_describe_time() -> None:
    now = 1_800_000_000
    assert describe_time("exp", now + 720, now)["relative"] == "expires in 12 min"  # type: ignore[index]
    assert describe_time("exp", now, now)["relative"] == "expired 0 s ago"  # type: ignore[index]
    assert describe_time("iat", now + 5, now)["relative"] == "issued 5 s in the future"  # type: ignore[index]
    assert describe_time("auth_time", now - 60, now)["relative"] == "authenticated 60 s ago"  # type: ignore[index]
    assert describe_time("updated_at", now - 60, now)["relative"] == "60 s ago"  # type: ignore[index]
    assert describe_time("exp", "soon", now) is None
    assert describe_time("exp", True, now) is None
    assert describe_time("exp", 10**20, now) is None
    assert describe_time("exp", float("nan"), now) is None


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["verify"], "jwtkit: usage: Missing argument 'TOKEN'. (see 'jwtkit verify --help')"),
        (["decode", "x", "--bogus"], "jwtkit: usage: No such option: --bogus"),
        (["keys", "generate", "--kty", "DSA"], "jwtkit: usage: Invalid value for '--kty'"),
        (["no-such-command"], "jwtkit: usage: No such command 'no-such-command'."),
    ],
)
def test_main_reports_click_usage_errors_on_one_line(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from jwtkit.cli import main

    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(needle), err


def test_main_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    from jwtkit.cli import main

    for argv, code in ((["decode", "--help"], 0), (["decode", "x"], 10), ([], 2), (["keys"], 2)):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == code, argv
    out = capsys.readouterr().out
    assert "Usage: jwtkit" in out

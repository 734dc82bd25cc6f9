"""The project's rule for bad input, as one assertion the command-line tests share."""

from __future__ import annotations

import subprocess


def one_line_error(res: subprocess.CompletedProcess, *parts: str) -> str:
    """Assert exit status 2 and one ``error:`` line on stderr, no traceback; return the line.

    Args:
        res: the finished command.
        parts: texts the line must contain.
    """
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    assert "Traceback" not in res.stderr
    for part in parts:
        assert part in lines[0], lines[0]
    return lines[0]

"""Command-line input checks: every number option in range, quiet broken pipes.

* :func:`int_in`, :func:`float_in`: argparse ``type=`` functions that accept only finite
  numbers within bounds, so ``--seed -1``, ``--boxes 0``, ``--peel-alpha 2`` or
  ``--threshold nan`` are one-line usage errors (exit status 2) before anything runs.
* :data:`NUMBER_RULES` and :func:`validate_numbers`: the bounds of every numeric option of
  every command, applied to a built parser in one place; :func:`unvalidated_options` lists
  numeric options that have no rule (a test keeps it empty).
* :func:`guard_main`: wraps the entry point so that ``openweight-sim scenarios | head -1``
  exits quietly when the reader closes the pipe, and an unexpected I/O error is one line.
"""

from __future__ import annotations

import argparse
import functools
import math
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from openweight_sim.inputs import MAX_REPLICATIONS, SEED_MAX

EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for `seq 1e9 | head -1`


def int_in(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: an integer in ``[low, high]``."""

    def parse(text: str) -> int:
        try:
            value = int(text, 10)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer (got {text!r})") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"must be an integer from {low:,} to {high:,} (got {value})"
            )
        return value

    parse.__name__ = "integer"
    return parse


def float_in(
    low: float = -math.inf,
    high: float = math.inf,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> Callable[[str], float]:
    """An argparse type: a finite number in ``[low, high]`` (``(`` / ``)`` if open)."""
    lo_txt = "" if low == -math.inf else f"{'>' if low_open else '>='} {low:g}"
    hi_txt = "" if high == math.inf else f"{'<' if high_open else '<='} {high:g}"
    bounds = " and ".join(t for t in (lo_txt, hi_txt) if t)

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number (got {text!r})") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be finite (got {text})")
        too_low = value <= low if low_open else value < low
        too_high = value >= high if high_open else value > high
        if too_low or too_high:
            raise argparse.ArgumentTypeError(f"must be {bounds} (got {text})")
        return value

    parse.__name__ = "number"
    return parse


NUMBER_RULES: dict[str, Callable[[str], Any]] = {
    "seed": int_in(0, SEED_MAX),
    "replications": int_in(1, MAX_REPLICATIONS),
    "compare.replications": int_in(2, MAX_REPLICATIONS),
    "meta.replications": int_in(2, MAX_REPLICATIONS),
    "workers": int_in(1, 1024),
    "budget": int_in(1, 1_000_000),
    "fresh_replications": int_in(1, MAX_REPLICATIONS),
    "boxes": int_in(1, 100),
    "threshold": float_in(),
    "min_density": float_in(0, 1),
    "peel_alpha": float_in(0, 0.5, low_open=True),
    "paste_alpha": float_in(0, 0.5),
    "mass_min": float_in(0, 1, low_open=True, high_open=True),
    "max_qp": float_in(0, 1),
    "port": int_in(1, 65535),
    "population": int_in(2, 1_000_000),
    "generations": int_in(1, 1000),
    "batch": int_in(1, 1_000_000),
    "min_epsilon": float_in(0),
    "min_acceptance": float_in(0, 1, high_open=True),
    "max_simulations": int_in(1, 10**9),
    "check": int_in(1, 100_000),
    "draws": int_in(2, 100_000),
    "draw_replications": int_in(2, MAX_REPLICATIONS),
    "kernel_scaling": float_in(0, 100, low_open=True),
}
"""Bounds of every numeric option, by destination; ``command.dest`` overrides ``dest``."""


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    subs: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            subs.update(action.choices)
    return subs


def _numeric_actions(parser: argparse.ArgumentParser):
    for command, sub in _subcommands(parser).items():
        for action in sub._actions:
            if action.type in (int, float) or getattr(action.type, "__name__", "") in (
                "integer",
                "number",
            ):
                yield command, action


def validate_numbers(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Give every ``type=int`` / ``type=float`` option of every command its bounds.

    Options without a rule in :data:`NUMBER_RULES` keep their type (see
    :func:`unvalidated_options`). Returns the parser.
    """
    for command, action in _numeric_actions(parser):
        rule = NUMBER_RULES.get(f"{command}.{action.dest}") or NUMBER_RULES.get(action.dest)
        if rule is not None:
            action.type = rule
    return parser


def unvalidated_options(parser: argparse.ArgumentParser) -> list[str]:
    """``command --option`` of every numeric option without bounds (should be none)."""
    return [
        f"{command} {action.option_strings[0] if action.option_strings else action.dest}"
        for command, action in _numeric_actions(parser)
        if action.type in (int, float)
    ]


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's final flush cannot fail."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # pragma: no cover - stdout already gone
        pass


def guard_main(main: Callable[[Sequence[str] | None], int]) -> Callable[..., int]:
    """Wrap the console entry point: quiet on a closed pipe, one line for an I/O error.

    A reader that stops early (``| head -1``) closes the pipe; the rest of the output is
    unwanted, so the command stops silently with the status a shell gives a process ended
    by SIGPIPE. Input problems are checked before anything runs; an I/O error that still
    happens (a disk filling up) is reported in one line, with exit status 1.
    """

    @functools.wraps(main)
    def wrapper(argv: Sequence[str] | None = None) -> int:
        try:
            code = main(argv)
            sys.stdout.flush()
            return code
        except BrokenPipeError:
            _silence_stdout()
            return EXIT_BROKEN_PIPE
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
            return 1

    return wrapper

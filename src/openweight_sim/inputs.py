"""Reading what users give us: one-line errors, size-limited YAML, plain names.

Everything a user hands the command line (scenario and sweep files, ``--set`` values,
names that become directories) passes through here, so that every problem is a
:class:`ScenarioError` of one line ``<file>: <field>: <problem>`` (exit status 2):

* :func:`read_text_file`: a small UTF-8 text file (directories, binary and non-UTF-8 files,
  oversized files are refused);
* :func:`safe_yaml`: ``yaml.safe_load`` that refuses documents that expand beyond
  :data:`YAML_MAX_NODES` values (alias bombs) or nest deeper than :data:`YAML_MAX_DEPTH`;
* :func:`check_plain_name`: a name that can be one directory name;
* :func:`format_validation_error`: pydantic's first error as one line.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError


class ScenarioError(ValueError):
    """A scenario, sweep file or override is invalid.

    Attributes:
        source: the file (or ``--set``) the problem comes from.
        field: dotted path of the offending field ("" if the whole file).
        problem: what is wrong, in words.
    """

    def __init__(self, source: str, field: str, problem: str):
        self.source, self.field, self.problem = str(source), field, problem
        parts = [self.source, field, problem] if field else [self.source, problem]
        super().__init__(": ".join(parts))


NAME_MAX_CHARS = 64
MAX_REPLICATIONS = 10_000
"""Most replications per point of a sweep, or per ``run``/``compare``/``validate``."""
SEED_MAX = 2**63 - 1
"""Largest root seed (seeds are recorded as signed 64-bit integers)."""
YAML_MAX_BYTES = 1_000_000
YAML_MAX_NODES = 100_000
YAML_MAX_DEPTH = 50


def check_plain_name(name: str) -> str:
    """Check that ``name`` can be used as one directory name; return it unchanged.

    A scenario's or sweep's name becomes the default results directory
    (``results/<name>``), so it must be a plain name: non-empty, at most
    :data:`NAME_MAX_CHARS` characters, no path separator, no ``..``, no leading dot and no
    control characters. Letters of any script are fine.

    Raises:
        ValueError: what is wrong, in words (pydantic reports it with the field's path).
    """
    if not name.strip():
        raise ValueError("must be a non-empty name")
    if len(name) > NAME_MAX_CHARS:
        raise ValueError(f"must be at most {NAME_MAX_CHARS} characters (got {len(name)})")
    if "/" in name or "\\" in name:
        raise ValueError("must be a plain name, not a path")
    if ".." in name or name.startswith("."):
        raise ValueError("must not contain '..' or start with '.'")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in name):
        raise ValueError("must not contain control characters")
    return name


def _expanded_size(node: yaml.Node, limit: int) -> int:
    """Nodes of a composed YAML document counted with aliases expanded (stops past limit).

    Aliases share one node, so a few hundred bytes can stand for billions of values (an
    "alias bomb"); counting the expansion with a memo costs one visit per distinct node.
    """
    memo: dict[int, int] = {}

    def size(n: yaml.Node, depth: int) -> int:
        if id(n) in memo:
            return memo[id(n)]
        if depth > YAML_MAX_DEPTH:
            raise _YamlLimit(f"nested more than {YAML_MAX_DEPTH} levels deep")
        total = 1
        if isinstance(n, yaml.SequenceNode):
            for child in n.value:
                total += size(child, depth + 1)
                if total > limit:
                    break
        elif isinstance(n, yaml.MappingNode):
            for k, v in n.value:
                total += size(k, depth + 1) + size(v, depth + 1)
                if total > limit:
                    break
        memo[id(n)] = total
        return total

    return size(node, 0)


class _YamlLimit(Exception):
    """A YAML document beyond the size limits."""


def safe_yaml(text: str) -> Any:
    """Parse YAML like ``yaml.safe_load``, refusing documents that expand beyond the limits.

    Raises:
        yaml.YAMLError: malformed YAML.
        ValueError: too large once aliases are expanded, or nested too deeply (message says).
    """
    loader = yaml.SafeLoader(text)
    try:
        try:
            node = loader.get_single_node()
        except RecursionError:
            raise ValueError(f"nested more than {YAML_MAX_DEPTH} levels deep") from None
        if node is None:
            return None
        try:
            n = _expanded_size(node, YAML_MAX_NODES)
        except _YamlLimit as exc:
            raise ValueError(str(exc)) from None
        if n > YAML_MAX_NODES:
            raise ValueError(
                f"too large: more than {YAML_MAX_NODES:,} values once aliases are expanded"
            )
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f"malformed YAML: {where}{problem}"


def read_text_file(path: Path, max_bytes: int = YAML_MAX_BYTES) -> str:
    """Read a small UTF-8 text file; every problem is a one-line :class:`ScenarioError`."""
    if path.is_dir():
        raise ScenarioError(path, "", "is a directory, not a file")
    if not path.exists():
        raise ScenarioError(path, "", "file not found")
    try:
        with path.open("rb") as fh:
            raw = fh.read(max_bytes + 1)
    except OSError as exc:
        raise ScenarioError(path, "", f"cannot read: {exc.strerror}") from None
    if len(raw) > max_bytes:
        raise ScenarioError(path, "", f"too large (more than {max_bytes:,} bytes)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(
            path, "", f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})"
        ) from None
    if "\x00" in text:
        raise ScenarioError(path, "", "not a text file (contains NUL bytes)")
    return text


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    """Read a YAML file that must hold a mapping; every problem is a one-line ScenarioError."""
    text = read_text_file(path)
    try:
        data = safe_yaml(text)
    except yaml.YAMLError as exc:
        raise ScenarioError(path, "", _yaml_problem(exc)) from None
    except ValueError as exc:
        raise ScenarioError(path, "", f"YAML {exc}") from None
    if not isinstance(data, dict):
        raise ScenarioError(path, "", "must be a YAML mapping of fields")
    return data


def format_validation_error(source: str, exc: ValidationError) -> ScenarioError:
    """Turn pydantic's first error into a one-line :class:`ScenarioError`."""
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith("function-"))
    msg = err["msg"].removeprefix("Value error, ")
    msg = {"finite_number": "must be finite", "int_parsing_size": "integer too large"}.get(
        err["type"], msg
    )
    if err["type"] == "extra_forbidden":
        msg = "unknown field"
    elif (
        err["type"] != "missing"
        and "input" in err
        and not isinstance(err["input"], dict)
        and "(got " not in msg
    ):
        got = repr(err["input"])
        msg = f"{msg} (got {got if len(got) <= 60 else got[:56] + '...' + got[-1]})"
    return ScenarioError(source, loc, msg)

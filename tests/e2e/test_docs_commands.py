"""The shell examples of README.md and docs/*.md, run as a reader pastes them, against a fresh local stack.

A block meant to be run against the local stack of `make run` is fenced as ```` ```sh local-stack ````.
Each `# NNN ...` line in it (at the start of a line) is the answer the text promises to the next curl
call of the block, in order: the HTTP status, then optionally the body as the text shows it. Every
`"key": value` pair shown there whose value is a plain string, number, true, false or null (and has
no `...`) must be in the answer's JSON, at any depth; every `Header-Name: value` shown must be among the
answer's headers (when the command asked for them with `-i`).

Each page's blocks run in one bash, in order (so a variable set by one block is there for the next,
as in a reader's terminal), against a stack of its own started for that page: the base URL is the only
thing replaced. curl is wrapped by a shell function that writes each answer's status to stderr and its
body to a file, and passes the body through unchanged, so `$(curl ...)` works as pasted.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devstack.process import LocalStackProcess
from devstack.template import REPO_ROOT
from tests.e2e.conftest import stack_on

MARK = "local-stack"
PAGES = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
DOCUMENTED_URLS = ("http://127.0.0.1:3000", "http://localhost:3000")
PAGE_TIMEOUT_SECONDS = 45

_FENCE = re.compile(r"^```([A-Za-z0-9_+-]*)[ \t]*(.*?)[ \t]*$")
_EXPECTED = re.compile(r"^# (\d{3})\b[ \t]*(.*)$")
_JSON_PAIR = re.compile(
    r'"([^"\\]+)"\s*:\s*("(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?![\d.])|true\b|false\b|null\b)'
)
_HEADER_PAIR = re.compile(r"\b([A-Z][A-Za-z]*(?:-[A-Z][A-Za-z]*)+): ([^\s,{]+)")
_ELIDED = ("...", "…")

# Every curl call of a block: its status to stderr (with where its body is), its body to stdout as is.
_CURL_WRAPPER = r"""
curl() {
  local answer
  answer=$(mktemp "$DOCS_ANSWERS/answer.XXXXXX")
  command curl -w '%{stderr}@@answer %{http_code} '"$answer"'\n' "$@" | tee "$answer"
  return "${PIPESTATUS[0]}"
}
"""


@dataclass(frozen=True)
class Expected:
    status: int
    shown: str  # what the text shows after the status

    def json_pairs(self) -> list[tuple[str, Any]]:
        pairs = []
        for key, raw in _JSON_PAIR.findall(self.shown):
            if any(mark in raw for mark in _ELIDED):
                continue
            pairs.append((key, json.loads(raw)))
        return pairs

    def header_pairs(self) -> list[tuple[str, str]]:
        return [(name.lower(), value) for name, value in _HEADER_PAIR.findall(self.shown)]


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # of the opening fence, 1-based
    language: str
    info: str
    text: str

    @property
    def runs_against_the_stack(self) -> bool:
        return self.language in ("sh", "bash") and MARK in self.info.split()

    @property
    def expected(self) -> list[Expected]:
        found = []
        for line in self.text.splitlines():
            match = _EXPECTED.match(line)
            if match:
                found.append(Expected(int(match.group(1)), match.group(2)))
        return found

    def where(self) -> str:
        return f"{self.page.relative_to(REPO_ROOT)}:{self.line}"


@dataclass(frozen=True)
class Answer:
    status: int
    raw: str  # as curl printed it: headers first when asked for with -i

    def headers(self) -> dict[str, str]:
        if not self.raw.startswith("HTTP/"):
            return {}
        head = re.split(r"\r?\n\r?\n", self.raw, maxsplit=1)[0]
        found = {}
        for line in head.splitlines()[1:]:
            name, _, value = line.partition(":")
            found[name.strip().lower()] = value.strip()
        return found

    def body(self) -> Any:
        text = self.raw
        if text.startswith("HTTP/"):
            parts = re.split(r"\r?\n\r?\n", text, maxsplit=1)
            text = parts[1] if len(parts) > 1 else ""
        return json.loads(text) if text.strip() else None


def fenced_blocks(page: Path) -> list[Block]:
    blocks: list[Block] = []
    opened: tuple[int, str, str] | None = None
    lines: list[str] = []
    for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), start=1):
        stripped = line.strip()
        if opened is None:
            match = _FENCE.match(stripped)
            if match:
                opened, lines = (number, match.group(1), match.group(2)), []
        elif stripped == "```":
            blocks.append(Block(page, opened[0], opened[1], opened[2], "\n".join(lines)))
            opened = None
        else:
            lines.append(line)
    assert opened is None, f"{page.name}:{opened and opened[0]}: a fence that is never closed"
    return blocks


def stack_blocks(page: Path) -> list[Block]:
    return [block for block in fenced_blocks(page) if block.runs_against_the_stack]


def _contains(document: Any, key: str, value: Any) -> bool:
    if isinstance(document, dict):
        if key in document and document[key] == value and type(document[key]) is type(value):
            return True
        return any(_contains(child, key, value) for child in document.values())
    if isinstance(document, list):
        return any(_contains(child, key, value) for child in document)
    return False


def mismatches(block: Block, answers: list[Answer]) -> list[str]:
    """What in `answers` (the block's curl calls, in order) differs from what the block's text says."""
    expected = block.expected
    statuses = [a.status for a in answers]
    if [e.status for e in expected] != statuses:
        return [f"{block.where()}: the text says {[e.status for e in expected]}, the API answered {statuses}"]
    problems = []
    for number, (promise, answer) in enumerate(zip(expected, answers, strict=True), start=1):
        pairs, headers = promise.json_pairs(), promise.header_pairs()
        try:
            body = answer.body() if pairs else None
        except json.JSONDecodeError:
            problems.append(f"{block.where()}, answer {number}: not JSON: {answer.raw[:300]!r}")
            continue
        for key, value in pairs:
            if not _contains(body, key, value):
                problems.append(
                    f"{block.where()}, answer {number}: the text shows {key!r}: {json.dumps(value)}, "
                    f"the answer is {answer.raw[:600]}"
                )
        got = answer.headers()
        for name, value in headers:
            if got.get(name) != value:
                problems.append(
                    f"{block.where()}, answer {number}: the text shows {name}: {value}, "
                    f"the answer's headers are {got}"
                )
    return problems


def run_page(blocks: list[Block], url: str, workdir: Path) -> list[list[Answer]]:
    """Run the blocks in one bash, in order, against `url`; each block's answers, in order."""
    script = [_CURL_WRAPPER]
    for index, block in enumerate(blocks):
        text = block.text
        for documented in DOCUMENTED_URLS:
            text = text.replace(documented, url)
        script += [f"echo '@@block {index}' >&2", text]
    answers_dir = workdir / "answers"
    answers_dir.mkdir()
    result = subprocess.run(
        ["bash", "-c", "\n".join(script)],  # noqa: S607 - bash from PATH, as a reader's terminal
        cwd=workdir,
        env={**os.environ, "DOCS_ANSWERS": str(answers_dir)},
        capture_output=True,
        text=True,
        timeout=PAGE_TIMEOUT_SECONDS,
        check=False,
    )
    per_block: list[list[Answer]] = [[] for _ in blocks]
    current = None
    for line in result.stderr.splitlines():
        if line.startswith("@@block "):
            current = int(line.split()[1])
        elif line.startswith("@@answer ") and current is not None:
            _, status, path = line.split(" ", 2)
            per_block[current].append(Answer(int(status), Path(path).read_text(encoding="utf-8")))
    return per_block


def _pages_with_stack_blocks() -> list[Path]:
    return [page for page in PAGES if stack_blocks(page)]


@pytest.fixture
def fresh_stack(tmp_path: Path, shared_emulator: str) -> Iterator[LocalStackProcess]:
    """A stack of its own, with its own resources, on the shared emulator: as fresh as `make run`'s, and
    as warm (one environment of each function started before it is ready)."""
    stack = stack_on(shared_emulator, tmp_path, warm_environments=None)
    yield stack
    stack.stop()


@pytest.mark.parametrize("page", _pages_with_stack_blocks(), ids=lambda p: p.name)
def test_the_pages_commands_answer_what_the_page_says_on_a_fresh_local_stack(page, fresh_stack, tmp_path):
    blocks = stack_blocks(page)

    answers = run_page(blocks, fresh_stack.url, tmp_path)

    problems = [
        problem for block, got in zip(blocks, answers, strict=True) for problem in mismatches(block, got)
    ]
    assert not problems, "\n".join(problems)


def test_the_readme_and_the_api_page_have_commands_to_run():
    assert stack_blocks(REPO_ROOT / "README.md")
    assert stack_blocks(REPO_ROOT / "docs" / "api.md")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_command_against_the_local_stack_is_marked_and_says_what_it_answers(page):
    problems = []
    for block in fenced_blocks(page):
        calls_the_stack = block.language in ("sh", "bash", "") and any(
            url.split("//")[1] in block.text for url in DOCUMENTED_URLS
        )
        if calls_the_stack and "curl" in block.text and not block.runs_against_the_stack:
            problems.append(f"{block.where()}: curl against the local stack, not fenced as sh {MARK}")
        if block.runs_against_the_stack and not block.expected:
            problems.append(f"{block.where()}: fenced as sh {MARK}, but says no answer (# NNN ...)")
    assert not problems, "\n".join(problems)


def test_a_block_that_says_201_where_the_api_answers_200_does_not_pass():
    block = Block(Path(REPO_ROOT / "docs" / "api.md"), 1, "sh", MARK, 'curl -X PUT ...\n# 201 {"a": 1}')
    created = Answer(201, '{"a": 1}')
    replaced = Answer(200, '{"a": 1}')

    assert mismatches(block, [created]) == []
    assert mismatches(block, [replaced]) != []


def test_a_field_the_text_shows_must_be_in_the_answer():
    block = Block(
        Path(REPO_ROOT / "README.md"),
        1,
        "sh",
        MARK,
        'curl ...\n# 200 Idempotent-Replayed: true {"channels": {"push": {"status": "SENT", "id": "7e..."}}}',
    )
    sent = Answer(
        200, 'HTTP/1.1 200 OK\r\nIdempotent-Replayed: true\r\n\r\n{"channels": {"push": {"status": "SENT"}}}'
    )
    failed = Answer(
        200,
        'HTTP/1.1 200 OK\r\nIdempotent-Replayed: true\r\n\r\n{"channels": {"push": {"status": "FAILED"}}}',
    )
    not_replayed = Answer(200, 'HTTP/1.1 200 OK\r\n\r\n{"channels": {"push": {"status": "SENT"}}}')

    assert mismatches(block, [sent]) == []
    assert mismatches(block, [failed]) != []
    assert mismatches(block, [not_replayed]) != []

"""The README and docs/ stay short, linked, self-contained and true to the command line.

- README.md is under 12,000 bytes and links every page in docs/; every link in README.md and docs/
  resolves to a file in the repository (and a `#anchor` to a heading of that page).
- No page points outside the repository (to a design document or a section sign).
- Every `dataops` command shown in a ```bash / ```sh / ```console block is parsed by the real click
  command (without running it), and every `dataops ...` in inline code names a real command and only
  its real options. A page that shows a command or option that does not exist fails, naming the page
  and the line.

Fast: nothing here starts Dagster; the CLI module only parses.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import click
import pytest

from dataops_assets.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
README_LIMIT = 12_000
SHELL_LANGUAGES = {"bash", "sh", "shell", "console", "zsh"}


def _pages() -> list[Path]:
    return [README, *sorted(DOCS.rglob("*.md"))]


def _name(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


# --- reading markdown -------------------------------------------------------------------------------

FENCE = re.compile(r"^\s*(```+|~~~+)\s*([\w+-]*)")
INLINE_CODE = re.compile(r"(`+)(.+?)\1")
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_LINK = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$")
HTML_LINK = re.compile(r"<a\s[^>]*href=\"([^\"]+)\"", re.IGNORECASE)


@dataclass(frozen=True)
class Line:
    page: Path
    number: int  # 1-based
    text: str

    def where(self) -> str:
        return f"{_name(self.page)}:{self.number}"


def _split(page: Path) -> tuple[list[Line], list[tuple[str, list[Line]]]]:
    """The page's prose lines (outside fenced blocks) and its fenced blocks as (language, lines)."""
    prose: list[Line] = []
    blocks: list[tuple[str, list[Line]]] = []
    fence: str | None = None
    for number, text in enumerate(page.read_text(encoding="utf-8").splitlines(), start=1):
        opening = FENCE.match(text)
        if fence is None and opening:
            fence = opening.group(1)
            blocks.append((opening.group(2).lower(), []))
        elif fence is not None and text.strip().startswith(fence) and not text.strip().strip(fence[0]):
            fence = None
        elif fence is not None:
            blocks[-1][1].append(Line(page, number, text))
        else:
            prose.append(Line(page, number, text))
    return prose, blocks


def _without_inline_code(text: str) -> str:
    return INLINE_CODE.sub("", text)


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    prose, _ = _split(page)
    found: set[str] = set()
    seen: dict[str, int] = {}
    for line in prose:
        heading = re.match(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$", line.text)
        if heading:
            slug = _slug(heading.group(1))
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def _links(page: Path) -> list[tuple[Line, str]]:
    prose, _ = _split(page)
    found = []
    for line in prose:
        text = _without_inline_code(line.text)
        for pattern in (LINK, REFERENCE_LINK, HTML_LINK):
            found.extend((line, m.group(1)) for m in pattern.finditer(text))
    return found


def _is_external(target: str) -> bool:
    return bool(re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target))


def _resolve(page: Path, target: str) -> tuple[Path, str]:
    path, _, anchor = target.partition("#")
    return ((page.parent / path).resolve() if path else page.resolve()), anchor


# --- (a) size and links -------------------------------------------------------------------------------


def test_readme_is_short():
    size = len(README.read_bytes())
    assert size < README_LIMIT, (
        f"README.md is {size:,} bytes; keep it under {README_LIMIT:,}, move the rest to docs/"
    )


def test_docs_exist():
    expected = {
        "environments.md",
        "api.md",
        "retention.md",
        "reliability.md",
        "science.md",
        "benchmarks.md",
        "contributing.md",
        "sources.md",
    }
    missing = sorted(expected - {p.name for p in DOCS.glob("*.md")})
    assert not missing, f"docs/ is missing {', '.join(missing)}"


def test_readme_links_every_docs_page():
    linked = {target for target, _ in (_resolve(README, t) for _, t in _links(README) if not _is_external(t))}
    unlinked = [_name(p) for p in sorted(DOCS.rglob("*")) if p.is_file() and p.resolve() not in linked]
    assert not unlinked, f"README.md does not link {', '.join(unlinked)}"


@pytest.mark.parametrize("page", _pages(), ids=_name)
def test_links_resolve_inside_the_repository(page: Path):
    problems = []
    for line, target in _links(page):
        if _is_external(target):
            continue
        path, anchor = _resolve(page, target)
        if not path.is_relative_to(ROOT):
            problems.append(f"{line.where()}: {target} points outside the repository")
        elif not path.exists():
            problems.append(f"{line.where()}: {target} does not exist")
        elif anchor and path.suffix == ".md" and anchor not in _anchors(path):
            problems.append(f"{line.where()}: {target}: no heading #{anchor} in {_name(path)}")
    assert not problems, "broken links:\n" + "\n".join(problems)


# --- (b) self-contained ------------------------------------------------------------------------------

OUTSIDE = re.compile(r"DESIGN|§|\.\./shared|/work/shared")


@pytest.mark.parametrize("page", _pages(), ids=_name)
def test_no_reference_outside_the_repository(page: Path):
    hits = [
        f"{_name(page)}:{n}: {text.strip()}"
        for n, text in enumerate(page.read_text(encoding="utf-8").splitlines(), start=1)
        if OUTSIDE.search(text)
    ]
    assert not hits, "the docs must stand on their own (no design document, no §):\n" + "\n".join(hits)


# --- (c) commands parse with the real CLI ----------------------------------------------------------

OPERATORS = {"&&", "||", "|", "|&", ";", "&", "(", ")", ";;"}
REDIRECTION = re.compile(r"^[0-9]*(?:[<>]+&?|&>+)[0-9-]*$")
ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


def _logical_lines(lines: list[Line]) -> list[Line]:
    """Join continuation lines (a trailing backslash) into one, numbered by its first line."""
    joined: list[Line] = []
    pending: Line | None = None
    for line in lines:
        text = line.text if pending is None else pending.text + " " + line.text.lstrip()
        start = line if pending is None else pending
        if text.rstrip().endswith("\\"):
            pending = Line(start.page, start.number, text.rstrip()[:-1])
        else:
            joined.append(Line(start.page, start.number, text))
            pending = None
    if pending is not None:
        joined.append(pending)
    return joined


def _commands(text: str) -> list[list[str]]:
    """The argument lists of the `dataops` invocations in one shell line (after `dataops`)."""
    text = re.sub(r"^\s*\$\s+", "", text)  # a console prompt
    text = re.sub(r"(?<=\s)\d+(?=>)", "", text)  # `2>err`: the descriptor is not an argument
    lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True  # and `#` starts a comment
    tokens = list(lexer)
    segments: list[list[str]] = [[]]
    skip_next = False
    for token in tokens:
        if skip_next:
            skip_next = False
        elif token in OPERATORS:
            segments.append([])
        elif REDIRECTION.match(token):
            skip_next = not token.endswith(("&1", "&2", "-"))
        else:
            segments[-1].append(token)
    found = []
    for segment in segments:
        while segment and ASSIGNMENT.match(segment[0]):
            segment = segment[1:]
        if segment and segment[0] == "dataops":
            found.append(segment[1:])
    return found


def _shown_commands() -> list[tuple[Line, list[str] | None]]:
    """Every `dataops` invocation in a shell block, as (line, arguments); None: the line does not split."""
    shown: list[tuple[Line, list[str] | None]] = []
    for page in _pages():
        _, blocks = _split(page)
        for language, lines in blocks:
            if language in SHELL_LANGUAGES:
                for line in _logical_lines(lines):
                    try:
                        shown.extend((line, args) for args in _commands(line.text))
                    except ValueError:  # e.g. an unclosed quote
                        if "dataops" in line.text:
                            shown.append((line, None))
    return shown


def _leaf(args: list[str]) -> tuple[click.Command, list[str], list[str]]:
    """Walk the command groups: (the command reached, its path, the arguments left for it)."""
    command: click.Command = main
    path = ["dataops"]
    rest = list(args)
    while isinstance(command, click.Group) and rest and not rest[0].startswith("-"):
        sub = command.commands.get(rest[0])
        if sub is None:
            known = ", ".join(sorted(command.commands))
            raise click.UsageError(f"{' '.join(path)} has no command {rest[0]!r} (it has: {known})")
        command, path, rest = sub, [*path, rest[0]], rest[1:]
    return command, path, rest


def _parse(args: list[str]) -> None:
    """Parse `dataops ARGS` with the real click commands, running nothing. Raises click.UsageError."""
    command, path, rest = _leaf(args)
    if (isinstance(command, click.Group) and not rest) or {"-h", "--help"} & set(rest):
        return  # a real command, shown for its help
    command.make_context(" ".join(path), rest, resilient_parsing=False)


SHOWN = _shown_commands()


def test_the_pages_show_commands():
    # Guards the parser above: the README's quick start and the docs' examples must be found.
    assert len(SHOWN) >= 30, f"only {len(SHOWN)} dataops commands found in the docs' shell blocks"
    assert any(_name(line.page) == "README.md" for line, _ in SHOWN)


@pytest.mark.parametrize(
    ("line", "args"), SHOWN, ids=[f"{line.where()}:{' '.join((args or ['?'])[:2])}" for line, args in SHOWN]
)
def test_shown_command_parses(line: Line, args: list[str] | None):
    if args is None:
        pytest.fail(
            f"{line.where()}: the shell line does not split (an unclosed quote?): {line.text.strip()}"
        )
    try:
        _parse(args)
        problem = None
    except click.UsageError as error:
        problem = error.format_message()
    assert problem is None, f"{line.where()}: `dataops {shlex.join(args)}` does not parse: {problem}"


def _options(command: click.Command) -> set[str]:
    ctx = click.Context(command, info_name=command.name)
    return {opt for param in command.get_params(ctx) for opt in (*param.opts, *param.secondary_opts)}


def _inline_problems(line: Line, span: str) -> list[str]:
    """A span such as `dataops serve [--host H] [--port P]`: a real command, and only its options."""
    try:
        command, path, rest = _leaf(span.split()[1:])
    except click.UsageError as error:
        return [f"{line.where()}: `{span}`: {error.format_message()}"]
    known = _options(command)
    shown = {m.group(1) for word in rest if (m := re.match(r"^\[?(--?[A-Za-z][\w-]*)", word))}
    return [
        f"{line.where()}: `{span}`: {' '.join(path)} has no option {opt}" for opt in sorted(shown - known)
    ]


def test_inline_commands_name_real_commands_and_options():
    problems = []
    checked = 0
    for page in _pages():
        prose, _ = _split(page)
        for line in prose:
            for match in INLINE_CODE.finditer(line.text):
                span = match.group(2).strip()
                if span.startswith("dataops ") or span == "dataops":
                    checked += 1
                    problems.extend(_inline_problems(line, span))
    assert checked >= 18, f"only {checked} inline `dataops ...` spans found"
    assert not problems, "inline commands that do not exist:\n" + "\n".join(problems)


def _leaf_paths(command: click.Command, path: tuple[str, ...] = ("dataops",)) -> list[str]:
    if isinstance(command, click.Group):
        return [p for name, sub in sorted(command.commands.items()) for p in _leaf_paths(sub, (*path, name))]
    return [" ".join(path)]


def test_readme_command_table_lists_every_command():
    rows = [line.text for line in _split(README)[0] if line.text.startswith("| `dataops ")]
    missing = [
        path
        for path in _leaf_paths(main)
        if not any(re.match(rf"^\| `{re.escape(path)}(?=[ `])", row) for row in rows)
    ]
    assert not missing, f"README.md's command table has no line for: {', '.join(missing)}"

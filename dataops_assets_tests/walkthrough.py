"""Follows a documentation page literally: the files it shows are written, the commands it shows are
run, the outputs it shows are checked, in the page's order.

A page marks what to follow with a comment before a fenced block (invisible when rendered):

    <!-- walkthrough: data NAME -->   the block is how the file NAME (made by the test) begins
    <!-- walkthrough: file PATH -->   the block is the whole content of PATH in the project
    <!-- walkthrough: edit PATH -->   the block's top-level YAML keys replace those sections of PATH
    <!-- walkthrough: run -->         every command of the block runs, in the project, and succeeds
    <!-- walkthrough: output -->      the block's lines appear, in order, in what the last run printed
                                      (spaces collapsed; a line `...` skips any number of lines)

`dataops serve … &` starts the API in the background (stopped at the end) and waits until it answers;
the port the page shows is replaced by a free one.
"""

from __future__ import annotations

import contextlib
import re
import shlex
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

DIRECTIVE = re.compile(r"^<!-- walkthrough: (\w+)\s*(.*?)\s*-->$")
FENCE = re.compile(r"^(```+)")


@dataclass
class Step:
    kind: str  # data, file, edit, run, output
    argument: str
    text: str
    line: int  # where the block starts on the page


def steps(page: Path) -> list[Step]:
    """The page's marked blocks, in order."""
    lines = page.read_text(encoding="utf-8").splitlines()
    found: list[Step] = []
    pending: tuple[str, str, int] | None = None
    i = 0
    while i < len(lines):
        directive = DIRECTIVE.match(lines[i].strip())
        fence = FENCE.match(lines[i])
        if directive:
            pending = (directive.group(1), directive.group(2), i + 1)
        elif fence and pending:
            end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith(fence.group(1)))
            found.append(Step(pending[0], pending[1], "\n".join(lines[i + 1 : end]) + "\n", i + 2))
            pending, i = None, end
        i += 1
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _collapse(text: str) -> str:
    return " ".join(text.split())


def shown_lines_appear(expected: str, printed: str) -> str | None:
    """None when every shown line is in `printed`, in order; else the first line that is not."""
    lines = [_collapse(line) for line in printed.splitlines()]
    at = 0
    for wanted in (_collapse(line) for line in expected.splitlines()):
        if not wanted or wanted == "...":
            continue
        while at < len(lines) and wanted not in lines[at]:
            at += 1
        if at == len(lines):
            return wanted
        at += 1
    return None


def replace_sections(original: str, replacement: str) -> str:
    """`original` YAML text with the top-level sections `replacement` holds put in their place."""
    keys = re.findall(r"^([A-Za-z_][\w-]*):", replacement, re.M)
    out: list[str] = []
    skipping = False
    for line in original.splitlines():
        top = re.match(r"^([A-Za-z_][\w-]*):", line)
        if top:
            skipping = top.group(1) in keys
        elif line and not line[0].isspace() and not line.startswith("#"):
            skipping = False
        if not skipping:
            out.append(line)
    return "\n".join(out).rstrip("\n") + "\n" + replacement


@dataclass
class Follower:
    """Runs a page's steps in `project` with `env`; records each command's time and output."""

    project: Path
    env: dict[str, str]
    timings: list[tuple[str, float]] = field(default_factory=list)
    servers: list[subprocess.Popen] = field(default_factory=list)
    port: int = field(default_factory=_free_port)

    def follow(self, page: Path, data: dict[str, Path]) -> None:
        printed = ""
        for step in steps(page):
            where = f"{page.name}:{step.line}"
            if step.kind == "data":
                head = (
                    data[step.argument]
                    .read_text(encoding="utf-8")
                    .splitlines()[: len(step.text.splitlines())]
                )
                assert "\n".join(head) + "\n" == step.text, f"{where}: the page shows another {step.argument}"
            elif step.kind == "file":
                target = self.project / step.argument
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(step.text, encoding="utf-8")
            elif step.kind == "edit":
                target = self.project / step.argument
                target.write_text(
                    replace_sections(target.read_text(encoding="utf-8"), step.text), encoding="utf-8"
                )
            elif step.kind == "run":
                printed = "".join(self.run(line, where) for line in step.text.splitlines() if line.strip())
            elif step.kind == "output":
                missing = shown_lines_appear(step.text, printed)
                assert missing is None, (
                    f"{where}: the page shows {missing!r}, the command printed:\n{printed}"
                )
            else:
                raise AssertionError(f"{where}: unknown walkthrough step {step.kind!r}")

    def run(self, command: str, where: str = "") -> str:
        """Run one command as the page shows it (the port replaced); what it printed."""
        command = command.replace(":8000", f":{self.port}").replace("--port 8000", f"--port {self.port}")
        started = time.perf_counter()
        if command.rstrip().endswith("&"):
            words = shlex.split(command.rstrip().rstrip("&"))
            log = open(self.project / f"background-{len(self.servers)}.log", "w")  # noqa: SIM115
            self.servers.append(
                subprocess.Popen(words, cwd=self.project, env=self.env, stdout=log, stderr=subprocess.STDOUT)
            )
            self._wait_for_port(where)
            self.timings.append((command, time.perf_counter() - started))
            return ""
        result = subprocess.run(
            command, shell=True, executable="/bin/bash", cwd=self.project, env=self.env,
            capture_output=True, text=True, timeout=900, check=False,
        )  # fmt: skip
        self.timings.append((command, time.perf_counter() - started))
        assert result.returncode == 0, f"{where}: `{command}` failed:\n{result.stdout}{result.stderr}"
        return result.stdout

    def _wait_for_port(self, where: str) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5),
            ):
                return
            assert self.servers[-1].poll() is None, f"{where}: the background command stopped"
            time.sleep(0.1)
        raise AssertionError(f"{where}: nothing answered on port {self.port}")

    def stop(self) -> None:
        for server in self.servers:
            server.terminate()
            server.wait(timeout=30)


@contextlib.contextmanager
def following(project: Path, env: dict[str, str]) -> Iterator[Follower]:
    follower = Follower(project, env)
    try:
        yield follower
    finally:
        follower.stop()

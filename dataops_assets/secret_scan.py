"""Finds secret values in configuration that goes into Git (environment files, dbt profile, dagster.yaml)
and in what the platform writes down as it runs (Dagster's event log, the API's request log).

A secret belongs in an environment variable; a file names it (`{env: DATAOPS_PG_DSN}`, dbt's
`{{ env_var('…') }}`). This scan flags what must not be there: a URL with a password in it, a key
that names a secret (password, token, dsn, …) holding a literal value, cloud access keys and private
keys — in values and in comments alike. A log is scanned line by line for the same patterns; a
password blanked as *** (dataops_assets/redact.py) is not one. CI runs it through the test suite; run
it by hand with `python -m dataops_assets.secret_scan [FILE …]`, or `--logs FILE …` for logs.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

from dataops_assets.paths import DBT_PROJECT_DIR, ENVIRONMENTS_DIR, PROJECT_DIR

NOT_REDACTED = r"(?!\*\*\*(?:[@\s'\";&,)]|$))"  # what redact() leaves, ***, is no secret
# Patterns that are a secret wherever they appear, comments included.
TEXT_RULES = {
    "a URL with a password in it": re.compile(
        rf"[a-z][a-z0-9+.-]*://[^\s/:@'\"]+:{NOT_REDACTED}[^\s/@'\"{{}}]+@", re.I
    ),
    "a password in a connection string": re.compile(rf"\bpassword\s*=\s*{NOT_REDACTED}[^\s{{'\";]+", re.I),
    "an AWS access key id": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "a private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
}
SECRET_KEY = re.compile(r"pass(word|wd)?|secret|token|api_?key|access_?key|private_?key|credential|dsn", re.I)
# How a file may refer to a secret without holding it.
REFERENCE = re.compile(r"^\s*\{\{\s*env_var\(\s*'[A-Z_][A-Z0-9_]*'\s*(,\s*'')?\s*\)\s*\}\}\s*$")


def default_files() -> list[Path]:
    return sorted(ENVIRONMENTS_DIR.glob("*.yaml")) + [
        DBT_PROJECT_DIR / "profiles.yml",
        PROJECT_DIR / "dagster.yaml",
    ]


def _literal_secrets(node: object, path: str) -> list[str]:
    """Keys that name a secret but hold a literal (a mapping such as {env: VAR} is a reference)."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            where = f"{path}.{key}" if path else str(key)
            if (
                SECRET_KEY.search(str(key))
                and isinstance(value, str | int | float)
                and not isinstance(value, bool)
                and str(value).strip()
                and not REFERENCE.match(str(value))
            ):
                found.append(f"{where} holds a literal value: reference it as {{env: VARIABLE}}")
            found += _literal_secrets(value, where)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            found += _literal_secrets(item, f"{path}[{i}]")
    return found


def scan_text(text: str, origin: str) -> list[str]:
    """One finding per secret, as 'origin:line: what' (or 'origin: key.path …' for a literal value)."""
    findings = scan_log(text, origin)
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError:
        return findings + [f"{origin}: not valid YAML, so it could not be checked"]
    return findings + [f"{origin}: {f}" for f in _literal_secrets(document, "")]


def scan_log(text: str, origin: str) -> list[str]:
    """One finding per secret in a log (an event log, a request log), as 'origin:line: what'."""
    return [
        f"{origin}:{number}: {what}"
        for number, line in enumerate(text.splitlines(), 1)
        for what, pattern in TEXT_RULES.items()
        if pattern.search(line)
    ]


def scan_files(paths: list[Path], logs: bool = False) -> list[str]:
    scan = scan_log if logs else scan_text
    return [finding for path in paths for finding in scan(path.read_text(errors="replace"), str(path))]


if __name__ == "__main__":
    logs = sys.argv[1:2] == ["--logs"]
    problems = scan_files([Path(p) for p in sys.argv[1 + logs :]] or default_files(), logs=logs)
    print("\n".join(problems) or "no secrets found")
    sys.exit(1 if problems else 0)

"""Passwords out of text a person or a log will see, even text that does not parse.

Error messages quote what they failed on: psycopg quotes a DSN it cannot read whole, password
included. Every error path that shows text (the CLI's `fail`, the API's errors and logs, run
failure reasons, provisioning) passes it through `redact`, which blanks the password of any
`scheme://user:password@` and any `password=...` it finds, without needing the text to parse.
"""

from __future__ import annotations

import re

REDACTED = "***"

# scheme://user:password@ — the password runs to the token's last '@' (a password may hold '@' or '/').
_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s:/@]*:)\S*@")
# password=value (libpq key/value DSNs, query strings, PGPASSWORD=…), quoted or not.
_KEY_PASSWORD = re.compile(
    r"""(?i)(pass(?:word|wd)\s*=\s*)('(?:[^'\\]|\\.)*'?|"(?:[^"\\]|\\.)*"?|[^\s,;&)'"]+)"""
)
# 'password': 'value' (a parsed DSN printed as a dict or JSON).
_MAPPED_PASSWORD = re.compile(
    r"""(?i)(['"]pass(?:word|wd)['"]\s*:\s*)('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")"""
)


def redact(text: str) -> str:
    """`text` with every password it holds replaced by ***."""
    text = _URL_PASSWORD.sub(rf"\1{REDACTED}@", text)
    text = _KEY_PASSWORD.sub(rf"\1{REDACTED}", text)
    return _MAPPED_PASSWORD.sub(rf"\1'{REDACTED}'", text)

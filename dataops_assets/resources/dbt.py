"""How the platform calls dbt: the executable beside this interpreter, so a venv works unactivated."""

from __future__ import annotations

import sys
from pathlib import Path


def dbt_executable() -> str:
    local = Path(sys.executable).parent / "dbt"
    return str(local) if local.exists() else "dbt"

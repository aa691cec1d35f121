"""Readers for the recorded vendor traffic in ../shared/specs/recorded (see its README).

PyGithub replay files: one block per HTTP exchange, 10 lines each (scheme, method, host,
port, path+query, request headers as a Python dict literal, request body or ``None``,
status, response headers as a Python list of tuples, response body), blocks separated by a
blank line. License of that data: LGPL-3.0 (PyGithub), kept in ../shared.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from pathlib import Path

SHARED = Path(__file__).resolve().parents[3] / "shared"
SPECS = SHARED / "specs"
RECORDED = SPECS / "recorded"
PYGITHUB = RECORDED / "github" / "pygithub"


@dataclass(frozen=True)
class Exchange:
    method: str
    host: str
    path: str
    request_headers: dict
    request_body: str | None
    status: int
    response_headers: dict
    body: str

    def json(self):
        return json.loads(self.body) if self.body.strip() else None


def read_replay(name: str) -> list[Exchange]:
    """Parse ``pygithub/<name>`` into exchanges, in file order."""
    lines = (PYGITHUB / name).read_text(encoding="utf-8").split("\n")
    out: list[Exchange] = []
    i = 0
    while i + 9 < len(lines) + 1:
        while i < len(lines) and lines[i].strip() == "":
            i += 1
        if i + 9 >= len(lines) + 1 or i >= len(lines):
            break
        block = lines[i : i + 10]
        if len(block) < 10:
            break
        body = block[6]
        out.append(
            Exchange(
                method=block[1],
                host=block[2],
                path=block[4],
                request_headers=ast.literal_eval(block[5]),
                request_body=None if body == "None" else body,
                status=int(block[7]),
                response_headers={k.lower(): v for k, v in ast.literal_eval(block[8])},
                body=block[9],
            )
        )
        i += 10
    return out

"""TOML line finder: ``Positions`` maps key paths to the line they start on (``tomllib`` gives none).

Used to name the line of a bad key in ``FILE:LINE: key: message``, and the key a TOML duplicate
error is about (``duplicates``: ``(path, line, first line)`` of each key or table defined
again, in file order); best-effort, it never raises.
"""

from __future__ import annotations

import json
import re

__all__ = ["BARE_KEY", "Positions"]

#: A TOML bare key; others are quoted.
BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


class Positions:
    """Map key paths (``("rules", 0, "steps", 1, "after")``) to 1-based line numbers, best-effort."""

    def __init__(self, text: str):
        self.text = text
        self.i = 0
        self.line = 1
        self.lines: dict[tuple, int] = {}
        self._aot_count: dict[tuple, int] = {}
        self._aot_current: dict[tuple, int] = {}
        self._defined: dict[tuple, int] = {}  # keys given a value and [tables] declared -> line
        self.duplicates: list[tuple[tuple, int, int]] = []
        try:
            self._document()
        except Exception:  # never let the locator hide the real problem
            pass

    def line_of(self, path: tuple) -> int | None:
        """Return the line of ``path`` or of its nearest recorded ancestor (``None`` if none)."""
        for n in range(len(path), 0, -1):
            line = self.lines.get(tuple(path[:n]))
            if line is not None:
                return line
        return None

    # -- scanning ------------------------------------------------------------------------------

    def _peek(self, n: int = 1) -> str:
        return self.text[self.i : self.i + n]

    def _advance(self, n: int = 1) -> None:
        self.line += self.text.count("\n", self.i, self.i + n)
        self.i += n

    def _skip(self, newlines: bool) -> None:
        while self.i < len(self.text):
            c = self.text[self.i]
            if c in " \t\r" or (newlines and c == "\n"):
                self._advance()
            elif c == "#":
                end = self.text.find("\n", self.i)
                self._advance((len(self.text) if end < 0 else end) - self.i)
            else:
                return

    def _string(self) -> str:
        for quote in ('"""', "'''"):
            if self._peek(3) == quote:
                end = self.text.find(quote, self.i + 3)
                while quote[0] == '"' and end > 0 and self._escaped(end):
                    end = self.text.find(quote, end + 1)
                end = len(self.text) if end < 0 else end
                while self.text[end + 3 : end + 4] == quote[0]:
                    end += 1
                value = self.text[self.i + 3 : end]
                self._advance(end + 3 - self.i)
                return value
        quote = self.text[self.i]
        j = self.i + 1
        while j < len(self.text) and self.text[j] != quote and self.text[j] != "\n":
            j += 2 if quote == '"' and self.text[j] == "\\" else 1
        raw = self.text[self.i + 1 : j]
        self._advance(j + 1 - self.i)
        if quote == '"':
            try:
                return json.loads(f'"{raw}"')
            except ValueError:
                return raw
        return raw

    def _escaped(self, at: int) -> bool:
        n = 0
        while at - 1 - n >= 0 and self.text[at - 1 - n] == "\\":
            n += 1
        return n % 2 == 1

    def _key(self) -> list[str]:
        parts = []
        while True:
            self._skip(False)
            c = self._peek()
            if c in ('"', "'"):
                parts.append(self._string())
            else:
                m = BARE_KEY.match(self.text, self.i)
                if not m:
                    raise ValueError("no key")
                parts.append(m.group())
                self._advance(m.end() - self.i)
            self._skip(False)
            if self._peek() != ".":
                return parts
            self._advance()

    def _record(self, path: tuple, line: int) -> None:
        self.lines.setdefault(path, line)

    def _define(self, path: tuple, line: int) -> None:
        first = self._defined.setdefault(path, line)
        if first != line or any(d[0] == path for d in self.duplicates):
            self.duplicates.append((path, line, first))

    def duplicate_at(self, line: int) -> tuple[tuple, int] | None:
        """Return ``(path, first line)`` of the key or table defined again on ``line``, if any."""
        for path, at, first in self.duplicates:
            if at == line:
                return path, first
        return None

    def _value(self, path: tuple) -> None:
        self._skip(False)
        c = self._peek()
        if c == "[":
            self._advance()
            index = 0
            while True:
                self._skip(True)
                if self._peek() == "]":
                    self._advance()
                    return
                self._record(path + (index,), self.line)
                self._value(path + (index,))
                self._skip(True)
                if self._peek() == ",":
                    self._advance()
                    index += 1
                elif self._peek() != "]":
                    raise ValueError("unexpected text in array")
        elif c == "{":
            self._advance()
            while True:
                self._skip(True)
                if self._peek() == "}":
                    self._advance()
                    return
                if self._peek() == ",":
                    self._advance()
                    continue
                line = self.line
                key = tuple(self._key())
                for n in range(1, len(key) + 1):
                    self._record(path + key[:n], line)
                self._define(path + key, line)
                self._skip(False)
                self._advance()  # '='
                self._value(path + key)
        elif c in ('"', "'"):
            self._string()
        else:
            m = re.compile(r"[^,\]}\n#]*").match(self.text, self.i)
            self._advance(m.end() - self.i)

    def _document(self) -> None:
        table: tuple = ()
        while True:
            self._skip(True)
            if self.i >= len(self.text):
                return
            line = self.line
            if self._peek() == "[":
                aot = self._peek(2) == "[["
                self._advance(2 if aot else 1)
                keys = self._key()
                self._advance(2 if aot else 1)
                path: tuple = ()
                for n, key in enumerate(keys):
                    path += (key,)
                    last = n == len(keys) - 1
                    if last and aot:
                        index = self._aot_count.get(path, 0)
                        self._aot_count[path] = index + 1
                        self._aot_current[path] = index
                        path += (index,)
                    elif path in self._aot_current:
                        path += (self._aot_current[path],)
                    self._record(path, line)
                if not aot:
                    self._define(path, line)
                table = path
            else:
                key = tuple(self._key())
                for n in range(1, len(key) + 1):
                    self._record(table + key[:n], line)
                self._define(table + key, line)
                self._skip(False)
                self._advance()  # '='
                self._value(table + key)

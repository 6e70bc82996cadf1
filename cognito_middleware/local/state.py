"""The state file: the emulator's pools, users, identities, keys and tokens across restarts.

The file is JSON (see README, "State file"). It is written whole, to a temporary file in the
same directory that is flushed to disk and then renamed over the old one, so a crash leaves
either the previous state or the new one, never a torn file. Writes happen on a background
thread shortly after each change (:class:`StateSaver`), never on the event loop.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .seed import Seed, SeedError

__all__ = ["FORMAT", "VERSION", "StateError", "StateFile", "StateSaver", "seed_of"]

FORMAT = "cognito-middleware-local-state"
VERSION = 1
_SECTIONS: dict[str, type | tuple[type, ...]] = {
    "user_pool": dict,
    "identity_pool": (dict, type(None)),
    "issuer_style": str,
}
_logger = logging.getLogger("cognito_middleware.local")


class StateError(ValueError):
    """The state file cannot be used; the message names the file and what is wrong."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


class StateFile:
    """One state file: :meth:`load` validates it, :meth:`save` replaces it atomically."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser().absolute()

    def error(self, problem: str) -> StateError:
        return StateError(self.path, problem)

    def load(self) -> dict[str, Any] | None:
        """The file's data, ``None`` when there is no file yet; :class:`StateError` when it is
        unreadable, corrupt, of another format or of a newer version."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise self.error(f"cannot read the state file: {exc.strerror or exc}") from None
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise self.error(f"not a valid state file (corrupt JSON: {exc})") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise self.error(f'not a local Cognito state file (no "format": "{FORMAT}")')
        version = data.get("version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise self.error('the state file has no valid "version"')
        if version > VERSION:
            raise self.error(
                f"state file version {version} is newer than this version of "
                f"cognito-middleware reads ({VERSION}); upgrade it"
            )
        if version < 1:
            raise self.error(f"unknown state file version {version}")
        for name, kind in _SECTIONS.items():
            if not isinstance(data.get(name), kind):
                raise self.error(f"the state file's {name!r} is missing or malformed")
        return data

    def save(self, state: dict[str, Any]) -> None:
        """Write ``state`` (without the header, which this adds) atomically."""
        data = {"format": FORMAT, "version": VERSION, "saved_at": time.time(), **state}
        text = json.dumps(data, indent=1, sort_keys=True)
        directory = self.path.parent
        directory.mkdir(parents=True, exist_ok=True)
        # mkstemp creates the file readable by its owner only: it holds passwords and keys.
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{self.path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        # The rename is durable only once the directory entry is on disk too.
        try:
            dir_fd = os.open(directory, os.O_RDONLY)
        except OSError:  # pragma: no cover - platforms without directory handles
            return
        try:
            os.fsync(dir_fd)
        except OSError:  # pragma: no cover - file systems that refuse it
            pass
        finally:
            os.close(dir_fd)


class StateSaver:
    """Saves ``snapshot()`` to ``file`` on a background thread, ``delay`` seconds after the
    first of a burst of :meth:`changed` calls (which never block), and once more at
    :meth:`close`."""

    def __init__(
        self, file: StateFile, snapshot: Callable[[], dict[str, Any]], *, delay: float = 0.05
    ) -> None:
        self.file = file
        self._snapshot = snapshot
        self._delay = delay
        self._dirty = threading.Event()
        self._closed = threading.Event()
        self._write_lock = threading.Lock()
        self.saves = 0
        """How many times the file was written."""
        self._thread = threading.Thread(target=self._run, name="local-cognito-state", daemon=True)
        self._thread.start()

    def changed(self) -> None:
        """Note that the state changed: it is saved soon."""
        self._dirty.set()

    def flush(self) -> None:
        """Save now, on the calling thread."""
        with self._write_lock:
            self.file.save(self._snapshot())
            self.saves += 1

    def close(self) -> None:
        """Stop the background thread and save a last time."""
        if self._closed.is_set():
            return
        self._closed.set()
        self._dirty.set()
        self._thread.join(timeout=10)
        self.flush()

    def _run(self) -> None:
        while not self._closed.is_set():
            self._dirty.wait()
            if self._closed.is_set():
                return
            # Gathers a burst of changes (a sign-in makes several) into one write.
            self._closed.wait(self._delay)
            self._dirty.clear()
            try:
                self.flush()
            except OSError as exc:
                _logger.error("cannot save the local Cognito state to %s: %s", self.file.path, exc)


def seed_of(file: StateFile, data: dict[str, Any]) -> Seed:
    """The seed that rebuilds the configuration kept in a state file (its app clients,
    providers, resource servers, identity pool); users and groups are restored after."""
    pool = data["user_pool"]
    identity = data["identity_pool"]
    try:
        return Seed.from_dict(
            {
                "user_pool_id": pool["pool_id"],
                "required_attributes": pool["required_attributes"],
                "clients": pool["clients"],
                "providers": pool["providers"],
                "resource_servers": pool["resource_servers"],
                "identity_pool": identity["config"] if identity is not None else None,
                "issuer_style": data["issuer_style"],
            }
        )
    except (KeyError, TypeError) as exc:
        raise file.error(f"the state file is malformed (missing or wrong {exc})") from None
    except SeedError as exc:
        raise file.error(f"the state file's pool is not valid: {exc}") from None

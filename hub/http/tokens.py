"""Per-party bearer tokens, stored only as SHA-256 hashes (docs/design.md §9).

A token reads ``hub_<token_id>_<secret>``: the id finds the entry, the secret's hash is
compared in constant time. ``hub tokens issue PARTY`` prints a token once and stores its
hash in the tokens file (``$HUB_DATA_DIR/tokens.json`` unless HUB_TOKENS_FILE says
otherwise); ``hub tokens revoke ID`` marks it revoked. A worker re-reads the file when
it changes, so issuing or revoking needs no restart.

The stored hash doubles as the key of the optional HMAC-SHA256 body signature: a client
derives it as ``sha256(token)`` (hex), so the server can verify without keeping the token.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from hub.errors import ConfigError

PREFIX = "hub"


def token_hash(token: str) -> str:
    """Hex SHA-256 of a whole token: what is stored, and the HMAC signing key."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class TokenEntry:
    """One issued token: which party it authenticates, and the hash of the token."""

    token_id: str
    party: str
    sha256: str
    created_at: str
    revoked: bool = False


class TokenStore:
    """The tokens file: issue, revoke, list, and authenticate bearer tokens."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._entries: dict[str, TokenEntry] = {}
        self._stamp: tuple[int, int, int] | None = None
        self.reload()

    def reload(self) -> None:
        """Re-read the file when it changed since the last read."""
        try:
            info = self.path.stat()
        except FileNotFoundError:
            self._entries, self._stamp = {}, None
            return
        # Saves replace the file (new inode), so a change shows even within one mtime tick.
        stamp = (info.st_mtime_ns, info.st_ino, info.st_size)
        if stamp == self._stamp:
            return
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
            entries = [TokenEntry(**entry) for entry in document.get("tokens", [])]
        except (ValueError, TypeError, OSError) as exc:
            raise ConfigError(f"{self.path}: unreadable tokens file ({exc})") from None
        self._entries = {entry.token_id: entry for entry in entries}
        self._stamp = stamp

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        document = {"tokens": [asdict(entry) for entry in self._entries.values()]}
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(document, indent=1), encoding="utf-8")
        os.chmod(temporary, 0o600)
        temporary.replace(self.path)
        info = self.path.stat()
        self._stamp = (info.st_mtime_ns, info.st_ino, info.st_size)

    def issue(self, party: str) -> tuple[str, TokenEntry]:
        """A new token for party: (token shown once, stored entry)."""
        if party == "hub":
            raise ConfigError("the hub itself cannot be given a token")
        self.reload()
        token_id = secrets.token_hex(4)
        while token_id in self._entries:
            token_id = secrets.token_hex(4)
        token = f"{PREFIX}_{token_id}_{secrets.token_urlsafe(32)}"
        entry = TokenEntry(
            token_id=token_id,
            party=party,
            sha256=token_hash(token),
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        self._entries[token_id] = entry
        self._save()
        return token, entry

    def revoke(self, token_id: str) -> TokenEntry:
        """Revoke a token by id; `ConfigError` when there is no such token."""
        self.reload()
        entry = self._entries.get(token_id)
        if entry is None:
            raise ConfigError(
                f"no token with id '{token_id}' in {self.path} (see `hub tokens list`)"
            )
        entry.revoked = True
        self._save()
        return entry

    def entries(self) -> list[TokenEntry]:
        self.reload()
        return list(self._entries.values())

    def live(self, token_id: str) -> TokenEntry | None:
        """The entry of token_id while it is not revoked (a session made with it lives as
        long as the token does)."""
        self.reload()
        entry = self._entries.get(token_id)
        return None if entry is None or entry.revoked else entry

    def authenticate(self, token: str) -> TokenEntry | None:
        """The live entry a presented token belongs to, or None."""
        self.reload()
        parts = token.split("_", 2)
        if len(parts) != 3 or parts[0] != PREFIX:
            return None
        entry = self._entries.get(parts[1])
        if entry is None or entry.revoked:
            return None
        if not hmac.compare_digest(token_hash(token), entry.sha256):
            return None
        return entry

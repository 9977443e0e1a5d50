"""The live demo's bearer tokens: one per party the demo plays, and one for ops.

Used by deploy/run.sh. Writes ``{party_id: token}`` to --out (mode 0600) and the ops
token alone to --ops-token. A token kept there from an earlier run is used again while
the hub's tokens file still holds it live (same id, same hash, not revoked), so runs do
not pile up tokens; every other party gets a new one from ``hub tokens issue PARTY ...``
(one call for all of them; it stores only their hashes). The hub's tokens file is
HUB_TOKENS_FILE, else $HUB_DATA_DIR/tokens.json (HUB_DATA_DIR defaults to .hub), as for
the hub itself.

    python deploy/demo/tokens.py --hub .venv/bin/hub --out .hub/demo/tokens.json \\
        --ops-token .hub/demo/ops.token
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
# parties the demo does not play: the hub itself, and two that have no part in it
SKIP = {"hub", "finance", "court"}


def hub_tokens_file() -> Path:
    given = os.environ.get("HUB_TOKENS_FILE")
    if given:
        return Path(given)
    return Path(os.environ.get("HUB_DATA_DIR", ".hub")) / "tokens.json"


def live_entries(path: Path) -> dict[str, dict[str, object]]:
    """token id -> entry, for the tokens that are not revoked."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {
        str(entry["token_id"]): entry
        for entry in document.get("tokens", [])
        if not entry.get("revoked")
    }


def still_live(token: str, party: str, entries: dict[str, dict[str, object]]) -> bool:
    parts = token.split("_", 2)
    if len(parts) != 3:
        return False
    entry = entries.get(parts[1])
    return (
        entry is not None
        and entry.get("party") == party
        and entry.get("sha256") == hashlib.sha256(token.encode()).hexdigest()
    )


def write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    os.chmod(temporary, 0o600)
    temporary.replace(path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hub", default=".venv/bin/hub", help="the hub CLI")
    parser.add_argument("--out", type=Path, required=True, help="JSON {party: token} to write")
    parser.add_argument("--ops-token", type=Path, required=True, help="file for the ops token")
    parser.add_argument(
        "--parties-file",
        type=Path,
        default=Path(os.environ.get("HUB_PARTIES_FILE", ROOT / "hub/reference/parties.yaml")),
    )
    args = parser.parse_args()
    document = yaml.safe_load(args.parties_file.read_text(encoding="utf-8"))
    wanted = [p["id"] for p in document["parties"] if p["id"] not in SKIP]
    try:
        kept = json.loads(args.out.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        kept = {}
    entries = live_entries(hub_tokens_file())
    tokens: dict[str, str] = {}
    issued = 0
    missing = []
    for party in wanted:
        old = kept.get(party) if isinstance(kept, dict) else None
        if isinstance(old, str) and still_live(old, party, entries):
            tokens[party] = old
        else:
            missing.append(party)
    if missing:  # one `hub tokens issue` for all of them: one line per party, in order
        result = subprocess.run(
            [args.hub, "tokens", "issue", *missing], capture_output=True, text=True, check=False
        )
        lines = result.stdout.strip().splitlines()
        if result.returncode != 0 or len(lines) != len(missing):
            print(f"tokens: hub tokens issue failed: {result.stderr}", file=sys.stderr)
            return 1
        tokens.update(zip(missing, lines, strict=True))
        issued = len(missing)
    write_private(args.out, json.dumps({p: tokens[p] for p in wanted}, indent=1) + "\n")
    write_private(args.ops_token, tokens["ops"] + "\n")
    print(
        f"tokens: {len(tokens)} demo parties, {len(tokens) - issued} tokens kept from the last "
        f"run, {issued} issued ({hub_tokens_file()})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

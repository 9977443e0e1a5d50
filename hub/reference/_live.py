"""The worker's reference data, owned by the worker and handed to the HTTP side and the
stages alike: they call it for the current version, which is replaced as a whole when
the published catalogue and roster are (re)loaded."""

from __future__ import annotations

import asyncio

from hub.reference._catalogue import Reference


class LiveReference:
    """The current `Reference`; `ready` is set once the published one was loaded."""

    def __init__(self, initial: Reference) -> None:
        self.current = initial
        self.ready = asyncio.Event()

    def __call__(self) -> Reference:
        return self.current

    def replace(self, reference: Reference) -> None:
        """Serve reference from now on (whole: nobody sees half of an update)."""
        self.current = reference
        self.ready.set()

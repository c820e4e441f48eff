"""What every manage.py command of ours shares: finding the workspace it acts on, and a
progress bar on stderr for long work (stdout stays for the result, so it can be piped)."""

from __future__ import annotations

from typing import TextIO

from django.core.management.base import CommandError

from workspaces.models import Workspace

BAR_WIDTH = 30


def workspace_from_arg(value: str) -> Workspace:
    """The workspace named by its slug or its id, or a CommandError that says which was asked."""
    workspace = Workspace.objects.filter(slug=value).first()
    if workspace is None and value.isdigit():
        workspace = Workspace.objects.filter(pk=int(value)).first()
    if workspace is None:
        raise CommandError(f'No workspace has the slug or id "{value}".')
    return workspace


class Progress:
    """`[#####.....] 1,200/4,000 rows` redrawn in place; a newline once done reaches total.

    Call it with (done, total); it draws only when the bar or the count changes by a step
    worth showing, so a million calls do not write a million lines.
    """

    def __init__(self, stream: TextIO, unit: str = "rows") -> None:
        self.stream = stream
        self.unit = unit
        self._last: tuple[int, int] | None = None

    def __call__(self, done: int, total: int) -> None:
        step = max(total // 200, 1)
        if done < total and self._last is not None and done - self._last[0] < step:
            return
        if self._last == (done, total):
            return
        self._last = (done, total)
        filled = BAR_WIDTH * done // total if total else BAR_WIDTH
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        ending = "\n" if done >= total else ""
        self.stream.write(f"\r[{bar}] {done:,}/{total:,} {self.unit}", ending=ending)
        self.stream.flush()

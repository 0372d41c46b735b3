"""The session's attachment folder: downloads, safe names, limits, clean-up, migration.

The worker owns `attachments/session_N/` (mode 0700, files 0600). A message's files are
downloaded by the worker itself before the message is typed, and the prompt lists their
absolute paths.

- Names: whatever Discord says a file is called, the saved name is a plain file name in
  the session folder: no path parts (`../`, absolute, backslashes), no NUL or control
  characters, no bidirectional overrides (which disguise extensions), no leading dots, no
  Windows device names (`CON`, `NUL.txt`), at most 255 bytes. Names never collide: the
  file is linked into place only if the name is free, otherwise `name (1).ext`, ...
- Limits: a per-file size limit and a per-session quota (checked against the size
  Discord announces, and again while the bytes arrive); at most 5 downloads at once per
  session and 20 across all workers. The global bound is a set of lock files in `run/`
  (`attachment-slots/N.lock`, flock'ed while a download runs): no process has to grant
  it, and a worker killed mid-download releases its slot with its file descriptors.
- A message whose file cannot be saved is not typed: it fails with a reason the channel
  sees ("report.pdf: larger than the 50 MB limit"), so nobody gets an answer about a file
  Claude never had.
- Downloads are remembered per message in the session journal, so a message retyped
  after a restart lists the same files instead of downloading them again.
- Clean-up removes files older than the configured age, never one that belongs to a
  message that is queued or in flight. Files the original single-folder layout left
  directly under `attachments/` move into `session_1/` when session 1 starts (logged).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import random
import re
import time
import unicodedata
from collections.abc import Callable, Iterable
from pathlib import Path

import msgspec

from vai.protocol.messages import AttachmentRef, ChatMessage
from vai.protocol.specs import WorkerSpec

log = logging.getLogger("worker.attachments")

MB = 1024 * 1024
MAX_NAME_BYTES = 255
CHUNK = 64 * 1024
PART_PREFIX = ".vai-part-"
_UNSAFE = re.compile(r'[\x00-\x1f\x7f-\x9f/\\:*?"<>|]')
_BIDI_AND_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2066-\u2069\u061c\ufeff]")
_DEVICE = re.compile(r"^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$)$", re.I)


class AttachmentLimits(msgspec.Struct, frozen=True):
    max_file_bytes: int = 50 * MB
    quota_bytes: int = 250 * MB
    max_age_s: float = 24 * 3600.0
    per_session: int = 5
    total: int = 20
    timeout_s: float = 120.0


class AttachmentError(Exception):
    """A file of the message could not be saved; the text says which and why."""


def safe_name(raw: str) -> str:
    """A file name that stays inside the folder whatever `raw` is."""
    name = unicodedata.normalize("NFC", raw or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]  # only the last path part
    name = _BIDI_AND_INVISIBLE.sub("", name)
    name = _UNSAFE.sub("_", name)
    name = name.strip(" .")  # no hidden files, no "..", no trailing dots or spaces
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    if _DEVICE.match(stem.strip()) or _DEVICE.match(name):
        stem = "_" + stem
    name = f"{stem}.{ext}" if dot else stem
    return _fit(name or "attachment", MAX_NAME_BYTES - 16)  # room for " (123)"


def _fit(name: str, limit: int) -> str:
    """Cut a name to `limit` UTF-8 bytes, keeping a short extension."""
    if len(name.encode()) <= limit:
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot or len(ext.encode()) > 16:
        stem, ext = name, ""
    suffix = f".{ext}" if ext else ""
    budget = limit - len(suffix.encode())
    cut = stem.encode()[:budget].decode("utf-8", "ignore")
    return (cut or "attachment") + suffix


def numbered(name: str, number: int) -> str:
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        return f"{name} ({number})"
    return f"{stem} ({number}).{ext}"


def _human(size: int) -> str:
    return f"{size / MB:.0f} MB" if size >= MB else f"{max(size, 0) // 1024} KB"


class GlobalSlots:
    """At most `count` downloads at once across every worker of this VAI_HOME."""

    def __init__(self, folder: Path, count: int) -> None:
        self.folder = folder
        self.count = max(1, count)

    def try_take(self) -> int | None:
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        order = list(range(self.count))
        random.shuffle(order)
        for slot in order:
            fd = os.open(self.folder / f"{slot}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            return fd
        return None

    async def take(self) -> int:
        while True:
            fd = self.try_take()
            if fd is not None:
                return fd
            await asyncio.sleep(0.1)

    @staticmethod
    def give_back(fd: int) -> None:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


class AttachmentStore:
    """`group`: Claude's own user's group, when it has one: the folder is 0750 and the
    files 0640 in that group, so Claude reads its session's files and nobody else's."""

    def __init__(
        self,
        folder: Path,
        slots_folder: Path,
        limits: AttachmentLimits,
        group: int | None = None,
    ) -> None:
        self.folder = folder
        self.limits = limits
        self.group = group
        self.file_mode = 0o600 if group is None else 0o640
        self._local = asyncio.Semaphore(max(1, limits.per_session))
        self._global = GlobalSlots(slots_folder, limits.total)
        self._reserved = 0  # bytes of downloads under way, counted against the quota
        self._fetching: dict[int, asyncio.Task[list[str]]] = {}

    def prepare(self) -> None:
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if self.group is None:
            os.chmod(self.folder, 0o700)
            return
        os.chown(self.folder, -1, self.group)
        os.chmod(self.folder, 0o750)
        with contextlib.suppress(OSError), os.scandir(self.folder) as entries:
            for entry in entries:
                if entry.is_file(follow_symlinks=False):
                    os.chown(entry.path, -1, self.group, follow_symlinks=False)
                    os.chmod(entry.path, 0o640)

    def start(self, keep: Iterable[str], migrate_from: Path | None = None) -> None:
        """At worker start: the folder, the original layout's files (session 1), clean-up."""
        if migrate_from is not None:
            migrate_flat_layout(migrate_from, self.folder)
        self.prepare()  # after the move: moved files get the folder's sharing too
        self.clean(keep)

    async def clean_every(
        self,
        interval: float,
        keep: Callable[[], list[str]],
        also: Callable[[], None] | None = None,
    ) -> None:
        while True:
            await asyncio.sleep(interval)
            await asyncio.to_thread(self.clean, keep())
            if also is not None:
                await asyncio.to_thread(also)

    # -- a message's files ---------------------------------------------------------------------

    def prefetch(self, message: ChatMessage, known: dict[int, list[str]]) -> None:
        """Start downloading a queued message's files so they are ready when it is typed."""
        if message.attachments and message.message_id not in self._fetching:
            self._fetching[message.message_id] = asyncio.create_task(
                self._fetch(message, known.get(message.message_id))
            )

    async def fetch(self, message: ChatMessage, saved: list[str] | None) -> list[str]:
        """Absolute paths of the message's files; AttachmentError if one cannot be had."""
        if not message.attachments:
            return []
        task = self._fetching.pop(message.message_id, None)
        if task is None:
            return await self._fetch(message, saved)
        return await task

    def forget(self, message_id: int) -> None:
        task = self._fetching.pop(message_id, None)
        if task is not None:
            task.cancel()

    async def _fetch(self, message: ChatMessage, saved: list[str] | None) -> list[str]:
        if saved and all(Path(p).is_file() for p in saved):
            return saved  # downloaded before this worker restarted
        results = await asyncio.gather(
            *(self._download(ref) for ref in message.attachments), return_exceptions=True
        )
        paths = [r for r in results if isinstance(r, str)]
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            for path in paths:
                with contextlib.suppress(OSError):
                    os.unlink(path)
            for error in errors:
                if not isinstance(error, AttachmentError):
                    raise error
            raise AttachmentError("; ".join(str(e) for e in errors))
        return paths

    async def _download(self, ref: AttachmentRef) -> str:
        shown = safe_name(ref.filename)
        limit = self.limits.max_file_bytes
        if ref.size > limit:
            raise AttachmentError(f"{shown}: larger than the {_human(limit)} limit per file")
        self.prepare()
        async with self._local:
            slot = await self._global.take()
            try:
                room = self._check_quota(shown, ref.size)
                self._reserved += ref.size
                try:
                    return await asyncio.to_thread(self._download_blocking, ref, shown, room)
                finally:
                    self._reserved -= ref.size
            finally:
                GlobalSlots.give_back(slot)

    def _check_quota(self, shown: str, size: int) -> int:
        """The bytes this download may use; AttachmentError if its announced size is over."""
        used = self.usage() + self._reserved
        if used + size > self.limits.quota_bytes:
            raise AttachmentError(
                f"{shown}: the session's attachment quota of {_human(self.limits.quota_bytes)}"
                f" is full ({_human(used)} used)"
            )
        return self.limits.quota_bytes - used

    def _download_blocking(self, ref: AttachmentRef, shown: str, room: int) -> str:
        """Stream the file to a temporary name, then link it into a free final name.

        urllib is imported here, not at the top: it weighs about 7 MB, which a worker whose
        messages carry no files should not pay."""
        import urllib.error
        import urllib.request

        if not ref.url.startswith(("https://", "http://")):
            raise AttachmentError(f"{shown}: unsupported URL")
        limit = self.limits.max_file_bytes
        fd = -1
        part = self.folder / f"{PART_PREFIX}{os.getpid()}-{random.getrandbits(48):012x}"
        try:
            request = urllib.request.Request(ref.url, headers={"User-Agent": "vai-worker"})
            with urllib.request.urlopen(request, timeout=self.limits.timeout_s) as response:
                fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                if self.group is not None:
                    os.fchown(fd, -1, self.group)
                    os.fchmod(fd, self.file_mode)
                received = 0
                while chunk := response.read(CHUNK):
                    received += len(chunk)
                    if received > limit:
                        raise AttachmentError(
                            f"{shown}: larger than the {_human(limit)} limit per file"
                        )
                    if received > room:
                        raise AttachmentError(
                            f"{shown}: the session's attachment quota of "
                            f"{_human(self.limits.quota_bytes)} is full"
                        )
                    os.write(fd, chunk)
                os.fsync(fd)
            os.close(fd)
            fd = -1
            return str(self._place(part, shown))
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise AttachmentError(f"{shown}: download failed ({reason})") from None
        finally:
            if fd >= 0:
                os.close(fd)
            with contextlib.suppress(OSError):
                part.unlink()

    def _place(self, part: Path, name: str) -> Path:
        """Link the finished file under `name`, or the first free `name (N)`."""
        for number in range(10000):
            final = self.folder / (name if number == 0 else numbered(name, number))
            if final.parent != self.folder:  # never outside, whatever the name did
                raise AttachmentError(f"{name}: not a usable file name")
            try:
                os.link(part, final)
            except FileExistsError:
                continue
            return final.absolute()
        raise AttachmentError(f"{name}: no free name")

    # -- the folder ------------------------------------------------------------------------

    def usage(self) -> int:
        total = 0
        with contextlib.suppress(OSError), os.scandir(self.folder) as entries:
            for entry in entries:
                with contextlib.suppress(OSError):
                    if entry.is_file(follow_symlinks=False):
                        total += entry.stat(follow_symlinks=False).st_size
        return total

    def clean(self, keep: Iterable[str], now: float | None = None) -> int:
        """Remove files older than the configured age, except `keep`; the count removed."""
        now = time.time() if now is None else now
        keep_set = {os.path.abspath(p) for p in keep}
        removed = 0
        with contextlib.suppress(OSError), os.scandir(self.folder) as entries:
            for entry in list(entries):
                path = os.path.abspath(entry.path)
                try:
                    if not entry.is_file(follow_symlinks=False) or path in keep_set:
                        continue
                    if now - entry.stat(follow_symlinks=False).st_mtime < self.limits.max_age_s:
                        continue
                    os.unlink(path)
                    removed += 1
                except OSError as exc:
                    log.warning("cannot remove old attachment %s: %s", path, exc)
        if removed:
            hours = self.limits.max_age_s / 3600
            log.info("removed %d attachment(s) older than %.0fh", removed, hours)
        return removed


def migrate_flat_layout(attachments_dir: Path, session_folder: Path) -> list[tuple[Path, Path]]:
    """Move files left directly under attachments/ into session_1/ (the original layout)."""
    moved: list[tuple[Path, Path]] = []
    try:
        entries = [e for e in os.scandir(attachments_dir) if e.is_file(follow_symlinks=False)]
    except OSError:
        return moved
    session_folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    for entry in sorted(entries, key=lambda e: e.name):
        source = Path(entry.path)
        name = safe_name(entry.name)
        for number in range(10000):
            target = session_folder / (name if number == 0 else numbered(name, number))
            try:
                os.link(source, target)
            except FileExistsError:
                continue
            except OSError as exc:
                log.warning("cannot migrate %s: %s", source, exc)
                break
            source.unlink()
            os.chmod(target, 0o600)
            log.info("migrated attachment %s -> %s", source, target)
            moved.append((source, target))
            break
    return moved


def attachment_limits(spec: WorkerSpec) -> AttachmentLimits:
    """The limits a worker's spec sets (in MB and hours) in bytes and seconds."""
    mb = 1024 * 1024
    return AttachmentLimits(
        max_file_bytes=int(spec.attachments_max_file_mb * mb),
        quota_bytes=int(spec.attachments_quota_mb * mb),
        max_age_s=spec.attachments_max_age_hours * 3600,
        per_session=spec.attachments_per_session,
        total=spec.attachments_total,
    )

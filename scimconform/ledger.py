"""What this run created on the target, the proof that it did, and how it is removed again.

The ownership rule: cleanup deletes a resource only when the run can prove it created it —
- its id came from a 2xx answer to the run's own POST, was not there before the POST, and a read of it does
  not contradict that (a readable resource without the run tag), or
- the POST's answer never arrived (timeout, reset, interrupt) or held no usable id, and exactly one resource
  found by the create's match filter was absent from that filter's answer just before the POST, carries the
  run tag, equals what was sent on every attribute sent, and reads back the same — in a list answer that
  holds every match.
An error answer (a 4xx, or a 3xx, a 5xx, or an error after a retried POST) never leads to a delete: a 409
means the userName belongs to someone else. What the run suspects it created but cannot prove is reported
as possibly left, with the request that finds it, and never deleted. Before every delete the id is read
again: a server may have given a deleted resource's id to someone else's.

Every create is written to an append-only journal (`<report dir>/ledger/<run tag>-<process>.jsonl`), flushed
to disk before the POST is sent, so `scimconform cleanup` can finish the job after a killed run. The journal
holds labels, filters and the generated test values the run sent; never a credential.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from scimconform import attrpath, interrupts
from scimconform.client import RecordingClient, encode_query
from scimconform.errors import UnsafeIdError
from scimconform.exchange import Exchange
from scimconform.target import path_segment

ENDPOINTS = {"User": "/Users", "Group": "/Groups"}
JOURNAL_FORMAT = "scimconform-ledger/1"

# What the POST's answer says about ownership.
PENDING = "pending"  # written down, no answer recorded: the process died or was interrupted mid-request
OWNED = "owned"  # a 2xx answer named a new id
UNANSWERED = "unanswered"  # no answer, or a 2xx without a usable id: ownership can only be proven by lookup
REFUSED = "refused"  # 3xx or 4xx, or never sent: nothing of ours to find
FAILED = "failed"  # 5xx: something may exist, but an error answer never leads to a delete
GONE = "gone"
# What a read by id says (Ledger._read).
OURS, NOT_OURS, NOT_THERE = "ours", "not ours", "not there"


def resource_path(resource_type: str, resource_id: str) -> str:
    """`/Users/<id>` with the id percent-encoded as one path segment."""
    return f"{ENDPOINTS[resource_type]}/{path_segment(resource_id)}"


@dataclass(kw_only=True)
class Created:
    """One create the run sent, and what it knows about the resource it made."""

    key: int
    resource_type: str
    label: str
    scope: str
    match: str  # the filter that finds it (Entra's match query)
    sent: dict[str, Any]  # attribute path → value, for the proof by lookup
    before: list[str] | None  # ids that filter found just before the POST; None: not known
    outcome: str = PENDING
    status: int | None = None
    id: str | None = None
    delete_sent: bool = False

    @property
    def finder(self) -> str:
        """The request that finds it, for a reader who has to look by hand."""
        return f"GET {ENDPOINTS[self.resource_type]}?{encode_query({'filter': self.match})}"


class Journal:
    """The ledger on disk: one JSON object a line, each flushed (a killed process loses none). An intent is also
    synced before the request it announces, against a power loss; an outcome is not worth the wait, since one
    lost leaves its create pending, which cleanup settles by lookup."""

    def __init__(self, path: Path, header: dict[str, Any]) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] | None = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()  # load's cleaning workers share one journal
        self.write({"format": JOURNAL_FORMAT, **header})

    def write(self, event: dict[str, Any], *, sync: bool = True) -> None:
        line = json.dumps(event, ensure_ascii=False) + "\n"
        with self._lock:
            if self._file is None:
                return
            self._file.write(line)
            self._file.flush()
            descriptor = self._file.fileno()
        if sync:  # outside the lock: cases running at once (`engine.ahead`) need not wait for each other's disk
            os.fsync(descriptor)

    def close(self, *, keep: bool) -> None:
        """Close it; a run that left nothing removes its journal, so only unfinished ones remain."""
        if self._file is not None:
            self._file.close()
            self._file = None
        if not keep:
            self.path.unlink(missing_ok=True)

    @staticmethod
    def read(path: Path) -> tuple[dict[str, Any], list[Created]]:
        """The header and the creates still to clean up, rebuilt from a journal (a torn last line is skipped)."""
        header: dict[str, Any] = {}
        entries: dict[int, Created] = {}
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue  # the line being written when the process died
            if not isinstance(event, dict):
                continue
            if "format" in event:
                header = event
            elif "intend" in event:
                created = Created(**event["intend"])
                entries[created.key] = created
            elif (known := entries.get(event.get("key", -1))) is not None:
                known.outcome = event.get("outcome", known.outcome)
                known.status = event.get("status", known.status)
                known.id = event.get("id", known.id)
                known.delete_sent = event.get("delete_sent", known.delete_sent)
        return header, [e for e in entries.values() if e.outcome not in (GONE, REFUSED)]


@dataclass(kw_only=True)
class Ledger:
    """The run's creates, newest last; `run_tag` is the mark every resource of this run carries."""

    run_tag: str
    journal: Journal | None = None
    entries: list[Created] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)
    # Set by a second interrupt: every sweep, in every worker, stops and only reports what is left.
    stop: threading.Event = field(default_factory=threading.Event)
    interrupted: bool = False  # an interrupt arrived during a sweep: the run must stop once it is done
    _interrupts: int = field(default=0, repr=False)
    _owning: threading.Lock = field(default_factory=threading.Lock, repr=False)  # creates answered at once
    # `entries` is read and changed by cases running at once (`engine.ahead`) and their cleanups.
    _entries_lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _keys: Iterator[int] = field(default_factory=lambda: iter(range(1, 1 << 62)), repr=False)

    def survey(self, client: RecordingClient, resource_type: str, match: str) -> list[str] | None:
        """The ids `match` finds now, before a create; None when the answer says nothing usable."""
        return found_ids(client.send("GET", ENDPOINTS[resource_type], {"filter": match}))

    def intend(
        self, resource_type: str, label: str, scope: str, match: str, sent: dict[str, Any], before: list[str] | None
    ) -> Created:
        """Write a create down before it is sent: what it finds it by, what it sends, what was there before."""
        entry = Created(
            key=next(self._keys),
            resource_type=resource_type,
            label=label,
            scope=scope,
            match=match,
            sent=sent,
            before=before,
        )
        with self._entries_lock:
            self.entries.append(entry)
        if self.journal is not None:
            fields = {k: v for k, v in vars(entry).items() if k not in ("outcome", "status", "id", "delete_sent")}
            self.journal.write({"intend": fields})
        return entry

    def answered(self, entry: Created, exchange: Exchange, client: RecordingClient) -> str | None:
        """Record what the POST's answer proves; returns the id the run now owns, if any.

        A 2xx id is the run's when it is new (not found before the POST, not another create's) and a read of
        it does not contradict that (a readable resource without the run tag, or none at all): a server may
        name any id in its answer. A 4xx to the first attempt made nothing; a 3xx, a 5xx, or an error after a
        retried attempt may have.
        """
        status = entry.status = exchange.status
        new_id = _created_id(exchange) if status is not None and 200 <= status < 300 else None
        if not exchange.sent or (status is not None and 400 <= status < 500 and exchange.attempt == 1):
            entry.outcome = REFUSED
        elif status is not None and not 200 <= status < 300:
            entry.outcome = FAILED
        elif (
            new_id is not None
            and new_id not in (entry.before or ())
            and not self.owns(entry.resource_type, new_id)
            and _read(client, self.run_tag, entry.resource_type, new_id) == OURS
            and self._own(entry, new_id)
        ):
            entry.outcome = OWNED
        else:  # no answer, no usable id, or an id that is not provably new: prove by lookup
            entry.outcome = UNANSWERED
        self._write(entry)
        return entry.id

    def _own(self, entry: Created, new_id: str) -> bool:
        """Give the entry its id unless another create (answered meanwhile, in another thread) holds it."""
        with self._owning:
            if self.owns(entry.resource_type, new_id):
                return False
            entry.id = new_id
            return True

    def delete_sent(self, resource_type: str, resource_id: str, sent: bool = True) -> bool:
        """A case deletes this itself (written before its DELETE goes out, and taken back if it never went or
        found nothing): an id that then reads 404 is settled, not looked up under another, also by
        `scimconform cleanup` after a kill. Whether any create's entry changed."""
        changed = False
        for entry in self._snapshot():
            if entry.resource_type == resource_type and entry.id == resource_id and entry.delete_sent != sent:
                entry.delete_sent, changed = sent, True
                if self.journal is not None:
                    self.journal.write({"key": entry.key, "delete_sent": sent}, sync=False)
        return changed

    def owns(self, resource_type: str, resource_id: str) -> bool:
        """Whether a create of this run is known to have made this resource."""
        found = (e for e in self._snapshot() if e.resource_type == resource_type and e.id == resource_id)
        return any(entry.outcome not in (GONE, REFUSED) for entry in found)  # a gone one's id may be given again

    def _snapshot(self) -> list[Created]:
        with self._entries_lock:
            return list(self.entries)

    def _drop(self, entries: list[Created]) -> None:
        """Take these entries out, whatever other threads added or took meanwhile."""
        gone = {id(entry) for entry in entries}
        with self._entries_lock:
            self.entries[:] = [entry for entry in self.entries if id(entry) not in gone]

    def part(self, entries: list[Created]) -> Ledger:
        """A ledger over some of these entries, sharing the journal, for one of several cleaning workers."""
        return Ledger(run_tag=self.run_tag, journal=self.journal, entries=entries, stop=self.stop)

    def clean(
        self,
        client: RecordingClient,
        scope: str | None = None,
        *,
        at_once: int = 1,
        each_thread: Callable[[], AbstractContextManager[None]] = nullcontext,
    ) -> list[str]:
        """Delete this scope's resources (all, when scope is None), newest first; return what stayed. With
        `at_once` above 1, that many threads share the entries, each inside `each_thread()`.

        The first interrupt lets the sweep finish (then `interrupted` tells the caller to stop the run); a
        second one stops it at once, and everything not yet handled is reported as left, not lost.
        """
        todo = [e for e in reversed(self._snapshot()) if scope is None or e.scope == scope]
        if at_once > 1 and len(todo) > 1:
            return _clean_at_once(self, client, todo, at_once, each_thread)
        stayed: list[str] = []
        handled_entries: list[Created] = []
        try:
            for entry in todo:
                if self.stop.is_set():
                    break
                handled, problem = self._clean_guarded(client, entry)
                if not handled:
                    break
                stayed += [problem] if problem is not None else []
                handled_entries.append(entry)
        finally:
            if self.stop.is_set():
                done = {id(entry) for entry in handled_entries}
                for entry in (entry for entry in todo if id(entry) not in done):
                    stayed.append(_interrupted(entry))
                    handled_entries.append(entry)
            self._drop(handled_entries)
            self.leftovers += stayed
        return stayed

    def _clean_guarded(self, client: RecordingClient, entry: Created) -> tuple[bool, str | None]:
        """One entry's cleanup, whatever the target answers: (handled, what stayed). A first interrupt is
        survived (the entry is tried again); a second stops the sweep with the entry unhandled."""
        while True:
            try:
                return True, self._clean_one(client, entry)
            except KeyboardInterrupt:
                self._interrupts += 1
                self.interrupted = True
                if max(interrupts.received(), self._interrupts) >= 2:
                    self.stop.set()
                    return False, None
            except Exception as exc:  # one broken answer must not stop the rest of the sweep
                return True, f"{entry.resource_type} {entry.label}: cleanup failed ({type(exc).__name__}: {exc})"

    def close(self) -> None:
        """Close the journal: kept on disk only when something was left for `scimconform cleanup`."""
        if self.journal is not None:
            self.journal.close(keep=bool(self.leftovers or self.entries))

    def _clean_one(self, client: RecordingClient, entry: Created) -> str | None:
        """Remove one create's resource if the run owns it; a line saying what stayed, else None."""
        if entry.outcome == OWNED and entry.id is not None:
            return self._settle(client, entry)
        if entry.outcome in (REFUSED, GONE):
            return None
        why = {PENDING: "its POST was interrupted", UNANSWERED: "its POST got no usable answer"}.get(
            entry.outcome, f"its POST was answered {entry.status}"
        )
        return self._look_up(client, entry, why)

    def _look_up(self, client: RecordingClient, entry: Created, why: str) -> str | None:
        """Find the create's resource by its match and settle it, when exactly one resource proves to be it."""
        exchange = client.send("GET", ENDPOINTS[entry.resource_type], {"filter": entry.match})
        found = _resources(exchange)
        if found is None or not _complete(exchange, found):
            return f"possibly left: {entry.resource_type} {entry.label} ({why}; the lookup failed: {entry.finder})"
        # New since the POST, carrying the run tag, and not another create's known resource.
        ours = [
            r
            for r in found
            if r["id"] not in (entry.before or ())
            and not self.owns(entry.resource_type, r["id"])
            and self.run_tag.casefold() in json.dumps(r, ensure_ascii=False).casefold()
        ]
        proven = [r for r in ours if _holds(r, entry.sent)]
        if not ours and entry.outcome == OWNED:  # it existed, and neither its id nor its match finds it now
            return f"possibly left: {entry.resource_type} {entry.label} ({why}, nor does its match: {entry.finder})"
        if not ours:
            self._gone(entry)  # nothing carrying the run tag: the create made nothing
            return None
        if entry.outcome == FAILED or entry.before is None or len(proven) != 1:
            reason = "an error answer is never cleaned by lookup" if entry.outcome == FAILED else "ownership unproven"
            return f"possibly left: {entry.resource_type} {entry.label} ({why}; {reason}: {entry.finder})"
        entry.id = proven[0]["id"]
        if not self._confirmed(client, entry):  # the list answer named it; the resource itself must agree
            entry.id = None
            return f"possibly left: {entry.resource_type} {entry.label} ({why}; its own read differs: {entry.finder})"
        return self._settle(client, entry, moved=True)

    def _confirmed(self, client: RecordingClient, entry: Created) -> bool:
        """A read of the chosen id returns that resource, with the run tag and every value sent."""
        try:
            exchange = client.send("GET", resource_path(entry.resource_type, entry.id or ""))
            resource = exchange.json() if exchange.status == 200 else None
        except (UnsafeIdError, ValueError):
            return False
        return (
            isinstance(resource, dict)
            and resource.get("id") == entry.id
            and self.run_tag.casefold() in json.dumps(resource, ensure_ascii=False).casefold()
            and _holds(resource, entry.sent)
        )

    def _settle(self, client: RecordingClient, entry: Created, *, moved: bool = False) -> str | None:
        """Delete an owned resource, after a read shows it is still the run's (a server may give a deleted
        resource's id to a new one); None once a read no longer finds it, else what stayed.

        An id that neither a read nor a DELETE finds, though its case did not delete it, may have moved: a server
        that changes ids on update (RFC 7643 §3.1 forbids it) holds the resource under another. It is looked up by
        its match like a create without a usable answer, once (`moved`), and whatever is not proven is reported."""
        resource_id = entry.id or ""
        try:
            path = resource_path(entry.resource_type, resource_id)
        except UnsafeIdError:
            return f"{entry.resource_type} {resource_id!r} ({entry.label}): its id cannot be put in a URL"
        verdict = _read(client, self.run_tag, entry.resource_type, resource_id)
        if verdict == NOT_OURS or (verdict == NOT_THERE and entry.delete_sent):
            self._gone(entry)  # deleted by its case, or its id now names someone else's resource
            return None
        deleted = client.send("DELETE", path)  # a read may hide what a DELETE still removes (a disabled user)
        if client.send("GET", path).status in (404, 410):
            if verdict == NOT_THERE and deleted.status in (404, 410) and not moved:
                return self._look_up(client, entry, f"its id {resource_id} finds nothing")
            self._gone(entry)
            return None
        return _not_deleted(entry, resource_id, client)

    def _gone(self, entry: Created) -> None:
        entry.outcome = GONE
        self._write(entry)

    def _write(self, entry: Created) -> None:
        if self.journal is not None:
            outcome = {"key": entry.key, "outcome": entry.outcome, "status": entry.status, "id": entry.id}
            self.journal.write(outcome, sync=False)


def _clean_at_once(
    ledger: Ledger,
    client: RecordingClient,
    todo: list[Created],
    at_once: int,
    each_thread: Callable[[], AbstractContextManager[None]],
) -> list[str]:
    """`Ledger.clean` in threads, each over every at_once-th entry. An interrupt reaches only this thread, which
    waits for the sweeps: the first lets them finish, a second stops them (`stop`), as in one sweep."""
    # `todo` is newest first; each part keeps the ledger's order, oldest first, and so sweeps newest first too.
    parts = [ledger.part(todo[start::at_once][::-1]) for start in range(min(at_once, len(todo)))]

    def sweep(part: Ledger) -> list[str]:
        with each_thread():
            return part.clean(client)

    with ThreadPoolExecutor(len(parts), thread_name_prefix="scimconform-cleanup") as pool:
        futures = [pool.submit(sweep, part) for part in parts]
        while not all(future.done() for future in futures):
            try:
                wait(futures)
            except KeyboardInterrupt:
                ledger._interrupts += 1
                ledger.interrupted = True
                if max(interrupts.received(), ledger._interrupts) >= 2:
                    ledger.stop.set()
    stayed = [line for future in futures for line in future.result()]
    ledger._drop(todo)
    ledger.leftovers += stayed
    return stayed


def _interrupted(entry: Created) -> str:
    return f"{entry.resource_type} {entry.label}: not cleaned up, interrupted ({entry.finder})"


def _not_deleted(entry: Created, resource_id: str, client: RecordingClient) -> str:
    """What stayed after a DELETE: once the run stopped at once (the client's halt), nothing was sent and the
    target said nothing."""
    if client.halt.is_set():
        return _interrupted(entry)
    return f"{entry.resource_type} {resource_id} ({entry.label}) could not be deleted"


def _read(client: RecordingClient, run_tag: str, resource_type: str, resource_id: str) -> str:
    """What a read by id says about a resource: OURS unless the answer contradicts it — NOT_THERE (404,
    410) or NOT_OURS (that very resource, readable, without the run tag). An answer that cannot be read
    proves nothing either way, so the proof already held stands."""
    read = client.send("GET", resource_path(resource_type, resource_id))
    if read.status in (404, 410):
        return NOT_THERE
    try:
        resource = read.json() if read.status == 200 else None
    except ValueError:
        return OURS
    if isinstance(resource, dict) and resource.get("id") == resource_id:
        carries_tag = run_tag.casefold() in json.dumps(resource, ensure_ascii=False).casefold()
        return OURS if carries_tag else NOT_OURS
    return OURS


def _created_id(exchange: Exchange) -> str | None:
    """The id a 2xx create answer names, if it is one a request path can carry."""
    try:
        document = exchange.json()
    except ValueError:
        return None
    resource_id = document.get("id") if isinstance(document, dict) else None
    if not isinstance(resource_id, str):
        return None
    try:
        path_segment(resource_id)
    except UnsafeIdError:
        return None
    return resource_id


def _complete(exchange: Exchange, found: list[dict[str, Any]]) -> bool:
    """The list answer holds every match (totalResults, REQUIRED by RFC 7644 §3.4.2, is no larger than the
    page): only then does "nothing of ours found" mean nothing was made."""
    total = exchange.json().get("totalResults")
    return isinstance(total, int) and not isinstance(total, bool) and total <= len(found)


def _resources(exchange: Exchange) -> list[dict[str, Any]] | None:
    """The resources of a 200 list answer, each with a string id; None when the answer is anything else."""
    if exchange.status != 200:
        return None
    try:
        document = exchange.json()
    except ValueError:
        return None
    found = document.get("Resources", []) if isinstance(document, dict) else None
    if not isinstance(found, list):
        return None
    return [r for r in found if isinstance(r, dict) and isinstance(r.get("id"), str)]


def found_ids(exchange: Exchange) -> list[str] | None:
    found = _resources(exchange)
    return None if found is None else [r["id"] for r in found]


def _holds(resource: dict[str, Any], sent: dict[str, Any]) -> bool:
    """The resource carries every value the create sent (strings compared case-insensitively, booleans also
    as Entra's "True"/"False")."""
    return all(_same(value, attrpath.get(resource, path)) for path, value in sent.items())


def _same(sent: Any, observed: Any) -> bool:
    if isinstance(sent, bool) or isinstance(observed, bool):
        return str(sent).lower() == str(observed).lower()
    if isinstance(sent, str) and isinstance(observed, str):
        return sent.casefold() == observed.casefold()
    return bool(sent == observed)

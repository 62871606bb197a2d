"""Disclosure documents: every version kept, a published listing, a term index.

One table, keys ``pk``/``sk``::

    DOC#<id>        V#<version:05>   one version as written (draft, published, superseded)
    ALL             <id>             the published version of every document
    AGENCY#<code>   <id>             ... of one agency's documents (the Atom feed)
    KIND#<kind>     <id>             ... of one kind
    ITEM#<code>     <id>             ... linked to one service item (the item's page)
    TERM#<term>     <id>             a search posting: the term occurs in some version

Publishing is one transaction: the version becomes ``published``, the previous one
``superseded``, the listing rows are replaced (an item no longer linked loses its row)
and the ``disclosure.published`` event goes to the outbox. So a read never needs a
scan: a list is one partition's query, a search a query per term.

Search terms are character bigrams for Chinese (and other CJK) text and lower-cased
words for Latin letters and digits. Postings are derived data: they are written before
the publishing transaction (idempotent puts) and never deleted when a version is
superseded; a search checks every candidate against the text of the published version,
so a stale posting can only cost a read, never return a wrong document.
"""

from __future__ import annotations

import datetime as _dt
import re
import secrets
import unicodedata
from collections.abc import Iterable
from typing import Any

from botocore.exceptions import ClientError

from contracts.disclosure import (
    DisclosureDocument,
    DisclosureDraft,
    DisclosurePublished,
    DocumentStatus,
)
from contracts.errors import Conflict, NotFound, ValidationFailed
from contracts.events import Event
from govbus import outbox, settings
from govbus.aws import client

SOURCE = "govbus.disclosure"
ALL = "ALL"
MAX_QUERY_TERMS = 16

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af"
_RUNS = re.compile(rf"[{_CJK}]+|[a-z0-9]+")
_IS_CJK = re.compile(rf"[{_CJK}]")


def _table() -> str:
    return settings.table("disclosure")


# --- search terms ---------------------------------------------------------------------


def normalise(text: str) -> str:
    """Full-width forms folded (NFKC) and lower case: what search compares."""
    return unicodedata.normalize("NFKC", text).lower()


def terms(text: str) -> list[str]:
    """The search terms of ``text``, in order of first occurrence, each once.

    Chinese runs give overlapping character bigrams (a lone character stands for
    itself); Latin letters and digits give whole words.
    """
    found: dict[str, None] = {}
    for run in _RUNS.findall(normalise(text)):
        if _IS_CJK.match(run):
            if len(run) == 1:
                found.setdefault(run)
            for i in range(len(run) - 1):
                found.setdefault(run[i : i + 2])
        else:
            found.setdefault(run)
    return list(found)


def matches(document: DisclosureDocument, query: str) -> bool:
    """Whether every word of ``query`` occurs in the title or body as written."""
    haystack = normalise(f"{document.title}\n{document.body}")
    return all(part in haystack for part in normalise(query).split())


# --- rows -----------------------------------------------------------------------------


def new_document_id(now: _dt.datetime) -> str:
    return f"DSC{now:%Y%m%d}-{secrets.token_hex(5).upper()}"


def _version_key(doc_id: str, version: int) -> dict[str, Any]:
    return {"pk": {"S": f"DOC#{doc_id}"}, "sk": {"S": f"V#{version:05d}"}}


def _document(row: dict[str, Any]) -> DisclosureDocument:
    return DisclosureDocument.model_validate_json(row["doc"]["S"])


def _put_version(document: DisclosureDocument) -> None:
    try:
        client("dynamodb").put_item(
            TableName=_table(),
            Item={
                **_version_key(document.id, document.version),
                "status": {"S": document.status.value},
                "agency": {"S": str(document.agency)},
                "doc": {"S": document.model_dump_json()},
            },
            ConditionExpression="attribute_not_exists(pk)",
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            raise Conflict(
                f"version {document.version} of {document.id} was written by someone else "
                "at the same time; read the document and try again"
            ) from None
        raise


def versions(doc_id: str) -> list[DisclosureDocument]:
    kwargs: dict[str, Any] = {
        "TableName": _table(),
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :v)",
        "ExpressionAttributeValues": {":pk": {"S": f"DOC#{doc_id}"}, ":v": {"S": "V#"}},
        "ConsistentRead": True,
    }
    return [_document(row) for row in _query_all(kwargs)]


def _query_all(kwargs: dict[str, Any]) -> Iterable[dict[str, Any]]:
    while True:
        answer = client("dynamodb").query(**kwargs)
        yield from answer.get("Items", [])
        if "LastEvaluatedKey" not in answer:
            return
        kwargs = {**kwargs, "ExclusiveStartKey": answer["LastEvaluatedKey"]}


# --- writing --------------------------------------------------------------------------


def create(draft: DisclosureDraft) -> DisclosureDocument:
    now = _dt.datetime.now(_dt.UTC)
    document = DisclosureDocument(
        **draft.model_dump(),
        id=new_document_id(now),
        version=1,
        status=DocumentStatus.draft,
        created_at=now,
    )
    _put_version(document)
    return document


def new_version(doc_id: str, draft: DisclosureDraft) -> DisclosureDocument:
    existing = versions(doc_id)
    if not existing:
        raise NotFound(f"no document {doc_id}")
    first = existing[0]
    if draft.agency != first.agency or draft.kind != first.kind:
        raise Conflict(
            "a new version keeps the document's agency and kind; publish another document"
        )
    document = DisclosureDocument(
        **draft.model_dump(),
        id=doc_id,
        version=max(v.version for v in existing) + 1,
        status=DocumentStatus.draft,
        created_at=_dt.datetime.now(_dt.UTC),
    )
    _put_version(document)
    return document


def _index_terms(document: DisclosureDocument) -> None:
    """Postings for every term of the version (before it is published; see the module)."""
    rows = [
        {"PutRequest": {"Item": {"pk": {"S": f"TERM#{term}"}, "sk": {"S": document.id}}}}
        for term in terms(f"{document.title}\n{document.body}")
    ]
    dynamodb = client("dynamodb")
    for start in range(0, len(rows), 25):
        pending: dict[str, Any] = {_table(): rows[start : start + 25]}
        for _attempt in range(8):
            answer = dynamodb.batch_write_item(RequestItems=pending)
            pending = answer.get("UnprocessedItems") or {}
            if not pending:
                break
        else:
            raise Conflict("the search index is busy; publish again in a moment")


def _listing_puts(document: DisclosureDocument) -> list[dict[str, Any]]:
    partitions = [
        ALL,
        f"AGENCY#{document.agency}",
        f"KIND#{document.kind.value}",
        *(f"ITEM#{code}" for code in document.items),
    ]
    assert document.published_at is not None
    return [
        {
            "Put": {
                "TableName": _table(),
                "Item": {
                    "pk": {"S": pk},
                    "sk": {"S": document.id},
                    "published_at": {"S": document.published_at.isoformat()},
                    "doc": {"S": document.model_dump_json()},
                },
            }
        }
        for pk in partitions
    ]


def publish(doc_id: str, version: int, correlation_id: str | None = None) -> DisclosureDocument:
    existing = {v.version: v for v in versions(doc_id)}
    target = existing.get(version)
    if target is None:
        raise NotFound(f"document {doc_id} has no version {version}")
    if target.status != DocumentStatus.draft:
        raise Conflict(f"version {version} is {target.status.value}; only a draft can be published")
    _index_terms(target)
    now = _dt.datetime.now(_dt.UTC)
    published = target.model_copy(update={"status": DocumentStatus.published, "published_at": now})
    writes: list[dict[str, Any]] = [
        {
            "Update": {
                "TableName": _table(),
                "Key": _version_key(doc_id, version),
                "UpdateExpression": "SET #s = :pub, doc = :doc",
                "ConditionExpression": "#s = :draft",
                "ExpressionAttributeNames": {"#s": "status"},
                "ExpressionAttributeValues": {
                    ":pub": {"S": "published"},
                    ":draft": {"S": "draft"},
                    ":doc": {"S": published.model_dump_json()},
                },
            }
        }
    ]
    previous = next((v for v in existing.values() if v.status == DocumentStatus.published), None)
    if previous is not None:
        superseded = previous.model_copy(update={"status": DocumentStatus.superseded})
        writes.append(
            {
                "Update": {
                    "TableName": _table(),
                    "Key": _version_key(doc_id, previous.version),
                    "UpdateExpression": "SET #s = :sup, doc = :doc",
                    "ConditionExpression": "#s = :pub",
                    "ExpressionAttributeNames": {"#s": "status"},
                    "ExpressionAttributeValues": {
                        ":sup": {"S": "superseded"},
                        ":pub": {"S": "published"},
                        ":doc": {"S": superseded.model_dump_json()},
                    },
                }
            }
        )
        # an item the new version no longer concerns stops listing the document
        for code in set(previous.items) - set(published.items):
            writes.append(
                {
                    "Delete": {
                        "TableName": _table(),
                        "Key": {"pk": {"S": f"ITEM#{code}"}, "sk": {"S": doc_id}},
                    }
                }
            )
    writes.extend(_listing_puts(published))
    event = Event.create(
        "disclosure.published",
        DisclosurePublished(
            document_id=doc_id,
            version=version,
            agency=str(published.agency),
            kind=published.kind,
            title=published.title,
            items=published.items,
            effective_from=published.effective_from,
            supersedes=previous.version if previous else None,
        ),
        source=SOURCE,
        subject=doc_id,
        correlation_id=correlation_id,
    )
    try:
        outbox.commit(writes, [event])
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "TransactionCanceledException":
            raise Conflict("the document changed while publishing; read it and try again") from None
        raise
    return published


# --- reading --------------------------------------------------------------------------


def in_force(doc_id: str, as_of: _dt.date | None = None) -> DisclosureDocument:
    """The published version, or the version in force on ``as_of``.

    In force on a day: of the versions ever published, the latest whose effective date
    is on or before that day (a later version not yet effective leaves the earlier one
    in force).
    """
    visible = [v for v in versions(doc_id) if v.status != DocumentStatus.draft]
    if as_of is None:
        current = [v for v in visible if v.status == DocumentStatus.published]
        if not current:
            raise NotFound(f"no published document {doc_id}")
        return current[0]
    candidates = [v for v in visible if v.effective_from <= as_of]
    if not candidates:
        raise NotFound(f"document {doc_id} had no version in force on {as_of.isoformat()}")
    return max(candidates, key=lambda v: v.version)


def listed(partition: str) -> list[DisclosureDocument]:
    """The published documents of one listing partition (``ALL``, ``AGENCY#...``...)."""
    kwargs: dict[str, Any] = {
        "TableName": _table(),
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": partition}},
    }
    return [_document(row) for row in _query_all(kwargs)]


def _posting_ids(term: str) -> set[str]:
    kwargs: dict[str, Any] = {
        "TableName": _table(),
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": f"TERM#{term}"}},
        "ProjectionExpression": "sk",
    }
    return {row["sk"]["S"] for row in _query_all(kwargs)}


def _published_by_id(ids: Iterable[str]) -> list[DisclosureDocument]:
    keys = [{"pk": {"S": ALL}, "sk": {"S": i}} for i in sorted(ids)]
    found: list[DisclosureDocument] = []
    dynamodb = client("dynamodb")
    for start in range(0, len(keys), 100):
        pending: dict[str, Any] = {_table(): {"Keys": keys[start : start + 100]}}
        while pending:
            answer = dynamodb.batch_get_item(RequestItems=pending)
            found.extend(_document(row) for row in answer["Responses"].get(_table(), []))
            pending = answer.get("UnprocessedKeys") or {}
    return found


def search(query: str) -> list[DisclosureDocument]:
    """Published documents whose title or body contains every word of ``query``."""
    wanted = terms(query)
    if any(_IS_CJK.match(run) and len(run) == 1 for run in _RUNS.findall(normalise(query))):
        raise ValidationFailed(
            "a Chinese search word needs at least two characters (e.g. 执照, not 照)", field="q"
        )
    if not wanted:
        raise ValidationFailed(
            "the search needs at least one letter, digit or Chinese character", field="q"
        )
    if len(wanted) > MAX_QUERY_TERMS:
        raise ValidationFailed(
            f"the search is too long: at most {MAX_QUERY_TERMS} terms", field="q"
        )
    candidates: set[str] | None = None
    for term in wanted:
        ids = _posting_ids(term)
        candidates = ids if candidates is None else candidates & ids
        if not candidates:
            return []
    return [d for d in _published_by_id(candidates or set()) if matches(d, query)]

"""Reading disclosure documents: filtering the published listing and the Atom feed."""

from __future__ import annotations

import datetime as _dt
from xml.etree import ElementTree as ET

from contracts.disclosure import DisclosureDocument, DocumentKind
from govbus.stores import disclosure

ATOM = "http://www.w3.org/2005/Atom"
FEED_ENTRIES = 50
SUMMARY_CHARS = 280
TAG_AUTHORITY = "tag:govbus.example,2017"  # RFC 4151 tag URIs: stable, no host needed


def select(
    *,
    q: str | None = None,
    agency: str | None = None,
    item: str | None = None,
    kind: DocumentKind | None = None,
    effective_from: _dt.date | None = None,
    effective_to: _dt.date | None = None,
) -> list[DisclosureDocument]:
    """Published documents matching every given filter, newest first.

    The narrowest source answers (the search's postings, else an item's, an agency's or
    a kind's listing partition); the other filters apply to what it returned."""
    if q:
        found = disclosure.search(q)
    elif item:
        found = disclosure.listed(f"ITEM#{item}")
    elif agency:
        found = disclosure.listed(f"AGENCY#{agency}")
    elif kind:
        found = disclosure.listed(f"KIND#{kind.value}")
    else:
        found = disclosure.listed(disclosure.ALL)
    chosen = [
        d
        for d in found
        if (not agency or str(d.agency) == agency)
        and (not item or item in d.items)
        and (not kind or d.kind == kind)
        and (not effective_from or d.effective_from >= effective_from)
        and (not effective_to or d.effective_from <= effective_to)
    ]
    return sorted(chosen, key=lambda d: (d.published_at or d.created_at, d.id), reverse=True)


def summary(document: DisclosureDocument) -> dict:
    return {
        "id": document.id,
        "version": document.version,
        "agency": str(document.agency),
        "kind": document.kind.value,
        "title": document.title,
        "items": document.items,
        "effective_from": document.effective_from.isoformat(),
        "published_at": document.published_at.isoformat() if document.published_at else None,
    }


def _text(parent: ET.Element, tag: str, text: str, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
    element.text = text
    return element


def atom_feed(agency: str, documents: list[DisclosureDocument], base_url: str = "") -> str:
    """An Atom 1.0 (RFC 4287) feed of an agency's published documents, newest first.

    Built with ElementTree, so every title and body is escaped; no text is ever pasted
    into markup."""
    ET.register_namespace("", ATOM)
    newest = sorted(documents, key=lambda d: d.published_at or d.created_at, reverse=True)[
        :FEED_ENTRIES
    ]
    updated = (
        newest[0].published_at or newest[0].created_at
        if newest
        else _dt.datetime(2017, 1, 1, tzinfo=_dt.UTC)
    )
    root = ET.Element(f"{{{ATOM}}}feed", {"{http://www.w3.org/XML/1998/namespace}lang": "zh-CN"})
    _text(root, "id", f"{TAG_AUTHORITY}:disclosure/agencies/{agency}")
    _text(root, "title", f"政务公开 Information disclosure: {agency}")
    _text(root, "updated", updated.isoformat())
    author = ET.SubElement(root, f"{{{ATOM}}}author")
    _text(author, "name", agency)
    ET.SubElement(
        root,
        f"{{{ATOM}}}link",
        {"rel": "self", "href": f"{base_url}/disclosure/agencies/{agency}/feed.atom"},
    )
    for document in newest:
        entry = ET.SubElement(root, f"{{{ATOM}}}entry")
        _text(entry, "id", f"{TAG_AUTHORITY}:disclosure/documents/{document.id}")
        _text(entry, "title", document.title)
        _text(entry, "updated", (document.published_at or document.created_at).isoformat())
        ET.SubElement(
            entry,
            f"{{{ATOM}}}link",
            {"rel": "alternate", "href": f"{base_url}/disclosure/documents/{document.id}"},
        )
        ET.SubElement(entry, f"{{{ATOM}}}category", {"term": document.kind.value})
        body = document.body
        _text(
            entry,
            "summary",
            body if len(body) <= SUMMARY_CHARS else body[:SUMMARY_CHARS] + "…",
        )
        _text(entry, "content", body, type="text")
    return ET.tostring(root, encoding="unicode", xml_declaration=True)

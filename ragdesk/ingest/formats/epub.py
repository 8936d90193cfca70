"""EPUB: the chapters in reading order (the OPF spine), chapter titles as headings.

An EPUB is a ZIP holding XHTML chapters. ``META-INF/container.xml`` names the
package (OPF) file, whose spine lists the chapters in order; the table of
contents (EPUB 3 nav document or EPUB 2 NCX) gives their titles. lxml reads
the package XML (entities never resolved, nothing fetched) and each chapter
goes through the HTML reader, so its own h1-h6 headings nest under the
chapter title. DRM-encrypted books are named as such instead of being read
as garbage. (EbookLib would do this, but it is AGPL-licensed.)
"""

from __future__ import annotations

import posixpath
from urllib.parse import unquote, urldefrag

from ragdesk.ingest.document import Extracted, Section
from ragdesk.ingest.errors import SkipFile
from ragdesk.ingest.zipsafe import open_zip

_NS = {
    "c": "urn:oasis:names:tc:opendocument:xmlns:container",
    "opf": "http://www.idpf.org/2007/opf",
    "dc": "http://purl.org/dc/elements/1.1/",
    "ncx": "http://www.daisy.org/z3986/2005/ncx/",
    "x": "http://www.w3.org/1999/xhtml",
    "epub": "http://www.idpf.org/2007/ops",
    "enc": "http://www.w3.org/2001/04/xmlenc#",
}
_CHAPTER_SEPARATOR = "\n\n"
# Font obfuscation (IDPF, Adobe) is not DRM: the text is still readable.
_FONT_OBFUSCATION = ("http://www.idpf.org/2008/embedding", "http://ns.adobe.com/pdf/enc#RC")


def extract_epub(data: bytes) -> Extracted:
    """Chapters of an EPUB joined in spine order, headed by their table-of-contents titles."""
    archive = open_zip(data, "EPUB")
    try:
        return _read(archive)
    except SkipFile:
        raise
    except Exception as exc:
        detail = " ".join(str(exc).split())[:150] or type(exc).__name__
        raise SkipFile(f"corrupt or unreadable EPUB: {detail}") from None
    finally:
        archive.close()


def _read(archive) -> Extracted:
    from ragdesk.ingest.formats.html import extract_html

    names = set(archive.namelist())
    if "META-INF/encryption.xml" in names and _has_drm(_xml(archive.read("META-INF/encryption.xml"))):
        raise SkipFile("DRM-protected EPUB (its chapters are encrypted)")
    if "META-INF/container.xml" not in names:
        raise SkipFile("corrupt or unreadable EPUB: no META-INF/container.xml")
    container = _xml(archive.read("META-INF/container.xml"))
    opf_path = container.xpath("string(//c:rootfile/@full-path)", namespaces=_NS)
    if not opf_path or opf_path not in names:
        raise SkipFile("corrupt or unreadable EPUB: its package file is missing")
    package = _xml(archive.read(opf_path))
    base = posixpath.dirname(opf_path)
    manifest = {
        item.get("id"): (_join(base, item.get("href", "")), item.get("media-type", ""), item.get("properties", ""))
        for item in package.xpath("//opf:manifest/opf:item", namespaces=_NS)
    }
    titles = _toc_titles(archive, package, manifest, names)
    parts: list[str] = []
    sections: list[Section] = []
    length = 0
    failures = 0
    for ref in package.xpath("//opf:spine/opf:itemref", namespaces=_NS):
        path, media, _ = manifest.get(ref.get("idref"), ("", "", ""))
        if not path or path not in names or "html" not in media:
            continue
        try:
            chapter = extract_html(archive.read(path))
        except SkipFile:
            failures += 1
            continue
        if not chapter.text.strip():
            continue
        if parts:
            parts.append(_CHAPTER_SEPARATOR)
            length += len(_CHAPTER_SEPARATOR)
        title = titles.get(path)
        for s in chapter.sections:
            sections.append(Section(s.start + length, s.end + length, None, _under(title, s.heading)))
        parts.append(chapter.text)
        length += len(chapter.text)
    if not parts:
        raise SkipFile("no text in the EPUB's chapters" + (" (they could not be read)" if failures else ""))
    book_title = " ".join(package.xpath("string(//dc:title)", namespaces=_NS).split()) or None
    return Extracted(text="".join(parts), sections=sections, kind="epub", title=book_title)


def _under(chapter: str | None, heading: str | None) -> str | None:
    """A chapter's inner heading path under the chapter title (without repeating it)."""
    if not chapter:
        return heading
    if heading is None:
        return chapter
    if heading == chapter or heading.startswith(chapter + " > "):
        return heading
    return f"{chapter} > {heading}"


def _toc_titles(archive, package, manifest, names) -> dict[str, str]:
    """{chapter path: its first title in the table of contents}."""
    titles: dict[str, str] = {}
    nav = next((path for path, _, props in manifest.values() if "nav" in props.split()), None)
    if nav and nav in names:
        doc = _xml(archive.read(nav))
        tocs = doc.xpath("//x:nav[@epub:type='toc']", namespaces=_NS) or doc.xpath("//x:nav", namespaces=_NS)
        for link in (tocs[0].xpath(".//x:a[@href]", namespaces=_NS) if tocs else []):
            _add_title(titles, posixpath.dirname(nav), link.get("href"), link.xpath("string(.)"))
    if not titles:
        ncx_id = package.xpath("string(//opf:spine/@toc)", namespaces=_NS)
        ncx = manifest.get(ncx_id, (None,))[0] or next(
            (path for path, media, _ in manifest.values() if media == "application/x-dtbncx+xml"), None
        )
        if ncx and ncx in names:
            doc = _xml(archive.read(ncx))
            for point in doc.xpath("//ncx:navPoint", namespaces=_NS):
                label = point.xpath("string(ncx:navLabel/ncx:text)", namespaces=_NS)
                src = point.xpath("string(ncx:content/@src)", namespaces=_NS)
                _add_title(titles, posixpath.dirname(ncx), src, label)
    return titles


def _add_title(titles: dict[str, str], base: str, href: str, label: str) -> None:
    label = " ".join(label.split())
    path = _join(base, urldefrag(href or "")[0])
    if label and path and path not in titles:
        titles[path] = label


def _join(base: str, href: str) -> str:
    return posixpath.normpath(posixpath.join(base, unquote(href))) if href else ""


def _has_drm(encryption) -> bool:
    methods = encryption.xpath("//enc:EncryptionMethod/@Algorithm", namespaces=_NS)
    return any(method not in _FONT_OBFUSCATION for method in methods)


def _xml(data: bytes):
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, recover=True, huge_tree=False)
    root = etree.fromstring(data, parser)
    if root is None:
        raise SkipFile("corrupt or unreadable EPUB: a package file is not XML")
    return root

"""Parsing: one raw corpus document -> one :class:`~indexer.article.Article`.

The sources stage hands over a :class:`RawDocument` (bytes of a file, or one JSON
Lines record); :func:`parse_document` decodes it, strips the site chrome, finds
title and body, and fills in the metadata with :mod:`indexer.metadata`. It is a
pure module-level function, so the build can run it in worker processes.

Formats (``RawDocument.kind``):

* ``page`` -- text copied from a news page: a date line (``Thứ Hai, ngày 13 tháng 7
  năm 2020``, ``Ngày đăng 27/03/2020 | 15:32``, ``21 Tháng Năm 2020 11:15:00 SA``),
  the headline, image captions, the article, a byline, and site chrome (visit
  counters, "Ý kiến bạn đọc", "Tin khác", ...) around it all.
* ``header`` -- ``# key = value`` lines (``doc_id``, ``url``, ``date`` as YYYYMMDD,
  optionally ``title``, ``source``, ``author``, ``category``), then the title line,
  then the body.
* ``plain`` -- line 1 title, line 2 lead, line 3 body (the body may be missing).
* ``jsonl`` -- a JSON Lines record with ``id, title, body, date, source, url,
  category`` and optionally ``units``, ``author``, ``term``.
* ``html`` -- an HTML page (a saved file or a WARC record), parsed by
  :mod:`indexer.webpages`.

Encodings: UTF-8 with or without BOM, UTF-16 (LE/BE, with or without BOM),
UTF-32 with BOM, Windows-1258 (whose combining tone marks NFC then composes).
Text comes out in NFC with new-style tone placement (:func:`indexer.text.normalize`).

:class:`RawDocument` and :class:`Skipped` live here rather than in
:mod:`indexer.sources` (which re-exports them) because parsing sits below sources.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from indexer import metadata
from indexer.article import Article
from indexer.errors import CorpusError
from indexer.text import normalize

__all__ = [
    "DocumentError",
    "RawDocument",
    "Skipped",
    "clean_text",
    "decode_bytes",
    "detect_kind",
    "parse_document",
    "parse_or_skip",
    "take_lead_credit",
    "read_text",
]

KINDS = ("page", "header", "plain", "jsonl", "html")


@dataclass(frozen=True, slots=True)
class RawDocument:
    """A corpus document before parsing.

    :param id: stable document id (see :mod:`indexer.sources`).
    :param path: the file it came from, as given (a JSON Lines record: its file).
    :param kind: ``"page"``, ``"header"``, ``"plain"``, ``"jsonl"`` or ``"html"``.
    :param payload: the file's bytes, or the decoded JSON object of a record (an
        ``html`` page: ``{"html": bytes, "url", "content_type"}``).
    :param content_hash: hex digest of the file's bytes or the record's line.
    """

    id: str
    path: str
    kind: str
    payload: bytes | dict
    content_hash: str


@dataclass(frozen=True, slots=True)
class Skipped:
    """A file or record that could not be read, and why (``path`` may end in ``:LINE``)."""

    path: str
    reason: str

    def to_dict(self) -> dict:
        """``{"path": ..., "reason": ...}`` for JSON output."""
        return {"path": self.path, "reason": self.reason}

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


class DocumentError(CorpusError):
    """A document cannot be decoded or parsed; ``path`` and ``reason`` kept apart."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason

    def __reduce__(self):
        return (type(self), (self.path, self.reason))


# --- decoding -----------------------------------------------------------------

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF8, "utf-8-sig", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"),
)
_MAGIC = (
    (b"%PDF", "PDF document"),
    (b"\x89PNG", "PNG image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"GIF8", "GIF image"),
    (b"PK\x03\x04", "ZIP archive"),
    (b"\x1f\x8b", "gzip data"),
    (b"\x7fELF", "executable"),
    (b"{\\rtf", "RTF document"),
)
# C0 controls other than tab, newline, vertical tab, form feed, carriage return,
# and DEL. A stray backspace or two occurs in real text; many mean binary data.
_CONTROL_BYTES = bytes([*range(0x00, 0x09), *range(0x0E, 0x20), 0x7F])
_SAMPLE = 4096


# What UTF-16 text of a Vietnamese (or any Latin-script) page is made of: ASCII,
# Latin letters, combining marks, Vietnamese letters, punctuation.
_LATIN_TEXT = re.compile(
    "[\t\n\r\x20-\x7e\xa0-\u024f\u0300-\u036f\u1e00-\u1eff\u2000-\u206f\u20ab\ufeff]"
)


def _utf16_without_bom(data: bytes) -> str | None:
    """``utf-16-le``/``utf-16-be`` if NUL bytes sit at every other position and the
    sample then reads as Latin-script text, else ``None``."""
    sample = data[:_SAMPLE]
    sample = sample[: len(sample) // 2 * 2]
    half = len(sample) // 2
    if half < 2:
        return None
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    if odd >= half * 0.3 and even <= half * 0.02:
        codec = "utf-16-le"
    elif even >= half * 0.3 and odd <= half * 0.02:
        codec = "utf-16-be"
    else:
        return None
    text = sample.decode(codec, errors="replace")
    if len(_LATIN_TEXT.findall(text)) < 0.95 * len(text):
        return None
    return codec


def decode_bytes(data: bytes, path: str = "<bytes>") -> str:
    """Decode a corpus file's bytes, detecting the encoding.

    BOM first (UTF-8, UTF-16, UTF-32), then UTF-16 without a BOM (by the pattern of
    NUL bytes), strict UTF-8, UTF-8 with a few damaged bytes, then Windows-1258.
    Raises :class:`DocumentError` for empty or binary data and undecodable text.

    >>> decode_bytes("Quận ủy".encode("utf-16"))
    'Quận ủy'
    >>> decode_bytes("Quận ủy".encode("utf-8"))
    'Quận ủy'
    >>> decode_bytes(b"Qu\\xe2\\xf2n") == "Qu\\u00e2\\u0323n"  # Windows-1258: base + tone
    True
    """
    if not data.strip():
        raise DocumentError(path, "empty file")
    for bom, codec, name in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(codec)
            except UnicodeDecodeError as exc:
                raise DocumentError(
                    path, f"invalid {name} text ({exc.reason} at byte {exc.start})"
                ) from exc
    codec = _utf16_without_bom(data)
    if codec is not None:
        try:
            return data.decode(codec)
        except UnicodeDecodeError as exc:
            raise DocumentError(
                path, f"invalid UTF-16 text ({exc.reason} at byte {exc.start})"
            ) from exc
    for magic, what in _MAGIC:
        if data.startswith(magic):
            raise DocumentError(path, f"binary file ({what})")
    if b"\x00" in data:
        raise DocumentError(path, "binary file (contains NUL bytes)")
    controls = len(data) - len(data.translate(None, _CONTROL_BYTES))
    if controls > max(8, len(data) // 50):
        raise DocumentError(path, f"binary file ({controls} control bytes)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    text = data.decode("utf-8", errors="replace")
    damaged = text.count("\ufffd")
    multibyte = sum(1 for char in text if char > "\x7f") - damaged
    if multibyte >= 20 and damaged * 10 <= multibyte:
        return text  # UTF-8 with a few broken bytes: keep it, marked with U+FFFD
    try:
        return data.decode("cp1258")
    except UnicodeDecodeError as exc:
        raise DocumentError(
            path,
            f"cannot decode: not UTF-8, UTF-16 or Windows-1258 "
            f"(byte 0x{data[exc.start]:02x} at offset {exc.start})",
        ) from exc


def _clean_table() -> dict[int, str | None]:
    table: dict[int, str | None] = {code: None for code in _CONTROL_BYTES}
    table.update({code: None for code in range(0x80, 0xA0)})  # C1 controls
    for code in (0x0B, 0x0C, 0x0D, 0x85, 0x2028, 0x2029):
        table[code] = "\n"
    for code in (0x09, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x202F, 0x205F, 0x3000):
        table[code] = " "
    for code in (0x00AD, 0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF):
        table[code] = None
    return table


_CLEAN = _clean_table()
# str.translate with a dict is slow; most texts have none of these characters,
# so find them first and translate only what is there.
_DIRTY = re.compile("[" + "".join(re.escape(chr(code)) for code in sorted(_CLEAN)) + "]")


def clean_text(text: str) -> str:
    """One newline (``\\n``), one space; no control, zero-width or BOM characters; normalised.

    >>> clean_text("Ho\\u0300a\\xa0Bi\\u0300nh\\r\\nQua\\u0323\\u0302n uy\\u0309\\x08")
    'Hòa Bình\\nQuận ủy'
    """
    text = text.replace("\r\n", "\n")
    if _DIRTY.search(text):
        text = text.translate(_CLEAN)
    return normalize(text)


def read_text(data: bytes, path: str = "<bytes>") -> str:
    """:func:`decode_bytes` then :func:`clean_text`."""
    return clean_text(decode_bytes(data, path))


_HEADER_LINE = re.compile(r"\s*#\s*[A-Za-z_][\w.-]*\s*=")


def detect_kind(text: str) -> str:
    """The format of a decoded text file: ``header``, ``plain`` or ``page``.

    >>> detect_kind("# doc_id = news_sport_001\\n# date = 20201001\\nTiêu đề\\nNội dung")
    'header'
    >>> detect_kind("Tiêu đề\\nĐoạn mở đầu.\\nNội dung bài.")
    'plain'
    >>> detect_kind("Thứ Hai, ngày 13 tháng 7 năm 2020\\n\\nTiêu đề\\n\\nNội dung\\n\\nTin khác")
    'page'
    """
    lines = text.split("\n")
    first = next((line for line in lines if line.strip()), "")
    if _HEADER_LINE.match(first):
        return "header"
    start = next((i for i, line in enumerate(lines) if line.strip()), 0)
    end = max((i for i, line in enumerate(lines) if line.strip()), default=0)
    block = lines[start : end + 1]
    if 1 <= len(block) <= 3 and all(line.strip() for line in block) and len(block[0]) <= 300:
        return "plain"
    return "page"


# --- pages ----------------------------------------------------------------------

_SPACES = re.compile(r"[ \t]+")
# Whole lines that are site furniture, compared in lower case without a final colon.
_CHROME_LINES = frozenset(
    """ý kiến bạn đọc|ý kiến của bạn|gửi ý kiến|gửi bình luận|bình luận|tin khác|
    các tin khác|tin liên quan|tin cùng chuyên mục|tin đã đưa|tin mới|tin mới nhất|
    tin nổi bật|tin xem nhiều|đọc nhiều|xem nhiều|thông báo|xem theo ngày|tìm kiếm|
    refresh|tổng lượt bình luận|số lượt truy cập|lượt truy cập|thống kê truy cập|
    đang truy cập|đang trực tuyến|trực tuyến|chia sẻ|in bài|in bài viết|bản in|
    gửi email|gửi bài viết|quay lại|trở về|về đầu trang|đầu trang|trang chủ|xem thêm|
    liên kết website|liên kết|video|thư viện ảnh|thư viện video|tags|từ khóa|
    không tiêu đề|facebook|twitter|zalo|email|print|share|like|top""".replace("\n", "").split("|")
)
_CHROME_LINES = frozenset(" ".join(item.split()) for item in _CHROME_LINES)
_CHROME_RE = re.compile(
    r"[\d\s.,:;/|•·*\-–—()]+"  # counters, stray bullets and separators
    r"|(?:(?:số\s+)?lượt\s+(?:người\s+)?(?:xem|đọc|truy\s+cập)|lượt\s+bình\s+luận|"
    r"tổng\s+(?:số\s+)?lượt\s+(?:truy\s+cập|xem|bình\s+luận)|hôm\s+nay|hôm\s+qua|"
    r"tuần\s+này|tháng\s+này|tổng\s+cộng|tổng|đang\s+(?:truy\s+cập|online|trực\s+tuyến)|"
    r"online)\s*:?\s*[\d.,\s]*"
    r"|(?:xem\s+theo\s+ngày\s*)+|[•·*\-]\s*không\s+tiêu\s+đề"
    r"|(?:cỡ\s+chữ\s*:?)?(?:\s*a\s*[+\-]?){1,3}|cỡ\s+chữ.*|font\s+size.*",
    re.IGNORECASE,
)
# Lines after which nothing belongs to the article.
_TAIL_LINES = frozenset(
    """ý kiến bạn đọc|ý kiến của bạn|gửi ý kiến|gửi bình luận|tin khác|các tin khác|
    tin liên quan|tin cùng chuyên mục|tin đã đưa|tổng lượt bình luận|xem theo ngày|
    thông báo|tìm kiếm|refresh""".replace("\n", "").split("|")
)
_TAIL_LINES = frozenset(" ".join(item.split()) for item in _TAIL_LINES)
_TAIL_RE = re.compile(
    r"(?:số\s+)?lượt\s+(?:người\s+)?(?:xem|đọc)\s*:?\s*[\d.,]*|(?:xem\s+theo\s+ngày\s*)+",
    re.IGNORECASE,
)
_BREADCRUMB = re.compile(r"\s(?:>|»|›|/)\s")
_META_LINE = re.compile(
    r"(?:ngày\s+đăng|cập\s+nhật|đăng\s+(?:ngày|lúc)|lượt\s+xem|\|)", re.IGNORECASE
)
_WEEKDAY_START = re.compile(
    r"\s*(?:thứ\s*(?:hai|ba|tư|năm|sáu|bảy|[2-7])|chủ\s*nhật)\b", re.IGNORECASE
)
# "21 Tháng Năm 2020 11:15:00 SA": the style of sites that put the date above the headline.
_HEADLINE_BELOW = re.compile(r"tháng\s+[^\W\d]|\d\s*(?:SA|CH)\b", re.IGNORECASE)
_HEAD_LINES = 15  # a page's date line is among its first lines
_BODY_LINE = 200  # a line this long is the article itself


def _key(line: str) -> str:
    return line.lower().rstrip(" :")


def _is_chrome(line: str) -> bool:
    key = _key(line)
    return key in _CHROME_LINES or bool(_CHROME_RE.fullmatch(key))


def _is_tail(line: str) -> bool:
    key = _key(line)
    return key in _TAIL_LINES or bool(_TAIL_RE.fullmatch(key))


def _section_like(line: str) -> bool:
    """A section name rather than a headline: lower-case start, or three words at most."""
    return line[:1].islower() or len(line.split()) <= 3


def _lead_split(paragraphs: list[str]) -> int:
    """How many paragraphs make the lead: captions up to the first real paragraph."""
    for index, paragraph in enumerate(paragraphs[:4]):
        if len(paragraph) >= 80:
            return index + 1
    return min(1, len(paragraphs))


def take_lead_credit(paragraphs: list[str], within: int) -> str | None:
    """Take a site credit (:func:`indexer.metadata.source_credit`: ``(Thanhuytphcm.vn) –
    …``, ``Nguồn: …``) off the first of the first ``within`` paragraphs that holds one
    (the rest of that paragraph stays); return the site, or None."""
    for index, paragraph in enumerate(paragraphs[:within]):
        credit = metadata.source_credit(paragraph)
        if credit is not None:
            source, rest = credit
            if rest:
                paragraphs[index] = rest
            else:
                del paragraphs[index]
            return source
    return None


def _strip_tail_credits(paragraphs: list[str]) -> tuple[str | None, str | None]:
    """Remove a trailing byline and source credit from ``paragraphs``; return (author, source)."""
    author = source = None
    for _ in range(3):
        if not paragraphs:
            break
        last = paragraphs[-1]
        credit = metadata.source_credit(last)
        if credit is not None and not credit[1] and source is None:
            source = credit[0]
            paragraphs.pop()
            continue
        if author is None:
            name = metadata.parse_byline(last)
            if name is not None:
                author = name
                paragraphs.pop()
                continue
        break
    return author, source


def parse_page(text: str, *, doc_id: str, path: str) -> Article:
    """Parse normalised raw page text (see the module docstring) into an Article."""
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    content = [i for i, line in enumerate(lines) if line and not _is_chrome(line)]
    if not content:
        raise DocumentError(path, "no article text (only site chrome)")

    # The page's own date line sits near the top, before the article starts.
    date = None
    date_index = None
    date_rest = ""
    for index in content[:_HEAD_LINES]:
        if len(lines[index]) > _BODY_LINE:
            break
        found = metadata.parse_date_line(lines[index])
        if found is not None:
            date, date_rest = found
            date_index = index
            break

    category = None
    if date_index is not None:
        before = [i for i in content if i < date_index]
        after = [i for i in content if i > date_index]
        date_line = lines[date_index]
        title_first = (
            bool(before)
            and not date_rest
            and not _WEEKDAY_START.match(date_line)
            and not _HEADLINE_BELOW.search(date_line)
        )
        if title_first and not _META_LINE.search(date_line):
            # A bare date right under the headline still follows it.
            title_first = date_index - before[-1] == 1
        if (
            title_first
            and after
            and _section_like(lines[before[-1]])
            and len(lines[after[0]]) <= _BODY_LINE
            and not _section_like(lines[after[0]])
        ):
            title_first = False  # "công tác đảng / Ngày đăng ... / headline"
        if title_first:
            title_index = before[-1]
            if len(before) >= 2:
                category = lines[before[-2]]
        else:
            if not after:
                raise DocumentError(path, "no headline after the date line")
            position = 0
            # A section name between the date line and the headline.
            while (
                position + 1 < len(after)
                and _section_like(lines[after[position]])
                and not _section_like(lines[after[position + 1]])
                and len(lines[after[position + 1]]) <= _BODY_LINE
            ):
                position += 1
            title_index = after[position]
            category = date_rest or (lines[before[-1]] if before else None)
            if position:
                category = lines[after[position - 1]]
        body_start = max(title_index, date_index) + 1
    else:
        # No date line: skip a short lower-case section name ("công tác đảng").
        position = 0
        while (
            position + 1 < len(content)
            and len(lines[content[position]]) <= 60
            and lines[content[position]][0].islower()
        ):
            position += 1
        if position:
            category = lines[content[position - 1]]
        title_index = content[position]
        body_start = title_index + 1

    title = lines[title_index]
    if category and _BREADCRUMB.search(category):
        category = _BREADCRUMB.split(category)[-1].strip() or None

    paragraphs: list[str] = []
    for index in range(body_start, len(lines)):
        line = lines[index]
        if not line or index == date_index:
            continue
        if _is_tail(line):
            break
        if _is_chrome(line):
            continue
        paragraphs.append(line)

    source = take_lead_credit(paragraphs, 4)
    author, tail_source = _strip_tail_credits(paragraphs)
    source = source or tail_source

    split = _lead_split(paragraphs)
    lead = "\n\n".join(paragraphs[:split])
    rest = "\n\n".join(paragraphs[split:])
    body = "\n\n".join(paragraphs)
    return Article(
        id=doc_id,
        title=title,
        body=body,
        path=path,
        date=date,
        units=metadata.extract_units(title, lead, rest, date=date, source=source),
        source=source,
        url=None,
        author=author,
        category=category,
        term=metadata.extract_terms(f"{title}\n{body}"),
    )


# --- header files, plain files, records ----------------------------------------

_HEADER_PAIR = re.compile(r"\s*#\s*(?P<key>[A-Za-z_][\w.-]*)\s*=\s*(?P<value>.*)")


def parse_header_file(text: str, *, doc_id: str, path: str) -> Article:
    """Parse a ``# key = value`` header file (then title line, then body lines)."""
    lines = text.split("\n")
    header: dict[str, str] = {}
    position = 0
    while position < len(lines):
        line = lines[position]
        match = _HEADER_PAIR.fullmatch(line)
        if match:
            header[match["key"].lower()] = match["value"].strip()
        elif line.strip():
            break
        position += 1
    body_lines = [" ".join(line.split()) for line in lines[position:]]
    body_lines = [line for line in body_lines if line]
    title = header.get("title") or (body_lines.pop(0) if body_lines else "")
    if not title and not body_lines:
        raise DocumentError(path, "header file has no title or body")
    author, _ = _strip_tail_credits(body_lines) if "author" not in header else (None, None)
    url = header.get("url") or None
    lead = body_lines[0] if body_lines else ""
    rest = "\n".join(body_lines[1:])
    date = metadata.iso_date(header.get("date"))
    source = header.get("source") or metadata.host_of(url)
    found = metadata.extract_units(title, lead, rest, date=date, source=source)
    return Article(
        id=doc_id,
        title=title,
        body="\n".join(body_lines),
        path=path,
        date=date,
        units=_units_field(header.get("units"), found) or found,
        source=source,
        url=url,
        author=header.get("author") or author,
        category=header.get("category") or metadata.category_from_doc_id(header.get("doc_id", "")),
        term=_terms_field(header.get("term")) or metadata.extract_terms(f"{title}\n{lead}\n{rest}"),
    )


def parse_plain_file(text: str, *, doc_id: str, path: str) -> Article:
    """Parse a plain file: line 1 title, line 2 lead, line 3 body (body optional)."""
    lines = [" ".join(line.split()) for line in text.split("\n")]
    lines = [line for line in lines if line]
    if not lines:
        raise DocumentError(path, "no text")
    title, paragraphs = lines[0], lines[1:]
    lead = paragraphs[0] if paragraphs else ""
    rest = "\n\n".join(paragraphs[1:])
    return Article(
        id=doc_id,
        title=title,
        body="\n\n".join(paragraphs),
        path=path,
        units=metadata.extract_units(title, lead, rest),
        term=metadata.extract_terms(f"{title}\n{lead}\n{rest}"),
    )


def _text_field(record: dict, key: str, path: str, doc_id: str) -> str:
    value = record.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise DocumentError(path, f"record {doc_id}: {key} is {type(value).__name__}, not a string")
    return clean_text(value).strip()


def _optional(value: object) -> str | None:
    if isinstance(value, str):
        value = " ".join(clean_text(value).split())
        return value or None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _units_field(value: object, found: tuple[str, ...] = ()) -> tuple[str, ...]:
    """A record's own ``units``, each as its canonical name where it names one unit
    (``found``, the units extracted from the text, tells apart units of one name)."""
    if isinstance(value, str):
        value = value.split(";") if ";" in value else value.split(",")
    if not isinstance(value, list | tuple):
        return ()
    units = []
    for item in value:
        if isinstance(item, str) and item.strip():
            unit = metadata.canonical_unit(clean_text(item), context=found)
            if unit not in units:
                units.append(unit)
    return tuple(units)


def _terms_field(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple):
        return ()
    terms = []
    for item in value:
        if isinstance(item, str):
            match = re.fullmatch(r"\s*(\d{4})\s*[-–—]\s*(\d{4})\s*", item)
            if match and f"{match[1]}-{match[2]}" not in terms:
                terms.append(f"{match[1]}-{match[2]}")
    return tuple(terms)


def parse_record(record: dict, *, doc_id: str, path: str) -> Article:
    """Build an Article from a JSON Lines record, extracting what the record lacks."""
    title = " ".join(_text_field(record, "title", path, doc_id).split())
    body = _text_field(record, "body", path, doc_id)
    if not title and not body:
        raise DocumentError(path, f"record {doc_id}: no title and no body")
    lead, _, rest = body.partition("\n")
    author = _optional(record.get("author"))
    if author is None and rest:
        last = rest[rest.rfind("\n") + 1 :]
        if len(last) <= 60:
            author = metadata.parse_byline(last)
    date = metadata.iso_date(record.get("date"))
    source = _optional(record.get("source"))
    found = metadata.extract_units(title, lead, rest, date=date, source=source)
    return Article(
        id=doc_id,
        title=title,
        body=body,
        path=path,
        date=date,
        units=_units_field(record.get("units"), found) or found,
        source=source,
        url=_optional(record.get("url")),
        author=author,
        category=_optional(record.get("category")),
        term=_terms_field(record.get("term")) or metadata.extract_terms(f"{title}\n{body}"),
    )


def parse_document(raw: RawDocument) -> Article:
    """Parse one raw document into a normalised :class:`Article`.

    Raises :class:`DocumentError` (a :class:`~indexer.errors.CorpusError` whose
    message is ``"path: reason"``) when it cannot be decoded or parsed.
    """
    if raw.kind == "html":
        from indexer.webpages import parse_html_document  # HTML and WARC pages

        return parse_html_document(raw)
    if raw.kind == "jsonl":
        if not isinstance(raw.payload, dict):
            raise DocumentError(raw.path, f"record {raw.id}: not a JSON object")
        return parse_record(raw.payload, doc_id=raw.id, path=raw.path)
    if not isinstance(raw.payload, bytes | bytearray):
        raise DocumentError(raw.path, f"payload of a {raw.kind} document must be bytes")
    text = read_text(bytes(raw.payload), raw.path)
    if raw.kind == "header":
        return parse_header_file(text, doc_id=raw.id, path=raw.path)
    if raw.kind == "plain":
        return parse_plain_file(text, doc_id=raw.id, path=raw.path)
    if raw.kind == "page":
        return parse_page(text, doc_id=raw.id, path=raw.path)
    raise DocumentError(raw.path, f"unknown document kind {raw.kind!r}")


def parse_or_skip(raw: RawDocument) -> Article | Skipped:
    """:func:`parse_document`, with a failure returned as :class:`Skipped` (for workers)."""
    try:
        return parse_document(raw)
    except DocumentError as exc:
        return Skipped(exc.path, exc.reason)

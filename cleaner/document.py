"""The unit of work that flows through every stage: one document.

A stage takes documents and returns documents; everything a stage learns about a
document (its encoding, what a rule removed, why it was dropped) is recorded on it,
so the manifest can account for every input without any stage keeping side tables.
"""

from __future__ import annotations

import operator
from collections import Counter
from dataclasses import dataclass, field, fields
from typing import Any

from .native import core

_word_count = core.word_count  # len(text.split()), counted in the core without making the words

#: Manifest statuses, in the order the report lists them.
STATUSES = ("kept", "duplicate", "empty", "skipped", "error")


def _counter(counts: dict[str, int]) -> Counter[str]:
    """``Counter(counts)``, built without Counter's ``__init__``: a Counter is a dict, and
    what ``Counter(a_dict)`` makes of an empty one is ``dict.update``'s copy."""
    c: Counter[str] = Counter.__new__(Counter)
    dict.update(c, counts)
    return c


def _empty_counter() -> Counter[str]:
    """``Counter()``, without Counter's ``__init__`` (Python code calling ``update``): every
    document read makes two."""
    return Counter.__new__(Counter)


def doc_key(path: object, rid: object = None) -> str:
    """A document's key as messages, the manifest's errors and the report name it: ``path``,
    or ``path#id`` for a record of a container (the one spelling of that key)."""
    return str(path) if rid is None else f"{path}#{rid}"


@dataclass
class Document:
    """One document: a whole input file, or one record of a container (JSONL, WARC)."""

    path: str  # input path relative to the scrape root, POSIX separators
    id: str | None = None  # record id inside a container; None for a plain file
    text: str = ""
    url: str | None = None
    kind: str = "text"  # text | html | jsonl | warc
    container: bool = False  # True when the document is one record of a JSONL/WARC file
    encoding: str | None = None
    status: str = "kept"
    reason: str = ""
    chars_in: int = 0
    # lines removed, by mechanism (rule id, chrome.*, dedup.*)
    removed: Counter[str] = field(default_factory=_empty_counter)
    removed_words: Counter[str] = field(default_factory=_empty_counter)  # words removed, by the same mechanisms
    words_in: int = 0  # words of the normalised text (of an HTML page: of its extracted main text)
    flags: list[str] = field(default_factory=list)
    duplicate_of: dict[str, Any] | None = None
    date: str | None = None  # for --keep newest (from WARC/JSONL metadata or file mtime)
    stage: str = ""  # the stage that decided a non-kept fate (read, extract, clean, templates)
    head: list[str] = field(default_factory=list)  # removed lines above the text (template stats)
    # the furniture classifier's input, for a re-run in pass 2: its lines, each followed by
    # "\n" (cleaner.clean.stages.body_lines reads them back). One str, not a list: every
    # document is pickled and unpickled between the passes, a str per line cost both more
    # than the rest of the document, and about one document in a hundred reads them.
    body: str = ""
    # template-statistics keys of the text's lines and of ``head``, computed where the
    # document was cleaned so the driver does not hash every line twice (see
    # :func:`cleaner.clean.stages.clean_keys`); dropped once templates are removed
    line_keys: list[int] | None = None
    head_keys: list[int] | None = None

    @property
    def key(self) -> str:
        """A stable, human-readable identity: ``path`` or ``path#id`` for records."""
        return doc_key(self.path, self.id)

    @property
    def source(self) -> str:
        """The template-statistics group: the folder a file sits in (one site per folder
        is how scrapers lay out their output), or the host of the record's URL."""
        if self.url:
            from urllib.parse import urlsplit

            host = urlsplit(self.url).hostname
            if host:
                return host
        return self.path.rpartition("/")[0]

    @property
    def words_out(self) -> int:
        """Words of the clean text (0 unless kept): ``words_in - words_out`` is the sum of
        ``removed_words``, each word accounted to the mechanism that removed it.

        Counted once per text: the count is kept with the very ``str`` it counted (not a
        copy, not its length), so any assignment of another text makes it stale and it is
        counted again; a stale count cannot be read. It travels in the pickle (see
        :meth:`__reduce__`): pass 2's worker counts the final text, so that the write
        step, serial in the driver, does not count every document's words again."""
        return self._counts_out()[1]

    def words_counted(self, words: int) -> None:
        """Take ``words`` as the count of the text's words (``len(self.text.split())``)
        for :attr:`words_out`: counted where the text was read for another reason (pass 2's
        dedup features), so that pickling the document does not count them again. Tied to
        this very text, as a count :attr:`words_out` makes is."""
        self.__dict__["_words"] = (self.text, words)

    @property
    def chars_out(self) -> int:
        """Characters of the clean text (0 unless kept), the manifest's ``chars_out``: of a
        document unpickled with its text as UTF-8 (:func:`_document_utf8`), the count that
        came with it, so that the text is not decoded for its length."""
        return self._counts_out()[0]

    def _counts_out(self) -> tuple[int, int]:
        """``(chars_out, words_out)``, the one implementation of both (see those): one look
        at the UTF-8 form for the two, as the write step makes a manifest record of every
        document."""
        if self.status != "kept":
            return 0, 0
        state = self.__dict__
        packed = _utf8_of(state)
        if packed is not None:
            return packed[1], packed[2]
        text = self.text
        counted = state.get("_words")
        if counted is not None and counted[0] is text:
            return len(text), counted[1]
        n = _word_count(text)
        state["_words"] = (text, n)
        return len(text), n

    def text_utf8(self) -> bytes:
        """``text.encode("utf-8")``: of a document unpickled with its text as UTF-8 whose
        text has not been replaced since, those very bytes (neither decoded nor encoded
        again); the write step hands them to the clean file as they are."""
        packed = _utf8_of(self.__dict__)
        return packed[0] if packed is not None else self.text.encode("utf-8")

    def manifest_record(self) -> dict[str, Any]:
        chars_out, words_out = self._counts_out()
        record: dict[str, Any] = {
            "path": self.path,
            "id": self.id,
            "status": self.status,
            "reason": self.reason,
            "encoding": self.encoding,
            "chars_in": self.chars_in,
            "chars_out": chars_out,
            "removed": dict(sorted(self.removed.items())),
            "words_in": self.words_in,
            "words_out": words_out,
            "removed_words": {k: v for k, v in sorted(self.removed_words.items()) if v},
        }
        if self.url:
            record["url"] = self.url
        if self.flags:
            record["flags"] = list(self.flags)
        if self.duplicate_of is not None:
            record["duplicate_of"] = self.duplicate_of
        return record

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickled as the values of its fields in order (:data:`_FIELDS`), the two Counters
        as plain dicts, and the word count: documents cross to the workers and back and
        through the spools pickled. A state dictionary (``__getstate__``) pickled every
        field's name with its value, and the names were a third of a document's pickling
        and a tenth of its unpickling; unpickling a Counter calls its ``__init__`` and
        ``update`` in Python (the write step unpickles every document).

        A kept document's word count (:attr:`words_out`) goes along, counted here if it is
        not yet once templates are removed (``line_keys`` dropped: pass 2's worker, whose
        pickle is the one the write step reads). That pickle carries the text as its UTF-8
        bytes with its length in characters (:func:`_document_utf8`): the driver unpickles
        every document of the final spool and writes most of them to their clean files as
        bytes, so a ``str`` decoded from the pickle and encoded again for the file was two
        copies of the corpus through the codec in the one serial step (at 200 MB: 0.18 s to
        decode, 0.07 to 0.16 s to encode, of a step of 1.1 s of the driver's CPU); the text
        is decoded only when read (:class:`_Utf8Text`). A text that is not valid UTF-8 (a
        lone surrogate, which normalisation replaces, so never in a run) goes as a ``str``.

        Any other document (none of cleaner's): of a subclass, holding an attribute that is
        not a field, or missing a field, is pickled with its whole dictionary, the format
        the state dictionary had (:meth:`__setstate__` reads it), and comes back of its
        class, with the same attributes."""
        state = self.__dict__
        words = None
        if self.status == "kept" and (self.line_keys is None or "_words" in state or "_utf8" in state):
            try:
                words = self.words_out  # the count of this text (counted again if stale)
            except AttributeError:  # no text (deleted): no count, the whole dictionary goes
                pass
        # (words_out may have added _words, and _utf8_of dropped a stale _utf8: counted after
        # them; the _utf8 of a text not yet decoded stands in the place of its text)
        packed = _utf8_of(state)
        extras = ("_words" in state) + ("_utf8" in state and "text" in state)
        if type(self) is Document and len(state) == len(_FIELDS) + 2 + extras:
            try:
                if words is not None:
                    data, chars = (packed[0], packed[1]) if packed is not None else _encoded(state["text"])
                    return _document_utf8, (_values_but_text(state), data, chars, words, dict(self.removed),
                                            dict(self.removed_words))
            except (UnicodeEncodeError, KeyError, AttributeError):
                pass  # a lone surrogate (the text goes as a str); a field missing, an attribute in its place
            try:
                values = _values(_decoded(self))
            except (KeyError, AttributeError):
                pass
            else:
                return _document, (values, dict(self.removed), dict(self.removed_words), words)
        whole = {k: v for k, v in _decoded(self).items() if k not in ("_words", "_utf8")}
        for name in ("removed", "removed_words"):
            if name in whole:
                whole[name] = dict(whole[name])
        if words is not None:
            whole["_words"] = words
        return _document_with, (type(self), whole)

    def __setstate__(self, state: dict[str, Any]) -> None:
        """A document from its whole dictionary, the Counters as plain dicts and the word
        count (:attr:`words_out`) as ``_words`` beside its text: the pickles of documents
        :meth:`__reduce__` does not pickle by their fields (:func:`_document_with`), and
        those of older checkouts (their ``__getstate__``), so that what an older checkout
        saved (``bench/pass2.py``'s captures) reads here. A document pickled by its fields
        never calls it."""
        for name in ("removed", "removed_words"):
            if name in state:
                state[name] = _counter(state[name])
        words = state.pop("_words", None)
        self.__dict__.update(state)
        if words is not None:  # the count of the text pickled beside it
            self.__dict__["_words"] = (self.text, words)

    def __delattr__(self, name: str) -> None:
        """``del doc.text`` drops the UTF-8 form of a text unpickled as bytes
        (:func:`_document_utf8`) with it, read or not: the text is gone, and reading it
        would otherwise decode the bytes again, even after another text was assigned and
        deleted unseen (an assignment goes to the dictionary: nothing sees it happen)."""
        state = self.__dict__
        if name == "text" and state.pop("_utf8", None) is not None:
            state.pop("text", None)
        else:
            object.__delattr__(self, name)

    def fail(self, status: str, reason: str, stage: str = "read") -> Document:
        """Record the fate of a document that goes no further, and the stage that decided it."""
        self.status, self.reason, self.text, self.stage = status, reason, "", stage
        return self


#: The fields a document pickles by position (:meth:`Document.__reduce__`), the Counters apart.
_FIELDS = tuple(f.name for f in fields(Document) if f.name not in ("removed", "removed_words"))
_values = operator.itemgetter(*_FIELDS)


def _document(values: tuple[Any, ...], removed: dict[str, int], removed_words: dict[str, int],
              words: int | None) -> Document:
    """A document unpickled (see :meth:`Document.__reduce__`), without ``__init__``."""
    state = dict(zip(_FIELDS, values, strict=True))
    state["removed"] = _counter(removed)
    state["removed_words"] = _counter(removed_words)
    if words is not None:  # the count of the text pickled beside it
        state["_words"] = (state["text"], words)
    doc = object.__new__(Document)
    doc.__dict__ = state
    return doc


def _document_utf8(values: tuple[Any, ...], data: bytes, chars: int, words: int, removed: dict[str, int],
                   removed_words: dict[str, int]) -> Document:
    """A document unpickled with its text as UTF-8 (see :meth:`Document.__reduce__`),
    without ``__init__`` and without decoding the text: ``data``, its length in
    characters and its word count are kept as ``_utf8`` (see :func:`_utf8_of`), and the
    text is decoded when it is first read (:class:`_Utf8Text`)."""
    state = dict(zip(_FIELDS_BUT_TEXT, values, strict=True))
    state["removed"] = _counter(removed)
    state["removed_words"] = _counter(removed_words)
    state["_utf8"] = [data, chars, words, _UNREAD]
    doc = object.__new__(Document)
    doc.__dict__ = state
    return doc


def _utf8_of(state: dict[str, Any]) -> list[Any] | None:
    """``[data, chars, words, text]`` of a document unpickled with its text as UTF-8
    (:func:`_document_utf8`) while they still describe its text: the text not yet decoded
    (no ``text`` in its dictionary, and the 4th :data:`_UNREAD`), or the ``str`` decoded
    from them (the 4th) still the document's. Any assignment of another text (``fail``, a
    passage cut; ``None`` too: hence the sentinel) makes them stale for good: dropped when
    seen stale, so that no later state (the text deleted, the decoded ``str`` assigned
    back) can read them again; the document's own text is counted and encoded then."""
    packed = state.get("_utf8")
    if packed is None:
        return None
    if state.get("text", _UNREAD) is packed[3]:
        return packed
    del state["_utf8"]
    return None


_UNREAD = object()


def _encoded(text: str) -> tuple[bytes, int]:
    """A text's UTF-8 bytes (strict: a lone surrogate raises) and its length."""
    return text.encode("utf-8"), len(text)


def _decoded(doc: Document) -> dict[str, Any]:
    """The document's dictionary, its text decoded first if it was not yet."""
    state = doc.__dict__
    if "text" not in state and "_utf8" in state:
        _Utf8Text.decode(doc)
    return state


class _Utf8Text:
    """``Document.text`` on the class: a descriptor that only reads (a non-data one), so a
    document's own ``text`` in its dictionary, which every document has but those
    unpickled by :func:`_document_utf8` until they are read, is found before it, at no
    cost, and an assignment goes to the dictionary as to any attribute. Without one, it
    decodes the UTF-8 bytes the document was unpickled with and keeps the ``str``. On the
    class itself it is the field's default, ``""``, as the class attribute was."""

    def __get__(self, doc: Document | None, owner: type | None = None) -> str:
        if doc is None:
            return ""
        return self.decode(doc)

    @staticmethod
    def decode(doc: Document) -> str:
        state = doc.__dict__
        packed = state.get("_utf8")
        if packed is None:  # the text deleted (see Document.__delattr__)
            raise AttributeError(f"{type(doc).__name__!r} object has no attribute 'text'")
        text = packed[3] = state["text"] = packed[0].decode("utf-8")
        return text


Document.text = _Utf8Text()  # type: ignore[assignment]  # (after @dataclass took its default)
_FIELDS_BUT_TEXT = tuple(name for name in _FIELDS if name != "text")
_values_but_text = operator.itemgetter(*_FIELDS_BUT_TEXT)


def _document_with(cls: type[Document], state: dict[str, Any]) -> Document:
    """A document of class ``cls`` unpickled from its whole dictionary (see
    :meth:`Document.__reduce__`), without ``__init__``."""
    doc = object.__new__(cls)
    Document.__setstate__(doc, state)
    return doc

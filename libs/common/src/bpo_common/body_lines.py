"""A body's lines, as its chunks arrive or whole: intake reads NDJSON and CSV bodies of items
by them, validation NDJSON reference datasets, so that both services take the same files; and
the separator of a CSV body, read off its header line alike by both, and what is wrong with
a CSV record in the words both say it."""

import csv

from bpo_common.contracts.sealed import MAX_RECORD_BYTES

# A CSV cell may be as large as a record may (MAX_RECORD_BYTES), as a value in NDJSON may: the
# csv module's own limit, 128 KiB, refused a larger one in its own words.
csv.field_size_limit(MAX_RECORD_BYTES)


class Lines:
    """The body's lines, numbered from 1, each with its line end: LF, CRLF, or a CR alone (as
    Excel for Mac saves CSV), as the chunks arrive."""

    def __init__(self) -> None:
        self.number = 0
        self._partial = bytearray()

    def feed(self, chunk: bytes) -> list[tuple[int, bytes]]:
        if not chunk:
            return []
        lines = []
        if self._partial.endswith(b"\r"):  # a CR alone, or the first of a CRLF
            crlf = chunk.startswith(b"\n")
            lines.append(self._ended(b"\n" if crlf else b""))
            chunk = chunk[1:] if crlf else chunk
        # bytes.splitlines ends lines at LF, CR and CRLF only; a CR that ends the chunk waits
        # for the next chunk's first byte.
        pieces = chunk.splitlines(keepends=True)
        tail = pieces.pop() if pieces and not pieces[-1].endswith(b"\n") else b""
        if pieces:
            lines.append(self._ended(pieces[0]))
            lines += [(self.number + i, piece) for i, piece in enumerate(pieces[1:], 1)]
            self.number += len(pieces) - 1
        self._partial += tail
        return lines

    def end(self) -> list[tuple[int, bytes]]:
        return [(self.number + 1, bytes(self._partial))] if self._partial else []

    def _ended(self, tail: bytes) -> tuple[int, bytes]:
        """The line the partial one and `tail` make."""
        self.number += 1
        if not self._partial:
            return self.number, tail
        self._partial += tail
        whole = bytes(self._partial)
        self._partial.clear()
        return self.number, whole


def lines_of(body: bytes) -> list[tuple[int, bytes]]:
    """A whole body's lines, numbered from 1, each with its line end, as `Lines` reads them."""
    lines = Lines()
    return lines.feed(body) + lines.end()


def csv_separator(header: str) -> str:
    """The separator of a CSV body whose header line is `header`: of a comma, a tab and a `;`
    (a tab-separated export, or Excel's CSV where the comma is the decimal mark, as in much
    of Europe), the one the line has most often outside quotes; on a tie, a tab or a `;`
    before a comma, and a comma when the line has none. Excel quotes no name holding a comma
    in a `;`-separated file (`external_id;Betrag, brutto`), while a name holding a `;` or a
    tab in a comma-separated one is rare."""
    outside = "".join(header.split('"')[::2])
    return max(
        (",", "\t", ";"),
        key=lambda separator: (
            count := outside.count(separator),
            count > 0 and separator != ",",
        ),
    )


def csv_problem(exc: csv.Error) -> str:
    """What is wrong with a CSV record as the csv module found it: its own words, but for a
    cell past the limit, said as the bound it is."""
    if str(exc).startswith("field larger than field limit"):
        return f"a cell is larger than {MAX_RECORD_BYTES // 2**20} MiB, the most a record holds"
    return str(exc)

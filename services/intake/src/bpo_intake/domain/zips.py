"""A zip of documents as a client uploads it: its members read, none too large, none that
expands like a bomb (checked before it is read)."""

import contextlib
import re
import zipfile
from collections.abc import Iterator
from typing import IO

from bpo_intake.domain.documents import Limits, MemberRefused, Refused, document_name

# A zip member that expands more than this many times over is refused as a bomb, and so is a
# zip whose files add up to more than this (they are held in memory while inspected).
MAX_ZIP_RATIO = 200
MAX_ZIP_TOTAL_BYTES = 1024 * 1024 * 1024
# The only compressions read: their decompression stops where asked (bzip2 and LZMA's, in
# zipfile, do not, whatever size a member declares).
_ZIP_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflated"}
# Members a zip tool adds that are not documents.
_ZIP_NOISE = re.compile(r"(^|/)(__MACOSX/|\.DS_Store$|Thumbs\.db$)")
# The flag of a member whose name is in UTF-8.
_UTF8_NAME = 0x800


def read_zip(archive: IO[bytes], limits: Limits) -> list[tuple[str, bytes]]:
    """The documents of a zip (`zip_members`); Refused for a zip that zipfile cannot read."""
    try:
        with zipfile.ZipFile(archive) as opened:
            return list(zip_members(opened, limits))
    except (Refused, MemoryError):
        raise
    except Exception as exc:  # a damaged zip makes zipfile raise whatever it raises
        raise Refused(f"the body is not a valid zip: {exc}") from exc


def zip_members(archive: zipfile.ZipFile, limits: Limits) -> Iterator[tuple[str, bytes]]:
    """Each document of a zip, by its path in the archive; Refused, naming the member, for
    one that is too large or expands like a bomb (checked before it is read)."""
    for position, info in enumerate(archive.infolist(), start=1):
        if not info.filename:  # zipfile cuts a name at its first NUL
            raise Refused(f"the zip's file {position} has no name")
    members = [
        (_name(info), info)
        for info in archive.infolist()
        if not info.is_dir() and not _ZIP_NOISE.search(info.filename)
    ]
    if not members:
        raise Refused("the zip holds no files")
    if len(members) > limits.max_members:
        raise Refused(f"the zip holds {len(members)} files; the limit is {limits.max_members}")
    total = sum(info.file_size for _, info in members)
    if total > MAX_ZIP_TOTAL_BYTES:
        raise Refused(
            f"the zip's files add up to {total} bytes; the limit is {MAX_ZIP_TOTAL_BYTES}"
        )
    for name, info in members:
        if info.compress_type not in _ZIP_METHODS:
            raise MemberRefused(name, "is compressed other than deflated or stored")
        if info.file_size > limits.max_bytes:
            raise MemberRefused(
                name, f"expands to {info.file_size} bytes; the limit is {limits.max_bytes}"
            )
        if info.compress_size and info.file_size / info.compress_size > MAX_ZIP_RATIO:
            raise MemberRefused(
                name,
                f"expands {info.file_size // info.compress_size} times over (a zip bomb)",
            )
        if info.flag_bits & 0x1:
            raise MemberRefused(name, "is encrypted; zip it without a password")
        try:
            with archive.open(info) as member:
                content = member.read(info.file_size + 1)  # never more than it declares
        except MemoryError:
            raise
        except Exception as exc:  # a damaged member makes zipfile raise whatever it raises
            raise MemberRefused(name, f"cannot be read: {exc}") from exc
        yield name, content


def _name(info: zipfile.ZipInfo) -> str:
    """A member's name as its zip tool wrote it, in NFC (`document_name`). One not flagged as
    UTF-8 is read by zipfile as code page 437 (Windows' "Compressed folder" writes the OEM
    code page, 850 in Western Europe, much alike), but macOS's "Compress" writes UTF-8, its
    accents apart, without the flag: a name whose bytes are UTF-8 is read so, as Info-ZIP
    and 7-Zip read it."""
    name = info.filename
    if not info.flag_bits & _UTF8_NAME:
        with contextlib.suppress(UnicodeDecodeError):
            name = name.encode("cp437").decode("utf-8")
    return document_name(name)

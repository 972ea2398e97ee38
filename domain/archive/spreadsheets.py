"""Spreadsheets in and out: the `.xlsx` and `.csv` files coordinators keep their lists in.

Reading yields every row with the number the spreadsheet program shows for it, so a
report can say "row 7" and mean the row the coordinator sees. CSV files saved by a
Chinese Excel are in GBK; those saved elsewhere in UTF-8, with or without a BOM.

A file from a chat is hostile until read: an .xlsx of 600 KB can unpack to two million
rows. So a sheet is read as a stream, row by row, its header is checked as soon as the
first rows are in, and reading stops at `SheetLimits` (file size, unpacked size, rows).
Reading is plain blocking code: callers on an event loop run it in a thread.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from domain.errors import DomainError

MAX_FILE_SIZE = 20 * 1024 * 1024  # what Telegram lets a bot download
SUFFIXES = (".xlsx", ".csv")
_CSV_ENCODINGS = ("utf-8-sig", "gb18030")  # gb18030 is a superset of GBK and GB2312


class UnsupportedFile(DomainError):
    message = (
        "This file type cannot be read: please send an Excel .xlsx file or a .csv file. "
        "An old .xls file can be saved as .xlsx from Excel or WPS."
    )


class UnreadableFile(DomainError):
    message = "This file could not be opened: it may be damaged. Please save it again and resend."


class FileTooLarge(DomainError):
    message = "This file is larger than 20 MB. Please split it into smaller files."


class SheetTooLarge(DomainError):
    message = (
        "This sheet is too large to import at once: at most {rows} rows and {megabytes} MB. "
        "Please split it into smaller files."
    )


class EmptySheet(DomainError):
    message = "The sheet is empty: there are no rows to import."


@dataclass(frozen=True)
class Row:
    number: int  # as the spreadsheet program shows it (1-based)
    values: tuple[Any, ...]


@dataclass(frozen=True)
class SheetLimits:
    """What one import may hold (settings IMPORT_MAX_BYTES and IMPORT_MAX_ROWS)."""

    max_bytes: int = 10 * 1024 * 1024
    max_rows: int = 20_000

    def refuse(self) -> SheetTooLarge:
        return SheetTooLarge(rows=self.max_rows, megabytes=f"{self.max_bytes / 2**20:g}")


DEFAULT_LIMITS = SheetLimits()
# An .xlsx unpacks to about ten times its size; a file that claims far more is a bomb.
_MAX_UNPACKED_RATIO = 20
# The shared strings are read whole, before any row: a tighter bound for them.
_MAX_STRINGS_RATIO = 5
_ROW_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row[\s/>]")
# Blank rows are read too (a bomb may be nothing else); this many per allowed row at most.
_BLANK_ROWS_PER_ROW = 5


def is_spreadsheet_name(file_name: str) -> bool:
    return file_name.lower().endswith(SUFFIXES)


def read_rows(
    data: bytes,
    file_name: str,
    *,
    limits: SheetLimits = DEFAULT_LIMITS,
    check_head: Callable[[list[Row]], object] | None = None,
    head_rows: int = 10,
) -> list[Row]:
    """The non-empty rows of the first sheet (or of the CSV file).

    `check_head` is called with the first `head_rows` non-empty rows as soon as they are
    read (it raises when they hold no header), before the rest of the file is.
    """
    if len(data) > min(MAX_FILE_SIZE, limits.max_bytes):
        raise limits.refuse()
    name = file_name.lower()
    if name.endswith(".xlsx"):
        rows = _xlsx_rows(data, limits)
    elif name.endswith(".csv"):
        rows = _csv_rows(data)
    else:
        raise UnsupportedFile()
    found: list[Row] = []
    checked = check_head is None
    for read, (number, values) in enumerate(rows, start=1):
        if any(v is not None and str(v).strip() for v in values):
            if len(found) == limits.max_rows:
                raise limits.refuse()
            found.append(Row(number, values))
        elif read > limits.max_rows * _BLANK_ROWS_PER_ROW:
            raise limits.refuse()
        if not checked and len(found) == head_rows:
            checked = True
            assert check_head is not None
            check_head(found)
    if not found:
        raise EmptySheet()
    if not checked:
        assert check_head is not None
        check_head(found)
    return found


def _xlsx_rows(data: bytes, limits: SheetLimits) -> Iterator[tuple[int, tuple[Any, ...]]]:
    """The rows of the first sheet as they are unpacked, never the whole sheet at once."""
    # openpyxl (~25 MB) loads with the first spreadsheet, not with every process
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            _check_unpacked(archive, limits)
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as error:
        raise UnreadableFile() from error
    try:
        sheet = workbook.worksheets[0]
        sheet.reset_dimensions()  # the stored size is often wrong in files from other programs
        # read-only sheets yield every row from the first, gaps included, so counting is exact
        yield from enumerate(sheet.iter_rows(values_only=True), start=1)
    finally:
        workbook.close()


def _check_unpacked(archive: zipfile.ZipFile, limits: SheetLimits) -> None:
    """Refuse an archive that unpacks too large or whose sheets hold too many rows.

    The sizes in the zip's directory bound what Python's zipfile will unpack. Rows are
    counted in the raw XML, fast, before openpyxl reads it: openpyxl parses a whole sheet
    that lacks a <dimension> element just to open the workbook (every sheet, not only the
    first), which for two million rows is half a minute.
    """
    infos = archive.infolist()
    if sum(info.file_size for info in infos) > limits.max_bytes * _MAX_UNPACKED_RATIO:
        raise limits.refuse()
    for info in infos:
        name = info.filename.lower()
        if name.endswith("sharedstrings.xml") and info.file_size > (
            limits.max_bytes * _MAX_STRINGS_RATIO
        ):
            raise limits.refuse()
        if name.startswith("xl/worksheets/") and name.endswith(".xml"):
            _count_rows(archive, info, most=limits.max_rows * _BLANK_ROWS_PER_ROW, limits=limits)


def _count_rows(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, *, most: int, limits: SheetLimits
) -> None:
    rows, tail = 0, b""
    with archive.open(info) as part:
        while chunk := part.read(1 << 20):
            text = tail + chunk
            # a tag cut by the chunk's end is counted with the next chunk
            cut = max(len(text) - 64, 0)
            rows += sum(1 for tag in _ROW_TAG.finditer(text) if tag.start() < cut)
            tail = text[cut:]
            if rows > most:
                raise limits.refuse()
    if rows + len(_ROW_TAG.findall(tail)) > most:
        raise limits.refuse()


def _csv_rows(data: bytes) -> Iterator[tuple[int, tuple[Any, ...]]]:
    for encoding in _CSV_ENCODINGS:
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise UnreadableFile()
    try:
        dialect: Any = csv.Sniffer().sniff(text[:8192], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    # a quoted cell may span lines: the row number is the line it starts on
    start = 1
    for values in reader:
        yield start, tuple(v or None for v in values)
        start = reader.line_num + 1


def write_xlsx(title: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """One sheet with a bold header row. Excel has no time zones: datetimes come naive,
    in local time."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title[:31])
    bold = Font(bold=True)
    header_cells = []
    for label in header:
        cell = WriteOnlyCell(sheet, value=label)
        cell.font = bold
        header_cells.append(cell)
    sheet.append(header_cells)
    for values in rows:
        cells = []
        for value in values:
            cell = WriteOnlyCell(sheet, value=value)
            if isinstance(value, dt.datetime):
                cell.number_format = "yyyy-mm-dd hh:mm"
            elif isinstance(value, dt.date):
                cell.number_format = "yyyy-mm-dd"
            cells.append(cell)
        sheet.append(cells)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()

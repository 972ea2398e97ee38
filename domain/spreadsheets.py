"""Spreadsheets in and out: the `.xlsx` and `.csv` files coordinators keep their lists in.

Reading yields every row with the number the spreadsheet program shows for it, so a
report can say "row 7" and mean the row the coordinator sees. CSV files saved by a
Chinese Excel are in GBK; those saved elsewhere in UTF-8, with or without a BOM.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from collections.abc import Iterable, Sequence
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


class EmptySheet(DomainError):
    message = "The sheet is empty: there are no rows to import."


@dataclass(frozen=True)
class Row:
    number: int  # as the spreadsheet program shows it (1-based)
    values: tuple[Any, ...]


def is_spreadsheet_name(file_name: str) -> bool:
    return file_name.lower().endswith(SUFFIXES)


def read_rows(data: bytes, file_name: str) -> list[Row]:
    """The non-empty rows of the first sheet (or of the CSV file)."""
    if len(data) > MAX_FILE_SIZE:
        raise FileTooLarge()
    name = file_name.lower()
    if name.endswith(".xlsx"):
        rows = _xlsx_rows(data)
    elif name.endswith(".csv"):
        rows = _csv_rows(data)
    else:
        raise UnsupportedFile()
    found = [
        Row(number, values)
        for number, values in rows
        if any(v is not None and str(v).strip() for v in values)
    ]
    if not found:
        raise EmptySheet()
    return found


def _xlsx_rows(data: bytes) -> Iterable[tuple[int, tuple[Any, ...]]]:
    # openpyxl (~25 MB) loads with the first spreadsheet, not with every process
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as error:
        raise UnreadableFile() from error
    try:
        sheet = workbook.worksheets[0]
        sheet.reset_dimensions()  # the stored size is often wrong in files from other programs
        # read-only sheets yield every row from the first, gaps included, so counting is exact
        return list(enumerate(sheet.iter_rows(values_only=True), start=1))
    finally:
        workbook.close()


def _csv_rows(data: bytes) -> Iterable[tuple[int, tuple[Any, ...]]]:
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
    rows: list[tuple[int, tuple[Any, ...]]] = []
    start = 1
    for values in reader:
        rows.append((start, tuple(v or None for v in values)))
        start = reader.line_num + 1
    return rows


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

"""Feed exporters: flattened CSV, XLSX with openpyxl's write-only mode, and XML with nulls.

Registered in `FEED_EXPORTERS`, so `scrapy crawl task -O out.xlsx` uses them; the control API
renders stored results with the same classes.
"""

from __future__ import annotations

from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from scrapy.crawler import Crawler
from scrapy.exporters import BaseItemExporter, CsvItemExporter, XmlItemExporter

from engine.flatten import LIST_SEPARATOR, columns, flatten


def _scheme_columns(crawler: Crawler, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Default the columns to the scheme's, so every file has the same header in field order."""
    scheme = getattr(crawler.spider, "scheme", None)
    if scheme is not None and not kwargs.get("fields_to_export"):
        kwargs["fields_to_export"] = columns(scheme)
    return kwargs


class FlatCsvItemExporter(CsvItemExporter):
    def __init__(self, file: Any, **kwargs: Any):
        kwargs.setdefault("join_multivalued", LIST_SEPARATOR)
        super().__init__(file, **kwargs)

    @classmethod
    def from_crawler(cls, crawler: Crawler, file: Any, **kwargs: Any) -> FlatCsvItemExporter:
        return cls(file, **_scheme_columns(crawler, kwargs))

    def export_item(self, item: Any) -> None:
        super().export_item(flatten(dict(item)))


class NullXmlItemExporter(XmlItemExporter):
    """Scrapy's XML exporter, with a null value as an empty element (Scrapy writes "None")."""

    def _export_xml_field(self, name: str, serialized_value: Any, depth: int) -> None:
        value = "" if serialized_value is None else serialized_value
        super()._export_xml_field(name, value, depth)


class XlsxItemExporter(BaseItemExporter):
    """One worksheet, a header row, one row per flattened item; streamed (write-only mode)."""

    def __init__(self, file: IO[bytes], **kwargs: Any):
        super().__init__(dont_fail=True, **kwargs)
        self.file = file
        self.workbook = Workbook(write_only=True)
        self.sheet = self.workbook.create_sheet("items")
        self._header: list[str] | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler, file: IO[bytes], **kwargs: Any) -> XlsxItemExporter:
        return cls(file, **_scheme_columns(crawler, kwargs))

    def export_item(self, item: Any) -> None:
        row = flatten(dict(item))
        if self._header is None:
            self._header = list(self.fields_to_export or row)
            self.sheet.append(self._header)
        self.sheet.append([_cell(self.sheet, row.get(name)) for name in self._header])

    def finish_exporting(self) -> None:
        if self._header is None and self.fields_to_export:
            self.sheet.append(list(self.fields_to_export))
        self.workbook.save(self.file)


def _cell(sheet: WriteOnlyWorksheet, value: Any) -> Any:
    if value is None or isinstance(value, (int, float, bool)):
        return value
    # Control characters are not allowed in XLSX cells (openpyxl would raise).
    text = ILLEGAL_CHARACTERS_RE.sub("", str(value))
    if text.startswith("="):  # scraped text, never a formula
        cell = WriteOnlyCell(sheet, text)
        cell.data_type = "s"
        return cell
    return text

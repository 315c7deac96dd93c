"""Writes openpyxl.xlsx and xlsxwriter*.xlsx: the quirks each library has (see make_producers.sh)."""
import datetime

import openpyxl
import xlsxwriter

HEAD = ["姓名\n（必填）", "身份证号", "学时", "完成日期", "备注", "是否专任"]
ROWS = [
    ["张三", "11010519491231002X", 2.5, datetime.date(2025, 6, 12), "第一行\r\n第二行", True],
    ["李四", "440402198506121234", 0.1 + 0.2, datetime.date(2025, 5, 31), '<a & "b">', False],
    [None, None, None, None, None, None],
    ["王五", "", 12, datetime.datetime(2025, 6, 30, 8, 30), "  前后空格  ", None],
]


def openpyxl_book(name, iso_dates):
    wb = openpyxl.Workbook(iso_dates=iso_dates)
    ws = wb.active
    ws.title = "填表说明"
    ws["A1"] = "请按模板填写"
    ws = wb.create_sheet("数据")
    ws["A1"] = "东湖区学时明细（数据截止：2025年6月30日）"
    ws.merge_cells("A1:F1")
    ws.append(HEAD)
    for r in ROWS:
        ws.append(r)
    ws["E7"] = "粗体"  # openpyxl 3.0 writes no rich text
    ws["B8"] = "=C3+C4"
    ws["XFD9"] = "最后一列"
    wb.save(name)


def xlsxwriter_book(name, constant_memory):
    wb = xlsxwriter.Workbook(name, {"constant_memory": constant_memory, "strings_to_numbers": False})
    guide = wb.add_worksheet("填表说明")
    guide.write("A1", "请按模板填写")
    ws = wb.add_worksheet("数据")
    date = wb.add_format({"num_format": "yyyy-mm-dd"})
    bold = wb.add_format({"bold": True})
    ws.merge_range("A1:F1", "东湖区学时明细（数据截止：2025年6月30日）")
    ws.write_row(1, 0, HEAD)
    for i, r in enumerate(ROWS):
        for j, v in enumerate(r):
            if v is None:
                continue
            if isinstance(v, (datetime.date, datetime.datetime)):
                ws.write_datetime(i + 2, j, v if isinstance(v, datetime.datetime) else datetime.datetime(v.year, v.month, v.day), date)
            else:
                ws.write(i + 2, j, v)
    ws.write_rich_string(6, 4, bold, "粗", "体")
    ws.write_formula(7, 1, "=C3+C4", None, 2.8)
    ws.write(8, 16383, "最后一列")
    wb.close()


openpyxl_book("openpyxl.xlsx", False)
openpyxl_book("openpyxl_isodates.xlsx", True)
xlsxwriter_book("xlsxwriter.xlsx", False)
xlsxwriter_book("xlsxwriter_constant_memory.xlsx", True)

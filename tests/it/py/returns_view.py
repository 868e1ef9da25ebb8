"""Opens every 退回修改 workbook under a reports folder with openpyxl and prints, per file and
sheet, the data rows and how many cells are highlighted, as JSON."""
import json
import pathlib
import sys

import openpyxl

out = {}
for path in sorted(pathlib.Path(sys.argv[1]).glob("*/returns/*.xlsx")):
    wb = openpyxl.load_workbook(path)
    sheets = {}
    for ws in wb:
        rows = [r for r in ws.iter_rows(min_row=4, values_only=True)]
        red = sum(1 for row in ws.iter_rows(min_row=4) for c in row if c.fill.fgColor.rgb == "FFFFC7CE")
        sheets[ws.title] = {"rows": len(rows), "highlighted": red, "first_row": [str(v) if v is not None else "" for v in rows[0]] if rows else []}
    out[str(path.relative_to(sys.argv[1]))] = sheets
print(json.dumps(out, ensure_ascii=False, sort_keys=True))

"""A text view of a workbook for snapshot tests: per sheet its name, dimensions, merged ranges,
freeze panes, print settings, conditional formats, charts, then each row's values with the
number format of every non-text cell."""
import sys

import openpyxl

wb = openpyxl.load_workbook(sys.argv[1])
out = [f"created: {wb.properties.created}  title: {wb.properties.title}"]
for ws in wb.worksheets:
    out.append(f"== {ws.title} {ws.dimensions}")
    out.append(f"merged: {' '.join(sorted(str(r) for r in ws.merged_cells.ranges))}")
    out.append(
        f"freeze: {ws.freeze_panes}  print titles: {ws.print_title_rows}  {ws.page_setup.orientation} "
        f"paper {ws.page_setup.paperSize}  fit {ws.page_setup.fitToWidth}x{ws.page_setup.fitToHeight}  "
        f"footer: {ws.oddFooter.center.text}  autofilter: {ws.auto_filter.ref}"
    )
    rules = [f"{rng.sqref}:{r.operator}:{r.formula}" for rng in ws.conditional_formatting for r in rng.rules]
    out.append(f"conditional: {' '.join(sorted(rules))}  charts: {len(ws._charts)}")
    for row in ws.iter_rows():
        cells = []
        for c in row:
            if c.value is None:
                cells.append("")
            elif c.data_type == "n" or c.is_date:
                cells.append(f"{c.value}[{c.number_format}]")
            else:
                cells.append(str(c.value))
        out.append("\t".join(cells).rstrip("\t"))
print("\n".join(out))

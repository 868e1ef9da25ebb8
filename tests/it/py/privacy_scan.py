"""Scans every byte a run wrote for citizen ID numbers and mobile numbers.

    privacy_scan.py PATH...

Walks each PATH (folders recursively). Parquet files are read with DuckDB (every column as
text); workbooks and other zip packages part by part; .eml messages part by part, their
attachments unpacked too; anything else as text. Text is NFKC-folded first, so full-width
digits count, and one space or dash may stand between digits. It reports a valid 18-digit ID
(birth date and check character right), a 15-digit legacy ID (a real YYMMDD birth date), or an
11-digit mobile number (1[3-9]…), wherever it stands, even inside longer text, as long as it is
not part of a longer run of letters and digits (a hash). Prints one JSON object: the findings
(file, where, the kind and a masked excerpt) and the count of files and texts scanned.

This is written apart from wangge's own masking (src/privacy.rs) on purpose: it must catch
what that code misses, not agree with it.
"""

import datetime
import email
import email.policy
import io
import json
import os
import re
import sys
import unicodedata
import zipfile

WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
SEP = r"[ \-]?"
ID18 = re.compile(r"(?<![0-9A-Za-z])(\d(?:" + SEP + r"\d){16}" + SEP + r"[\dXx])(?![0-9A-Za-z])")
ID15 = re.compile(r"(?<![0-9A-Za-z])(\d(?:" + SEP + r"\d){14})(?![0-9A-Za-z])")
MOBILE = re.compile(r"(?<![0-9A-Za-z])((?:\+?86" + SEP + r")?1[3-9]\d(?:" + SEP + r"\d){8})(?![0-9A-Za-z])")


def real_date(y, m, d):
    try:
        datetime.date(y, m, d)
        return True
    except ValueError:
        return False


def valid_id18(s):
    if not s[:17].isdigit():
        return False
    total = sum(int(c) * w for c, w in zip(s[:17], WEIGHTS))
    if "10X98765432"[total % 11] != s[17].upper():
        return False
    return 1900 <= int(s[6:10]) <= 2100 and real_date(int(s[6:10]), int(s[10:12]), int(s[12:14]))


def valid_id15(s):
    return s.isdigit() and real_date(1900 + int(s[6:8]), int(s[8:10]), int(s[10:12]))


def find(text):
    """(kind, masked excerpt) for each ID or mobile number in `text`."""
    text = unicodedata.normalize("NFKC", text)
    out = []
    for m in ID18.finditer(text):
        digits = re.sub(r"[ \-]", "", m.group(1))
        if valid_id18(digits):
            out.append(("id18", digits[:6] + "…" + digits[-4:]))
    for m in ID15.finditer(text):
        digits = re.sub(r"[ \-]", "", m.group(1))
        if valid_id15(digits):
            out.append(("id15", digits[:6] + "…" + digits[-4:]))
    for m in MOBILE.finditer(text):
        digits = re.sub(r"[ \-+]", "", m.group(1))
        out.append(("mobile", digits[-11:][:3] + "…" + digits[-4:]))
    return out


class Scan:
    def __init__(self):
        self.duckdb = None
        self.findings = []
        self.files = 0
        self.texts = 0

    def text(self, where, text):
        self.texts += 1
        for kind, excerpt in find(text):
            self.findings.append({"where": where, "kind": kind, "excerpt": excerpt})

    def bytes(self, where, data, name):
        lower = name.lower()
        if data[:4] == b"PK\x03\x04":
            try:
                with zipfile.ZipFile(io.BytesIO(data)) as z:
                    for info in z.infolist():
                        self.bytes(f"{where}!{info.filename}", z.read(info.filename), info.filename)
                return
            except zipfile.BadZipFile:
                pass
        if lower.endswith(".eml"):
            msg = email.message_from_bytes(data, policy=email.policy.default)
            for header, value in msg.items():
                self.text(f"{where} header {header}", str(value))
            for i, part in enumerate(msg.walk()):
                if part.is_multipart():
                    continue
                payload = part.get_payload(decode=True) or b""
                self.bytes(f"{where} part {i}", payload, part.get_filename() or f"part{i}")
            return
        if lower.endswith(".parquet"):
            self.parquet(where)
            return
        self.text(where, data.decode("utf-8", errors="replace"))

    def parquet(self, path):
        if self.duckdb is None:
            import duckdb

            self.duckdb = duckdb.connect()
        cursor = self.duckdb.execute("SELECT * FROM read_parquet(?)", [path])
        names = [d[0] for d in cursor.description]
        # Every value as text, one column's values joined: one scan per column, not per cell.
        columns = [[] for _ in names]
        for row in cursor.fetchall():
            for i, value in enumerate(row):
                if value is not None:
                    columns[i].append(str(value))
        for name, values in zip(names, columns):
            if values:
                self.text(f"{path} column {name}", "\n".join(values))

    def path(self, path):
        if os.path.isdir(path):
            for root, _, names in os.walk(path):
                for name in sorted(names):
                    self.path(os.path.join(root, name))
            return
        self.files += 1
        with open(path, "rb") as f:
            data = f.read()
        self.bytes(path, data, os.path.basename(path))


if __name__ == "__main__":
    scan = Scan()
    for p in sys.argv[1:]:
        scan.path(p)
    print(json.dumps({"files": scan.files, "texts": scan.texts, "findings": scan.findings}, ensure_ascii=False))

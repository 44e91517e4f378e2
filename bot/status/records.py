"""Application records from CSV files: reading and validating, all or nothing.

The column layout is the one of ``../shared/fixtures/applications.csv`` (a contract). A file
with any bad row is rejected as a whole, with every problem listed by row number (the header is
row 1, as a spreadsheet shows it). Messages never repeat a phone number or a name.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from bot.privacy import is_mobile_number
from bot.status.models import ApplicationStatus
from bot.status.numbers import normalize_application_no

COLUMNS = (
    "application_no",
    "service_id",
    "applicant_name",
    "phone",
    "status",
    "current_step",
    "submitted_at",
    "due_date",
    "completed_at",
    "department",
    "note",
)
# Enough for a district's records for many years; anything bigger is a mistake or an attack.
MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_ERRORS_SHOWN = 50
_MAX_LENGTH = {
    "applicant_name": 32,
    "current_step": 64,
    "department": 128,
    "note": 500,
}
_DATE = re.compile(r"([0-9]{4})[-/.]([0-9]{1,2})[-/.]([0-9]{1,2})")
_STATUS_VALUES = ", ".join(s.value for s in ApplicationStatus)


@dataclass(frozen=True)
class ApplicationRecord:
    application_no: str
    service_id: str
    applicant_name: str
    phone: str
    status: ApplicationStatus
    current_step: str
    submitted_at: dt.date
    due_date: dt.date
    completed_at: dt.date | None
    department: str
    note: str
    row: int = field(default=0, compare=False)  # where it came from: the file's row number

    def __repr__(self) -> str:
        return f"ApplicationRecord(application_no={self.application_no!r})"


class RecordFileError(Exception):
    """The file cannot be imported. ``problems`` are ready to show, one per line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def read_records_file(path: Path, known_service_ids: Iterable[str]) -> list[ApplicationRecord]:
    """Read and validate a CSV file of records; raises :class:`RecordFileError`."""
    try:
        if not path.exists():
            raise RecordFileError([f"找不到文件：{path}"])
        if path.is_dir():
            raise RecordFileError([f"{path} 是一个目录，请给出CSV文件"])
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            megabytes, limit = size // 2**20, MAX_FILE_BYTES // 2**20
            raise RecordFileError([f"文件过大（{megabytes} MB），上限为 {limit} MB"])
        data = path.read_bytes()
    except PermissionError:
        raise RecordFileError([f"没有权限读取文件：{path}"]) from None
    except OSError as error:
        raise RecordFileError([f"无法读取文件 {path}：{error.strerror}"]) from None
    return parse_records(data, known_service_ids)


def parse_records(data: bytes, known_service_ids: Iterable[str]) -> list[ApplicationRecord]:
    """Validate CSV bytes (UTF-8, with or without BOM); raises :class:`RecordFileError`."""
    text = _decode(data)
    if not text.strip():
        raise RecordFileError(["文件为空：没有表头，也没有记录"])
    if "\x00" in text:
        raise RecordFileError(["文件含有空字符（\\0），不是文本格式的CSV文件"])
    known = frozenset(known_service_ids)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
        _check_header(header)
        columns = [name.strip() for name in header]
        problems: list[str] = []
        records: list[ApplicationRecord] = []
        first_row_of: dict[str, int] = {}
        row_no = reader.line_num
        for fields in reader:
            row_no = reader.line_num
            if not fields or all(not f.strip() for f in fields):
                continue  # blank lines are harmless
            if len(fields) != len(columns):
                problems.append(f"第{row_no}行：应有{len(columns)}列，实际有{len(fields)}列")
                continue
            row = dict(zip(columns, fields, strict=True))
            record, row_problems = _validate_row(row, known)
            problems.extend(f"第{row_no}行：{p}" for p in row_problems)
            if record is None:
                continue
            record = replace(record, row=row_no)
            if record.application_no in first_row_of:
                problems.append(
                    f"第{row_no}行：申请编号 {record.application_no} 与第"
                    f"{first_row_of[record.application_no]}行重复"
                )
                continue
            first_row_of[record.application_no] = row_no
            records.append(record)
    except csv.Error as error:
        raise RecordFileError([f"第{reader.line_num}行：CSV格式错误（{error}）"]) from None
    if problems:
        raise RecordFileError(summarize(problems))
    if not records:
        raise RecordFileError(["文件只有表头，没有任何记录"])
    return records


def summarize(problems: list[str]) -> list[str]:
    if len(problems) <= MAX_ERRORS_SHOWN:
        return problems
    return [*problems[:MAX_ERRORS_SHOWN], f"……另有{len(problems) - MAX_ERRORS_SHOWN}处问题未列出"]


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise RecordFileError(["文件是UTF-16编码；请另存为“CSV UTF-8（逗号分隔）”后再导入"])
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise RecordFileError(
            [
                f"文件不是UTF-8编码（第{line}行附近无法解码，可能是GBK/GB2312）；"
                "请用Excel或WPS另存为“CSV UTF-8（逗号分隔）”后再导入"
            ]
        ) from None


def _check_header(header: list[str]) -> None:
    names = [name.strip() for name in header]
    problems = []
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        problems.append(f"表头第1行：列名重复：{', '.join(duplicated)}")
    missing = [c for c in COLUMNS if c not in names]
    unknown = [n for n in names if n not in COLUMNS]
    if missing:
        problems.append(f"表头第1行：缺少列：{', '.join(missing)}")
    if unknown:
        shown = ", ".join(repr(n[:40]) for n in unknown[:10])
        problems.append(f"表头第1行：无法识别的列：{shown}")
    if problems:
        problems.append(f"表头应为：{','.join(COLUMNS)}")
        raise RecordFileError(problems)


def _validate_row(
    row: dict[str, str], known_service_ids: frozenset[str]
) -> tuple[ApplicationRecord | None, list[str]]:
    problems: list[str] = []
    values = {key: _clean(value) for key, value in row.items()}

    for key, limit in _MAX_LENGTH.items():
        if len(values[key]) > limit:
            problems.append(f"{key} 超过{limit}个字符")
    for key in ("applicant_name", "current_step", "department"):
        if not values[key]:
            problems.append(f"{key} 不能为空")

    application_no = normalize_application_no(values["application_no"])
    if application_no is None:
        shown = values["application_no"][:20] or "（空）"
        problems.append(f"申请编号 {shown} 格式不正确，应为YX加11位数字")

    service_id = values["service_id"]
    if service_id not in known_service_ids:
        problems.append(f"事项编码 {service_id[:40] or '（空）'} 不在服务目录中")

    phone = re.sub(r"[\s\-]", "", unicodedata.normalize("NFKC", values["phone"]))
    if not (phone.isascii() and phone.isdigit() and is_mobile_number(phone)):
        problems.append("phone 不是11位手机号")

    try:
        status: ApplicationStatus | None = ApplicationStatus(values["status"])
    except ValueError:
        status = None
        problems.append(
            f"状态 {values['status'][:20] or '（空）'} 无法识别，应为：{_STATUS_VALUES}"
        )

    submitted_at = _date(values, "submitted_at", problems, required=True)
    due_date = _date(values, "due_date", problems, required=True)
    completed_at = _date(values, "completed_at", problems, required=False)
    if submitted_at and due_date and due_date < submitted_at:
        problems.append("due_date 早于 submitted_at")
    if submitted_at and completed_at and completed_at < submitted_at:
        problems.append("completed_at 早于 submitted_at")
    if status is not None:
        if status.is_final and values["completed_at"] == "":
            problems.append(f"状态为{status.value}时 completed_at 不能为空")
        if not status.is_final and values["completed_at"] != "":
            problems.append(f"状态为{status.value}（未办结）时 completed_at 应为空")
        if status.needs_note and not values["note"]:
            what = (
                "需要补正的材料"
                if status is ApplicationStatus.NEEDS_CORRECTION
                else "不予受理的原因"
            )
            problems.append(f"状态为{status.value}时 note 必须写明{what}")

    if problems:
        return None, problems
    assert application_no and status and submitted_at and due_date  # for the type checker
    return (
        ApplicationRecord(
            application_no=application_no,
            service_id=service_id,
            applicant_name=values["applicant_name"],
            phone=phone,
            status=status,
            current_step=values["current_step"],
            submitted_at=submitted_at,
            due_date=due_date,
            completed_at=completed_at,
            department=values["department"],
            note=values["note"],
        ),
        [],
    )


def _clean(value: str) -> str:
    """Trim, and drop control characters (a stray \\r or \\t from a spreadsheet)."""
    return "".join(ch for ch in value if unicodedata.category(ch) != "Cc").strip()


def _date(
    values: dict[str, str], key: str, problems: list[str], *, required: bool
) -> dt.date | None:
    raw = unicodedata.normalize("NFKC", values[key])
    if not raw:
        if required:
            problems.append(f"{key} 不能为空")
        return None
    match = _DATE.fullmatch(raw)
    if match:
        try:
            return dt.date(*(int(part) for part in match.groups()))
        except ValueError:
            pass
    problems.append(f"{key} 日期 {raw[:20]} 无效，应为 YYYY-MM-DD")
    return None

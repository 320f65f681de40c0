"""Time: stored in UTC, shown in Asia/Shanghai (where every region of Shebao is)."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


def utcnow() -> datetime:
    return datetime.now(UTC)


def local(dt: datetime) -> datetime:
    return dt.astimezone(SHANGHAI)


def today() -> date:
    """Today's date in Shanghai (a settlement date, a declaration's "today")."""
    return utcnow().astimezone(SHANGHAI).date()

"""Errors a caller can act on: a stable code, the field it concerns, and a message.

Services raise :class:`ShebaoError` with one or more :class:`Problem`s. Adapters (GraphQL, CLI)
turn them into typed errors; the message is rendered in Simplified Chinese by default and in
English when the client asks. Codes never change meaning once shipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field
from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    # authentication and authorization
    NOT_AUTHENTICATED = "NOT_AUTHENTICATED"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    ACCOUNT_LOCKED = "ACCOUNT_LOCKED"
    ACCOUNT_DISABLED = "ACCOUNT_DISABLED"
    TOKEN_INVALID = "TOKEN_INVALID"
    TOKEN_EXPIRED = "TOKEN_EXPIRED"
    TOKEN_SCOPE = "TOKEN_SCOPE"
    PASSWORD_POLICY = "PASSWORD_POLICY"
    WRONG_PASSWORD = "WRONG_PASSWORD"
    LAST_ADMIN = "LAST_ADMIN"
    # lookups and state
    NOT_FOUND = "NOT_FOUND"
    DUPLICATE = "DUPLICATE"
    CONFLICT = "CONFLICT"
    NOT_PENDING = "NOT_PENDING"
    SELF_REVIEW = "SELF_REVIEW"
    NO_CHANGES = "NO_CHANGES"
    ALREADY_ENROLLED = "ALREADY_ENROLLED"
    CHANGE_PENDING = "CHANGE_PENDING"
    INVALID_USERNAME = "INVALID_USERNAME"
    # field values
    REQUIRED = "REQUIRED"
    TOO_LONG = "TOO_LONG"
    INVALID_VALUE = "INVALID_VALUE"
    INVALID_ID_NUMBER = "INVALID_ID_NUMBER"
    INVALID_CREDIT_CODE = "INVALID_CREDIT_CODE"
    INVALID_UNIT_NUMBER = "INVALID_UNIT_NUMBER"
    INVALID_MOBILE = "INVALID_MOBILE"
    INVALID_MONTH = "INVALID_MONTH"
    MONTH_ORDER = "MONTH_ORDER"
    INVALID_AMOUNT = "INVALID_AMOUNT"
    UNKNOWN_REGION = "UNKNOWN_REGION"
    INVALID_INDUSTRY_CLASS = "INVALID_INDUSTRY_CLASS"
    INVALID_CURSOR = "INVALID_CURSOR"
    INVALID_SLUG = "INVALID_SLUG"
    # region rules and figures
    NO_FIGURE = "NO_FIGURE"
    UNKNOWN_PARAMETER = "UNKNOWN_PARAMETER"
    FIGURE_OUT_OF_RANGE = "FIGURE_OUT_OF_RANGE"
    INVALID_CODE = "INVALID_CODE"
    BASE_BELOW_FLOOR = "BASE_BELOW_FLOOR"
    BASE_ABOVE_CEILING = "BASE_ABOVE_CEILING"
    INSURED_ELSEWHERE = "INSURED_ELSEWHERE"
    ARREARS_BLOCK_STOP = "ARREARS_BLOCK_STOP"
    ADD_BEFORE_BACK_PAYMENT = "ADD_BEFORE_BACK_PAYMENT"
    BACK_PAYMENT_NOT_PAST = "BACK_PAYMENT_NOT_PAST"
    BACK_PAYMENT_TOO_OLD = "BACK_PAYMENT_TOO_OLD"
    ATTACHMENT_REQUIRED = "ATTACHMENT_REQUIRED"
    ROLLBACK_NOT_ALLOWED = "ROLLBACK_NOT_ALLOWED"
    ALREADY_PAID = "ALREADY_PAID"
    REGION_RULE = "REGION_RULE"
    ALREADY_WITHDRAWN = "ALREADY_WITHDRAWN"
    # attachments
    ATTACHMENT_EMPTY = "ATTACHMENT_EMPTY"
    ATTACHMENT_TOO_LARGE = "ATTACHMENT_TOO_LARGE"
    ATTACHMENT_TYPE = "ATTACHMENT_TYPE"
    # declarations
    NOT_DRAFT = "NOT_DRAFT"
    NOT_SUBMITTED = "NOT_SUBMITTED"
    NOT_ENROLLED = "NOT_ENROLLED"
    IDEMPOTENCY_MISMATCH = "IDEMPOTENCY_MISMATCH"
    # settlement
    SETTLE_NOT_ALLOWED = "SETTLE_NOT_ALLOWED"
    ALREADY_SETTLED = "ALREADY_SETTLED"
    MONTH_SETTLED = "MONTH_SETTLED"
    UNKNOWN_MODE = "UNKNOWN_MODE"
    # request shape
    QUERY_TOO_DEEP = "QUERY_TOO_DEEP"
    QUERY_TOO_LARGE = "QUERY_TOO_LARGE"
    INTERNAL_ERROR = "INTERNAL_ERROR"


# (zh, en) templates; ``{name}`` placeholders come from the problem's params.
MESSAGES: dict[ErrorCode, tuple[str, str]] = {
    ErrorCode.NOT_AUTHENTICATED: ("请先登录", "Authentication required"),
    ErrorCode.PERMISSION_DENIED: (
        "没有权限：需要 {permission}",
        "Permission denied: {permission} required",
    ),
    ErrorCode.INVALID_CREDENTIALS: (
        "机构代码、用户名或密码错误",
        "Wrong agency, username or password",
    ),
    ErrorCode.ACCOUNT_LOCKED: (
        "连续登录失败次数过多，账号已锁定至 {until}",
        "Too many failed logins: the account is locked until {until}",
    ),
    ErrorCode.ACCOUNT_DISABLED: ("账号已停用", "The account is disabled"),
    ErrorCode.TOKEN_INVALID: ("令牌无效", "The token is invalid"),
    ErrorCode.TOKEN_EXPIRED: ("令牌已过期，请重新登录", "The token has expired: log in again"),
    ErrorCode.TOKEN_SCOPE: (
        "API 令牌的权限范围不包含 {permission}",
        "The API token's scope lacks {permission}",
    ),
    ErrorCode.PASSWORD_POLICY: ("密码不符合要求：{rule}", "The password breaks the policy: {rule}"),
    ErrorCode.WRONG_PASSWORD: ("当前密码不正确", "The current password is wrong"),
    ErrorCode.LAST_ADMIN: (
        "不能停用或降级机构的最后一个管理员",
        "The agency's last administrator cannot be removed",
    ),
    ErrorCode.NOT_FOUND: ("{entity}不存在", "{entity} not found"),
    ErrorCode.DUPLICATE: ("{value} 已存在", "{value} already exists"),
    ErrorCode.CONFLICT: (
        "该记录已被他人修改，请刷新后重试",
        "The record was changed by someone else: reload and retry",
    ),
    ErrorCode.NOT_PENDING: (
        "该变更申请已处理（{status}）",
        "The change request was already decided ({status})",
    ),
    ErrorCode.SELF_REVIEW: ("不能审核自己提交的申请", "You cannot review your own request"),
    ErrorCode.NO_CHANGES: ("没有需要修改的内容", "Nothing to change"),
    ErrorCode.ALREADY_ENROLLED: (
        "该人员已在 {company} 参保（自 {start}），同一时间只能在一个单位参保",
        "The person is already insured at {company} (since {start}): one unit at a time",
    ),
    ErrorCode.CHANGE_PENDING: (
        "该单位已有待审核的敏感信息变更，请先审核",
        "The company already has a sensitive change waiting for review",
    ),
    ErrorCode.INVALID_USERNAME: (
        "用户名为 2-64 位字母、数字、点、下划线或连字符",
        "A username is 2-64 letters, digits, dots, underscores or hyphens",
    ),
    ErrorCode.REQUIRED: ("必填项", "Required"),
    ErrorCode.TOO_LONG: ("不能超过 {max} 个字符", "At most {max} characters"),
    ErrorCode.INVALID_VALUE: (
        "取值无效：{value}，可选值：{allowed}",
        "Invalid value {value}; allowed: {allowed}",
    ),
    ErrorCode.INVALID_ID_NUMBER: (
        "公民身份号码无效：{reason_zh}",
        "Invalid resident ID number: {reason_en}",
    ),
    ErrorCode.INVALID_CREDIT_CODE: (
        "统一社会信用代码无效：{reason_zh}",
        "Invalid unified social credit code: {reason_en}",
    ),
    ErrorCode.INVALID_UNIT_NUMBER: (
        "单位社保编号格式不符合 {region} 的规定：{hint}",
        "The unit number does not match {region}'s format: {hint}",
    ),
    ErrorCode.INVALID_MOBILE: (
        "手机号码应为 11 位数字，以 1 开头",
        "A mobile number is 11 digits starting with 1",
    ),
    ErrorCode.INVALID_MONTH: (
        "月份格式应为 YYYY-MM：{value}",
        "A month is written YYYY-MM: {value}",
    ),
    ErrorCode.MONTH_ORDER: ("终止月份不能早于起始月份", "The end month is before the start month"),
    ErrorCode.INVALID_AMOUNT: ("金额无效：{value}", "Invalid amount: {value}"),
    ErrorCode.UNKNOWN_REGION: (
        "未知的地区代码：{value}，可选：{allowed}",
        "Unknown region code {value}; known: {allowed}",
    ),
    ErrorCode.INVALID_INDUSTRY_CLASS: (
        "工伤行业类别应为 1-8，浮动档次为 {allowed}",
        "Work-injury industry class is 1-8, grade one of {allowed}",
    ),
    ErrorCode.INVALID_CURSOR: ("分页游标无效", "Invalid pagination cursor"),
    ErrorCode.INVALID_SLUG: (
        "代码只能包含小写字母、数字和连字符（2-40 位）",
        "Codes use lowercase letters, digits and hyphens (2-40 characters)",
    ),
    ErrorCode.NO_FIGURE: (
        "{region} 在 {month} 没有参数 {name}：请在政策参数库中录入",
        "{region} has no figure {name} for {month}: record it in the policy library",
    ),
    ErrorCode.UNKNOWN_PARAMETER: (
        "未知的参数名 {name}；可用：{allowed}",
        "Unknown parameter {name}; known: {allowed}",
    ),
    ErrorCode.FIGURE_OUT_OF_RANGE: (
        "参数 {name} 的值 {value} 不合理：{rule}",
        "{name} = {value} is out of range: {rule_en}",
    ),
    ErrorCode.INVALID_CODE: (
        "{region}的{list}不包含 {value}；可选：{allowed}",
        "{value} is not in {region}'s list {list_en}; allowed: {allowed}",
    ),
    ErrorCode.BASE_BELOW_FLOOR: (
        "缴费基数 {base} 低于{region} {month} 的下限 {floor}（{source}）",
        "The base {base} is below the floor {floor} of {region} for {month} ({source})",
    ),
    ErrorCode.BASE_ABOVE_CEILING: (
        "缴费基数 {base} 高于{region} {month} 的上限 {ceiling}（{source}）",
        "The base {base} is above the ceiling {ceiling} of {region} for {month} ({source})",
    ),
    ErrorCode.INSURED_ELSEWHERE: (
        "该人员自 {since} 起在 {company}（{region}）参保，不能重复参保",
        "This person has been insured at {company} ({region}) since {since}: stop that enrollment first",
    ),
    ErrorCode.ARREARS_BLOCK_STOP: (
        "该人员存在欠缴 {amount} 元，{region}不允许办理减员",
        "This person has arrears of {amount} yuan: {region} refuses a stop until they are paid",
    ),
    ErrorCode.ADD_BEFORE_BACK_PAYMENT: (
        "该人员首次在本单位参保，{region}要求先做人员增加再做补缴",
        "A first-time enrollee at this company needs an add before a back payment in {region}",
    ),
    ErrorCode.BACK_PAYMENT_NOT_PAST: (
        "补缴只能针对当月（{current}）之前的月份，{month} 不行",
        "A back payment covers months before the current one ({current}), not {month}",
    ),
    ErrorCode.BACK_PAYMENT_TOO_OLD: (
        "{region}补缴最早只能追溯到 {earliest}（{months} 个月，{source}），{month} 太早",
        "{region} takes back payments from {earliest} on ({months} months, {source}): {month} is too early",
    ),
    ErrorCode.ATTACHMENT_REQUIRED: (
        "{region}要求附上{label}",
        "{region} requires the attachment: {label_en}",
    ),
    ErrorCode.ROLLBACK_NOT_ALLOWED: (
        "{region}不能回退 {kind}；可回退：{allowed}",
        "{region} cannot roll back {kind}; it can roll back: {allowed}",
    ),
    ErrorCode.ALREADY_PAID: ("{kind} 已缴费，不能回退", "The {kind} is paid and cannot be rolled back"),
    ErrorCode.REGION_RULE: ("{message}", "{message_en}"),
    ErrorCode.ALREADY_WITHDRAWN: ("该参数已于 {at} 撤回", "The figure was withdrawn on {at}"),
    ErrorCode.ATTACHMENT_EMPTY: ("附件是空文件", "The attachment is empty"),
    ErrorCode.ATTACHMENT_TOO_LARGE: (
        "附件 {size} 字节，超过上限 {max} 字节（5 MB）",
        "The attachment has {size} bytes, more than the {max} allowed (5 MB)",
    ),
    ErrorCode.ATTACHMENT_TYPE: (
        "附件须为 JPG、PNG 或 PDF（按文件内容判断，不看文件名）",
        "Attachments must be JPG, PNG or PDF (judged by the content, not the file name)",
    ),
    ErrorCode.NOT_DRAFT: (
        "申报状态为 {status}，只有待提交的申报可以修改、删除或提交",
        "The declaration is {status}: only drafts can be edited, deleted or submitted",
    ),
    ErrorCode.NOT_SUBMITTED: (
        "申报状态为 {status}，只有审核中的申报可以审核",
        "The declaration is {status}: only submitted declarations can be reviewed",
    ),
    ErrorCode.NOT_ENROLLED: (
        "该人员在本单位没有 {month} 有效的参保关系",
        "This person has no enrollment at this company in force in {month}",
    ),
    ErrorCode.SETTLE_NOT_ALLOWED: ("不能{mode}：{reason}", "{mode_en} is not allowed: {reason_en}"),
    ErrorCode.ALREADY_SETTLED: ("{company} {month} 已结算", "{company} is already settled for {month}"),
    ErrorCode.MONTH_SETTLED: (
        "{month} 已结算，不能再变更：请在以后的月份申报或补缴",
        "{month} is settled and frozen: declare in a later month or as a back payment",
    ),
    ErrorCode.UNKNOWN_MODE: (
        "{region}没有结算方式 {value}；可选：{allowed}",
        "{region} has no settlement mode {value}; allowed: {allowed}",
    ),
    ErrorCode.IDEMPOTENCY_MISMATCH: (
        "幂等键 {key} 已用于另一笔不同的申报",
        "The idempotency key {key} was already used for a different declaration",
    ),
    ErrorCode.QUERY_TOO_DEEP: ("查询嵌套层数超过 {max}", "The query is nested deeper than {max}"),
    ErrorCode.QUERY_TOO_LARGE: ("查询过大", "The query is too large"),
    ErrorCode.INTERNAL_ERROR: ("服务器内部错误，已记录", "Unexpected error (logged)"),
}

LANGUAGES = ("zh", "en")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a request: what (code), where (field path) and the figures involved."""

    code: ErrorCode
    field: str | None = None
    params: dict[str, Any] = dc_field(default_factory=dict)

    def message(self, lang: str = "zh") -> str:
        zh, en = MESSAGES[self.code]
        template = en if lang == "en" else zh
        try:
            return template.format(**self.params)
        except (KeyError, IndexError):
            return template


class ShebaoError(Exception):
    """A refused request. Raising it means nothing was (or will be) written."""

    def __init__(self, problems: list[Problem]):
        assert problems, "a ShebaoError needs at least one problem"
        self.problems = problems
        super().__init__("; ".join(f"{p.code}@{p.field}: {p.message('en')}" for p in problems))

    @classmethod
    def of(cls, code: ErrorCode, field: str | None = None, **params: Any) -> ShebaoError:
        return cls([Problem(code, field, params)])

    @property
    def code(self) -> ErrorCode:
        return self.problems[0].code


class Problems:
    """Collects problems while checking a whole input, so the caller sees all of them at once."""

    def __init__(self) -> None:
        self.items: list[Problem] = []

    def add(self, code: ErrorCode, field: str | None = None, **params: Any) -> None:
        self.items.append(Problem(code, field, params))

    def extend(self, error: ShebaoError, prefix: str | None = None) -> None:
        for p in error.problems:
            name = f"{prefix}.{p.field}" if prefix and p.field else (p.field or prefix)
            self.items.append(Problem(p.code, name, p.params))

    def check(self, func, *args, field: str | None = None):
        """Run a validator; record its problems instead of raising. Returns its value or None."""
        try:
            return func(*args)
        except ShebaoError as err:
            for p in err.problems:
                self.items.append(Problem(p.code, p.field or field, p.params))
            return None

    def raise_if_any(self) -> None:
        if self.items:
            raise ShebaoError(list(self.items))

    def __bool__(self) -> bool:
        return bool(self.items)

"""Each error code's message, in Simplified Chinese and in English."""

from __future__ import annotations

from shebao.platform.error_codes import ErrorCode

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
    ErrorCode.SETTLE_KIND_NOT_ALLOWED: (
        "{mode}不能单独结算险种 {value}；可选：{allowed}",
        "{mode} cannot settle the insurance kind {value} on its own; allowed: {allowed}",
    ),
    ErrorCode.NOTHING_TO_SETTLE: (
        "{company} {month} 没有参保人员，也没有待结算的补缴",
        "{company} has nobody enrolled in {month} and no back payment to bill",
    ),
    ErrorCode.IDEMPOTENCY_MISMATCH: (
        "幂等键 {key} 已用于另一笔不同的申报",
        "The idempotency key {key} was already used for a different declaration",
    ),
    # jobs
    ErrorCode.UNKNOWN_JOB: ("未知的任务类型 {kind}", "Unknown job kind {kind}"),
    ErrorCode.JOB_ABANDONED: (
        "任务已尝试 {attempts} 次仍未完成，已放弃",
        "The job was abandoned after {attempts} attempts",
    ),
    ErrorCode.DOCUMENT_NOT_READY: (
        "文件还没有生成（任务状态：{status}）",
        "The file is not ready (the job is {status})",
    ),
    ErrorCode.AGENCY_WIDE_ONLY: (
        "该操作针对机构的全部客户单位，只有不限单位范围的操作员可以发起",
        "This acts on every client company of the agency: only an operator without a company scope may start it",
    ),
    # documents
    ErrorCode.DOCUMENT_NOT_OFFERED: (
        "{region}不出具此类单据（{document}）；可选：{allowed}",
        "{region_en} does not issue this document ({document}); it issues: {allowed}",
    ),
    ErrorCode.DOCUMENT_SINGLE_MONTH: (
        "{region}的《{title}》按单月打印：终止月份须与起始月份相同",
        "{region_en}'s {title_en} is printed for one month: the end month must equal the start month",
    ),
    ErrorCode.DOCUMENT_RANGE_TOO_LONG: (
        "《{title}》一次最多打印 {max} 个月，{month_from} 至 {month_to} 共 {months} 个月",
        "{title_en} covers at most {max} months at once; {month_from} to {month_to} is {months}",
    ),
    ErrorCode.DOCUMENT_NOTHING_SETTLED: (
        "{company} 在 {period} 没有已结算的月份，请先结算",
        "{company} has no settled month in {period}: settle first",
    ),
    ErrorCode.DOCUMENT_EMPTY: (
        "《{title}》在 {period} 没有可打印的内容：{reason}",
        "{title_en} has nothing to print for {period}: {reason_en}",
    ),
    ErrorCode.PERSON_NOT_AT_COMPANY: (
        "该人员从未在 {company} 参保",
        "This person has never been insured at {company}",
    ),
    # workbooks
    ErrorCode.WORKBOOK_NO_TEMPLATE: (
        "{region}没有「{kind}」的批量模板",
        "{region} has no batch template for {kind}",
    ),
    ErrorCode.WORKBOOK_EMPTY_FILE: ("上传的文件是空的（0 字节）", "The uploaded file is empty (0 bytes)"),
    ErrorCode.WORKBOOK_TOO_LARGE: (
        "文件有 {size} 字节，超过上限 {max} 字节：请拆分为多个文件",
        "The file has {size} bytes, more than the {max} allowed: split it into several files",
    ),
    ErrorCode.WORKBOOK_UNZIPPED_TOO_LARGE: (
        "工作簿解压后超过 {max_mb} MB，拒绝读取：请拆分为多个文件",
        "The workbook unpacks to more than {max_mb} MB and was refused: split it into several files",
    ),
    ErrorCode.WORKBOOK_OLD_XLS: (
        "{filename} 是旧版 Excel 97-2003 工作簿（.xls），无法读取：请用 Excel 或 WPS 打开，"
        "另存为“Excel 工作簿（*.xlsx）”后重新上传",
        "{filename} is an old Excel 97-2003 workbook (.xls): open it in Excel or WPS, "
        "save it as an Excel Workbook (.xlsx) and upload that",
    ),
    ErrorCode.WORKBOOK_ENCRYPTED: (
        "{filename} 设有打开密码（已加密），无法读取：请在 Excel 中清除密码"
        "（文件 → 信息 → 保护工作簿 → 用密码进行加密）后保存并重新上传",
        "{filename} is password-protected (encrypted) and cannot be read: remove the password in Excel "
        "(File → Info → Protect Workbook → Encrypt with Password), save and upload again",
    ),
    ErrorCode.WORKBOOK_CSV: (
        "{filename} 实际是文本（CSV）文件，不是 Excel 工作簿：请用 Excel 或 WPS 打开，"
        "另存为“Excel 工作簿（*.xlsx）”后重新上传",
        "{filename} is a text (CSV) file, not an Excel workbook: open it in Excel or WPS, "
        "save it as an Excel Workbook (.xlsx) and upload that",
    ),
    ErrorCode.WORKBOOK_NOT_XLSX: (
        "{filename} 不是 Excel 工作簿（.xlsx），而是{detected}：请另存为“Excel 工作簿（*.xlsx）”后重新上传",
        "{filename} is not an Excel workbook (.xlsx) but {detected_en}: save it as an Excel Workbook (.xlsx)",
    ),
    ErrorCode.WORKBOOK_CORRUPT: (
        "{filename} 已损坏或不完整（可能上传中断），无法读取：请重新保存后上传（{detail}）",
        "{filename} is damaged or incomplete (perhaps a broken upload) and cannot be read: "
        "save it again and upload ({detail})",
    ),
    ErrorCode.WORKBOOK_EMPTY: ("工作簿没有内容：{sheets} 都是空的", "The workbook is empty: {sheets} have no cells"),
    ErrorCode.WORKBOOK_NO_HEADER: (
        "在工作表 {sheets} 的前 {rows} 行中没有找到表头：表头应包含 {expected}",
        "No header row in the first {rows} rows of {sheets}: the header names the columns {expected}",
    ),
    ErrorCode.WORKBOOK_MISSING_COLUMNS: (
        "工作表「{sheet}」缺少必填列：{columns}",
        "Sheet {sheet} lacks the required columns: {columns}",
    ),
    ErrorCode.WORKBOOK_DUPLICATE_COLUMN: (
        "列「{column}」出现了两次（{first} 列和 {second} 列），无法确定使用哪一列：请删除其中一列",
        "The column {column} appears twice ({first} and {second}): delete one of them",
    ),
    ErrorCode.WORKBOOK_NO_ROWS: (
        "工作表「{sheet}」在表头下没有数据行",
        "Sheet {sheet} has no rows below its header",
    ),
    ErrorCode.WORKBOOK_TOO_MANY_ROWS: (
        "数据超过 {max} 行的上限，整个文件未导入：请拆分为多个文件",
        "More than {max} rows: nothing was imported; split the file into several",
    ),
    ErrorCode.WORKBOOK_MERGED_CELL: (
        "合并单元格 {range}：请取消合并，并在每个单元格中填写",
        "Merged cells {range}: unmerge them and fill every cell",
    ),
    ErrorCode.WORKBOOK_FORMULA_NO_VALUE: (
        "单元格 {cell} 是公式但没有计算结果：请在 Excel 中重新计算并保存，或复制后“粘贴为数值”",
        "Cell {cell} holds a formula without a computed value: recalculate and save in Excel, or paste it as values",
    ),
    ErrorCode.WORKBOOK_ERROR_VALUE: ("单元格 {cell} 是错误值 {value}", "Cell {cell} holds the error value {value}"),
    ErrorCode.WORKBOOK_ID_AS_NUMBER: (
        "身份证号码被存成了数字（{value}），可能已丢失末位 X 或后几位：请把该列设置为“文本”格式后重新输入",
        "The ID number was stored as a number ({value}) and may have lost its final X or digits: "
        "format the column as Text and type it again",
    ),
    ErrorCode.WORKBOOK_DUPLICATE_ROW: (
        "与第 {first} 行重复（同一公民身份号码 {id_number}）",
        "Repeats row {first} (same ID number {id_number})",
    ),
    ErrorCode.WORKBOOK_SHEET_READ: (
        "读取的是工作表「{sheet}」（第 {header_row} 行为表头）",
        "Read the sheet {sheet} (header on row {header_row})",
    ),
    ErrorCode.WORKBOOK_EXTRA_COLUMNS: (
        "以下列不属于模板，已忽略：{columns}",
        "These columns are not in the template and were ignored: {columns}",
    ),
    ErrorCode.WORKBOOK_BLANK_TAIL: (
        "第 {row} 行之后连续 {count} 行为空，已停止读取：其后的内容未导入",
        "{count} empty rows after row {row}: reading stopped there, anything below was not imported",
    ),
    ErrorCode.WORKBOOK_REGION_NOTICE: ("{text}（{rows} 行）", "{text_en} ({rows} rows)"),
    ErrorCode.WORKBOOK_ATTACH_LATER: (
        "{rows} 行在提交前须附上{label}",
        "{rows} rows need the attachment {label_en} before they are submitted",
    ),
    ErrorCode.EXPORT_ARGUMENT_UNUSED: (
        "导出{export}不需要此项，请去掉",
        "The {export_en} export does not take this argument: leave it out",
    ),
    ErrorCode.EXPORT_SCOPE_REQUIRED: (
        "请在参保单位（companyId）和地区（regionCode）中选择一项：导出一个单位，或导出该地区的全部客户单位",
        "Give either a client company (companyId) or a region (regionCode, every client company there), not both",
    ),
    ErrorCode.WORKBOOK_UNKNOWN_COMPANY: (
        "找不到客户单位「{company}」（{region}）：请填写本机构在该地区客户单位的统一社会信用代码或全称",
        "No client company {company} in {region}: give the credit code or full name of one of the agency's "
        "client companies in that region",
    ),
    # staged imports
    ErrorCode.IMPORT_ALREADY_CONFIRMED: (
        "该文件已于 {at} 导入（导入 {id}，{declarations} 条申报），不会重复申报",
        "This file was already imported on {at} (import {id}, {declarations} declarations): it is not declared twice",
    ),
    ErrorCode.IMPORT_NOT_READY: (
        "导入当前为「{status}」状态，不能{action}",
        "The import is {status_en}: it cannot be {action_en}",
    ),
    ErrorCode.IMPORT_HAS_FAILED_ROWS: (
        "有 {rows} 行存在问题：请下载错误报告修正后重新上传，或在确认时选择跳过问题行",
        "{rows} rows have problems: fix them from the error report and upload again, or confirm skipping them",
    ),
    ErrorCode.IMPORT_NOTHING_VALID: ("没有可以导入的有效行", "No valid row to import"),
    ErrorCode.IMPORT_PREVIEW_OUTDATED: (
        "预览之后情况已有变化：{rows} 行现在无法申报（如 {first}）。请重新检查后再确认",
        "Things changed since the preview: {rows} rows can no longer be declared (e.g. {first}). "
        "Check the file again, then confirm",
    ),
    ErrorCode.QUERY_TOO_DEEP: ("查询嵌套层数超过 {max}", "The query is nested deeper than {max}"),
    ErrorCode.QUERY_TOO_LARGE: ("查询过大", "The query is too large"),
    ErrorCode.INTERNAL_ERROR: ("服务器内部错误，已记录", "Unexpected error (logged)"),
}

"""What an operator may do. An agency admin holds every permission; others hold what they are granted.

The list follows the manuals' least-privilege advice (payroll staff declare payments, HR staff add
and remove people): permissions are fine-grained and granted one by one.
"""

from enum import StrEnum


class Permission(StrEnum):
    USERS_MANAGE = "users:manage"
    COMPANIES_READ = "companies:read"
    COMPANIES_WRITE = "companies:write"
    COMPANIES_REVIEW = "companies:review"
    PERSONS_READ = "persons:read"
    PERSONS_WRITE = "persons:write"
    AUDIT_READ = "audit:read"
    POLICY_MANAGE = "policy:manage"
    DECLARATIONS_WRITE = "declarations:write"
    DECLARATIONS_REVIEW = "declarations:review"
    SETTLEMENTS_MANAGE = "settlements:manage"

    @property
    def label_zh(self) -> str:
        return LABELS_ZH[self]


LABELS_ZH = {
    Permission.USERS_MANAGE: "用户与权限管理",
    Permission.COMPANIES_READ: "参保单位查询",
    Permission.COMPANIES_WRITE: "参保单位维护",
    Permission.COMPANIES_REVIEW: "敏感信息变更审核",
    Permission.PERSONS_READ: "参保人员查询",
    Permission.PERSONS_WRITE: "参保人员维护",
    Permission.AUDIT_READ: "操作日志查询",
    Permission.POLICY_MANAGE: "政策参数维护",
    Permission.DECLARATIONS_WRITE: "申报业务办理",
    Permission.DECLARATIONS_REVIEW: "申报业务审核",
    Permission.SETTLEMENTS_MANAGE: "结算与核定",
}


class Role(StrEnum):
    ADMIN = "admin"  # 管理员: every permission, every client company
    OPERATOR = "operator"  # 经办人: granted permissions, granted companies

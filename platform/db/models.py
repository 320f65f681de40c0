"""Import every model so the metadata is complete (Alembic, tests, tenant filter)."""

from shebao.platform.audit.models import AuditEntry
from shebao.platform.auth.models import AuthToken, User, UserCompanyScope, UserPermission
from shebao.platform.companies.models import ClientCompany, CompanyChangeRequest
from shebao.platform.db.base import Base
from shebao.platform.declarations.models import Declaration, DeclarationAttachment, EnrollmentBase
from shebao.platform.imports.models import WorkbookImport
from shebao.platform.jobs.models import Job, JobItem
from shebao.platform.people.models import Enrollment, Person
from shebao.platform.policy.models import PolicyFigure
from shebao.platform.settlement.models import Settlement, SettlementLine
from shebao.platform.tenancy.models import Agency

__all__ = [
    "Agency",
    "AuditEntry",
    "AuthToken",
    "Base",
    "ClientCompany",
    "CompanyChangeRequest",
    "Declaration",
    "DeclarationAttachment",
    "Enrollment",
    "EnrollmentBase",
    "Job",
    "JobItem",
    "Person",
    "PolicyFigure",
    "Settlement",
    "SettlementLine",
    "User",
    "UserCompanyScope",
    "UserPermission",
    "WorkbookImport",
]

"""The agency's policy library: its own dated figures per region.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa
import shebao.platform.db.types
from shebao.platform.db import rls


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('policy_figures',
    sa.Column('region_code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('since', shebao.platform.db.types.MonthType(length=7), nullable=False),
    sa.Column('value', sa.String(length=40), nullable=False),
    sa.Column('source', sa.String(length=500), nullable=False),
    sa.Column('source_url', sa.String(length=500), nullable=True),
    sa.Column('confidence', sa.Enum('official', 'medium', 'low', 'national_default', 'assumption', name='confidence', native_enum=False, create_constraint=False, length=24), nullable=False),
    sa.Column('note', sa.String(length=1000), nullable=True),
    sa.Column('recorded_by', sa.Uuid(), nullable=True),
    sa.Column('withdrawn_at', shebao.platform.db.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('withdrawn_by', sa.Uuid(), nullable=True),
    sa.Column('withdraw_reason', sa.String(length=500), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('agency_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', shebao.platform.db.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', shebao.platform.db.types.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agency_id', 'recorded_by'], ['users.agency_id', 'users.id'], name=op.f('fk_policy_figures_agency_id_recorded_by_users')),
    sa.ForeignKeyConstraint(['agency_id', 'withdrawn_by'], ['users.agency_id', 'users.id'], name=op.f('fk_policy_figures_agency_id_withdrawn_by_users')),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_policy_figures_agency_id_agencies'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('agency_id', 'id', name=op.f('pk_policy_figures'))
    )
    with op.batch_alter_table('policy_figures', schema=None) as batch_op:
        batch_op.create_index('uq_policy_figures_active', ['agency_id', 'region_code', 'name', 'since'], unique=True, postgresql_where=sa.text('withdrawn_at IS NULL'), sqlite_where=sa.text('withdrawn_at IS NULL'))
    rls.protect_tenant_table(op, 'policy_figures')


def downgrade() -> None:
    with op.batch_alter_table('policy_figures', schema=None) as batch_op:
        batch_op.drop_index('uq_policy_figures_active', postgresql_where=sa.text('withdrawn_at IS NULL'), sqlite_where=sa.text('withdrawn_at IS NULL'))
    op.drop_table('policy_figures')

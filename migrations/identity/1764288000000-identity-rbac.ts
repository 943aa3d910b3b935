import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runAll, tenantTableSql } from '../../kernel/db/rls';

/** Tenant-defined roles (sets of permission strings), groups with a parent, and their assignments. */
export class IdentityRbac1764288000000 implements MigrationInterface {
  name = 'IdentityRbac1764288000000';

  async up(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `CREATE TABLE identity.roles (
         tenant_id uuid NOT NULL,
         id uuid NOT NULL,
         name text NOT NULL CHECK (length(name) BETWEEN 1 AND 60),
         description text NOT NULL DEFAULT '',
         permissions text[] NOT NULL,
         created_at timestamptz NOT NULL DEFAULT now(),
         PRIMARY KEY (tenant_id, id))`,
      `CREATE UNIQUE INDEX roles_name_key ON identity.roles (tenant_id, lower(name))`,
      `CREATE TABLE identity.user_roles (
         tenant_id uuid NOT NULL,
         user_id uuid NOT NULL,
         role_id uuid NOT NULL,
         PRIMARY KEY (tenant_id, user_id, role_id),
         FOREIGN KEY (tenant_id, role_id) REFERENCES identity.roles (tenant_id, id) ON DELETE CASCADE)`,
      `CREATE TABLE identity.groups (
         tenant_id uuid NOT NULL,
         id uuid NOT NULL,
         name text NOT NULL CHECK (length(name) BETWEEN 1 AND 60),
         parent_id uuid,
         created_at timestamptz NOT NULL DEFAULT now(),
         PRIMARY KEY (tenant_id, id),
         FOREIGN KEY (tenant_id, parent_id) REFERENCES identity.groups (tenant_id, id) ON DELETE SET NULL (parent_id))`,
      `CREATE TABLE identity.group_roles (
         tenant_id uuid NOT NULL,
         group_id uuid NOT NULL,
         role_id uuid NOT NULL,
         PRIMARY KEY (tenant_id, group_id, role_id),
         FOREIGN KEY (tenant_id, group_id) REFERENCES identity.groups (tenant_id, id) ON DELETE CASCADE,
         FOREIGN KEY (tenant_id, role_id) REFERENCES identity.roles (tenant_id, id) ON DELETE CASCADE)`,
      `CREATE TABLE identity.group_members (
         tenant_id uuid NOT NULL,
         group_id uuid NOT NULL,
         user_id uuid NOT NULL,
         PRIMARY KEY (tenant_id, group_id, user_id),
         FOREIGN KEY (tenant_id, group_id) REFERENCES identity.groups (tenant_id, id) ON DELETE CASCADE)`,
      ...['roles', 'user_roles', 'groups', 'group_roles', 'group_members'].flatMap((t) =>
        tenantTableSql(`identity.${t}`),
      ),
    ]);
  }

  async down(q: QueryRunner): Promise<void> {
    await runAll(
      q,
      ['group_members', 'group_roles', 'groups', 'user_roles', 'roles'].map((t) => `DROP TABLE identity.${t}`),
    );
  }
}

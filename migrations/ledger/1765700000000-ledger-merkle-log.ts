import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runAll, tenantTableSql } from '../../kernel/db/rls';
import { APP_ROLE } from '../../kernel/db/roles';

/** The role that owns ledger.purge_tenant: the only one the history triggers let delete. */
const PURGE_ROLE = 'nexus_ledger_purge';
const PLATFORM_LOG = '00000000-0000-0000-0000-000000000000';
import { jobTablesSql } from '../../kernel/jobs';

/** History tables: the runtime role may read and append; triggers refuse every change but the purge function's. */
const HISTORY = ['entries', 'nodes', 'checkpoints', 'transfers'] as const;

/**
 * The verifiable ledger: per-log append-only entries on an RFC 9162 Merkle tree (complete-subtree hashes
 * stored), signed checkpoints, double-entry accounts and transfers. The earlier hash chain is kept, read-only,
 * as `legacy_entries`.
 */
export class LedgerMerkleLog1765700000000 implements MigrationInterface {
  name = 'LedgerMerkleLog1765700000000';

  async up(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `ALTER TABLE ledger.entries RENAME TO legacy_entries`,
      `ALTER POLICY entries_tenant_isolation ON ledger.legacy_entries RENAME TO legacy_entries_tenant_isolation`,
      `REVOKE INSERT ON ledger.legacy_entries FROM ${APP_ROLE}`,
      // One row per log: its size, taken FOR UPDATE by every append (sequencer).
      `CREATE TABLE ledger.heads (
         tenant_id uuid NOT NULL PRIMARY KEY,
         size bigint NOT NULL DEFAULT 0 CHECK (size >= 0),
         -- The size of the newest checkpoint, moved by the checkpoint job under the same lock.
         checkpointed bigint NOT NULL DEFAULT 0 CHECK (checkpointed >= 0 AND checkpointed <= size),
         updated_at timestamptz NOT NULL DEFAULT now())`,
      ...tenantTableSql('ledger.heads', { privileges: 'SELECT, INSERT, UPDATE (size, updated_at)' }),
      `CREATE TABLE ledger.entries (
         tenant_id uuid NOT NULL,
         idx bigint NOT NULL CHECK (idx >= 0),
         type text NOT NULL,
         data text NOT NULL,
         source_event_id uuid,
         created_at timestamptz NOT NULL,
         PRIMARY KEY (tenant_id, idx))`,
      `CREATE INDEX entries_type_idx ON ledger.entries (tenant_id, type, idx)`,
      `CREATE INDEX entries_source_event_idx ON ledger.entries (tenant_id, source_event_id) WHERE source_event_id IS NOT NULL`,
      // Complete subtrees: (level, idx) covers leaves [idx * 2^level, (idx + 1) * 2^level); level 0 = leaf hashes.
      `CREATE TABLE ledger.nodes (
         tenant_id uuid NOT NULL,
         level smallint NOT NULL CHECK (level BETWEEN 0 AND 62),
         idx bigint NOT NULL CHECK (idx >= 0),
         hash bytea NOT NULL CHECK (length(hash) = 32),
         PRIMARY KEY (tenant_id, level, idx))`,
      `CREATE TABLE ledger.checkpoints (
         tenant_id uuid NOT NULL,
         size bigint NOT NULL CHECK (size > 0),
         root bytea NOT NULL CHECK (length(root) = 32),
         note text NOT NULL,
         created_at timestamptz NOT NULL DEFAULT now(),
         PRIMARY KEY (tenant_id, size))`,
      `CREATE TABLE ledger.accounts (
         tenant_id uuid NOT NULL,
         id uuid NOT NULL,
         code text NOT NULL,
         currency text NOT NULL,
         owner_id text,
         debits_must_not_exceed_credits boolean NOT NULL DEFAULT false,
         credits_must_not_exceed_debits boolean NOT NULL DEFAULT false,
         debits_pending numeric(39, 0) NOT NULL DEFAULT 0 CHECK (debits_pending >= 0),
         debits_posted numeric(39, 0) NOT NULL DEFAULT 0 CHECK (debits_posted >= 0),
         credits_pending numeric(39, 0) NOT NULL DEFAULT 0 CHECK (credits_pending >= 0),
         credits_posted numeric(39, 0) NOT NULL DEFAULT 0 CHECK (credits_posted >= 0),
         entry_idx bigint NOT NULL,
         created_at timestamptz NOT NULL DEFAULT now(),
         PRIMARY KEY (tenant_id, id),
         UNIQUE (tenant_id, code, currency),
         CHECK (NOT (debits_must_not_exceed_credits AND credits_must_not_exceed_debits)),
         CHECK (NOT debits_must_not_exceed_credits OR debits_posted + debits_pending <= credits_posted),
         CHECK (NOT credits_must_not_exceed_debits OR credits_posted + credits_pending <= debits_posted))`,
      ...tenantTableSql('ledger.accounts', {
        privileges: 'SELECT, INSERT, UPDATE (debits_pending, debits_posted, credits_pending, credits_posted)',
      }),
      // kind: single | pending | post | void | expire. post/void/expire name the pending transfer they resolve.
      `CREATE TABLE ledger.transfers (
         tenant_id uuid NOT NULL,
         id uuid NOT NULL,
         kind text NOT NULL CHECK (kind IN ('single', 'pending', 'post', 'void', 'expire')),
         debit_account_id uuid NOT NULL,
         credit_account_id uuid NOT NULL,
         amount numeric(39, 0) NOT NULL CHECK (amount >= 0),
         currency text NOT NULL,
         pending_id uuid,
         timeout_seconds integer CHECK (timeout_seconds > 0),
         expires_at timestamptz,
         code text,
         memo text NOT NULL DEFAULT '',
         request_hash text NOT NULL,
         entry_idx bigint NOT NULL,
         created_at timestamptz NOT NULL DEFAULT now(),
         PRIMARY KEY (tenant_id, id),
         UNIQUE (tenant_id, pending_id),
         CHECK (debit_account_id <> credit_account_id),
         CHECK ((kind IN ('post', 'void', 'expire')) = (pending_id IS NOT NULL)),
         FOREIGN KEY (tenant_id, debit_account_id) REFERENCES ledger.accounts (tenant_id, id),
         FOREIGN KEY (tenant_id, credit_account_id) REFERENCES ledger.accounts (tenant_id, id),
         FOREIGN KEY (tenant_id, pending_id) REFERENCES ledger.transfers (tenant_id, id))`,
      `CREATE INDEX transfers_debit_idx ON ledger.transfers (tenant_id, debit_account_id, created_at)`,
      `CREATE INDEX transfers_credit_idx ON ledger.transfers (tenant_id, credit_account_id, created_at)`,
      // The runtime role appends entries, subtree hashes and transfers; checkpoints are signed by the checkpoint job.
      ...['entries', 'nodes', 'transfers'].flatMap((t) =>
        tenantTableSql(`ledger.${t}`, { privileges: 'SELECT, INSERT' }),
      ),
      ...tenantTableSql('ledger.checkpoints', { privileges: 'SELECT' }),
      // Logs that were purged: never opened again (no tenant_id: the kernel's purge leaves it).
      `CREATE TABLE ledger.purged_logs (owner_tenant uuid PRIMARY KEY, purged_at timestamptz NOT NULL DEFAULT now())`,
      `GRANT SELECT ON ledger.purged_logs TO ${APP_ROLE}`,
      // The one role that may delete history: it owns ledger.purge_tenant and nothing else, and cannot log in.
      `DO $$ BEGIN
         IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${PURGE_ROLE}') THEN
           CREATE ROLE ${PURGE_ROLE} NOLOGIN NOSUPERUSER NOINHERIT NOCREATEDB NOCREATEROLE;
         END IF;
       END $$`,
      `GRANT USAGE ON SCHEMA ledger TO ${PURGE_ROLE}`,
      `GRANT SELECT, DELETE ON ledger.entries, ledger.nodes, ledger.checkpoints, ledger.transfers, ledger.accounts,
         ledger.heads TO ${PURGE_ROLE}`,
      `GRANT SELECT, INSERT ON ledger.purged_logs TO ${PURGE_ROLE}`,
      // History never changes: only ledger.purge_tenant (run as the purge role) deletes one purged tenant's rows.
      `CREATE FUNCTION ledger.refuse_history_change() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF TG_OP = 'DELETE' AND current_user = '${PURGE_ROLE}' THEN
           RETURN OLD;
         END IF;
         RAISE EXCEPTION 'ledger history is append-only: % on %.% refused', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
           USING ERRCODE = 'insufficient_privilege';
       END $$`,
      ...HISTORY.flatMap((t) => [
        `CREATE TRIGGER ${t}_append_only BEFORE UPDATE OR DELETE ON ledger.${t}
           FOR EACH ROW EXECUTE FUNCTION ledger.refuse_history_change()`,
        `CREATE TRIGGER ${t}_no_truncate BEFORE TRUNCATE ON ledger.${t}
           FOR EACH STATEMENT EXECUTE FUNCTION ledger.refuse_history_change()`,
      ]),
      // Accounts keep their identity; only the balance columns move (granted above), never the row's key or flags.
      `CREATE FUNCTION ledger.refuse_account_change() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF TG_OP = 'DELETE' AND current_user = '${PURGE_ROLE}' THEN
           RETURN OLD;
         END IF;
         IF TG_OP = 'UPDATE' AND (NEW.tenant_id, NEW.id, NEW.code, NEW.currency, NEW.owner_id, NEW.entry_idx,
              NEW.debits_must_not_exceed_credits, NEW.credits_must_not_exceed_debits)
            IS NOT DISTINCT FROM (OLD.tenant_id, OLD.id, OLD.code, OLD.currency, OLD.owner_id, OLD.entry_idx,
              OLD.debits_must_not_exceed_credits, OLD.credits_must_not_exceed_debits) THEN
           RETURN NEW;
         END IF;
         RAISE EXCEPTION 'ledger accounts are never removed or renamed: % on ledger.accounts refused', TG_OP
           USING ERRCODE = 'insufficient_privilege';
       END $$`,
      `CREATE TRIGGER accounts_keep BEFORE UPDATE OR DELETE ON ledger.accounts
         FOR EACH ROW EXECUTE FUNCTION ledger.refuse_account_change()`,
      `CREATE TRIGGER accounts_no_truncate BEFORE TRUNCATE ON ledger.accounts
         FOR EACH STATEMENT EXECUTE FUNCTION ledger.refuse_account_change()`,
      // Entries come in order, without gaps; only the platform (never the runtime role) writes the platform log.
      `CREATE FUNCTION ledger.check_entry() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF NEW.tenant_id = '${PLATFORM_LOG}'::uuid AND current_user = '${APP_ROLE}' THEN
           RAISE EXCEPTION 'the platform log is written by the platform only' USING ERRCODE = 'insufficient_privilege';
         END IF;
         IF NEW.idx > 0 AND NOT EXISTS (
              SELECT 1 FROM ledger.entries WHERE tenant_id = NEW.tenant_id AND idx = NEW.idx - 1) THEN
           RAISE EXCEPTION 'ledger entry % of log % would leave a gap', NEW.idx, NEW.tenant_id
             USING ERRCODE = 'integrity_constraint_violation';
         END IF;
         RETURN NEW;
       END $$`,
      `CREATE TRIGGER entries_in_order BEFORE INSERT ON ledger.entries
         FOR EACH ROW EXECUTE FUNCTION ledger.check_entry()`,
      // A log's size only grows, and always names its last entry: the tail cannot be hidden from proofs.
      `CREATE FUNCTION ledger.check_head() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF NEW.size < OLD.size OR NEW.checkpointed < OLD.checkpointed
            OR (NEW.size > 0 AND NOT EXISTS (
                  SELECT 1 FROM ledger.entries WHERE tenant_id = NEW.tenant_id AND idx = NEW.size - 1))
            OR EXISTS (SELECT 1 FROM ledger.entries WHERE tenant_id = NEW.tenant_id AND idx = NEW.size) THEN
           RAISE EXCEPTION 'the size of log % must grow with its entries (% to %)', NEW.tenant_id, OLD.size, NEW.size
             USING ERRCODE = 'integrity_constraint_violation';
         END IF;
         RETURN NEW;
       END $$`,
      `CREATE TRIGGER heads_grow BEFORE UPDATE ON ledger.heads FOR EACH ROW EXECUTE FUNCTION ledger.check_head()`,
      `CREATE TRIGGER heads_kept BEFORE DELETE ON ledger.heads
         FOR EACH ROW EXECUTE FUNCTION ledger.refuse_history_change()`,
      `CREATE TRIGGER heads_no_truncate BEFORE TRUNCATE ON ledger.heads
         FOR EACH STATEMENT EXECUTE FUNCTION ledger.refuse_history_change()`,
      // A purged log is never opened again, whoever asks.
      `CREATE FUNCTION ledger.refuse_purged_log() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF EXISTS (SELECT 1 FROM ledger.purged_logs WHERE owner_tenant = NEW.tenant_id) THEN
           RAISE EXCEPTION 'the log of tenant % was purged', NEW.tenant_id USING ERRCODE = 'insufficient_privilege';
         END IF;
         RETURN NEW;
       END $$`,
      `CREATE TRIGGER heads_not_purged BEFORE INSERT ON ledger.heads
         FOR EACH ROW EXECUTE FUNCTION ledger.refuse_purged_log()`,
      `CREATE FUNCTION ledger.check_checkpoint() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF NEW.size > coalesce((SELECT size FROM ledger.heads WHERE tenant_id = NEW.tenant_id), 0) THEN
           RAISE EXCEPTION 'a checkpoint of log % cannot cover more than its entries', NEW.tenant_id
             USING ERRCODE = 'integrity_constraint_violation';
         END IF;
         RETURN NEW;
       END $$`,
      `CREATE TRIGGER checkpoints_within BEFORE INSERT ON ledger.checkpoints
         FOR EACH ROW EXECUTE FUNCTION ledger.check_checkpoint()`,
      // A purged tenant's log goes only through here (called by the ledger's purge hook, after it has written the
      // tombstone to the platform log). It runs as the purge role, under row-level security for that one tenant.
      `CREATE FUNCTION ledger.purge_tenant(p_tenant uuid) RETURNS bigint
         LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
       DECLARE removed bigint; previous text := current_setting('app.tenant_id', true);
       BEGIN
         IF p_tenant = '${PLATFORM_LOG}'::uuid THEN
           RAISE EXCEPTION 'the platform log is never purged';
         END IF;
         PERFORM set_config('app.tenant_id', p_tenant::text, true);
         INSERT INTO ledger.purged_logs (owner_tenant) VALUES (p_tenant) ON CONFLICT DO NOTHING;
         DELETE FROM ledger.transfers WHERE tenant_id = p_tenant AND pending_id IS NOT NULL;
         DELETE FROM ledger.transfers WHERE tenant_id = p_tenant;
         DELETE FROM ledger.accounts WHERE tenant_id = p_tenant;
         DELETE FROM ledger.checkpoints WHERE tenant_id = p_tenant;
         DELETE FROM ledger.nodes WHERE tenant_id = p_tenant;
         DELETE FROM ledger.entries WHERE tenant_id = p_tenant;
         GET DIAGNOSTICS removed = ROW_COUNT;
         DELETE FROM ledger.heads WHERE tenant_id = p_tenant;
         PERFORM set_config('app.tenant_id', coalesce(previous, ''), true);
         RETURN removed;
       END $$`,
      `REVOKE ALL ON FUNCTION ledger.purge_tenant(uuid) FROM PUBLIC`,
      // Handing the function to the purge role needs membership for a moment (a superuser needs none).
      `GRANT ${PURGE_ROLE} TO current_user`,
      `ALTER FUNCTION ledger.purge_tenant(uuid) OWNER TO ${PURGE_ROLE}`,
      `REVOKE ${PURGE_ROLE} FROM current_user`,
      `REVOKE ALL ON FUNCTION ledger.refuse_history_change() FROM PUBLIC`,
      `REVOKE ALL ON FUNCTION ledger.refuse_account_change() FROM PUBLIC`,
      ...jobTablesSql('ledger'),
    ]);
  }

  async down(q: QueryRunner): Promise<void> {
    await runAll(q, [
      `DROP TABLE ledger.jobs`,
      `DROP FUNCTION ledger.schedule_job(text, text, jsonb, timestamptz)`,
      `DROP FUNCTION ledger.purge_tenant(uuid)`,
      `DROP TABLE ledger.purged_logs`,
      `REVOKE USAGE ON SCHEMA ledger FROM ${PURGE_ROLE}`,
      `DROP FUNCTION ledger.check_entry() CASCADE`,
      `DROP FUNCTION ledger.check_head() CASCADE`,
      `DROP FUNCTION ledger.check_checkpoint() CASCADE`,
      `DROP FUNCTION ledger.refuse_purged_log() CASCADE`,
      `DROP TABLE ledger.transfers`,
      `DROP TABLE ledger.accounts`,
      `DROP TABLE ledger.checkpoints`,
      `DROP TABLE ledger.nodes`,
      `DROP TABLE ledger.entries`,
      `DROP TABLE ledger.heads`,
      `DROP FUNCTION ledger.refuse_history_change()`,
      `DROP FUNCTION ledger.refuse_account_change()`,
      `ALTER TABLE ledger.legacy_entries RENAME TO entries`,
      `ALTER POLICY legacy_entries_tenant_isolation ON ledger.entries RENAME TO entries_tenant_isolation`,
      `GRANT INSERT ON ledger.entries TO ${APP_ROLE}`,
    ]);
  }
}

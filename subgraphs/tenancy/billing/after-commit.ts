import type { DataSource, EntityManager, EntitySubscriberInterface, QueryRunner } from 'typeorm';
import { logger } from '../../../kernel/log';

const log = logger('tenancy.after-commit');

type Work = () => Promise<void>;

const pending = new WeakMap<QueryRunner, Work[]>();
const watched = new WeakSet<DataSource>();

/** Runs the queued work once the outermost transaction commits; drops it when the transaction rolls back. */
const subscriber: EntitySubscriberInterface = {
  afterTransactionCommit({ queryRunner }) {
    if (queryRunner.isTransactionActive) return; // a savepoint was released; the transaction goes on
    const work = pending.get(queryRunner);
    pending.delete(queryRunner);
    // Not awaited: the connection goes back to the pool first (the work may open transactions of its own).
    for (const run of work ?? []) void run().catch((err) => log.error({ err }, 'work after a commit failed'));
  },
  afterTransactionRollback({ queryRunner }) {
    if (!queryRunner.isTransactionActive) pending.delete(queryRunner);
  },
};

/**
 * Queues `work` (announcements, deliveries) until the transaction of `em` commits: for code that runs inside a
 * transaction someone else opened and commits, such as an event consumer. Without a transaction, it runs now.
 */
export function afterCommit(ds: DataSource, em: EntityManager, work: Work): void {
  const runner = em.queryRunner;
  if (!runner?.isTransactionActive) {
    void work().catch((err) => log.error({ err }, 'work after a commit failed'));
    return;
  }
  if (!watched.has(ds)) {
    watched.add(ds);
    ds.subscribers.push(subscriber);
  }
  const queued = pending.get(runner) ?? [];
  queued.push(work);
  pending.set(runner, queued);
}

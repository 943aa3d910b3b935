import { In } from 'typeorm';
import type { RequestContext } from '../../../kernel/context';
import { withTenant } from '../../../kernel/db/tenant-scope';
import { AppError, KernelErrorCode } from '../../../kernel/errors';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { User } from './user.entity';

export class UserService {
  constructor(private readonly deps: SubgraphDeps) {}

  async me(ctx: RequestContext): Promise<User> {
    const user = await withTenant(this.deps.ds, ctx, (em) => em.findOneBy(User, { id: ctx.userId! }));
    if (!user) throw new AppError(KernelErrorCode.NOT_FOUND, 'Account not found');
    return user;
  }

  /** Users visible in the caller's tenant (RLS: fellow members only), in the order asked. */
  async byIds(ctx: RequestContext, ids: readonly string[]): Promise<(User | null)[]> {
    const users = await withTenant(this.deps.ds, ctx, (em) => em.findBy(User, { id: In([...ids]) }));
    const byId = new Map(users.map((u) => [u.id, u]));
    return ids.map((id) => byId.get(id) ?? null);
  }
}

import { AppError, KernelErrorCode } from '../../../kernel/errors';

export const PAGE_DEFAULT = 50;
export const PAGE_MAX = 200;

/**
 * A page of rows in the order of their entries in the tenant's log (accounts and transfers both carry
 * their entry's index): at most `first` rows (1 to 200) whose index follows `after` (a previous row's
 * `entryIndex`, as a string).
 */
export function logOrderPage(
  first: number | null | undefined,
  after: string | null | undefined,
): { take: number; after: string | null } {
  const take = first ?? PAGE_DEFAULT;
  if (!Number.isInteger(take) || take < 1 || take > PAGE_MAX)
    throw new AppError(KernelErrorCode.BAD_USER_INPUT, `first must be 1 to ${PAGE_MAX}`);
  if (after != null && !/^(0|[1-9][0-9]{0,17})$/.test(after))
    throw new AppError(KernelErrorCode.BAD_USER_INPUT, 'after must be the entryIndex of a row of a previous page');
  return { take, after: after ?? null };
}

import { AppError } from '../../kernel/errors';

export enum TenancyErrorCode {
  TENANT_NOT_FOUND = 'TENANT_NOT_FOUND',
}

const MESSAGES: Record<TenancyErrorCode, string> = {
  TENANT_NOT_FOUND: 'Tenant not found',
};

export function tenancyError(code: TenancyErrorCode, message = MESSAGES[code]): AppError {
  return new AppError(code, message);
}

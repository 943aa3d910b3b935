import { defineErrors } from '../../kernel/errors';

export enum TenancyErrorCode {
  TENANT_NOT_FOUND = 'TENANT_NOT_FOUND',
}

export const tenancyError = defineErrors<TenancyErrorCode>({
  TENANT_NOT_FOUND: 'Tenant not found',
});

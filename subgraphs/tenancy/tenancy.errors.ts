import { defineErrors } from '../../kernel/errors';

export enum TenancyErrorCode {
  TENANT_NOT_FOUND = 'TENANT_NOT_FOUND',
  SLUG_TAKEN = 'SLUG_TAKEN',
  INVALID_TENANT = 'INVALID_TENANT',
  INVALID_STATUS_CHANGE = 'INVALID_STATUS_CHANGE',
}

export const tenancyError = defineErrors<TenancyErrorCode>({
  TENANT_NOT_FOUND: 'Tenant not found',
  SLUG_TAKEN: 'Another tenant already uses this slug',
  INVALID_TENANT: 'Tenant settings are not valid',
  INVALID_STATUS_CHANGE: 'The tenant is already in that state',
});

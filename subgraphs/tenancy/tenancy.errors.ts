import { defineErrors } from '../../kernel/errors';

export enum TenancyErrorCode {
  TENANT_NOT_FOUND = 'TENANT_NOT_FOUND',
  SLUG_TAKEN = 'SLUG_TAKEN',
  INVALID_TENANT = 'INVALID_TENANT',
  INVALID_STATUS_CHANGE = 'INVALID_STATUS_CHANGE',
  INVALID_DOMAIN = 'INVALID_DOMAIN',
  DOMAIN_EXISTS = 'DOMAIN_EXISTS',
  DOMAIN_TAKEN = 'DOMAIN_TAKEN',
  DOMAIN_NOT_FOUND = 'DOMAIN_NOT_FOUND',
  DOMAIN_VERIFICATION_FAILED = 'DOMAIN_VERIFICATION_FAILED',
  INVALID_BRANDING = 'INVALID_BRANDING',
}

export const tenancyError = defineErrors<TenancyErrorCode>({
  TENANT_NOT_FOUND: 'Tenant not found',
  SLUG_TAKEN: 'Another tenant already uses this slug',
  INVALID_TENANT: 'Tenant settings are not valid',
  INVALID_STATUS_CHANGE: 'The tenant is already in that state',
  INVALID_DOMAIN: 'Not a valid domain name (e.g. app.example.com)',
  DOMAIN_EXISTS: 'This tenant already has this domain',
  DOMAIN_TAKEN: 'Another tenant has verified this domain',
  DOMAIN_NOT_FOUND: 'Domain not found',
  DOMAIN_VERIFICATION_FAILED: 'The verification record was not found',
  INVALID_BRANDING: 'Branding settings are not valid',
});

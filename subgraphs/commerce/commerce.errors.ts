import { defineErrors } from '../../kernel/errors';

export enum CommerceErrorCode {
  INVALID_PRODUCT = 'INVALID_PRODUCT',
  INVALID_PLAN = 'INVALID_PLAN',
  PLAN_NOT_FOUND = 'PLAN_NOT_FOUND',
  PLAN_EXISTS = 'PLAN_EXISTS',
  INTERVAL_NOT_OFFERED = 'INTERVAL_NOT_OFFERED',
  ALREADY_SUBSCRIBED = 'ALREADY_SUBSCRIBED',
  NO_SUBSCRIPTION = 'NO_SUBSCRIPTION',
  INVOICE_NOT_FOUND = 'INVOICE_NOT_FOUND',
  INVOICE_NOT_OPEN = 'INVOICE_NOT_OPEN',
  INVALID_BILLING_INPUT = 'INVALID_BILLING_INPUT',
  PAYMENT_PROVIDER_ERROR = 'PAYMENT_PROVIDER_ERROR',
  NO_PORTAL = 'NO_PORTAL',
}

export const commerceError = defineErrors<CommerceErrorCode>({
  INVALID_PRODUCT: 'Product is not valid',
  INVALID_PLAN: 'Plan is not valid',
  PLAN_NOT_FOUND: 'No such plan',
  PLAN_EXISTS: 'A plan with this id exists',
  INTERVAL_NOT_OFFERED: 'The plan has no price for this billing interval',
  ALREADY_SUBSCRIBED: 'The tenant already has a subscription: change its plan instead',
  NO_SUBSCRIPTION: 'The tenant has no subscription',
  INVOICE_NOT_FOUND: 'No such invoice',
  INVOICE_NOT_OPEN: 'The invoice is not open',
  INVALID_BILLING_INPUT: 'Billing input is not valid',
  PAYMENT_PROVIDER_ERROR: 'The payment provider refused or could not be reached; nothing was changed',
  NO_PORTAL: 'The billing provider has no customer portal',
});

import { defineErrors } from '../../kernel/errors';

export enum CommerceErrorCode {
  INVALID_PRODUCT = 'INVALID_PRODUCT',
}

export const commerceError = defineErrors<CommerceErrorCode>({
  INVALID_PRODUCT: 'Product is not valid',
});

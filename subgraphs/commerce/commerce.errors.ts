import { AppError } from '../../kernel/errors';

export enum CommerceErrorCode {
  INVALID_PRODUCT = 'INVALID_PRODUCT',
}

export function commerceError(code: CommerceErrorCode, message: string): AppError {
  return new AppError(code, message);
}

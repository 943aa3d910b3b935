import { AppError } from '../../kernel/errors';

export enum LedgerErrorCode {
  INVALID_ENTRY = 'INVALID_ENTRY',
}

export function ledgerError(code: LedgerErrorCode, message: string): AppError {
  return new AppError(code, message);
}

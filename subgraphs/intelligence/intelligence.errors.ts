import { AppError } from '../../kernel/errors';

export enum IntelligenceErrorCode {
  INVALID_DOCUMENT = 'INVALID_DOCUMENT',
}

export function intelligenceError(code: IntelligenceErrorCode, message: string): AppError {
  return new AppError(code, message);
}

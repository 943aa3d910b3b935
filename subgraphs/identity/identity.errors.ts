import { AppError } from '../../kernel/errors';

export enum IdentityErrorCode {
  EMAIL_TAKEN = 'EMAIL_TAKEN',
  INVALID_CREDENTIALS = 'INVALID_CREDENTIALS',
  WEAK_PASSWORD = 'WEAK_PASSWORD',
  INVALID_EMAIL = 'INVALID_EMAIL',
  NOT_A_MEMBER = 'NOT_A_MEMBER',
  NO_TENANT = 'NO_TENANT',
}

const MESSAGES: Record<IdentityErrorCode, string> = {
  EMAIL_TAKEN: 'An account with this email already exists',
  INVALID_CREDENTIALS: 'Email or password is incorrect',
  WEAK_PASSWORD: 'Password must be 8 to 128 characters long',
  INVALID_EMAIL: 'Email address is not valid',
  NOT_A_MEMBER: 'You are not a member of that tenant',
  NO_TENANT: 'This account belongs to no tenant',
};

export function identityError(code: IdentityErrorCode, message = MESSAGES[code]): AppError {
  return new AppError(code, message);
}

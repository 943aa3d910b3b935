import { defineErrors } from '../../kernel/errors';

export enum IdentityErrorCode {
  EMAIL_TAKEN = 'EMAIL_TAKEN',
  INVALID_CREDENTIALS = 'INVALID_CREDENTIALS',
  WEAK_PASSWORD = 'WEAK_PASSWORD',
  INVALID_EMAIL = 'INVALID_EMAIL',
  NOT_A_MEMBER = 'NOT_A_MEMBER',
  NO_TENANT = 'NO_TENANT',
  INVALID_TENANT_NAME = 'INVALID_TENANT_NAME',
  INVALID_REFRESH_TOKEN = 'INVALID_REFRESH_TOKEN',
  REFRESH_TOKEN_REUSED = 'REFRESH_TOKEN_REUSED',
  SESSION_NOT_FOUND = 'SESSION_NOT_FOUND',
  INVALID_CURSOR = 'INVALID_CURSOR',
  INVALID_TOKEN = 'INVALID_TOKEN',
  PASSWORD_REUSED = 'PASSWORD_REUSED',
}

export const identityError = defineErrors<IdentityErrorCode>({
  EMAIL_TAKEN: 'An account with this email already exists',
  INVALID_CREDENTIALS: 'Email or password is incorrect',
  WEAK_PASSWORD: 'Password must be 8 to 128 characters long',
  INVALID_EMAIL: 'Email address is not valid',
  NOT_A_MEMBER: 'You are not a member of that tenant',
  NO_TENANT: 'This account belongs to no tenant',
  INVALID_TENANT_NAME: 'Tenant name must be at most 100 characters',
  INVALID_REFRESH_TOKEN: 'Refresh token is invalid or expired; sign in again',
  REFRESH_TOKEN_REUSED: 'This refresh token was already used; the session has been signed out everywhere it was used',
  SESSION_NOT_FOUND: 'Session not found',
  INVALID_CURSOR: 'Cursor is not valid',
  INVALID_TOKEN: 'This link is invalid, expired or already used',
  PASSWORD_REUSED: 'Choose a password you have not used recently',
});

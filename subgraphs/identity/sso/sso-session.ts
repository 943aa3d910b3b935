import { currentContext } from '../../../kernel/context';
import { forbidden } from '../../../kernel/errors';

/**
 * An account belongs to every tenant it joined, but a single sign-on session is vouched for by one
 * tenant's identity provider: changes to the whole account (password, second factor, every session)
 * need a session signed in with the account's own credentials.
 */
export function requireOwnCredentialsSession(): void {
  if (currentContext().authMethod === 'sso')
    throw forbidden('Sign in with your password to change your account as a whole');
}

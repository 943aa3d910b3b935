import { GraphQLScalarType, Kind } from 'graphql';
import { AppError, KernelErrorCode } from './errors';

/** Longest amount: 38 decimal digits (every amount is below 10^38). */
export const AMOUNT_MAX_DIGITS = 38;
const AMOUNT = /^(0|[1-9][0-9]{0,37})$/;

/** Whether `value` is an amount as the API writes it: decimal digits, no sign, no leading zero, at most 38 digits. */
export function isAmount(value: unknown): value is string {
  return typeof value === 'string' && AMOUNT.test(value);
}

function parseAmount(value: unknown): string {
  if (isAmount(value)) return value;
  throw new AppError(
    KernelErrorCode.BAD_USER_INPUT,
    `An Amount is a string of 1 to ${AMOUNT_MAX_DIGITS} decimal digits without sign or leading zeros`,
  );
}

/**
 * An integer amount in the currency's smallest unit, written as a string of decimal digits (no 32- or 53-bit limit).
 * Read from the database's numeric(39, 0) columns, which the driver hands over as strings.
 */
export const AmountScalar = new GraphQLScalarType<string, string>({
  name: 'Amount',
  description:
    'A non-negative integer in the smallest unit of a currency, as a string of decimal digits: no sign, no leading zeros, below 10^38',
  serialize(value) {
    if (typeof value === 'bigint') return value.toString();
    if (typeof value === 'string' && /^[0-9]+$/.test(value)) return value;
    if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
    throw new TypeError(`Amount cannot represent ${String(value)}`);
  },
  parseValue: parseAmount,
  parseLiteral(ast) {
    return parseAmount(ast.kind === Kind.STRING ? ast.value : undefined);
  },
});

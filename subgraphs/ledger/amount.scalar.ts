/** The ledger's amounts: the platform-wide `Amount` scalar (commerce uses the same one). */
export { AMOUNT_MAX_DIGITS, AmountScalar, isAmount } from '../../kernel/amount.scalar';

import { defineErrors } from '../../kernel/errors';

export enum LedgerErrorCode {
  INVALID_ENTRY = 'INVALID_ENTRY',
}

export const ledgerError = defineErrors<LedgerErrorCode>({
  INVALID_ENTRY: 'Ledger entry is not valid',
});

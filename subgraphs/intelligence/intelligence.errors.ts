import { defineErrors } from '../../kernel/errors';

export enum IntelligenceErrorCode {
  INVALID_DOCUMENT = 'INVALID_DOCUMENT',
}

export const intelligenceError = defineErrors<IntelligenceErrorCode>({
  INVALID_DOCUMENT: 'Document is not valid',
});

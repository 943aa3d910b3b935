import { registerEnumType } from 'type-graphql';

export enum ReadReceiptPolicy {
  PUBLIC = 'public',
  PRIVATE = 'private',
}
registerEnumType(ReadReceiptPolicy, {
  name: 'ReadReceiptPolicy',
  description: 'PRIVATE: members see only their own read pointers',
});

import { GraphQLJSONObject } from 'graphql-scalars';
import { Field, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';

export enum LedgerLogName {
  TENANT = 'TENANT',
  PLATFORM = 'PLATFORM',
}
registerEnumType(LedgerLogName, {
  name: 'LedgerLogName',
  description:
    "Which log: the caller's tenant's, or the platform's (witnessed checkpoints of every tenant log and tombstones of purged ones; needs platform:audit)",
});

@ObjectType({ description: 'The Ed25519 key every checkpoint is signed with (C2SP signed-note, signature type 0x01)' })
export class LedgerPublicKey {
  @Field(() => String, { description: 'Key name, as in the signature lines of signed notes' })
  keyName: string;

  @Field(() => String, { description: 'Key id: first 4 bytes of SHA-256(name ‖ "\\n" ‖ 0x01 ‖ public key), hex' })
  keyId: string;

  @Field(() => String, { description: 'The 32-byte Ed25519 public key, base64' })
  publicKey: string;

  @Field(() => String, { description: 'Verifier key: <name>+<key id>+<base64(0x01 ‖ public key)>' })
  verifierKey: string;

  @Field(() => String)
  algorithm: string;
}

@ObjectType({ description: 'A signed tree head: C2SP tlog-checkpoint in a signed note' })
export class LedgerCheckpoint {
  @Field(() => String, { description: 'Origin line: identifies the log' })
  origin: string;

  @Field(() => Int, { description: 'Number of entries the tree covers' })
  treeSize: number;

  @Field(() => String, { description: 'RFC 9162 root hash of the first treeSize entries, base64' })
  rootHash: string;

  @Field(() => String, { description: 'The signed note text (body, blank line, signature line)' })
  note: string;

  @Field(() => Date, {
    description: 'When it was signed (stored checkpoints) or now (heads signed on request)',
  })
  createdAt: Date;
}

@ObjectType({ description: 'The entries between two stored checkpoints' })
export class LedgerBlock {
  @Field(() => Int, { description: 'Block number, from 0' })
  number: number;

  @Field(() => Int, { description: 'First entry index of the block' })
  fromIndex: number;

  @Field(() => Int, { description: 'One past the last entry index (the checkpoint tree size)' })
  toIndex: number;

  @Field(() => LedgerCheckpoint, { description: 'The checkpoint that closes the block' })
  checkpoint: LedgerCheckpoint;
}

@ObjectType({ description: 'RFC 9162 inclusion proof (audit path) of one entry in a tree' })
export class LedgerInclusionProof {
  @Field(() => Int)
  leafIndex: number;

  @Field(() => Int)
  treeSize: number;

  @Field(() => [String], { description: 'Node hashes, base64, in RFC 9162 order (leaf side first)' })
  hashes: string[];
}

@ObjectType({ description: 'RFC 9162 consistency proof between two tree sizes' })
export class LedgerConsistencyProof {
  @Field(() => Int)
  fromSize: number;

  @Field(() => Int)
  toSize: number;

  @Field(() => [String], { description: 'Node hashes, base64, in RFC 9162 order' })
  hashes: string[];
}

@ObjectType({ description: 'One entry of a log' })
export class LedgerEntry {
  /** The log the entry belongs to (for its proofs); not exposed. */
  logId: string;

  @Field(() => Int, { description: 'Position in the log, gapless from 0' })
  index: number;

  @Field(() => String, { description: 'What the entry records, e.g. transfer.posted or identity.member_role_changed' })
  type: string;

  @Field(() => GraphQLJSONObject)
  payload: Record<string, unknown>;

  @Field(() => String, { description: 'When it was appended (ISO 8601, UTC)' })
  time: string;

  @Field(() => String, { nullable: true, description: 'The event it was written for, when another service wrote it' })
  sourceEventId: string | null;

  @Field(() => String, {
    description:
      'The exact bytes of the leaf: RFC 8785 canonical JSON of {index, payload, sourceEventId, time, type}; leafHash = SHA-256(0x00 ‖ data)',
  })
  data: string;

  @Field(() => String, { description: 'SHA-256(0x00 ‖ data), base64: the leaf of the Merkle tree' })
  leafHash: string;
}

@ObjectType()
export class LedgerPageInfo {
  @Field(() => String, {
    nullable: true,
    description: 'Pass as `after` for the next page (an entry index in decimal digits; any other cursor is refused)',
  })
  endCursor: string | null;

  @Field(() => Boolean)
  hasNextPage: boolean;
}

@ObjectType()
export class LedgerEntryConnection {
  @Field(() => [LedgerEntry])
  nodes: LedgerEntry[];

  @Field(() => LedgerPageInfo)
  pageInfo: LedgerPageInfo;
}

@InputType()
export class LedgerEntryFilter {
  @Field(() => String, {
    nullable: true,
    description: 'Only entries of this type (a type no entry can have matches nothing)',
  })
  type?: string;

  @Field(() => Int, { nullable: true, description: 'Only entries from this index on (0 or more, at most toIndex)' })
  fromIndex?: number;

  @Field(() => Int, { nullable: true, description: 'Only entries before this index (0 or more)' })
  toIndex?: number;

  @Field(() => String, {
    nullable: true,
    description: 'Only entries written for this event (an id that is not a UUID matches nothing)',
  })
  sourceEventId?: string;
}

@ObjectType({
  description:
    "Result of recomputing a range of the log from its stored entries, against its stored hashes, its signed checkpoints and what the platform log witnessed; for a tenant log, every account's balances are also recomputed from its transfers",
})
export class LedgerVerification {
  @Field(() => Boolean, { description: 'True when every check passed' })
  ok: boolean;

  @Field(() => Int, { description: "The log's size when it was checked" })
  treeSize: number;

  @Field(() => Int)
  checkedFrom: number;

  @Field(() => Int, { description: 'One past the last index checked' })
  checkedTo: number;

  @Field(() => Int, {
    nullable: true,
    description:
      'The first index found missing, altered or out of place (the start of its block when only a checkpoint root disagrees; the entry that opened the account when balances differ from the transfers)',
  })
  firstBadIndex: number | null;

  @Field(() => String, { nullable: true, description: 'What was wrong there' })
  problem: string | null;
}

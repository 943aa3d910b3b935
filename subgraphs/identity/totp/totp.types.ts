import { Field, InputType, ObjectType } from 'type-graphql';

@ObjectType()
export class TotpEnrollment {
  @Field(() => String, { description: 'Base32 secret, for entering by hand' })
  secret: string;

  @Field(() => String, { description: 'otpauth:// URI to show as a QR code' })
  otpauthUri: string;
}

@ObjectType()
export class TotpActivation {
  @Field(() => [String], { description: 'Ten single-use backup codes, shown only now' })
  backupCodes: string[];
}

@InputType()
export class DisableTotpInput {
  @Field(() => String)
  password: string;

  @Field(() => String, { description: 'A current authenticator code or an unused backup code' })
  code: string;
}

@InputType()
export class VerifyLoginChallengeInput {
  @Field(() => String, { description: 'challengeToken from the TWO_FACTOR_REQUIRED error of login' })
  challengeToken: string;

  @Field(() => String, { description: 'A current authenticator code or an unused backup code' })
  code: string;
}

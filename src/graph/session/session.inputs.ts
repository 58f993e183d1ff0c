import { IsByteLength, IsEmail, IsNotEmpty, MaxLength } from "class-validator";
import { Field, InputType } from "type-graphql";

// The token and password limits are in bytes (UTF-8), as the issue sets them: a limit in
// characters would let 1024 four-byte characters through as 4 KB.

@InputType({ description: "A smartcard SSO token from the NHS Identity Agent." })
export class CreateSessionInput {
  @Field(() => String)
  @IsByteLength(1, 4096)
  token!: string;
}

@InputType({ description: "One of the user's permissions, by business function and organisation." })
export class SelectRoleInput {
  @Field(() => String)
  @IsNotEmpty()
  @MaxLength(64)
  businessFunction!: string;

  @Field(() => String)
  @IsNotEmpty()
  @MaxLength(64)
  orgIdentifier!: string;
}

@InputType()
export class SigninInput {
  @Field(() => String)
  @IsEmail()
  @MaxLength(254)
  email!: string;

  @Field(() => String)
  @IsByteLength(1, 1024)
  password!: string;
}

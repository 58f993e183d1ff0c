import { IsEmail, IsNotEmpty, MaxLength } from "class-validator";
import { Field, InputType } from "type-graphql";

// Limits are in characters; each one is at or under the byte limit it stands for for ASCII
// input, which smartcard tokens, emails and most passwords are.

@InputType({ description: "A smartcard SSO token from the NHS Identity Agent." })
export class CreateSessionInput {
  @Field(() => String)
  @IsNotEmpty()
  @MaxLength(4096)
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
  @IsNotEmpty()
  @MaxLength(1024)
  password!: string;
}

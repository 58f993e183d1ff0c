import { Field, ObjectType } from "type-graphql";

@ObjectType({ description: "A Spine role: an e-RS business function at an organisation.", simpleResolvers: true })
export class Permission {
  @Field(() => String, { description: "e-RS business function code, e.g. REFERRING_CLINICIAN. An open set: unknown codes pass through." })
  businessFunction!: string;

  @Field(() => String, { description: "ODS code of the organisation." })
  orgIdentifier!: string;

  @Field(() => String, { nullable: true })
  orgName!: string | null;
}

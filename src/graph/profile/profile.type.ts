import { Field, ID, ObjectType } from "type-graphql";

@ObjectType({ description: "An IdP profile: what the user may act as, and on which areas.", simpleResolvers: true })
export class Profile {
  @Field(() => String, { description: "Lower-case profile type as the IdP names it: provider, admin, facility, patient, or another." })
  type!: string;

  @Field(() => ID, { description: "Provider id, admin id, facility id or patient health id, by type." })
  id!: string;

  @Field(() => [String], { description: "Location codes (administrative areas) the profile may act on; empty for patients." })
  catchment!: string[];
}

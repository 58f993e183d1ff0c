import { DateTimeResolver } from "graphql-scalars";
import { Directive, Field, ID, ObjectType } from "type-graphql";
import { AuthProvider } from "../auth-provider.js";
import { Permission } from "../permission/permission.type.js";
import { Profile } from "../profile/profile.type.js";

// An entity of the Federation 2 subgraph (src/graph/federation); the public schema prints no directives.
@Directive('@key(fields: "id")')
@ObjectType({ description: "A person signed in through Spine or the IdP.", simpleResolvers: true })
export class User {
  @Field(() => ID, { description: "Globally unique: 'spine:<identifier>' or 'idp:<id>'." })
  id!: string;

  @Field(() => AuthProvider)
  provider!: AuthProvider;

  @Field(() => String, { description: "The backend's own id (Spine user identifier, IdP user id) as a string." })
  identifier!: string;

  @Field(() => String)
  displayName!: string;

  @Field(() => String, { nullable: true })
  firstName!: string | null;

  @Field(() => String, { nullable: true })
  middleName!: string | null;

  @Field(() => String, { nullable: true })
  lastName!: string | null;

  @Field(() => String, { nullable: true })
  email!: string | null;

  @Field(() => Boolean, { nullable: true })
  active!: boolean | null;

  @Field(() => [String], { description: "IdP groups; empty for Spine users." })
  groups!: string[];

  @Field(() => [Permission], { description: "Spine permissions (roles); empty for IdP users." })
  permissions!: Permission[];

  @Field(() => [Profile], { description: "IdP profiles; empty for Spine users." })
  profiles!: Profile[];

  @Field(() => DateTimeResolver, { nullable: true })
  lastLoginAt!: Date | null;
}

import { DateTimeResolver } from "graphql-scalars";
import { Directive, Field, ID, ObjectType } from "type-graphql";
import { AuthProvider } from "../auth-provider.js";
import { Permission } from "../permission/permission.type.js";
import { User } from "../user/user.type.js";

// An entity of the Federation 2 subgraph (src/graph/federation); the public schema prints no directives.
@Directive('@key(fields: "id")')
@ObjectType({ description: "A gateway session, opened by createSession (Spine) or signin (IdP).", simpleResolvers: true })
export class Session {
  @Field(() => ID, { description: "Public, non-secret id of this session (not the token)." })
  id!: string;

  @Field(() => AuthProvider)
  provider!: AuthProvider;

  @Field(() => User)
  user!: User;

  @Field(() => Permission, { nullable: true, description: "The selected Spine role; null until selectRole, always null for IdP sessions." })
  permission!: Permission | null;

  @Field(() => Boolean, { description: "False for a Spine session until a role is selected." })
  roleSelected!: boolean;

  @Field(() => DateTimeResolver)
  createdAt!: Date;

  @Field(() => DateTimeResolver, { description: "When the session ends if unused; it never outlives its absolute limit." })
  expiresAt!: Date;
}

@ObjectType({ simpleResolvers: true })
export class SessionPayload {
  @Field(() => String, {
    nullable: true,
    description:
      "The gateway session token; shown once, issued anew at sign-in and at every role change. Null when the session travels in an HttpOnly cookie instead.",
  })
  token!: string | null;

  @Field(() => Session)
  session!: Session;
}

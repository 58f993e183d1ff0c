import { Arg, Ctx, Mutation, Query, Resolver } from "type-graphql";
import type { GatewayContext } from "../context.js";
import { CreateSessionInput, SelectRoleInput, SigninInput } from "./session.inputs.js";
import { Session, SessionPayload } from "./session.type.js";

@Resolver(() => Session)
export class SessionResolver {
  @Query(() => Session, { nullable: true, description: "The current session, or null." })
  session(@Ctx() { auth, scope }: GatewayContext): Promise<Session | null> {
    return auth.session(scope);
  }

  @Mutation(() => SessionPayload, { description: "Spine A001: open a professional session from a smartcard SSO token." })
  createSession(@Arg("input", () => CreateSessionInput) input: CreateSessionInput, @Ctx() { auth, scope }: GatewayContext): Promise<SessionPayload> {
    return auth.createSpineSession(scope, input.token);
  }

  @Mutation(() => SessionPayload, {
    description:
      "Spine A002: choose one of the user's permissions for the current session. The session token is rotated: the payload carries the new one and the old one stops working.",
  })
  selectRole(@Arg("input", () => SelectRoleInput) input: SelectRoleInput, @Ctx() { auth, scope }: GatewayContext): Promise<SessionPayload> {
    return auth.selectRole(scope, input);
  }

  @Mutation(() => SessionPayload, { description: "IdP: sign in with email and password." })
  signin(@Arg("input", () => SigninInput) input: SigninInput, @Ctx() { auth, scope }: GatewayContext): Promise<SessionPayload> {
    return auth.signin(scope, input.email, input.password);
  }

  @Mutation(() => Boolean, {
    description: "End the current session at its backend (Spine A003 or IdP sign-out) and in the gateway. True if a session ended.",
  })
  signout(@Ctx() { auth, scope }: GatewayContext): Promise<boolean> {
    return auth.signout(scope);
  }
}

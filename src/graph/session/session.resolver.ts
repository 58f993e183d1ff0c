import { Arg, Ctx, Mutation, Query, Resolver } from "type-graphql";
import type { GatewayContext } from "../context.js";
import { CreateSessionInput, SelectRoleInput, SigninInput } from "./session.inputs.js";
import { Session, SessionPayload } from "./session.type.js";
import { toSessionPayload, toSessionView } from "./session.view.js";

@Resolver(() => Session)
export class SessionResolver {
  @Query(() => Session, { nullable: true, description: "The current session, or null." })
  async session(@Ctx() { auth, scope }: GatewayContext): Promise<Session | null> {
    const current = await auth.session(scope);
    return current === null ? null : toSessionView(current.session, current.user);
  }

  @Mutation(() => SessionPayload, { description: "Spine A001: open a professional session from a smartcard SSO token." })
  async createSession(@Arg("input", () => CreateSessionInput) input: CreateSessionInput, @Ctx() context: GatewayContext): Promise<SessionPayload> {
    return toSessionPayload(context, await context.auth.createSpineSession(context.scope, input.token));
  }

  @Mutation(() => SessionPayload, {
    description:
      "Spine A002: choose one of the user's permissions for the current session. The session token is rotated: the payload carries the new one and the old one stops working.",
  })
  async selectRole(@Arg("input", () => SelectRoleInput) input: SelectRoleInput, @Ctx() context: GatewayContext): Promise<SessionPayload> {
    // In cookie mode the new cookie replaces the old one in the browser, as the new token replaces the old in the store.
    return toSessionPayload(context, await context.auth.selectRole(context.scope, input));
  }

  @Mutation(() => SessionPayload, { description: "IdP: sign in with email and password." })
  async signin(@Arg("input", () => SigninInput) input: SigninInput, @Ctx() context: GatewayContext): Promise<SessionPayload> {
    return toSessionPayload(context, await context.auth.signin(context.scope, input.email, input.password));
  }

  @Mutation(() => Boolean, {
    description: "End the current session at its backend (Spine A003 or IdP sign-out) and in the gateway. True if a session ended.",
  })
  signout(@Ctx() { auth, scope }: GatewayContext): Promise<boolean> {
    return auth.signout(scope);
  }
}

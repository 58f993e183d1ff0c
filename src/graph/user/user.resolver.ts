import { Ctx, Query, Resolver } from "type-graphql";
import type { GatewayContext } from "../context.js";
import { User } from "./user.type.js";

@Resolver(() => User)
export class UserResolver {
  @Query(() => User, { nullable: true, description: "The signed-in user of the current session, or null." })
  me(@Ctx() { auth, scope }: GatewayContext): Promise<User | null> {
    return auth.me(scope);
  }
}

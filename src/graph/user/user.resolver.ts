import { Ctx, Query, Resolver } from "type-graphql";
import type { GatewayContext } from "../context.js";
import { User } from "./user.type.js";
import { toUserView } from "./user.view.js";

@Resolver(() => User)
export class UserResolver {
  @Query(() => User, { nullable: true, description: "The signed-in user of the current session, or null." })
  async me(@Ctx() { auth, scope }: GatewayContext): Promise<User | null> {
    const user = await auth.me(scope);
    return user === null ? null : toUserView(user);
  }
}

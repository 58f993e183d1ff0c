import { registerEnumType } from "type-graphql";
import { AuthProvider } from "../domain/user.js";

registerEnumType(AuthProvider, { name: "AuthProvider", description: "The backend that authenticated the user." });

export { AuthProvider };

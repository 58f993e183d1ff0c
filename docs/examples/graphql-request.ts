// graphql-request posts JSON, which the gateway's CSRF prevention admits as it is.
import { GraphQLClient, gql } from "graphql-request";

const SIGN_IN = gql`
  mutation SignIn($email: String!, $password: String!) {
    signin(input: { email: $email, password: $password }) {
      token
    }
  }
`;
const ME = gql`
  query Me {
    me {
      displayName
      provider
    }
  }
`;

export async function graphqlRequestBearer(gateway: string, email: string, password: string) {
  const client = new GraphQLClient(`${gateway}/graphql`);

  const { signin } = await client.request<{ signin: { token: string | null } }>(SIGN_IN, { email, password });
  client.setHeader("authorization", `Bearer ${signin.token}`);

  const { me } = await client.request<{ me: { displayName: string; provider: string } | null }>(ME);
  return me;
}

// Apollo Client against a gateway in bearer mode (the default): sign in, keep the token in
// memory, send it as `Authorization: Bearer <token>` on every later operation.
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { SetContextLink } from "@apollo/client/link/context";

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

export async function apolloClientBearer(gateway: string, email: string, password: string) {
  let token: string | null = null;
  const client = new ApolloClient({
    link: ApolloLink.from([
      new SetContextLink(({ headers }) => ({
        headers: { ...(headers as Record<string, string> | undefined), ...(token === null ? {} : { authorization: `Bearer ${token}` }) },
      })),
      new HttpLink({ uri: `${gateway}/graphql` }),
    ]),
    cache: new InMemoryCache(),
  });

  const signedIn = await client.mutate<{ signin: { token: string | null } }>({ mutation: SIGN_IN, variables: { email, password } });
  token = signedIn.data!.signin.token;

  const { data } = await client.query<{ me: { displayName: string; provider: string } | null }>({ query: ME });
  return data!.me;
}

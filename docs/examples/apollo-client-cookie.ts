// Apollo Client against a gateway in cookie mode (SESSION_COOKIE=on): the sign-in sets an
// HttpOnly `__Host-session` cookie and answers `token: null`; the browser sends the cookie
// with every later request because of `credentials: "include"`. The page must be served by
// the gateway's origin or by one listed in CORS_ORIGINS. No token ever reaches page scripts.
import { ApolloClient, HttpLink, InMemoryCache, gql } from "@apollo/client";

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

// `fetch` is the browser's; outside a browser, pass one that keeps cookies.
export async function apolloClientCookie(gateway: string, email: string, password: string, fetch = globalThis.fetch) {
  const client = new ApolloClient({
    link: new HttpLink({ uri: `${gateway}/graphql`, credentials: "include", fetch }),
    cache: new InMemoryCache(),
  });

  const signedIn = await client.mutate<{ signin: { token: string | null } }>({ mutation: SIGN_IN, variables: { email, password } });
  const { data } = await client.query<{ me: { displayName: string; provider: string } | null }>({ query: ME });
  return { token: signedIn.data!.signin.token, me: data!.me };
}

// urql sends queries as GET by default. The gateway's CSRF prevention refuses a GET without a
// preflight header (400 BAD_REQUEST, "This operation has been blocked as a potential
// Cross-Site Request Forgery"), so either post everything (`preferGetMethod: false`, below)
// or add the header `apollo-require-preflight: true` to every request.
import { Client, fetchExchange, gql } from "@urql/core";

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

export async function urqlBearer(gateway: string, email: string, password: string) {
  let token: string | null = null;
  const client = new Client({
    url: `${gateway}/graphql`,
    exchanges: [fetchExchange],
    preferGetMethod: false,
    fetchOptions: (): RequestInit => (token === null ? {} : { headers: { authorization: `Bearer ${token}` } }),
  });

  const signedIn = await client.mutation<{ signin: { token: string | null } }>(SIGN_IN, { email, password }).toPromise();
  if (signedIn.error) throw signedIn.error;
  token = signedIn.data!.signin.token;

  const { data, error } = await client.query<{ me: { displayName: string; provider: string } | null }>(ME, {}).toPromise();
  if (error) throw error;
  return data!.me;
}

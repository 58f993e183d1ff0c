# curl against a gateway in cookie mode: -c writes the __Host-session cookie into a jar at
# sign-in, -b sends it back. curl keeps a Secure cookie from http:// only for localhost and
# 127.0.0.1; anywhere else the gateway is reached over https.
GATEWAY=${GATEWAY:-http://127.0.0.1:4000}

curl -s -c cookies.txt -H 'content-type: application/json' \
  -d '{"query":"mutation ($email: String!, $password: String!) { signin(input: {email: $email, password: $password}) { token session { provider } } }","variables":{"email":"rahima.khatun@example.org","password":"demo-provider-pass"}}' \
  "$GATEWAY/graphql"
echo

curl -s -b cookies.txt -H 'content-type: application/json' \
  -d '{"query":"{ me { displayName provider } }"}' \
  "$GATEWAY/graphql"
echo

# Signing out clears the cookie in the jar too (-c with -b).
curl -s -b cookies.txt -c cookies.txt -H 'content-type: application/json' \
  -d '{"query":"mutation { signout }"}' \
  "$GATEWAY/graphql"
echo

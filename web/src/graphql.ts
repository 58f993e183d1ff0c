/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
/** The backend that authenticated the user. */
export type AuthProvider =
  | 'IDP'
  | 'SPINE';

export type AppPermissionFragment = { businessFunction: string, orgIdentifier: string, orgName: string | null };

export type AppSessionFragment = { id: string, provider: AuthProvider, roleSelected: boolean, createdAt: string, expiresAt: string, permission: { businessFunction: string, orgIdentifier: string, orgName: string | null } | null, user: { id: string, displayName: string, permissions: Array<{ businessFunction: string, orgIdentifier: string, orgName: string | null }> } };

export type AppCreateSessionMutationVariables = Exact<{
  token: string;
}>;


export type AppCreateSessionMutation = { createSession: { token: string | null, session: { id: string, provider: AuthProvider, roleSelected: boolean, createdAt: string, expiresAt: string, permission: { businessFunction: string, orgIdentifier: string, orgName: string | null } | null, user: { id: string, displayName: string, permissions: Array<{ businessFunction: string, orgIdentifier: string, orgName: string | null }> } } } };

export type AppSelectRoleMutationVariables = Exact<{
  businessFunction: string;
  orgIdentifier: string;
}>;


export type AppSelectRoleMutation = { selectRole: { token: string | null, session: { id: string, provider: AuthProvider, roleSelected: boolean, createdAt: string, expiresAt: string, permission: { businessFunction: string, orgIdentifier: string, orgName: string | null } | null, user: { id: string, displayName: string, permissions: Array<{ businessFunction: string, orgIdentifier: string, orgName: string | null }> } } } };

export type AppSigninMutationVariables = Exact<{
  email: string;
  password: string;
}>;


export type AppSigninMutation = { signin: { token: string | null, session: { id: string, provider: AuthProvider, roleSelected: boolean, createdAt: string, expiresAt: string, permission: { businessFunction: string, orgIdentifier: string, orgName: string | null } | null, user: { id: string, displayName: string, permissions: Array<{ businessFunction: string, orgIdentifier: string, orgName: string | null }> } } } };

export type AppSignoutMutationVariables = Exact<{ [key: string]: never; }>;


export type AppSignoutMutation = { signout: boolean };

export type AppMeAndSessionQueryVariables = Exact<{ [key: string]: never; }>;


export type AppMeAndSessionQuery = { me: { id: string, provider: AuthProvider, identifier: string, displayName: string, email: string | null, groups: Array<string>, profiles: Array<{ type: string, id: string, catchment: Array<string> }> } | null, session: { id: string, provider: AuthProvider, roleSelected: boolean, createdAt: string, expiresAt: string, permission: { businessFunction: string, orgIdentifier: string, orgName: string | null } | null, user: { id: string, displayName: string, permissions: Array<{ businessFunction: string, orgIdentifier: string, orgName: string | null }> } } | null };

export class TypedDocumentString<TResult, TVariables>
  extends String
  implements DocumentTypeDecoration<TResult, TVariables>
{
  __apiType?: NonNullable<DocumentTypeDecoration<TResult, TVariables>['__apiType']>;
  private value: string;
  public __meta__?: Record<string, any> | undefined;

  constructor(value: string, __meta__?: Record<string, any> | undefined) {
    super(value);
    this.value = value;
    this.__meta__ = __meta__;
  }

  override toString(): string & DocumentTypeDecoration<TResult, TVariables> {
    return this.value;
  }
}
export const AppPermissionFragmentDoc = new TypedDocumentString(`
    fragment AppPermission on Permission {
  businessFunction
  orgIdentifier
  orgName
}
    `, {"fragmentName":"AppPermission"}) as unknown as TypedDocumentString<AppPermissionFragment, unknown>;
export const AppSessionFragmentDoc = new TypedDocumentString(`
    fragment AppSession on Session {
  id
  provider
  roleSelected
  createdAt
  expiresAt
  permission {
    ...AppPermission
  }
  user {
    id
    displayName
    permissions {
      ...AppPermission
    }
  }
}
    fragment AppPermission on Permission {
  businessFunction
  orgIdentifier
  orgName
}`, {"fragmentName":"AppSession"}) as unknown as TypedDocumentString<AppSessionFragment, unknown>;
export const AppCreateSessionDocument = new TypedDocumentString(`
    mutation AppCreateSession($token: String!) {
  createSession(input: {token: $token}) {
    token
    session {
      ...AppSession
    }
  }
}
    fragment AppPermission on Permission {
  businessFunction
  orgIdentifier
  orgName
}
fragment AppSession on Session {
  id
  provider
  roleSelected
  createdAt
  expiresAt
  permission {
    ...AppPermission
  }
  user {
    id
    displayName
    permissions {
      ...AppPermission
    }
  }
}`) as unknown as TypedDocumentString<AppCreateSessionMutation, AppCreateSessionMutationVariables>;
export const AppSelectRoleDocument = new TypedDocumentString(`
    mutation AppSelectRole($businessFunction: String!, $orgIdentifier: String!) {
  selectRole(
    input: {businessFunction: $businessFunction, orgIdentifier: $orgIdentifier}
  ) {
    token
    session {
      ...AppSession
    }
  }
}
    fragment AppPermission on Permission {
  businessFunction
  orgIdentifier
  orgName
}
fragment AppSession on Session {
  id
  provider
  roleSelected
  createdAt
  expiresAt
  permission {
    ...AppPermission
  }
  user {
    id
    displayName
    permissions {
      ...AppPermission
    }
  }
}`) as unknown as TypedDocumentString<AppSelectRoleMutation, AppSelectRoleMutationVariables>;
export const AppSigninDocument = new TypedDocumentString(`
    mutation AppSignin($email: String!, $password: String!) {
  signin(input: {email: $email, password: $password}) {
    token
    session {
      ...AppSession
    }
  }
}
    fragment AppPermission on Permission {
  businessFunction
  orgIdentifier
  orgName
}
fragment AppSession on Session {
  id
  provider
  roleSelected
  createdAt
  expiresAt
  permission {
    ...AppPermission
  }
  user {
    id
    displayName
    permissions {
      ...AppPermission
    }
  }
}`) as unknown as TypedDocumentString<AppSigninMutation, AppSigninMutationVariables>;
export const AppSignoutDocument = new TypedDocumentString(`
    mutation AppSignout {
  signout
}
    `) as unknown as TypedDocumentString<AppSignoutMutation, AppSignoutMutationVariables>;
export const AppMeAndSessionDocument = new TypedDocumentString(`
    query AppMeAndSession {
  me {
    id
    provider
    identifier
    displayName
    email
    groups
    profiles {
      type
      id
      catchment
    }
  }
  session {
    ...AppSession
  }
}
    fragment AppPermission on Permission {
  businessFunction
  orgIdentifier
  orgName
}
fragment AppSession on Session {
  id
  provider
  roleSelected
  createdAt
  expiresAt
  permission {
    ...AppPermission
  }
  user {
    id
    displayName
    permissions {
      ...AppPermission
    }
  }
}`) as unknown as TypedDocumentString<AppMeAndSessionQuery, AppMeAndSessionQueryVariables>;
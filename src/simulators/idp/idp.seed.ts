/** Any JSON value. */
export type Json = string | number | boolean | null | readonly Json[] | { readonly [field: string]: Json };

/** A user of the organisation the IdP simulator knows. */
interface IdpDemoUser {
  /** Shown in the demo banner. */
  readonly label: string;
  readonly email: string;
  /** Demo only; the gateway never stores it. */
  readonly password: string;
  /**
   * The user-info body in the shape this user's IdP sends. The simulator adds `access_token`
   * (the current token) and sets `last_login` at each sign-in.
   */
  readonly userInfo: { readonly [field: string]: Json };
}

/** The demo organisation's credentials and users. Demo data only: nothing here opens anything real. */
export const IDP_DEMO: { readonly clientId: string; readonly apiToken: string; readonly users: readonly IdpDemoUser[] } = {
  clientId: "100042",
  apiToken: "1dfafaf36b5c3a9e9e0274b3f03435172908eabb59465039",
  users: [
    {
      label: "Provider, admin, facility and patient profiles (the documented shape)",
      email: "rahima.khatun@example.org",
      password: "demo-provider-pass",
      userInfo: {
        id: 6,
        name: "Dr. Rahima Khatun",
        email: "rahima.khatun@example.org",
        is_active: true,
        activated: true,
        activated_at: null,
        last_login: "2015-01-20 09:52:58",
        created_at: "2014-09-04 13:26:14",
        updated_at: "2015-01-20 09:52:58",
        deleted_at: null,
        groups: ["Provider", "MCI Approver", "API Consumer"],
        profiles: [
          { type: "provider", id: "123", catchment: ["302618", "302614"] },
          { type: "admin", id: "2", catchment: ["3026"] },
          { type: "facility", id: "10000069", catchment: ["302618"] },
          { type: "patient", id: "10091232131", catchment: [] },
        ],
      },
    },
    {
      // The reference implementation's shape (idp.md "Be liberal"): string id, is_active 1,
      // no `activated`, profile type under `name`, an extra type, null fields left out.
      label: "MCI supervisor (the reference implementation's shape)",
      email: "karim.uddin@example.org",
      password: "demo-supervisor-pass",
      userInfo: {
        id: "18",
        name: "Karim Uddin",
        email: "karim.uddin@example.org",
        is_active: 1,
        last_login: "2016-03-02 11:04:41",
        created_at: "2015-06-11 08:15:00",
        updated_at: "2016-03-02 11:04:41",
        groups: ["MCI Admin", "MCI Approver", "API Consumer"],
        profiles: [
          { name: "mci-supervisor", id: "42", catchment: ["3026"] },
          { name: "admin", id: "7", catchment: ["302618"] },
          { name: "provider", id: "1000020", catchment: ["302614"] },
        ],
      },
    },
    {
      label: "Inactive account without groups or profiles",
      email: "sync.bot@example.org",
      password: "demo-inactive-pass",
      userInfo: {
        id: 31,
        name: "Facility Sync Bot",
        email: "sync.bot@example.org",
        is_active: 0,
        activated: false,
        activated_at: null,
        last_login: null,
        created_at: "2016-07-19 16:40:02",
        updated_at: "2016-07-19 16:40:02",
        deleted_at: null,
      },
    },
  ],
};

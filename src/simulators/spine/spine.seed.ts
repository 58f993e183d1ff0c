/** A role a user holds at an organisation, as Spine sends it (ProfessionalPermission). */
export interface SpinePermission {
  readonly businessFunction: string;
  readonly orgIdentifier: string;
  readonly orgName: string;
}

/** A smartcard holder the Spine simulator knows. */
export interface SpineDemoUser {
  /** Shown in the demo banner. */
  readonly label: string;
  /** The opaque SSO token the Identity Agent would read from the smartcard; A001 takes it. */
  readonly smartcardToken: string;
  readonly identifier: string;
  readonly firstName: string;
  readonly lastName: string;
  readonly middleName: string | null;
  readonly permissions: readonly SpinePermission[];
}

/** The demo deployment's ASID and smartcard users. Demo data only: the tokens open nothing real. */
export const SPINE_DEMO: { readonly asid: string; readonly users: readonly SpineDemoUser[] } = {
  asid: "200000000220",
  users: [
    {
      // Exactly the user of the contract's A001 example (spine.md).
      label: "GP referrer and provider clinician (the contract's example)",
      smartcardToken: "AQIC5wM2LY4Sfcyw62EbAOsRpdfbGYUOyvkfZ4M6U7W52lM=@AAJTSQACMDE=#",
      identifier: "555020964101",
      firstName: "SA Assurance",
      lastName: "GP-Card",
      middleName: null,
      permissions: [
        { businessFunction: "REFERRING_CLINICIAN", orgIdentifier: "R01", orgName: "NHST_X3" },
        { businessFunction: "SERVICE_PROVIDER_CLINICIAN", orgIdentifier: "R01", orgName: "NHST_X3" },
      ],
    },
    {
      label: "Five roles across two organisations, with a middle name",
      smartcardToken: "AQIC5wM2LY4SfNlzj3c8c23GIFk3tkFRyrYMIdNSYAXocPf=@AAJTSQACMDE=#",
      identifier: "555020964102",
      firstName: "Priya",
      lastName: "Okonkwo-Hughes",
      middleName: "Lakshmi",
      permissions: [
        { businessFunction: "REFERRING_CLINICIAN", orgIdentifier: "R01", orgName: "NHST_X3" },
        { businessFunction: "REFERRING_CLINICIAN_ADMIN", orgIdentifier: "R01", orgName: "NHST_X3" },
        { businessFunction: "SERVICE_PROVIDER_CLINICIAN", orgIdentifier: "R02", orgName: "NHST_X4" },
        { businessFunction: "BOOKING_MANAGER", orgIdentifier: "R02", orgName: "NHST_X4" },
        { businessFunction: "SERVICE_DEFINER", orgIdentifier: "R02", orgName: "NHST_X4" },
      ],
    },
    {
      // Spine may add business functions (spine.md); this one is not in the catalogue on purpose.
      label: "Holds a business function outside the catalogue (CLINICAL_SAFETY_OFFICER)",
      smartcardToken: "AQIC5wM2LY4SfDQbnbxJGu0WFLoWb5ssFkvmEAc9wuQoN3d=@AAJTSQACMDE=#",
      identifier: "555020964103",
      firstName: "Tomasz",
      lastName: "Adeyemi",
      middleName: null,
      permissions: [
        { businessFunction: "CLINICAL_SAFETY_OFFICER", orgIdentifier: "R02", orgName: "NHST_X4" },
        { businessFunction: "SERVICE_PROVIDER_ADMIN", orgIdentifier: "R02", orgName: "NHST_X4" },
      ],
    },
  ],
};

/**
 * The console's troubleshooter (issue 6): diagnose a pasted payload; and the support bundle.
 * One slice of the IPC contract; `shared/contract.std.ts` composes the slices.
 */
export const troubleshootContract = {} as const;

/** The redacted support bundle (issue 6): preview, then write. */
export const supportContract = {} as const;

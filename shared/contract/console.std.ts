/**
 * The payload test console (issue 6): compose, encrypt, decrypt, verify and batch.
 * One slice of the IPC contract; `shared/contract.std.ts` composes the slices.
 */
export const consoleContract = {} as const;

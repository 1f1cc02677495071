/**
 * Offline exchange packages for air-gapped machines (issue 5).
 * One slice of the IPC contract; `shared/contract.std.ts` composes the slices.
 */
export const exchangeContract = {} as const;

/**
 * The PCI DSS v4 3.6/3.7 compliance report and key custodians (issue 4).
 * One slice of the IPC contract; `shared/contract.std.ts` composes the slices.
 */
export const reportContract = {} as const;

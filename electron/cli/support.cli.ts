// `mkm support ...`: filled in by the support domain.
export {};

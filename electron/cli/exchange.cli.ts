// `mkm exchange ...`: filled in by the exchange domain.
export {};

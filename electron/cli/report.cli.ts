// `mkm report ...`: filled in by the report domain.
export {};

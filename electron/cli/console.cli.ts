// `mkm console ...`: filled in by the console domain.
export {};

// `mkm console diagnose`: filled in by the troubleshoot domain.
export {};

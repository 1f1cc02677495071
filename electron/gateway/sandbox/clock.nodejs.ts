/** Milliseconds since the epoch. Injectable so tests can expire sets and tokens without sleeping. */
export type Clock = () => number;

export const systemClock: Clock = () => Date.now();

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** Placeholder; replaced by the console's RoundTrip panel. */
export function RoundTripPanel() {
  return null;
}

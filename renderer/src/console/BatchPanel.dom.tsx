/** Placeholder; replaced by the console's Batch panel. */
export function BatchPanel() {
  return null;
}

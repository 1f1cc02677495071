/** Placeholder; replaced by the console's Message panel. */
export function MessagePanel() {
  return null;
}

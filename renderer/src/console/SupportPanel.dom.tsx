/** Placeholder; replaced by the console's Support panel. */
export function SupportPanel() {
  return null;
}

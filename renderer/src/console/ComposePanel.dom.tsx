/** Placeholder; replaced by the console's Compose panel. */
export function ComposePanel() {
  return null;
}

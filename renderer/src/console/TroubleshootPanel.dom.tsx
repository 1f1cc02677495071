/** Placeholder; replaced by the console's Troubleshoot panel. */
export function TroubleshootPanel() {
  return null;
}

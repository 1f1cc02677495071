/** Placeholder for the compliance report (issue 4); replaced by that domain's screen. */
export function ComplianceScreen() {
  return null;
}

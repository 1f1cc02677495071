/** Placeholder for the dashboard (issue 4); replaced by that domain's screen. */
export function DashboardScreen() {
  return null;
}

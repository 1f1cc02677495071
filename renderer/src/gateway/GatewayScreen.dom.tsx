/** Placeholder for the gateway screen (issue 5); replaced by that domain's screen. */
export function GatewayScreen() {
  return null;
}

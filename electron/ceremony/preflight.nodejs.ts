import { networkInterfaces } from 'node:os';
import { MkmError } from '../../shared/errors.std';

/**
 * The air-gap preflight: before custodians type a component, the room checks that the machine is
 * the one it should be (the app's own hash, read aloud), that the token is the one named (serial
 * and firmware), and that nothing is connected. An interface other than loopback that is up
 * refuses the ceremony unless the administrator and the witness record an override, which the
 * transcript keeps with its reason.
 */

export interface InterfaceView {
  name: string;
  addresses: string[];
}

/** Up interfaces other than loopback (an interface with an address is up for Node). */
export function connectedInterfaces(
  list: ReturnType<typeof networkInterfaces> = networkInterfaces(),
): InterfaceView[] {
  return Object.entries(list)
    .map(([name, addrs]) => ({
      name,
      addresses: (addrs ?? []).filter((a) => !a.internal).map((a) => a.address),
    }))
    .filter((i) => i.addresses.length > 0)
    .sort((a, b) => a.name.localeCompare(b.name));
}

export interface PreflightReport {
  network: { connected: InterfaceView[]; ok: boolean };
  overridden: boolean;
}

/** The network check of the preflight step: refuses while connected, unless overridden (recorded). */
export function checkAirGap(
  connected: InterfaceView[],
  override: { reason: string } | null,
): PreflightReport {
  if (connected.length > 0 && !override) {
    throw new MkmError('CEREMONY_AIR_GAP', undefined, {
      interfaces: connected.map((i) => i.name),
    });
  }
  return { network: { connected, ok: connected.length === 0 }, overridden: connected.length > 0 };
}

import type { ReactNode } from 'react';
import type { GatewayProfileView, GatewayStatus } from '../../../../shared/contract.std';

/** What every card of a profile's panel gets from it. */
export interface CardProps {
  profile: GatewayProfileView;
  status: GatewayStatus;
  failure: (error: unknown) => ReactNode;
  onChange: () => void;
}

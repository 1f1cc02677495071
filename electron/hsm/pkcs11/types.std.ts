// The token service's types are part of the IPC contract, so they live in shared/.
export * from '../../../shared/tokens.std';

/**
 * Picks the server's authenticator. With a JWT secret every subscribe and publish needs a
 * token whose claims allow the channel. Without one the server runs in open mode, which is
 * only allowed on a loopback interface: a hub reachable from the network with no
 * authentication is refused at start-up rather than warned about.
 */
import { isIPv4 } from 'node:net';
import { createOpenAuthenticator, type Authenticator } from '../core/auth.js';
import { createJwtAuthenticator } from '../core/auth-jwt.js';
import { SluiceError } from '../core/errors.js';

export interface AuthSetup {
  authenticator: Authenticator;
  /** A line for the operator, printed at start-up (open mode). */
  warning?: string;
}

export function isLoopbackHost(host: string): boolean {
  // 127.0.0.0/8 only as an IPv4 literal: a name such as 127.0.0.1.example.com resolves
  // wherever its DNS says, and would otherwise pass for loopback.
  return (
    host === 'localhost' ||
    host === '::1' ||
    host === '[::1]' ||
    (isIPv4(host) && host.startsWith('127.'))
  );
}

export function setupAuth(config: { host: string; jwtSecret: string | null }): AuthSetup {
  if (config.jwtSecret !== null) {
    return { authenticator: createJwtAuthenticator({ secret: config.jwtSecret }) };
  }
  if (!isLoopbackHost(config.host)) {
    throw new SluiceError(
      'invalid_argument',
      `Refusing to serve ${config.host} without authentication: set SLUICE_JWT_SECRET, or bind 127.0.0.1`,
    );
  }
  return {
    authenticator: createOpenAuthenticator(),
    warning:
      'sluice: open mode (no SLUICE_JWT_SECRET): anyone who can reach this loopback port may subscribe and publish',
  };
}

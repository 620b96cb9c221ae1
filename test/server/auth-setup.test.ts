/**
 * Open mode (no JWT secret) is only for a loopback interface; a host name that merely starts
 * with "127." can resolve anywhere and is refused like any other non-loopback host.
 */
import { describe, expect, it } from 'vitest';
import { isLoopbackHost, setupAuth } from '../../src/server/auth-setup.js';

describe('open mode host check', () => {
  it('accepts loopback addresses', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost']) {
      expect(isLoopbackHost(host)).toBe(true);
    }
  });

  it('refuses a host name that only starts like a loopback address', () => {
    for (const host of ['127.0.0.1.nip.io', '127.example.com', '127.0.0.1x']) {
      expect(isLoopbackHost(host)).toBe(false);
      expect(() => setupAuth({ host, jwtSecret: null })).toThrow(/without authentication/);
    }
  });
});

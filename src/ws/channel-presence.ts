/**
 * A channel subscription's presence side: the member it enters as, and the feed of who is
 * here (a snapshot, then join/leave changes) it sends when the client asks for presence.
 */
import type { PresenceMember } from '../broker/types.js';
import type { Principal } from '../core/auth.js';
import type { ChannelHost } from './hub-channel.js';

/**
 * A member's `info` as peers see it, one per principal (the broker keeps its own copy of
 * the member, not of the info): the open mode's single principal shares one object, and a
 * token's principal one for all of its channels.
 */
const memberInfos = new WeakMap<Principal, { readonly subject: string }>();

export function presenceMember(host: ChannelHost): PresenceMember {
  let info = memberInfos.get(host.principal);
  if (info === undefined) {
    info = Object.freeze({ subject: host.principal.subject });
    memberInfos.set(host.principal, info);
  }
  return { clientId: host.id, info };
}

/**
 * Sends a presence snapshot, then join/leave changes, until `signal` aborts. A broker
 * failure is handed to `failed` (not after the abort).
 */
export async function sendPresence(
  host: ChannelHost,
  channel: string,
  options: { signal: AbortSignal; failed: (error: unknown) => void },
): Promise<void> {
  const { signal } = options;
  const broker = host.options.broker;
  // Watch first, then snapshot: a change racing the snapshot arrives as a diff the
  // client applies idempotently (join of a listed member, leave of an absent one).
  const changes = broker.presence(channel, { signal });
  try {
    const members = await broker.members(channel);
    if (signal.aborted) return;
    host.send({ type: 'presence', channel, members });
    for await (const change of changes) {
      host.send({ type: change.type, channel, member: change.member });
    }
  } catch (error) {
    if (!signal.aborted) options.failed(error);
  }
}

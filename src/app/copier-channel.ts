import type { SessionEngine } from '../core/session/engine.js';
import type { ChannelClient } from '../io/channel-client.js';
import type { RunLog } from './run-log.js';

/**
 * Keeps the engine told whether any interceptor is reachable and logs the channel's changes;
 * `allDown` runs when the last interceptor is lost without -L.
 */
export function followChannel(channel: ChannelClient, engine: SessionEngine, log: RunLog, allDown: () => void): void {
  channel.on('interceptorUp', (_i, address) => {
    engine.setInterceptorAvailable(true);
    // A reconnected (or restarted) interceptor knows none of the sessions still running.
    const n = engine.announceRoutes();
    log.info(`interceptor ${address} connected${n > 0 ? `; announced the routes of ${n} running session(s) again` : ''}`);
  });
  channel.on('interceptorDown', (_i, address) => {
    log.warn(`lost every connection to interceptor ${address}`);
    if (channel.activeInterceptors === 0) engine.setInterceptorAvailable(false);
  });
  channel.on('connectFailed', (info, reason, retry) => {
    if (channel.activeInterceptors > 0) log.debug(`connect to ${info.address} failed (${reason}); retry in ${retry} ms`);
  });
  channel.on('allDown', () => {
    log.errOut('lost every interceptor connection; stopping (use -L to keep replaying without one)');
    allDown();
  });
}

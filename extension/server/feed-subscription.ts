// The language server's subscription to the adapter's live feed (docs/live-feed.md): a WebSocket
// client that applies hello/snapshot/delta/resync messages with the shared FeedState and hands
// each new snapshot to the server. Out-of-step deltas ask the feed for a resync.

import WebSocket from 'ws';
import type { ViewSnapshot } from '../src/view-snapshot';
import { FeedState } from '../webview/feed-state';

export class FeedSubscription {
  private readonly socket: WebSocket;
  private readonly state = new FeedState();
  closed = false;

  constructor(url: string, private readonly onSnapshot: (snapshot: ViewSnapshot, live: boolean) => void, onError: (message: string) => void = () => undefined) {
    this.socket = new WebSocket(url, 'mmscope-live.v1');
    this.socket.on('message', (data) => this.receive(String(data)));
    this.socket.on('error', (e) => onError(`live feed: ${e.message}`));
    this.socket.on('close', () => (this.closed = true));
  }

  private receive(text: string): void {
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    const update = this.state.handle(message as Parameters<FeedState['handle']>[0]);
    if (update.kind === 'out-of-step') {
      this.socket.send(JSON.stringify({ type: 'resync' }));
      return;
    }
    if ((update.kind === 'snapshot' || update.kind === 'delta') && this.state.snapshot) {
      this.onSnapshot(this.state.snapshot as unknown as ViewSnapshot, this.state.live);
    }
  }

  close(): void {
    this.closed = true;
    this.socket.close();
  }
}

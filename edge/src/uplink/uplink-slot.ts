// The agent's link to the collector, replaceable while the agent runs (a reload that changes `uplink`).
// Invariants: at most one link is open at a time (the old one is closed before the new one starts: the broker
// would otherwise see two clients with the device's id); events of a replaced link are ignored; a replacement
// is a disconnect for the sender, so every unacked batch is sent again on the new link with the same bytes
// (the collector de-duplicates) and nothing in the buffer is touched.
import type { EdgeConfig } from '../config.js';
import type { DeviceStatus, Uplink, UplinkEvents } from './uplink.js';

export type UplinkSettings = EdgeConfig['uplink'];

/** Makes a link with `settings`, wired to `events` and the device's offline status (the will). */
export type UplinkFactory = (settings: UplinkSettings, events: UplinkEvents, offlineStatus: () => DeviceStatus) => Uplink;

export class UplinkSlot implements Uplink {
  private current: Uplink;

  constructor(
    private readonly make: UplinkFactory,
    settings: UplinkSettings,
    private readonly events: UplinkEvents,
    private readonly offlineStatus: () => DeviceStatus,
  ) {
    this.current = this.create(settings);
  }

  get connected(): boolean {
    return this.current.connected;
  }

  start(): Promise<void> {
    return this.current.start();
  }

  publish(topic: string, payload: Uint8Array | string, retain?: boolean): Promise<void> {
    return this.current.publish(topic, payload, retain);
  }

  stop(finalStatus?: DeviceStatus): Promise<void> {
    return this.current.stop(finalStatus);
  }

  /** Closes the current link and starts one with `settings`. */
  async replace(settings: UplinkSettings): Promise<void> {
    const old = this.current;
    this.current = this.create(settings); // from here on, the old link's events are ignored
    await old.stop();
    this.events.onDisconnect('uplink settings reloaded');
    await this.current.start();
  }

  private create(settings: UplinkSettings): Uplink {
    const link: Uplink = this.make(
      settings,
      {
        onConnect: () => {
          if (link === this.current) this.events.onConnect();
        },
        onDisconnect: (reason) => {
          if (link === this.current) this.events.onDisconnect(reason);
        },
        onAck: (payload) => {
          if (link === this.current) this.events.onAck(payload);
        },
      },
      this.offlineStatus,
    );
    return link;
  }
}

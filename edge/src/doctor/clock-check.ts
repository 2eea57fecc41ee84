// Will the agent trust its wall clock? Mirrors Clock (clock.ts): in `auto` a reading is marked synced when
// the wall time is plausible and timedatectl does not say NTP is unsynchronised.
import { timedatectlProbe } from '../clock.js';
import type { EdgeConfig } from '../config.js';
import { fail, pass, warn, type DoctorCheck } from './report.js';

const NTP_HINT = 'timedatectl status; sudo systemctl enable --now systemd-timesyncd (a Raspberry Pi has no battery-backed clock)';

export async function clockCheck(
  config: EdgeConfig,
  probe: () => Promise<boolean | undefined> = timedatectlProbe,
  now: () => number = Date.now,
): Promise<DoctorCheck> {
  const name = 'clock';
  const { sync_check: mode, min_plausible_time: min } = config.clock;
  const wall = now();
  const wallText = `wall clock ${new Date(wall).toISOString()}`;
  const plausible = wall >= min;
  const implausible = `${wallText} is before clock.min_plausible_time ${new Date(min).toISOString()}`;
  switch (mode) {
    case 'never_synced':
      return warn(name, `sync_check never_synced: every reading is marked unsynced (${wallText})`, 'the collector counts unsynced readings but does not aggregate them; use auto once NTP works');
    case 'assume_synced':
      if (!plausible) return fail(name, `sync_check assume_synced, but ${implausible}: readings would carry wrong times marked as trusted`, NTP_HINT);
      return pass(name, `sync_check assume_synced; ${wallText}`);
    case 'auto': {
      const ntp = await probe();
      if (!plausible) return fail(name, `${implausible}: readings are marked unsynced until the clock is set`, NTP_HINT);
      if (ntp === false) return warn(name, `timedatectl: NTP not synchronised; readings are marked unsynced until it is (${wallText})`, NTP_HINT);
      if (ntp === undefined) return pass(name, `sync_check auto; timedatectl unavailable, ${wallText} is plausible so readings are marked synced`);
      return pass(name, `sync_check auto; NTP synchronised; ${wallText}`);
    }
  }
}

// For the external-broker mode: registers a device in Mosquitto's password_file with Mosquitto's own tool
// (`mosquitto_passwd -b`, Debian package `mosquitto`), so the hash format is always the one the installed
// broker understands. Mosquitto re-reads the file on SIGHUP.
import { execFile } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { NotConnectedError, PermanentError } from '@tidemark/shared';

export function addMosquittoUser(passwordFile: string, user: string, password: string): Promise<void> {
  if (!existsSync(passwordFile)) writeFileSync(passwordFile, '', { mode: 0o600 });
  return new Promise((resolve, reject) => {
    execFile('mosquitto_passwd', ['-b', passwordFile, user, password], { timeout: 10_000 }, (err, _stdout, stderr) => {
      if (!err) return resolve();
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        return reject(new PermanentError('mosquitto_passwd not found: install the Debian package "mosquitto" (or unset auth.mosquitto_password_file)'));
      }
      reject(new NotConnectedError(`mosquitto_passwd failed for ${passwordFile}: ${stderr.trim() || err.message}`));
    });
  });
}

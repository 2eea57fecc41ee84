// TLS client options from a config's `tls: { ca, cert, key, reject_unauthorized }` block (edge uplink,
// collector → external broker): files are read once, at connect time.
import { readFileSync } from 'node:fs';

export interface ClientTlsFiles {
  ca?: string;
  cert?: string;
  key?: string;
  reject_unauthorized: boolean;
}

export function clientTlsOptions(tls: ClientTlsFiles | undefined): { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized?: boolean } {
  if (!tls) return {};
  return {
    ...(tls.ca ? { ca: readFileSync(tls.ca) } : {}),
    ...(tls.cert ? { cert: readFileSync(tls.cert) } : {}),
    ...(tls.key ? { key: readFileSync(tls.key) } : {}),
    rejectUnauthorized: tls.reject_unauthorized,
  };
}

// Builds NMEA sentences with a correct checksum, for tests: sentence('GNGGA,…') → '$GNGGA,…*hh'.
export function sentence(body: string): string {
  let sum = 0;
  for (let i = 0; i < body.length; i++) sum ^= body.charCodeAt(i);
  return `$${body}*${sum.toString(16).toUpperCase().padStart(2, '0')}`;
}

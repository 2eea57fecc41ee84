// tidemark-cloud: run | validate | replay | query | alerts list|ack | device add|tag|list|remove. The only place that turns errors into exit codes
// (0 ok, 1 runtime failure, 2 usage or config error).
import { Command, CommanderError, Option } from 'commander';
import { ConfigError, executeCommand, runUntilSignal } from '@tidemark/shared';
import { addDevice } from './broker/device-auth.js';
import { listDevices, removeDevice, tagDevice } from './devices/devices-file.js';
import { parseTagPair, tagKeyProblem, type TagPair } from './devices/device-tags.js';
import { addMosquittoUser } from './broker/mosquitto-passwd.js';
import { parseListen } from '@tidemark/shared/config';
import { loadCloudConfig } from './config.js';
import { Collector, dataFiles, ROLES, type Role } from './collector.js';
import { replay } from './aggregate/replay.js';
import { runQuery } from './query-command.js';
import { ALERT_STATES, runAlertsAck, runAlertsList } from './alerts-command.js';

const PROG = 'tidemark-cloud';

export async function main(argv: string[]): Promise<number> {
  let result: Promise<number> = Promise.resolve(0);
  const program = new Command(PROG)
    .description('Tidemark cloud collector: broker, exactly-once ingest, windowed aggregates and the query API')
    .exitOverride()
    .showHelpAfterError();

  program
    .command('run')
    .description('run the collector (all roles in one process by default)')
    .requiredOption('-c, --config <file>', 'cloud config file (YAML)')
    .addOption(new Option('--role <role>', 'which part to run').choices(ROLES as string[]).default('all'))
    .option('--listen <addr>', 'HTTP address instead of api.listen (e.g. 127.0.0.1:9102), so several roles can share one config on a host')
    .action((opts: { config: string; role: Role; listen?: string }) => {
      result = run(opts.config, opts.role, opts.listen);
    });

  program
    .command('validate')
    .description('check a config file and list every error with its path')
    .requiredOption('-c, --config <file>', 'cloud config file (YAML)')
    .action((opts: { config: string }) => {
      result = (async () => {
        loadCloudConfig(opts.config);
        process.stdout.write(`${opts.config}: ok\n`);
        return 0;
      })();
    });

  program
    .command('replay')
    .description('rebuild every aggregate from the stream store into a fresh store and switch over (stop the aggregator first)')
    .requiredOption('-c, --config <file>', 'cloud config file (YAML)')
    .option('--from <time>', 'rebuild only buckets from this ISO 8601 time on (aligned to the largest resolution)')
    .action((opts: { config: string; from?: string }) => {
      result = (async () => {
        const config = loadCloudConfig(opts.config);
        let from: number | undefined;
        if (opts.from !== undefined) {
          from = Date.parse(opts.from);
          if (!Number.isFinite(from)) throw new ConfigError([{ path: '--from', message: `"${opts.from}" is not an ISO 8601 time` }]);
        }
        const r = await replay(config, dataFiles(config.data_dir), from === undefined ? {} : { from });
        process.stdout.write(
          `replayed ${r.records} stream records in ${r.seconds.toFixed(2)} s` +
            `${r.from ? ` (buckets from ${r.from}; ${r.copiedBuckets} earlier buckets kept)` : ''}` +
            `${r.previous ? `; previous store kept as ${r.previous}` : ''}\n` +
            (r.alerts
              ? `rebuilt the alert history: ${r.alerts.transitions} transitions` +
                `${r.alerts.unseen > 0 ? ` (${r.alerts.unseen} never seen live: recorded, not sent)` : ''}; previous alert store kept as ${r.alerts.previous}\n`
              : ''),
        );
        return 0;
      })();
    });

  program
    .command('query')
    .description('query aggregates over the HTTP API')
    .requiredOption('--url <url>', 'API base URL, e.g. http://127.0.0.1:8080')
    .option('--device <id>', 'device id')
    .option('--tag <key=value>', 'instead of --device: merge every device with this tag (repeatable: all must hold)', (v: string, acc: string[] = []) => [...acc, v])
    .requiredOption('--sensor <name>', 'sensor name')
    .option('--resolution <res>', 'bucket resolution', '1m')
    .option('--from <time>', 'ISO 8601 time, "now", or relative like -1h', '-1h')
    .option('--to <time>', 'ISO 8601 time, "now", or relative like -5m', 'now')
    .option('--limit <n>', 'buckets per page')
    .option('--token <token>', 'bearer token (default: $TIDEMARK_API_TOKEN)')
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'csv', 'json']).default('table'))
    .action((opts) => {
      result = runQuery(opts, process.stdout);
    });

  const alerts = program.command('alerts').description('list and acknowledge alerts over the HTTP API');
  alerts
    .command('list')
    .description('list alerts (every page of GET /api/v1/alerts)')
    .requiredOption('--url <url>', 'API base URL, e.g. http://127.0.0.1:8080')
    .addOption(new Option('--state <state>', 'only alerts in this state').choices(ALERT_STATES as unknown as string[]))
    .option('--rule <name>', 'only this rule')
    .option('--device <id>', 'only this device')
    .option('--token <token>', 'bearer token (default: $TIDEMARK_API_TOKEN)')
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json']).default('table'))
    .action((opts) => {
      result = runAlertsList(opts);
    });
  alerts
    .command('ack')
    .description('acknowledge an alert (POST /api/v1/alerts/{id}/ack; needs the operate scope)')
    .argument('<id>', 'alert id, as alerts list prints it')
    .requiredOption('--url <url>', 'API base URL, e.g. http://127.0.0.1:8080')
    .option('--token <token>', 'bearer token (default: $TIDEMARK_API_TOKEN)')
    .action((id: string, opts: { url: string; token?: string }) => {
      result = runAlertsAck(id, opts);
    });

  const deviceAuthOf = (configPath: string) => {
    const auth = loadCloudConfig(configPath).auth;
    if (!auth.devices_file) throw new ConfigError([{ path: 'auth.devices_file', message: 'not set: device credentials need a devices file' }], configPath);
    return { ...auth, devices_file: auth.devices_file };
  };
  const devicesFileOf = (configPath: string) => deviceAuthOf(configPath).devices_file;
  const device = program.command('device').description('manage device credentials and tags');
  const collect = (v: string, prev: string[] = []) => [...prev, v];
  device
    .command('add')
    .description('register a device: prints a new password once and stores its scrypt hash (and tags) in auth.devices_file')
    .argument('<id>', 'device id')
    .requiredOption('-c, --config <file>', 'cloud config file (YAML)')
    .option('--tag <key=value>', 'a tag for the device (repeatable)', collect)
    .action((id: string, opts: { config: string; tag?: string[] }) => {
      result = (async () => {
        const tags = tagPairs(opts.tag ?? [], '--tag');
        const { devices_file: file, mosquitto_password_file: mosquitto } = deviceAuthOf(opts.config);
        const password = await addDevice(file, id, undefined, tags);
        if (mosquitto) await addMosquittoUser(mosquitto, id, password);
        process.stdout.write(`${password}\n`);
        process.stderr.write(
          `device "${id}" added to ${file}${mosquitto ? ` and ${mosquitto} (reload mosquitto: kill -HUP)` : ''}; the password above is shown only once\n`,
        );
        return 0;
      })();
    });
  device
    .command('tag')
    .description('set (key=value) or remove (--remove key) tags of a registered device; the running collector sees them without a restart')
    .argument('<id>', 'device id')
    .argument('[tags...]', 'tags to set, key=value')
    .requiredOption('-c, --config <file>', 'cloud config file (YAML)')
    .option('--remove <key>', 'a tag key to remove (repeatable)', collect)
    .action((id: string, pairs: string[], opts: { config: string; remove?: string[] }) => {
      result = (async () => {
        const set = tagPairs(pairs, 'tags');
        const remove = opts.remove ?? [];
        for (const k of remove) {
          const problem = tagKeyProblem(k);
          if (problem) throw new ConfigError([{ path: '--remove', message: `${k}: ${problem}` }], 'command line');
        }
        if (set.length === 0 && remove.length === 0) throw new ConfigError([{ path: 'tags', message: 'give tags to set (key=value) or --remove KEY' }], 'command line');
        const file = devicesFileOf(opts.config);
        const tags = tagDevice(file, id, set, remove);
        const shown = Object.entries(tags).map(([k, v]) => `${k}=${v}`).join(' ');
        process.stderr.write(`device "${id}" in ${file} now has ${shown ? `tags ${shown}` : 'no tags'}\n`);
        return 0;
      })();
    });

  device
    .command('list')
    .description('list registered devices')
    .requiredOption('-c, --config <file>', 'cloud config file (YAML)')
    .action((opts: { config: string }) => {
      result = (async () => {
        for (const d of listDevices(devicesFileOf(opts.config))) {
          const tags = Object.entries(d.tags).map(([k, v]) => `${k}=${v}`).join(' ');
          process.stdout.write(`${d.id}\t${d.added ?? '-'}${tags ? `\t${tags}` : ''}\n`);
        }
        return 0;
      })();
    });
  device
    .command('remove')
    .description('unregister a device (its next connection is refused)')
    .argument('<id>', 'device id')
    .requiredOption('-c, --config <file>', 'cloud config file (YAML)')
    .action((id: string, opts: { config: string }) => {
      result = (async () => {
        const file = devicesFileOf(opts.config);
        if (!removeDevice(file, id)) {
          process.stderr.write(`${PROG}: device "${id}" is not registered in ${file}\n`);
          return 1;
        }
        process.stderr.write(`device "${id}" removed from ${file}\n`);
        return 0;
      })();
    });

  return executeCommand(
    PROG,
    () => program.parseAsync(argv),
    () => result,
    (err) => (err instanceof CommanderError ? (err.exitCode === 0 ? 0 : 2) : undefined),
  );
}

/** `key=value` arguments as tags; bad ones are a ConfigError (exit 2) naming each. */
function tagPairs(texts: readonly string[], argument: string): TagPair[] {
  const issues: { path: string; message: string }[] = [];
  const pairs = texts.map((text) => {
    const t = parseTagPair(text);
    if ('problem' in t) issues.push({ path: argument, message: `${JSON.stringify(text)}: ${t.problem}` });
    return t as TagPair;
  });
  if (issues.length > 0) throw new ConfigError(issues, 'command line');
  return pairs;
}

async function run(configPath: string, role: Role, listen: string | undefined): Promise<number> {
  const config = loadCloudConfig(configPath);
  if (listen !== undefined) {
    const addr = parseListen(listen, 8080);
    if (typeof addr === 'string') throw new ConfigError([{ path: '--listen', message: addr }], 'command line');
    config.api.listen = addr;
  }
  return runUntilSignal(new Collector(config, { role, ...(listen !== undefined ? { settings: { apiPort: '--listen' } } : {}) }));
}

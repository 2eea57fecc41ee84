import { parseConfigText } from '@tidemark/shared/config';
import { describe, expect, it } from 'vitest';
import { cloudConfigSchema } from './config.js';
import { CLOUD_EXAMPLE_YAML } from './config-example.js';

const parse = (text: string, env: NodeJS.ProcessEnv = {}) => parseConfigText(text, cloudConfigSchema, { source: 'example', env });

describe('CLOUD_EXAMPLE_YAML', () => {
  it('validates without any environment', () => {
    const c = parse(CLOUD_EXAMPLE_YAML);
    expect(c.broker).toMatchObject({ mode: 'embedded', listen: { host: '0.0.0.0', port: 1883 } });
    expect(c.api.listen).toEqual({ host: '0.0.0.0', port: 8080 });
    expect(c.aggregation.resolutions.map((r) => r.label)).toEqual(['1m', '1h', '1d']);
  });

  it('takes the demo ports from the environment', () => {
    const c = parse(CLOUD_EXAMPLE_YAML, { TIDEMARK_MQTT_PORT: '11883', TIDEMARK_API_PORT: '18080' });
    expect(c.broker).toMatchObject({ listen: { port: 11883 } });
    expect(c.api.listen.port).toBe(18080);
  });

  it('shows every section of the schema', () => {
    for (const key of ['data_dir', 'broker', 'auth', 'store', 'aggregates', 'aggregation', 'ingest', 'api', 'log']) {
      expect(CLOUD_EXAMPLE_YAML).toMatch(new RegExp(`^${key}:`, 'm'));
    }
  });
});

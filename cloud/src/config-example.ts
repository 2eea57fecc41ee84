// A commented example collector config. A test keeps it valid; keep the comments in step with
// cloudConfigSchema and docs/configuration.md.

export const CLOUD_EXAMPLE_YAML = `# Tidemark cloud collector configuration.
# Values may use \${VAR} or \${VAR:-default} (environment variables); write $\${ for a literal "\${".
# Unknown keys are errors. Relative paths resolve against this file's directory.
# Check it with: tidemark-cloud validate -c cloud.yaml

data_dir: ./data                       # stream store, dedup and aggregates live here (default ./data)

broker:
  mode: embedded                       # embedded (aedes, in this process) | external (default embedded)
  listen: 0.0.0.0:\${TIDEMARK_MQTT_PORT:-1883}   # MQTT over TCP (default 0.0.0.0:1883)
  max_packet_bytes: 1MB                # largest MQTT packet accepted (default 1MB)
  # tls_listen: 0.0.0.0:8883           # MQTT over TLS; needs tls
  # tls:                               # server certificate for tls_listen
  #   cert: server.pem
  #   key: server-key.pem
  #   ca: ca.pem                       # optional: require client certificates signed by this CA
  # For an external broker (e.g. Mosquitto) instead:
  # mode: external
  # url: mqtts://mqtt.example:8883     # mqtt:// or mqtts://
  # username: tidemark-collector
  # password: \${TIDEMARK_BROKER_PASSWORD}
  # tls: { ca: ca.pem, reject_unauthorized: true }
  # client_id: tidemark-collector      # default tidemark-collector

auth:
  devices_file: devices.yaml           # device id -> scrypt password hash; written by \`tidemark-cloud device add\`
  allow_anonymous: false               # accept devices without a password (default false; demos only)

store:                                 # the stream store: every accepted batch, deduplicated
  type: sqlite                         # sqlite | jetstream (default sqlite)
  retention: 30d                       # keep the stream this long (default 30d)
  # max_bytes: 10GB                    # optional size cap
  # type: jetstream                    # NATS JetStream, at scale:
  # servers: [nats://nats-1:4222, nats://nats-2:4222]
  # stream: TIDEMARK                   # default TIDEMARK
  # partitions: 4                      # devices hashed over N streams; fixed once data exists (default 1)
  # replicas: 3                        # 1..5; 3 on a 3-node cluster survives a node (default 1)

aggregates:
  type: sqlite                         # sqlite | postgres (default sqlite)
  # type: postgres
  # url: postgres://tidemark:\${PGPASSWORD}@db.example:5432/tidemark
  # schema: tidemark                   # where the tables live (default tidemark)

aggregation:
  resolutions: [1m, 1h, 1d]            # window sizes; each divides one day and the next (default [1m, 1h, 1d])
  allowed_lateness: 5m                 # buckets become final this long after their end (default 5m)
  retention:                           # how long buckets are kept, per resolution (by bucket end); forever = never deleted
    1m: 30d                            # default 30d
    1h: 365d                           # default 365d
    1d: forever                        # default: resolutions other than 1m and 1h are kept forever

ingest:
  max_batch_readings: 100000           # larger batches are rejected (default 100000)
  commit_interval_ms: 5                # group commit window for the stream store, 0..1000 (default 5)
  max_future_skew: 5m                  # readings stamped further ahead of their arrival are kept, not aggregated (default 5m)

api:
  listen: 0.0.0.0:\${TIDEMARK_API_PORT:-8080}    # HTTP query API, live stream, /metrics (default 0.0.0.0:8080)
  tokens_file: tokens.yaml             # bearer tokens; absent = open API (a warning at start)
  max_page_size: 10000                 # largest ?limit= accepted (default 10000)

log:
  level: info                          # fatal | error | warn | info | debug | trace (default info)
`;

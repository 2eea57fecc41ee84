// The commented example config that `tidemark-edge init` prints. A test keeps it valid; keep the comments
// in step with edgeConfigSchema and docs/configuration.md.

export const EDGE_EXAMPLE_YAML = `# Tidemark edge agent configuration.
# Values may use \${VAR} or \${VAR:-default} (environment variables); write $\${ for a literal "\${".
# Unknown keys are errors. Relative paths resolve against this file's directory.
# Check it with: tidemark-edge validate -c edge.yaml

device:
  id: press-07                         # device id: letters, digits, . _ - (up to 64); also the MQTT client id

data_dir: ./data                       # buffer.db lives here (default ./data)

sources:                               # at least one; every name unique
  - type: serial                       # serial | gpio | simulated
    name: plc                          # source name (metrics, logs)
    path: /dev/ttyUSB0                 # serial device; prefer a stable /dev/serial/by-id/... path
    baud_rate: 115200                  # default 9600
    data_bits: 8                       # 5 | 6 | 7 | 8 (default 8)
    parity: none                       # none | even | odd (default none)
    stop_bits: 1                       # 1 | 2 (default 1)
    max_line_length: 4096              # longest line accepted, in bytes (default 4096)
    reconnect_min_ms: 500              # first retry delay after the port fails (default 500)
    reconnect_max_ms: 10000            # retry delay cap (default 10000)
    read_interval_ms: 20               # read what arrived every N ms; 0 = at once, more CPU (default 20)
    parser:
      format: csv                      # csv | json | kv | nmea | regex
      columns: [temp_c, pressure_kpa]  # one sensor per column, in line order
      delimiter: ","                   # one character (default ",")
      skip_header: false               # ignore the first line after each (re)connect (default false)
      # timestamp_column: ts           # a column holding the device's own time (ms or ISO 8601); must be in columns
    # Other parsers (one per source):
    # parser: { format: json, timestamp_field: ts }                 # {"temp_c": 21.5, "ts": 1718000000000}
    # parser: { format: kv, separator: "=" }                        # temp_c=21.5 pressure_kpa=101.3
    # parser: { format: nmea, sentences: [GGA, RMC, VTG] }          # GPS receivers
    # parser: { format: regex, pattern: "T=(?<temp_c>-?[0-9.]+)" }  # named groups are sensors

  - type: gpio
    name: door
    chip: gpiochip0                    # gpiochip name or path (default gpiochip0)
    line: 17                           # line offset on the chip
    sensor: door_open                  # sensor name for the 0/1 readings
    debounce_ms: 10                    # ignore edges closer than this (default 10)
    active_low: false                  # invert the level (default false)
    bias: as_is                        # as_is | pull_up | pull_down | disable (default as_is)
    driver: gpiod                      # gpiod | fake (in-memory line for tests; default gpiod)

  - type: simulated
    name: sim
    rate_hz: 10                        # readings per second per sensor, > 0 and <= 10000 (default 1)
    seed: 42                           # optional: same seed, same values
    sensors:                           # at least one; names unique
      - name: temp_sim                 # sensor name
        shape: sine                    # sine | square | random_walk | step | noise
        min: 20                        # lowest value (default 0)
        max: 80                        # highest value, >= min (default 1)
        period_s: 60                   # wave period in seconds (default 60)
        decimals: 1                    # rounding, 0..9 (default 2)

  # A Modbus bus, RTU (RS-485) or TCP; addresses are 0-BASED register numbers ("40101" in a manual = holding 100):
  # - type: modbus
  #   name: line-2
  #   transport: rtu                   # rtu: path, baud_rate (19200), parity (even), stop_bits (1) | tcp: host, port (502)
  #   path: /dev/serial/by-id/usb-RS485-if00
  #   baud_rate: 19200
  #   slaves:                          # polled one request at a time; a silent slave is backed off
  #     - id: 3                        # slave address, 1..247 (tcp: unit id 0..255)
  #       poll_interval: 1s            # default 1s
  #       timeout: 300ms               # per request (default 1s)
  #       retries: 1                   # extra attempts after a timeout (default 1)
  #       registers:                   # table: holding | input | coil | discrete; type: int16 uint16 int32 uint32 int64 uint64 float32 float64 bool
  #         - { name: oil_temp_c, table: holding, address: 100, type: float32, word_order: CDAB }   # ABCD | CDAB | BADC | DCBA
  #         - { name: motor_rpm, table: input, address: 7, type: uint16, scale: 0.1 }              # raw * scale + offset
  #         - { name: running, table: coil, address: 0 }
# Optional: rules every reading passes between its source and the buffer, in this order. sensors: a name, a
# glob (* and ?) or a list. Removed readings are counted in tidemark_edge_transform_removed_total{transform,reason}.
transforms:
  - { type: filter, sensors: "temp_*", min: -40, max: 150 }           # drops out-of-range and NaN values
  # - { type: scale, sensors: raw_pressure, factor: 0.01, offset: -1.5, rename: pressure_bar }
  # - { type: scale, sensors: level_ma, input_range: [4, 20], output_range: [0, 100] }
  # - { type: rename, sensors: tmp1, to: temp_c }
  # - { type: deadband, sensors: "*", absolute: 0.05, max_interval: 60s }  # or percent: 1 (of the last sent value)
  # - { type: min_interval, sensors: vibration, interval: 100ms }
  - { type: round, sensors: "*", decimals: 3 }

buffer:
  max_bytes: 256MB                     # KB/MB/GB = 1000^n, KiB/MiB/GiB = 1024^n (default 256MB)
  max_age: 7d                          # readings older than this are dropped and counted (default 7d)
  on_full: drop_oldest                 # drop_oldest | drop_newest | block (default drop_oldest)
  commit_interval_ms: 100              # group commit; a reading is durable within this (1..1000, default 100)
  persist: unacked                     # unacked: readings the collector acks within commit_interval_ms are never written | all

batch:
  max_readings: 1000                   # readings per batch, 1..100000 (default 1000)
  max_delay_ms: 250                    # send a partial batch after this; bounds latency (default 250)

uplink:
  url: mqtt://localhost:1883           # mqtt:// or mqtts:// (required)
  username: press-07                   # optional; the collector expects the device id
  password: \${TIDEMARK_PASSWORD:-changeme}   # optional; keep secrets in the environment
  # tls:                               # for mqtts://; paths relative to this file
  #   ca: ca.pem                       # CA that signed the broker's certificate (default: system CAs)
  #   cert: device.pem                 # client certificate (with key)
  #   key: device-key.pem              # client key (with cert)
  #   reject_unauthorized: true        # verify the broker's certificate (default true)
  keepalive_s: 30                      # MQTT keepalive in seconds (default 30)
  max_inflight: 8                      # batches sent and not yet acked (default 8)
  ack_timeout_ms: 30000                # resend a batch not acked within this (default 30000)
  reconnect_min_ms: 500                # first reconnect delay (default 500)
  reconnect_max_ms: 30000              # reconnect delay cap (default 30000)

clock:
  sync_check: auto                     # auto (timedatectl/adjtimex) | assume_synced | never_synced (default auto)
  min_plausible_time: 2024-01-01T00:00:00Z   # wall clock before this is never trusted (ISO 8601 or ms)

status:                                # optional: /healthz, /metrics, /status over HTTP
  listen: 127.0.0.1:9101               # host:port, [::1]:port or :port (default 127.0.0.1:9101)

log:
  level: info                          # fatal | error | warn | info | debug | trace (default info)
`;
